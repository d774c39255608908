"""`prepare`: folders of full illustrations per character → face crops split into train/test.

    RAW_DIR/<character>/*.jpg|png...   →   OUT_DIR/train/<character>/<name>.png
                                            OUT_DIR/test/<character>/<name>.png
                                            OUT_DIR/prepare-report.md
                                            OUT_DIR/prepare.json  (crop margin and size,
                                              read by `train` into the model's contract)

Faces are found with the runtime's detector (`streamer.detectors`: the learned face detector by
default, the cascade with `--detector cascade`), which is recorded in prepare.json and from
there in the classifier's metadata, and cut with
the runtime's crop (`streamer.model_contract.crop_face`: square box grown by CROP_MARGIN,
resized to 96x96), so the classifier trains on crops cut exactly like the ones it will see.
When an image holds several faces, the largest is taken (illustrations centre their subject;
the smaller hits are mostly background characters or false positives) and the image is listed
in the report.

The split is decided from file names alone, before detection, so it does not move when the
detector changes: by default the last sixth of each character's images in numeric file-name
order is the test set (the seeds' convention: 1–30 train, 31–36 test); with a seed, a seeded
shuffle decides instead.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from streamer.training.dataset import PREPARE_SETTINGS
from streamer import image_files
from streamer.image_files import list_images, read_image, write_png
from streamer.training.outdir import AtomicDir, check_output_dir
from streamer.detectors import FaceDetector, largest_face_crop
from streamer.detectors.settings import DetectorSettings
from streamer.errors import InputError, StreamerError
from streamer.model_contract import CROP_MARGIN

DEFAULT_TEST_FRACTION = 1.0 / 6.0
CROP_SIZE = (96, 96)  # height, width: the contract's input size
REPORT_NAME = "prepare-report.md"


@dataclass(frozen=True)
class CharacterReport:
    """What happened to one character's folder. File names are relative to its folder."""

    name: str
    images: int  # image files found (readable or not)
    train: tuple[str, ...] = ()  # source names whose face went to train/
    test: tuple[str, ...] = ()
    no_face: tuple[str, ...] = ()
    several_faces: tuple[tuple[str, int], ...] = ()  # (name, faces found)
    unreadable: tuple[tuple[str, str], ...] = ()  # (name, reason)
    not_images: tuple[str, ...] = ()

    @property
    def faces(self) -> int:
        return len(self.train) + len(self.test)


