"""Reading images from disk (illustrations, face crops, stills to annotate), whatever their format quirks.

Every reader returns BGR uint8 (H, W, 3), the colour order of OpenCV and of the runtime's
frames, or raises `InputError` with one line naming the file. Handled here so nothing else
has to: grayscale (1 channel), grey+alpha and BGRA (composited over mid-grey, see
`ALPHA_BACKGROUND`), palette PNGs, CMYK JPEGs, 16-bit PNGs, EXIF rotation of JPEGs,
truncated JPEG/PNG files (refused, whatever the OpenCV version does with them), and files that
are not images at all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from streamer.errors import InputError, OutputError

# What `prepare` and the dataset loader look at; anything else in a folder is reported, not read.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# Transparent pixels of character art usually hold black. Over white (what a viewer shows) the
# cascade misses 3 of the 12 transparent keima3 illustrations (the histogram equalisation is
# dominated by the white); over black or mid-grey it finds all of them. Grey keeps dark hair
# outlines visible, so crops look like a character in front of a plain wall.
ALPHA_BACKGROUND = 128.0

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"


def natural_key(name: str) -> tuple:
    """Sort key that orders "2.jpg" before "10.jpg" (the seeds' numbering), then by name."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", name) if part)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_images(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files) directly in `folder`, both in natural order.

    Hidden files (".DS_Store", editors' temporaries) are neither: they are ignored.
    """
    images: list[Path] = []
    others: list[Path] = []
    for entry in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        (images if is_image_name(entry) else others).append(entry)
    return images, others


def list_images_recursive(folder: Path) -> list[Path]:
    """Every image file under `folder` and its sub-folders (hidden ones skipped), in natural order."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=natural_key)
        for name in sorted(filenames, key=natural_key):
            path = Path(dirpath) / name
            if not name.startswith(".") and is_image_name(path):
                found.append(path)
    return found


def character_folders(folder: Path, min_characters: int = 1, placeholder: str = "DIR") -> list[Path]:
    """The <character>/ sub-folders of `folder` (sorted), each with images; InputError naming
    what is wrong (`placeholder` is how the messages call the folder, e.g. RAW_DIR)."""
    from streamer.errors import InputError

    if not folder.exists():
        raise InputError(f"{folder} does not exist")
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder (expected {placeholder}/<character>/<images>)")
    folders = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    if not folders:
        loose = list_images(folder)[0]
        hint = f" (it holds {len(loose)} images directly: put each character's images in a folder of its own)" if loose else ""
        raise InputError(f"{folder} has no character folders; expected {placeholder}/<character>/<images>{hint}")
    empty = [p.name for p in folders if not list_images(p)[0]]
    if empty:
        raise InputError(f"{folder}: no images in character folder(s) {', '.join(empty)}")
    if len(folders) < min_characters:
        raise InputError(f"{folder} has only one character ({folders[0].name}); a classifier needs at least two")
    return folders


def read_image(path: str | os.PathLike) -> np.ndarray:
    """The image at `path` as BGR uint8 (H, W, 3); InputError if it cannot be read whole."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode_image(data, str(path))


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Encoded image bytes → BGR uint8 (H, W, 3); InputError with `name` in the message."""
    if not data:
        raise InputError(f"{name}: empty file")
    if _is_truncated(data):
        raise InputError(f"{name}: truncated image file (the end of the image data is missing)")
    buffer = np.frombuffer(data, np.uint8)
    if data.startswith(_JPEG_MAGIC):
        # IMREAD_COLOR converts CMYK and grayscale JPEGs to BGR and applies the EXIF rotation.
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise InputError(f"{name}: not an image OpenCV can decode (unknown format or corrupt data)")
    return to_bgr8(image)


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded array (gray, gray+alpha, BGR, BGRA; 8 or 16 bit, or float) → BGR uint8."""
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        # float TIFFs and the like: assume 0..1 when they look like it, else clip to 0..255.
        scale = 255.0 if float(np.nanmax(image)) <= 1.0 else 1.0
        image = np.clip(np.nan_to_num(image.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    if channels == 2:  # gray + alpha
        return _over_background(cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR), image[..., 1])
    if channels == 4:
        return _over_background(image[..., :3], image[..., 3])
    return np.ascontiguousarray(image[..., :3])


def _over_background(bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite over ALPHA_BACKGROUND (alpha uint8, 255 = opaque)."""
    weight = alpha.astype(np.float32)[..., None] / 255.0
    blended = bgr.astype(np.float32) * weight + ALPHA_BACKGROUND * (1.0 - weight)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def _is_truncated(data: bytes) -> bool:
    """JPEG without an end-of-image marker after its last scan, PNG without its IEND chunk.

    Older OpenCV builds decode such files with a grey or black bottom and only a warning, so
    a cut-off download would silently become a training image.
    """
    if data.startswith(_JPEG_MAGIC):
        # EOI (FFD9) cannot occur inside entropy-coded data, so the last one must follow the
        # last start-of-scan (FFDA); an EXIF thumbnail's EOI comes before the main scans.
        return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")
    if data.startswith(_PNG_MAGIC):
        return _PNG_END not in data[-64:]
    return False


def write_png(path: Path, image_bgr: np.ndarray) -> None:
    """Write a BGR uint8 image as PNG (lossless: crops are written once and read many times)."""
    ok, encoded = cv2.imencode(".png", image_bgr)
    if not ok:
        raise OutputError(f"cannot encode {path.name} as PNG")
    path.write_bytes(encoded.tobytes())
