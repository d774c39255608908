"""Folders of face crops per character, loaded as arrays for training and evaluation.

    FOLDER/<character>/<image>   (what `prepare` writes as OUT_DIR/train and OUT_DIR/test)

Characters are the sub-folder names in sorted order; that order is the model's label order.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.image_files import list_images, read_image
from streamer.errors import InputError
from streamer.model_contract import resize_crop

# Written by `prepare` beside train/ and test/: how its crops were cut (crop_margin, size).
PREPARE_SETTINGS = "prepare.json"


@dataclass(frozen=True)
class ImageSet:
    """images_rgb: (n, H, W, 3) uint8, RGB (the model's colour order; crops on disk are BGR);
    labels: (n,) int64 indices into class_names; paths: the file of each image."""

    images_rgb: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    paths: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.class_names)}

    def subset(self, index: np.ndarray) -> "ImageSet":
        return ImageSet(self.images_rgb[index], self.labels[index], self.class_names, tuple(self.paths[i] for i in index))


def train_folder(data_dir: str | os.PathLike) -> Path:
    """DATA_DIR/train (as `prepare` writes it), or DATA_DIR itself when it holds the character
    folders directly (as `streamer faces` writes them); InputError naming what is missing."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"{data_dir} is not a folder")
    folder = data_dir / "train"
    if folder.is_dir():
        return folder
    if any(p.is_dir() and not p.name.startswith(".") and list_images(p)[0] for p in data_dir.iterdir()):
        return data_dir
    raise InputError(f"{data_dir} has no train/ folder; expected DATA_DIR/train/<character>/ as `streamer prepare` "
                     "writes it, or DATA_DIR/<character>/ as `streamer faces` does")


def crop_margin_of(data_dir: str | os.PathLike) -> float:
    """The margin DATA_DIR's crops were cut with: prepare.json's when `prepare` wrote the folder,
    else 0 (ready-made face crops, such as newgame8's, are cut tight around the face)."""
    settings = Path(data_dir) / PREPARE_SETTINGS
    if not settings.is_file():
        return 0.0
    try:
        return float(json.loads(settings.read_text(encoding="utf-8"))["crop_margin"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{settings}: unreadable crop settings ({exc}); give the margin the crops were cut with (crop_margin)"
        ) from None


def detector_of(data_dir: str | os.PathLike) -> tuple[str, str]:
    """(detector name, box convention) DATA_DIR's crops were cut at, from prepare.json; ("", "")
    for ready-made crops or a folder prepared before detectors were recorded."""
    settings = Path(data_dir) / PREPARE_SETTINGS
    if not settings.is_file():
        return "", ""
    try:
        payload = json.loads(settings.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{settings}: unreadable crop settings ({exc})") from None
    if "detector_box" not in payload:  # prepared by an earlier version: always the cascade
        from streamer.detectors.cascade import BOX_CONVENTION, CASCADE_NAME

        return CASCADE_NAME, BOX_CONVENTION
    return str(payload.get("detector_name", "")), str(payload["detector_box"])


def test_folder(path: str | os.PathLike) -> Path:
    """TEST_DIR itself (holding <character>/ folders), or DATA_DIR/test when given a prepared tree."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path} is not a folder")
    if (path / "test").is_dir() and (path / "train").is_dir():
        return path / "test"
    return path


def load_image_folder(
    folder: str | os.PathLike,
    size: tuple[int, int] = (96, 96),
    min_classes: int = 2,
) -> ImageSet:
    """All images under folder/<character>/, resized to `size` (height, width) like the runtime does.

    Unreadable files are an InputError (training on a silently shortened set is worse than
    stopping); non-image files are skipped.
    """
    folder = Path(folder)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputError(f"{folder} has no character folders; expected {folder}/<character>/<images>")
    if len(classes) < min_classes:
        raise InputError(f"{folder} has only one character ({classes[0]}); a classifier needs at least two")
    images, labels, paths = [], [], []
    empty = []
    for index, name in enumerate(classes):
        files = list_images(folder / name)[0]
        if not files:
            empty.append(name)
        for path in files:
            images.append(resize_crop(read_image(path)[..., ::-1], size))  # the runtime's resize: the parity contract
            labels.append(index)
            paths.append(path)
    if empty:
        raise InputError(f"{folder}: no images in character folder(s) {', '.join(empty)}")
    return ImageSet(np.stack(images), np.asarray(labels, np.int64), tuple(classes), tuple(paths))


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept indices, held-out indices): round(fraction * n) of each class held out, never a
    class's last two images (a class must keep one to learn from and one for the check to mean
    anything). Seeded, so the same data and seed always hold out the same images."""
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        count = int(round(len(members) * fraction)) if len(members) >= 3 else 0
        held.extend(members[:count])
        kept.extend(members[count:])
    return np.sort(np.asarray(kept, np.int64)), np.sort(np.asarray(held, np.int64))