@dataclass(frozen=True)
class PrepareReport:
    raw_dir: Path
    out_dir: Path
    characters: tuple[CharacterReport, ...]
    settings: DetectorSettings
    test_fraction: float
    seed: int | None
    warnings: tuple[str, ...] = field(default=())
    detector_name: str = ""

    def to_markdown(self) -> str:
        split = (
            f"last {self.test_fraction:.3g} of each character's images in file-name order"
            if self.seed is None
            else f"{self.test_fraction:.3g} of each character's images, shuffled with seed {self.seed}"
        )
        s = self.settings
        if s.is_cascade:
            detector = (
                f"LBP anime-face cascade, detect width {s.detect_width or 'full image'}, "
                f"min neighbours {s.min_neighbors}, scale factor {s.scale_factor}, min face {s.min_face} px"
            )
        else:
            detector = f"learned face detector {self.detector_name}, detect width {s.detect_width or 'its own (metadata)'}"
        lines = [
            f"# prepare report: {self.raw_dir}",
            "",
            f"Detector: {detector}. Test split: {split}.",
            "",
            "| character | images | faces | train | test | no face | several faces | unreadable | not images |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in self.characters:
            lines.append(
                f"| {c.name} | {c.images} | {c.faces} | {len(c.train)} | {len(c.test)} | {len(c.no_face)} "
                f"| {len(c.several_faces)} | {len(c.unreadable)} | {len(c.not_images)} |"
            )
        details = []
        for c in self.characters:
            for name in c.no_face:
                details.append(f"- no face found: `{c.name}/{name}`")
            for name, count in c.several_faces:
                details.append(f"- {count} faces (the largest was kept): `{c.name}/{name}`")
            for name, reason in c.unreadable:
                details.append(f"- unreadable: `{c.name}/{name}`: {reason}")
            for name in c.not_images:
                details.append(f"- not an image (skipped): `{c.name}/{name}`")
        if details or self.warnings:
            lines += ["", "## To look at", ""] + [f"- {w}" for w in self.warnings] + details
        return "\n".join(lines) + "\n"


def split_test(names: list[str], test_fraction: float, seed: int | None) -> set[str]:
    """The names that go to the test set: round(n * fraction) of them, at least one when n >= 2,
    never all. Without a seed the last ones in the given order, with one a seeded sample."""
    n = len(names)
    if n < 2 or test_fraction <= 0:
        return set()
    count = min(n - 1, max(1, int(round(n * test_fraction))))
    if seed is None:
        return set(names[n - count :])
    return set(random.Random(seed).sample(names, count))


def character_folders(raw_dir: Path) -> list[Path]:
    """The character folders of RAW_DIR (sorted), with the checks that need nothing decoded."""
    return image_files.character_folders(raw_dir, min_characters=2, placeholder="RAW_DIR")


def prepare(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int | None = None,
    settings: DetectorSettings = DetectorSettings(),
    size: tuple[int, int] = CROP_SIZE,
    force: bool = False,
    on_image: Callable[[], None] | None = None,
) -> PrepareReport:
    """Detect, crop and split every character's images; write the tree and its report atomically.

    on_image: called once per image file processed (for a progress bar).
    Raises InputError (bad RAW_DIR, a character without any face), OutputError (OUT_DIR).
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not 0.0 <= test_fraction < 1.0:
        raise InputError(f"test fraction must be in [0, 1), got {test_fraction}")
    folders = character_folders(raw_dir)
    check_output_dir(out_dir, inputs=[raw_dir], force=force)
    detector = settings.build()
    reports: list[CharacterReport] = []
    with AtomicDir(out_dir) as staging:
        for folder in folders:
            reports.append(_prepare_character(folder, staging, detector, test_fraction, seed, size, on_image))
        faceless = [r.name for r in reports if r.faces == 0]
        if faceless:
            raise InputError(
                f"no face found in any image of {', '.join(faceless)}; add clearer front-facing images "
                f"or remove the folder"
            )
        warnings = tuple(
            f"{r.name}: only {r.faces} face(s), none left for the test set" for r in reports if r.faces and not r.test
        )
        report = PrepareReport(raw_dir, out_dir, tuple(reports), settings, test_fraction, seed, warnings, detector.name)
        (staging / REPORT_NAME).write_text(report.to_markdown(), encoding="utf-8")
        cut = {
            "crop_margin": CROP_MARGIN,
            "crop_size": list(size),
            "detector": asdict(settings),
            # Read by `train` into the classifier's metadata, so the runtime can warn on a mismatch.
            "detector_name": detector.name,
            "detector_box": detector.box_convention,
        }
        (staging / PREPARE_SETTINGS).write_text(json.dumps(cut, indent=2) + "\n", encoding="utf-8")
    return report


def _prepare_character(
    folder: Path,
    staging: Path,
    detector: FaceDetector,
    test_fraction: float,
    seed: int | None,
    size: tuple[int, int],
    on_image: Callable[[], None] | None,
) -> CharacterReport:
    images, others = list_images(folder)
    test_names = split_test([p.name for p in images], test_fraction, seed)
    written: dict[str, list[str]] = {"train": [], "test": []}
    used_stems: set[str] = set()
    no_face: list[str] = []
    several: list[tuple[str, int]] = []
    unreadable: list[tuple[str, str]] = []
    for path in images:
        try:
            image = read_image(path)
        except StreamerError as exc:
            unreadable.append((path.name, str(exc).removeprefix(f"{path}: ")))
            image = None
        if image is not None:
            crop, count = largest_face_crop(image, detector, size)
            if count > 1:
                several.append((path.name, count))
            if crop is None:
                no_face.append(path.name)
            else:
                subset = "test" if path.name in test_names else "train"
                target = staging / subset / folder.name
                target.mkdir(parents=True, exist_ok=True)
                write_png(target / f"{_unique_stem(path, used_stems)}.png", crop)
                written[subset].append(path.name)
        if on_image is not None:
            on_image()
    return CharacterReport(
        name=folder.name,
        images=len(images),
        train=tuple(written["train"]),
        test=tuple(written["test"]),
        no_face=tuple(no_face),
        several_faces=tuple(several),
        unreadable=tuple(unreadable),
        not_images=tuple(p.name for p in others),
    )


def _unique_stem(path: Path, used: set[str]) -> str:
    """The source's stem, suffixed with its extension when "1.jpg" and "1.png" both exist."""
    stem = path.stem
    if stem in used:
        stem = f"{path.stem}_{path.suffix.lstrip('.').lower()}"
    while stem in used:
        stem += "_"
    used.add(stem)
    return stem


def count_images(raw_dir: str | os.PathLike) -> int:
    """How many image files `prepare` will look at (the progress bar's total)."""
    return sum(len(list_images(folder)[0]) for folder in character_folders(Path(raw_dir)))
