"""`annotate` for still images: one image, or a folder of them, in; labelled images and records out.

    annotate_images("frames/", "labelled/", "characters.onnx", sidecar_path="frames.jsonl")

Each image is its own shot: detect (the same detector and width as for video), classify every
face (no tracking, no votes across images), draw, write. Images keep their name and format
(`-o` is a folder for a folder input, a file for one image). A folder is read in file-name
order (natural: 2 before 10), without sub-folders; hidden files are passed over. A file that
cannot be read (not an image, truncated, unreadable) is reported and skipped: the others go
on, and the result lists the failures so the command can exit non-zero.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2

from streamer import overlay
from streamer.atomic import AtomicPath, check_output_path, check_writable_parent
from streamer.detectors import FaceDetector, detect_frame
from streamer.errors import InputError, OutputError, StreamerError
from streamer.frames import BGR24, Frame
from streamer.image_files import IMAGE_SUFFIXES, is_image_name, natural_key, read_image
from streamer.image_records import ImageRecordWriter
from streamer.labeler import FacesOnly, TrackLabeler
from streamer.pipeline import LoopSettings, load_parts
from streamer.progress import progress_bar
from streamer.sidecar import check_sidecar_output

# Written in the input's own format; anything OpenCV cannot write becomes a PNG of the same stem.
WRITABLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class ImagesResult:
    images: int  # read and labelled
    faces: int
    written: tuple[Path, ...]
    failed: tuple[tuple[str, str], ...]  # (file, reason)
    sidecar: Path | None


def is_image_input(path: str | os.PathLike) -> bool:
    """True for a folder or a file with an image suffix (what `annotate` treats as stills)."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def annotate_images(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    model_path: str | os.PathLike | None = None,
    *,
    detector: str | os.PathLike | FaceDetector | None = None,
    cascade_path: str | os.PathLike | None = None,
    sidecar_path: str | os.PathLike | None = None,
    settings: LoopSettings = LoopSettings(),
    force: bool = False,
    progress: bool | None = None,
    warn=None,
) -> ImagesResult:
    input_path, output_path = Path(input_path), Path(output_path)
    settings.check()
    files, targets = _plan(input_path, output_path, force)
    inputs = [input_path] + ([model_path] if model_path is not None else [])
    sidecar = check_sidecar_output(sidecar_path, inputs + [output_path], force=force) if sidecar_path else None

    classifier, detector = load_parts(model_path, detector, settings, cascade_path, warn)
    labeler = TrackLabeler(classifier, threshold=settings.threshold) if classifier is not None else FacesOnly()

    made_folder = input_path.is_dir() and not output_path.exists()
    if input_path.is_dir():
        output_path.mkdir(parents=True, exist_ok=True)
    records = ImageRecordWriter(sidecar) if sidecar is not None else None
    written, failed, faces = [], [], 0
    with progress_bar(len(files), enabled=progress, unit="image") as bar:
        for file, target in zip(files, targets):
            bar.update()
            if target is None:
                failed.append((str(file), "not an image (by its name)"))
                continue
            try:
                image = read_image(file)
            except InputError as exc:
                failed.append((str(file), str(exc).removeprefix(f"{file}: ")))
                continue
            frame = Frame(image=image, index=0, pts=0, time_base=Fraction(1, 1), time=0.0, pixel_format=BGR24)
            labeled = labeler.update(frame, detect_frame(detector, frame))
            faces += len(labeled)
            _write_image(target, overlay.draw_bgr(image, labeled, in_place=True))
            written.append(target)
            if records is not None:
                records.write(str(file), labeled)
    if not written and failed:
        if made_folder:
            output_path.rmdir()  # nothing in it: leave no trace
        raise InputError(f"{input_path}: none of the {len(files)} file(s) could be read ({failed[0][0]}: {failed[0][1]})")
    if records is not None:
        records.close(failed)
    return ImagesResult(len(written), faces, tuple(written), tuple(failed), sidecar)


def _plan(input_path: Path, output_path: Path, force: bool) -> tuple[list[Path], list[Path | None]]:
    """The files to read and where each labelled image goes (None: not an image), checked up front."""
    if not input_path.exists():
        raise InputError(f"input not found: {input_path}")
    if input_path.is_dir():
        files = sorted((p for p in input_path.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
        if not files:
            raise InputError(f"{input_path}: no files in the folder")
        if output_path.exists() and not output_path.is_dir():
            raise OutputError(f"output {output_path} is a file; the output of a folder of images is a folder")
        if output_path.resolve() == input_path.resolve():
            raise OutputError(f"output folder {output_path} is the input folder; choose another")
        if not output_path.exists():
            check_writable_parent(output_path)
        targets = [output_path / _output_name(p) if is_image_name(p) else None for p in files]
    else:
        files = [input_path]
        if output_path.is_dir():
            output_path = output_path / _output_name(input_path)
        elif output_path.suffix.lower() not in WRITABLE_SUFFIXES:
            raise OutputError(f"output {output_path}: the output of an image is an image file (.jpg, .png, .webp) or a folder")
        targets = [output_path]
    for target in targets:
        if target is not None and target.parent.exists():  # a folder still to make holds nothing to clash with
            check_output_path(target, [input_path], force=force)
    return files, targets


def _output_name(path: Path) -> str:
    return path.name if path.suffix.lower() in WRITABLE_SUFFIXES else f"{path.stem}.png"


def _write_image(target: Path, image) -> None:
    suffix = target.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if suffix in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(suffix, image, params)
    if not ok:
        raise OutputError(f"cannot encode {target.name}")
    try:
        with AtomicPath(target) as temporary:
            temporary.write_bytes(encoded.tobytes())
    except StreamerError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
