"""From episodes back to training data: a clean set of face crops per character.

    result = extract_faces(["ep01.mkv", "ep02.mkv"], "faces/", "characters.onnx")

Every track of every input (every face of an image) keeps its best few crops (`select.py`):
named tracks go to `OUT_DIR/<character>/`, unknown tracks are grouped across the whole input
set by embedding (`cluster.py`) into `OUT_DIR/unknown-01/`, `unknown-02/`, ... (biggest
first; groups smaller than `min_cluster` tracks go to `OUT_DIR/unknown/`). Beside them:
`faces.jsonl` (which crop came from which file, time, track and box), one contact sheet per
folder (`<folder>.png`) and `prepare.json` (how the crops were cut), so the folder is a
training set as `streamer train` and `streamer enroll` read it: rename `unknown-03/` to the
character's name, enroll it, annotate again.

    collect.py  candidate crops per track while the loop runs
    select.py   the best few per track, near-duplicates dropped
    cluster.py  embeddings and grouping of the unknown tracks
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from streamer.atomic import check_writable_parent
from streamer.detections import FACE, UNKNOWN
from streamer.errors import InputError, OutputExistsError, SettingError
from streamer.faces.cluster import COLOUR_THRESHOLD, MODEL_THRESHOLD, colour_embedding, group
from streamer.faces.collect import CROP_SIZE, Candidate, FaceCollector, TrackFaces
from streamer.faces.select import best_crops
from streamer.image_files import is_image_name, list_images_recursive, natural_key, read_image
from streamer.model_contract import CROP_MARGIN
from streamer.pipeline import LoopSettings, build_loop, load_parts
from streamer.runner import captured, run
from streamer.sinks.base import StreamInfo
from streamer.sources import FileSource


@dataclass(frozen=True)
class FacesResult:
    folder: Path
    tracks: int
    crops: int
    near_duplicates: int  # crops dropped as near-duplicates of a kept one
    folders: dict[str, int]  # folder name → crops in it
    embedding: str  # "model" or "colour"
    failed: tuple[tuple[str, str], ...]  # (input, reason)


def extract_faces(
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    model: str | os.PathLike | None = None,
    *,
    detector: str | None = None,
    cascade_path: str | os.PathLike | None = None,
    settings: LoopSettings = LoopSettings(),
    per_track: int = 3,
    cluster_threshold: float | None = None,
    min_cluster: int = 2,
    force: bool = False,
    progress: bool | None = None,
    warn: Callable[[str], None] | None = None,
) -> FacesResult:
    """Write the face set of `inputs` (videos, images, folders of either) into `output_dir`."""
    if per_track < 1:
        raise SettingError("{per_track} must be 1 or more")
    if min_cluster < 1:
        raise SettingError("{min_cluster} must be 1 or more")
    if cluster_threshold is not None and not -1.0 <= cluster_threshold <= 1.0:
        raise SettingError("{cluster_threshold} must be a cosine similarity, -1 to 1")
    files = _input_files(inputs)
    folder = Path(output_dir)
    if folder.exists() and any(folder.iterdir()):
        if not force:
            raise OutputExistsError(f"output folder {folder} exists and is not empty")
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"output {folder} is a file")
    check_writable_parent(folder)
    classifier, face_detector = load_parts(model, detector, settings, cascade_path, warn)
    margin = getattr(classifier, "crop_margin", CROP_MARGIN) if classifier is not None else CROP_MARGIN

    from streamer.progress import progress_bar

    tracks: list[TrackFaces] = []
    failed: list[tuple[str, str]] = []
    with progress_bar(len(files), enabled=progress, unit="file", desc="faces") as bar:
        for path in files:
            try:
                if is_image_name(path):
                    tracks.extend(_image_faces(path, classifier, face_detector, settings, margin))
                else:
                    tracks.extend(_video_faces(path, classifier, face_detector, settings, margin))
            except InputError as exc:
                failed.append((str(path), str(exc)))
            bar.update()

    kept: list[tuple[TrackFaces, list[Candidate]]] = []
    duplicates = 0
    for faces in tracks:
        crops, dropped = best_crops(faces.candidates, per_track)
        duplicates += dropped
        if crops:
            kept.append((faces, crops))
    embedding = "model" if classifier is not None and classifier.contract.open_set else "colour"
    folders = _assign_folders(kept, classifier if embedding == "model" else None,
                              cluster_threshold if cluster_threshold is not None else
                              (MODEL_THRESHOLD if embedding == "model" else COLOUR_THRESHOLD), min_cluster)
    counts = _write(folder, kept, folders, margin, face_detector, force)
    return FacesResult(folder, len(kept), sum(len(c) for _, c in kept), duplicates, counts, embedding, tuple(failed))


def _input_files(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    files: list[Path] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            from streamer.season.episodes import VIDEO_SUFFIXES

            found = [p for p in sorted(path.rglob("*"), key=lambda p: natural_key(str(p)))
                     if p.is_file() and (is_image_name(p) or p.suffix.lower() in VIDEO_SUFFIXES)]
            if not found:
                raise InputError(f"{path}: no videos or images in the folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"input not found: {path}")
    return list(dict.fromkeys(files))


def _video_faces(path: Path, classifier, face_detector, settings: LoopSettings, margin: float) -> list[TrackFaces]:
    loop = build_loop(face_detector, classifier, settings)
    collector = FaceCollector(path, margin)
    with FileSource(path) as source:
        run(captured(source), loop, [collector], StreamInfo(source.info), draw=False)
    return list(collector.tracks.values())


def _image_faces(path: Path, classifier, face_detector, settings: LoopSettings, margin: float) -> list[TrackFaces]:
    """Each face of a still is a track of its own (negative ids, so they never meet a video's)."""
    from fractions import Fraction

    from streamer.frames import Frame

    image = read_image(path)
    frame = Frame(image=np.ascontiguousarray(image), index=0, pts=0, time_base=Fraction(1), time=0.0)
    loop = build_loop(face_detector, classifier, settings)
    collector = FaceCollector(path, margin, every=1)
    collector.write(frame, loop.process(frame))
    return list(collector.tracks.values())


def _assign_folders(kept, classifier, threshold: float, min_cluster: int) -> list[str]:
    names = [faces.name for faces, _ in kept]
    # Without a classifier every face is "face": all of them are grouped, as strangers are.
    unknown = [i for i, name in enumerate(names) if name in (UNKNOWN, FACE)]
    if unknown:
        vectors = []
        for i in unknown:
            crops = [c.crop for c in kept[i][1]]
            embedded = classifier.embed(crops) if classifier is not None else colour_embedding(crops)
            mean = embedded.mean(axis=0)
            vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
        groups = group(np.asarray(vectors, np.float32), threshold)
        number = 0
        for members in groups:
            if len(members) >= min_cluster:
                number += 1
                label = f"unknown-{number:02d}"
            else:
                label = UNKNOWN
            for member in members:
                names[unknown[member]] = label
    return names


def _write(folder: Path, kept, folders: list[str], margin: float, face_detector, force: bool) -> dict[str, int]:
    """Everything into a staging folder beside `folder`, then swapped in: all or nothing."""
    staging = folder.with_name(f".{folder.name}.part")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        counts: dict[str, int] = {}
        records = []
        per_folder: dict[str, list[np.ndarray]] = {}
        for (faces, crops), name in zip(kept, folders):
            (staging / name).mkdir(exist_ok=True)
            for crop in crops:
                file = _unused(staging / name, f"{faces.source.stem}_t{faces.track}_f{crop.frame:06d}")
                cv2.imwrite(str(staging / name / file), crop.crop)
                counts[name] = counts.get(name, 0) + 1
                per_folder.setdefault(name, []).append(crop.crop)
                records.append({"crop": f"{name}/{file}", "file": str(faces.source), "frame": crop.frame,
                                "time": round(crop.time, 6), "track": faces.track, "box": list(crop.box),
                                "name": faces.name, "folder": name, "sharpness": round(crop.sharpness, 1)})
        (staging / "faces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        for name, crops in per_folder.items():
            cv2.imwrite(str(staging / f"{name}.png"), contact_sheet(crops))
        settings = {"crop_margin": margin, "crop_size": list(CROP_SIZE), "detector_name": face_detector.name,
                    "detector_box": face_detector.box_convention, "written_by": "streamer faces"}
        (staging / "prepare.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dict(sorted(counts.items()))


def _unused(folder: Path, stem: str) -> str:
    """`stem`.png, or `stem`-2.png, ... when two inputs share a name."""
    name, number = f"{stem}.png", 1
    while (folder / name).exists():
        number += 1
        name = f"{stem}-{number}.png"
    return name


def contact_sheet(crops: list[np.ndarray], columns: int = 10, size: int = 96) -> np.ndarray:
    rows = (len(crops) + columns - 1) // columns
    sheet = np.full((rows * size, min(columns, len(crops)) * size, 3), 255, np.uint8)
    for index, crop in enumerate(crops):
        y, x = divmod(index, columns)
        sheet[y * size : (y + 1) * size, x * size : (x + 1) * size] = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return sheet


__all__ = ["FacesResult", "extract_faces"]
