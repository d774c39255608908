"""Build a labelled test clip from still illustrations: camera moves over real images, hard cuts,
a sine-wave audio track, and per-frame ground truth (face boxes with character names).

    python samples/make_clip.py --preset keima3-test out/clip.mp4      # + out/clip.truth.jsonl
    python samples/make_clip.py --root DIR --stems 31-36 --seconds 30 --seed 1 out/clip.mp4

Input: a dataset split laid out as <root>/<character>/<image>; the folder name is the truth.
Each shot shows one image (sometimes two side by side) through a moving camera window: a zoom
in or out, a pan (between the two faces of a pair), a pan that brings the face into view, or a
slow drift; shots last 2-4 s and are separated by hard cuts.

Why the truth is exact: every frame is an affine view (a scale and a shift, no rotation) of a
still whose face boxes are known, so a face's box in a frame is its box on the still mapped by
that frame's transform; axis-aligned boxes stay axis-aligned. Boxes are clipped to the frame; a
face with less than MIN_VISIBLE of its box inside the frame is left out of that frame's truth.

Where the boxes on the still come from:
- full illustrations (keima3): the runtime's default face detector (`streamer.detectors`, the
  shipped learned one; `--detector cascade` for the seeds' cascade) run once on the image at the
  loop's detection width, so the truth has the same kind of box as `annotate`; the largest is the
  character's face (these datasets hold one character per image; smaller hits are false
  positives). Images where it finds nothing are skipped and listed in the header.
- face crops (newgame8: 96x96, the whole image is the face): any image whose sides are both at
  most WHOLE_FACE_MAX_SIDE px. It is enlarged to WHOLE_FACE_SIDE px and pasted on a plain
  gradient background; its box is the pasted square. (The cascade's own box on such a paste
  matches the square at IoU 0.93 median; it finds 45 of the 52 newgame8 test crops.)

Output: an H.264 MP4 (yuv420p, exact frame rate, default 24000/1001) with a stereo AAC track
(one sine tone per shot, so cuts are audible), and a JSON Lines file: a header line, then one
line per frame (format in docs/samples.md; `streamer.groundtruth.read_truth` reads it). Same
seed, same inputs → same clip.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2  # before av: with GUI OpenCV under X, importing av first makes cv2.imshow hang
import av
import numpy as np

from streamer import assets
from streamer.atomic import AtomicPath, check_output_path
from streamer.detectors import FaceDetector, load_detector
from streamer.errors import InputError, OutputError, StreamerError, UsageError
from streamer.groundtruth import FORMAT_VERSION as TRUTH_VERSION
from streamer.groundtruth import FrameTruth, TruthFace

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
DEFAULT_SIZE = (640, 360)
DEFAULT_FPS = Fraction(24000, 1001)
DEFAULT_SECONDS = 30.0
SHOT_SECONDS = (2.0, 4.0)
PAIR_SHARE = 0.25  # share of shots that show two images side by side
MIN_VISIBLE = 0.5  # a face needs this share of its box inside the frame to be in the truth
WHOLE_FACE_MAX_SIDE = 160
WHOLE_FACE_SIDE = 192
BORDER_BGR = (24, 24, 24)  # where the camera sees past the edge of the still
AUDIO_RATE = 48000
AUDIO_FRAME = 1024
TONES_HZ = (220.0, 261.6, 293.7, 329.6, 392.0)  # one per shot, in turn
MOVES = ("zoom_in", "zoom_out", "pan", "pan_in", "drift")
MOVE_WEIGHTS = (0.25, 0.25, 0.25, 0.1, 0.15)

PRESETS = {
    # The upstream convention for keima3: images 1-30 train, 31-36 test.
    "keima3-test": (assets.KEIMA3, "raw", (31, 36)),
    "newgame8-test": (assets.NEWGAME8, "test", None),
}


# --- types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabeledImage:
    path: Path
    name: str  # the character: the image's folder name
    label: str  # "<character>/<file name>", as written in the truth header


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in still pixels
    name: str


@dataclass(frozen=True)
class Still:
    """What one shot films. image: (H, W, 3) uint8 BGR."""

    image: np.ndarray
    faces: tuple[Face, ...]
    sources: tuple[str, ...]  # LabeledImage.label of each image in it


@dataclass(frozen=True)
class View:
    """A camera window on a still: its centre and height in still pixels (width = height x aspect)."""

    cx: float
    cy: float
    height: float


@dataclass(frozen=True)
class Shot:
    index: int
    start_frame: int
    frames: int
    move: str
    start: View
    end: View
    still: Still


@dataclass(frozen=True)
class ClipInfo:
    video: Path
    truth: Path
    frames: int
    seconds: float
    shots: int
    skipped: tuple[str, ...]  # images without a face on the still


# --- inputs -------------------------------------------------------------------------------


def stem_range(first: int, last: int) -> Callable[[Path], bool]:
    """A selector for images whose file stem is a number in [first, last] (keima3's 31-36)."""

    def selected(path: Path) -> bool:
        return path.stem.isdigit() and first <= int(path.stem) <= last

    return selected


def list_images(root: str | os.PathLike, select: Callable[[Path], bool] | None = None) -> list[LabeledImage]:
    """Images under <root>/<character>/, sorted by character then number/name; InputError if none."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"image folder not found: {root}")
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in folder.iterdir():
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and (select is None or select(path)):
                found.append(LabeledImage(path, folder.name, f"{folder.name}/{path.name}"))
    if not found:
        raise InputError(
            f"no images in {root}: expected <character>/<image> files{' matching the selection' if select else ''}"
        )
    return sorted(found, key=lambda im: (im.name, _natural(im.path.stem), im.path.name))


def images_from_list(root: str | os.PathLike, listing: str | os.PathLike) -> Callable[[Path], bool]:
    """A selector from a text file of "<character>/<file>" lines (relative to root; # comments)."""
    try:
        lines = Path(listing).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read image list {listing}: {exc.strerror or exc}") from None
    wanted = {line.split("#", 1)[0].strip() for line in lines} - {""}
    root = Path(root)
    missing = sorted(name for name in wanted if not (root / name).is_file())
    if missing:
        raise InputError(f"image list {listing}: {len(missing)} file(s) not under {root}, e.g. {missing[0]}")
    return lambda path: f"{path.parent.name}/{path.name}" in wanted


def _natural(stem: str) -> tuple[int, int | str]:
    return (0, int(stem)) if stem.isdigit() else (1, stem)


def load_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR; transparent pixels composited over white. InputError if unreadable."""
    try:
        data = np.fromfile(path, np.uint8)  # imdecode, not imread: non-ASCII paths work everywhere
    except OSError as exc:
        raise InputError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InputError(f"not an image OpenCV can read: {path}")
    if image.dtype != np.uint8:  # 16-bit or float files: let OpenCV make 8-bit BGR of them
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return (image[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return image[:, :, :3]


# --- stills ---------------------------------------------------------------------------------


def is_face_crop(image: np.ndarray) -> bool:
    return max(image.shape[:2]) <= WHOLE_FACE_MAX_SIDE


def panel_for(item: LabeledImage, detector: FaceDetector, rng: np.random.Generator) -> Still | None:
    """One image as a still with its face box, or None when the detector finds no face in it."""
    image = load_image(item.path)
    if is_face_crop(image):
        return _pasted_face(image, item, rng)
    found = detector.detect(image)
    if len(found) == 0:
        return None
    x1, y1, x2, y2 = (float(v) for v in found.xyxy[int(np.argmax(found.area))])
    return Still(image, (Face((x1, y1, x2, y2), item.name),), (item.label,))


def _pasted_face(crop: np.ndarray, item: LabeledImage, rng: np.random.Generator) -> Still:
    side = WHOLE_FACE_SIDE
    height, width = side * 3, round(side * 16 / 3)  # 16:9, the face a third of its height
    top_colour, bottom_colour = rng.integers(60, 200, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    canvas = (top_colour * (1 - ramp) + bottom_colour * ramp).astype(np.uint8).repeat(width, axis=1)
    x = int(rng.integers(side // 4, width - side - side // 4))
    y = int(rng.integers(side // 8, height - side - side // 8 + 1))
    canvas[y : y + side, x : x + side] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC)
    return Still(canvas, (Face((float(x), float(y), float(x + side), float(y + side)), item.name),), (item.label,))


def side_by_side(left: Still, right: Still) -> Still:
    """Two stills scaled to the same height and placed next to each other with a small gap."""
    height = min(left.image.shape[0], right.image.shape[0])
    gap = max(2, round(0.04 * height))
    parts, faces, x = [], [], 0.0
    for still in (left, right):
        scale = height / still.image.shape[0]
        width = max(1, round(still.image.shape[1] * scale))
        image = still.image if scale == 1 else cv2.resize(still.image, (width, height), interpolation=cv2.INTER_AREA)
        sx = width / still.image.shape[1]
        for face in still.faces:
            x1, y1, x2, y2 = face.box
            faces.append(Face((x + x1 * sx, y1 * scale, x + x2 * sx, y2 * scale), face.name))
        parts.append(image)
        x += width + gap
        if still is left:
            parts.append(np.full((height, gap, 3), BORDER_BGR, np.uint8))
    return Still(np.hstack(parts), tuple(faces), left.sources + right.sources)


# --- camera ---------------------------------------------------------------------------------


def plan_move(still: Still, aspect: float, rng: np.random.Generator) -> tuple[str, View, View]:
    """A camera move over `still` for a frame of width/height `aspect`: (kind, start, end)."""
    still_h, still_w = still.image.shape[:2]
    fit_h = max(still_h, still_w / aspect)  # the whole still in view
    kind = str(rng.choice(MOVES, p=MOVE_WEIGHTS))
    faces = still.faces
    face = faces[int(rng.integers(len(faces)))]
    close_h = min(fit_h, _side(face) * rng.uniform(1.8, 3.0))
    close = _near(face, close_h, aspect, rng)
    wide = View(still_w / 2, still_h / 2, fit_h * rng.uniform(0.9, 1.0))
    if kind == "zoom_in":
        start, end = wide, close
    elif kind == "zoom_out":
        start, end = close, wide
    elif kind == "pan" and len(faces) > 1:
        other = faces[1] if face is faces[0] else faces[0]
        height = min(fit_h, max(close_h, _side(other) * 2.6))
        start, end = _near(face, height, aspect, rng), _near(other, height, aspect, rng)
    elif kind == "pan":
        height = close_h + (fit_h - close_h) * rng.uniform(0.0, 0.5)
        shift = height * aspect * rng.uniform(0.15, 0.3) * rng.choice((-1.0, 1.0))
        rise = height * rng.uniform(-0.08, 0.08)
        cx, cy = _centre(face)
        start, end = View(cx - shift, cy - rise, height), View(cx + shift, cy + rise, height)
    elif kind == "pan_in":
        # Start a window-width away so the face enters during the shot (where the still allows).
        start = View(close.cx + rng.choice((-1.0, 1.0)) * close_h * aspect * 0.9, close.cy, close_h)
        end = close
    else:  # drift: almost still, as on a held shot
        start = close
        end = View(
            close.cx + close_h * rng.uniform(-0.05, 0.05),
            close.cy + close_h * rng.uniform(-0.05, 0.05),
            close_h * rng.uniform(0.92, 1.08),
        )
    return kind, _clamp(start, still_w, still_h, aspect), _clamp(end, still_w, still_h, aspect)


def _side(face: Face) -> float:
    x1, y1, x2, y2 = face.box
    return max(x2 - x1, y2 - y1)


def _centre(face: Face) -> tuple[float, float]:
    x1, y1, x2, y2 = face.box
    return (x1 + x2) / 2, (y1 + y2) / 2


def _near(face: Face, height: float, aspect: float, rng: np.random.Generator) -> View:
    """A window of `height` with the face a little off centre (as a camera operator frames it)."""
    cx, cy = _centre(face)
    return View(cx + height * aspect * rng.uniform(-0.12, 0.12), cy + height * rng.uniform(0.0, 0.12), height)


def _clamp(view: View, still_w: int, still_h: int, aspect: float) -> View:
    """Keep the window on the still: inside it where it is smaller, around it where it is larger
    (limits linear in centre and height, so the windows of a move between two clamped ends stay
    on the still too, up to the slight bend that the geometric zoom of `view_at` adds)."""

    def axis(centre: float, extent: float, size: int) -> float:
        low, high = sorted((extent / 2, size - extent / 2))
        return float(min(max(centre, low), high))

    return View(axis(view.cx, view.height * aspect, still_w), axis(view.cy, view.height, still_h), view.height)


def view_at(shot: Shot, offset: int) -> View:
    """The camera window `offset` frames into the shot: eased in and out, zooming geometrically."""
    t = offset / max(1, shot.frames - 1)
    eased = t * t * (3 - 2 * t)
    a, b = shot.start, shot.end
    return View(
        a.cx + (b.cx - a.cx) * eased,
        a.cy + (b.cy - a.cy) * eased,
        math.exp(math.log(a.height) + (math.log(b.height) - math.log(a.height)) * eased),
    )


def view_transform(view: View, size: tuple[int, int]) -> tuple[float, float, float]:
    """(scale, tx, ty) with frame = scale * still + (tx, ty), in pixel-edge coordinates."""
    width, height = size
    scale = height / view.height
    return scale, width / 2 - scale * view.cx, height / 2 - scale * view.cy


def faces_in_frame(
    faces: Iterable[Face], transform: tuple[float, float, float], size: tuple[int, int]
) -> list[TruthFace]:
    """The still's faces as seen in the frame: mapped, clipped, and dropped below MIN_VISIBLE.
    Each keeps its index among the still's faces (TruthFace.face), the same in every frame."""
    scale, tx, ty = transform
    width, height = size
    seen = []
    for index, face in enumerate(faces):
        x1, y1, x2, y2 = face.box
        box = (scale * x1 + tx, scale * y1 + ty, scale * x2 + tx, scale * y2 + ty)
        clipped = (
            min(max(box[0], 0), width),
            min(max(box[1], 0), height),
            min(max(box[2], 0), width),
            min(max(box[3], 0), height),
        )
        area = (box[2] - box[0]) * (box[3] - box[1])
        visible = (clipped[2] - clipped[0]) * (clipped[3] - clipped[1]) / area if area > 0 else 0.0
        if visible >= MIN_VISIBLE:
            seen.append(TruthFace(tuple(round(v, 2) for v in clipped), face.name, round(visible, 3), index))
    return seen


class _ShotRenderer:
    """Renders one shot's frames from a copy of the still scaled down once for the whole shot, so
    warpAffine never shrinks a big image by much (that would alias and cost time)."""

    def __init__(self, shot: Shot, size: tuple[int, int]) -> None:
        self.shot, self.size = shot, size
        still_h, still_w = shot.still.image.shape[:2]
        largest_scale = size[1] / min(shot.start.height, shot.end.height)
        prescale = min(1.0, largest_scale)
        if prescale < 1.0:
            small_size = (max(1, round(still_w * prescale)), max(1, round(still_h * prescale)))
            self.image = cv2.resize(shot.still.image, small_size, interpolation=cv2.INTER_AREA)
        else:
            self.image = shot.still.image
        self.sx = self.image.shape[1] / still_w
        self.sy = self.image.shape[0] / still_h

    def frame(self, offset: int) -> tuple[np.ndarray, list[TruthFace]]:
        """(H, W, 3) uint8 BGR frame and the faces in it."""
        transform = view_transform(view_at(self.shot, offset), self.size)
        scale, tx, ty = transform
        ax, ay = scale / self.sx, scale / self.sy
        # warpAffine works on pixel centres (index i is the edge coordinate i + 0.5).
        matrix = np.array([[ax, 0.0, tx + 0.5 * ax - 0.5], [0.0, ay, ty + 0.5 * ay - 0.5]])
        image = cv2.warpAffine(
            self.image,
            matrix,
            self.size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=BORDER_BGR,
        )
        return image, faces_in_frame(self.shot.still.faces, transform, self.size)


# --- planning -------------------------------------------------------------------------------


def plan_shots(
    images: Sequence[LabeledImage],
    detector: FaceDetector,
    *,
    total_frames: int | None,
    fps: Fraction,
    size: tuple[int, int],
    seed: int,
    shot_seconds: tuple[float, float] = SHOT_SECONDS,
    pair_share: float = PAIR_SHARE,
) -> tuple[list[Shot], list[str]]:
    """Shots (stills, camera moves, frame ranges) and the labels of images skipped for want of a face.

    total_frames None: every image once (in pairs for some shots); else shots until that many
    frames, drawing images from a shuffled deck that is reshuffled when it runs out.
    """
    rng = np.random.default_rng(seed)
    aspect = size[0] / size[1]
    min_frames = max(1, round(shot_seconds[0] * fps))
    max_frames = max(min_frames, round(shot_seconds[1] * fps))
    panels: dict[Path, Still | None] = {}
    skipped: list[str] = []
    pool = list(images)  # the usable images, as far as we know yet
    deck: list[LabeledImage] = [] if total_frames is not None else [images[i] for i in rng.permutation(len(images))]
    last: tuple[str, ...] = ()  # the images of the previous shot

    def panel(item: LabeledImage) -> Still | None:
        if item.path not in panels:
            panels[item.path] = panel_for(item, detector, rng)
            if panels[item.path] is None:
                skipped.append(item.label)
                pool.remove(item)
        return panels[item.path]

    def draw() -> Still | None:
        """The next usable image from the deck, reshuffled when it runs out in fixed-length mode."""
        while True:
            if not deck:
                if total_frames is None or not pool:
                    return None
                deck.extend(pool[i] for i in rng.permutation(len(pool)))
            # Not an image of the previous shot (possible just after a reshuffle) unless nothing else is left.
            choice = next((i for i, item in enumerate(deck) if item.label not in last), 0)
            still = panel(deck.pop(choice))
            if still is not None:
                return still

    def draw_partner(first: Still) -> Still | None:
        """Another usable image from what is left of the deck, of another character if one is there."""
        while True:
            others = [i for i, item in enumerate(deck) if item.label not in first.sources + last]
            if not others:
                return None
            choice = next((i for i in others if deck[i].name != first.faces[0].name), others[0])
            partner = panel(deck.pop(choice))
            if partner is not None:
                return partner

    shots: list[Shot] = []
    start = 0
    while total_frames is None or start < total_frames:
        still = draw()
        if still is None:
            break
        if rng.random() < pair_share:
            partner = draw_partner(still)
            if partner is not None:
                still = side_by_side(still, partner) if rng.random() < 0.5 else side_by_side(partner, still)
        last = still.sources
        frames = int(rng.integers(min_frames, max_frames + 1))
        if total_frames is not None:
            left = total_frames - start
            frames = left if left - frames < min_frames else frames  # no stub of a last shot
        kind, view_a, view_b = plan_move(still, aspect, rng)
        shots.append(Shot(len(shots), start, frames, kind, view_a, view_b, still))
        start += frames
    if not shots:
        raise InputError(f"the detector finds no face in any of the {len(images)} images; nothing to film")
    return shots, skipped


# --- output ---------------------------------------------------------------------------------


def tone(shots: Sequence[Shot], fps: Fraction, rate: int = AUDIO_RATE) -> np.ndarray:
    """(2, samples) float32 stereo: one sine per shot, 5 ms fades at the cuts (no clicks)."""
    total = round(sum(s.frames for s in shots) / fps * rate)
    wave = np.zeros(total, np.float32)
    fade = max(1, rate // 200)
    for shot in shots:
        a = round(shot.start_frame / fps * rate)
        b = min(total, round((shot.start_frame + shot.frames) / fps * rate))
        t = np.arange(b - a, dtype=np.float64) / rate
        part = 0.2 * np.sin(2 * np.pi * TONES_HZ[shot.index % len(TONES_HZ)] * t)
        ramp = np.minimum(1.0, np.minimum(np.arange(b - a) + 1, np.arange(b - a)[::-1] + 1) / fade)
        wave[a:b] = part * ramp
    return np.stack([wave, wave])


def write_clip(
    shots: Sequence[Shot],
    video: Path,
    truth: Path,
    *,
    size: tuple[int, int],
    fps: Fraction,
    header: dict,
) -> int:
    """Render and encode every shot; write the truth beside. Both appear only when complete."""
    total = sum(shot.frames for shot in shots)
    audio = tone(shots, fps)
    with AtomicPath(video) as video_tmp, AtomicPath(truth) as truth_tmp:
        with av.open(str(video_tmp), "w", format="mp4") as container, open(truth_tmp, "w", encoding="utf-8") as lines:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            stream.codec_context.time_base = 1 / fps
            stream.options = {"preset": "veryfast", "crf": "20"}
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            lines.write(json.dumps({"kind": "header", **header, "frames": total}) + "\n")
            audio_done = 0
            for shot in shots:
                renderer = _ShotRenderer(shot, size)
                for offset in range(shot.frames):
                    index = shot.start_frame + offset
                    image, faces = renderer.frame(offset)
                    frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
                    frame.pts, frame.time_base = index, 1 / fps
                    container.mux(stream.encode(frame))
                    record = FrameTruth(index, round(float(index / fps), 6), shot.index, tuple(faces))
                    lines.write(json.dumps(record.to_json()) + "\n")
                    # Audio up to this frame's end, so the two streams stay interleaved.
                    due = round((index + 1) / fps * AUDIO_RATE) if index + 1 < total else audio.shape[1]
                    while audio_done < due:
                        count = min(AUDIO_FRAME, audio.shape[1] - audio_done)
                        chunk = av.AudioFrame.from_ndarray(
                            np.ascontiguousarray(audio[:, audio_done : audio_done + count]),
                            format="fltp",
                            layout="stereo",
                        )
                        chunk.sample_rate, chunk.pts, chunk.time_base = AUDIO_RATE, audio_done, Fraction(1, AUDIO_RATE)
                        container.mux(sound.encode(chunk))
                        audio_done += count
            container.mux(stream.encode(None))
            container.mux(sound.encode(None))
    return total


def default_truth_path(video: str | os.PathLike) -> Path:
    video = Path(video)
    return video.with_name(f"{video.stem}.truth.jsonl")


def make_clip(
    root: str | os.PathLike,
    output: str | os.PathLike,
    truth: str | os.PathLike | None = None,
    *,
    select: Callable[[Path], bool] | None = None,
    seconds: float | None = DEFAULT_SECONDS,
    size: tuple[int, int] = DEFAULT_SIZE,
    fps: Fraction | int = DEFAULT_FPS,
    seed: int = 0,
    shot_seconds: tuple[float, float] = SHOT_SECONDS,
    pair_share: float = PAIR_SHARE,
    detector: FaceDetector | None = None,
    force: bool = False,
) -> ClipInfo:
    """Build the clip `output` (MP4) and its truth (default <output stem>.truth.jsonl) from the
    images under `root`/<character>/ chosen by `select`.

    seconds: clip length; None films every usable image once (shot lengths as usual).
    size: (width, height), both even (4:2:0 video). fps: exact frame rate.
    detector: finds the faces on the stills (default: the runtime's default detector).
    """
    fps = Fraction(fps)
    width, height = size
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise UsageError(f"frame size {width}x{height}: width and height must be positive and even")
    if not 0 < fps <= 240:
        raise UsageError(f"frame rate {fps}: must be above 0 and at most 240")
    # nan and inf pass the comparisons below and would fail later in round() with a traceback.
    if seconds is not None and not math.isfinite(seconds):
        raise UsageError(f"clip length {seconds} s: must be a finite number of seconds")
    if seconds is not None and seconds * fps < 1:
        raise UsageError(f"{seconds} s at {fps} fps is not even one frame")
    if not all(math.isfinite(s) for s in shot_seconds) or not 0 < shot_seconds[0] <= shot_seconds[1]:
        raise UsageError(f"shot length {shot_seconds[0]}-{shot_seconds[1]} s: need 0 < shortest <= longest")
    if not 0 <= pair_share <= 1:
        raise UsageError(f"pair share {pair_share}: must be between 0 and 1")
    truth = Path(truth) if truth is not None else default_truth_path(output)
    video = check_output_path(output, force=force)
    truth = check_output_path(truth, force=force)
    if video.resolve() == truth.resolve():
        raise OutputError(f"video and truth would both be {video}; choose another truth file name")
    images = list_images(root, select)
    detector = detector or load_detector()
    shots, skipped = plan_shots(
        images,
        detector,
        total_frames=None if seconds is None else round(seconds * fps),
        fps=fps,
        size=size,
        seed=seed,
        shot_seconds=shot_seconds,
        pair_share=pair_share,
    )
    header = {
        "version": TRUTH_VERSION,
        "video": video.name,
        "width": width,
        "height": height,
        "fps": f"{fps.numerator}/{fps.denominator}",
        "seed": seed,
        "root": str(Path(root)),
        "min_visible": MIN_VISIBLE,
        "shots": [
            {
                "shot": s.index,
                "start_frame": s.start_frame,
                "frames": s.frames,
                "move": s.move,
                "images": list(s.still.sources),
                "names": [f.name for f in s.still.faces],
            }
            for s in shots
        ],
        "skipped": skipped,
    }
    try:
        total = write_clip(shots, video, truth, size=size, fps=fps, header=header)
    except (av.error.FFmpegError, OSError) as exc:
        raise OutputError(f"cannot write {video}: {exc}") from None
    return ClipInfo(video, truth, total, float(total / fps), len(shots), tuple(skipped))


# --- command line ---------------------------------------------------------------------------


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT") from None
    return width, height


def _parse_range(text: str) -> tuple[float, float]:
    try:
        first, _, last = text.partition("-")
        return float(first), float(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not A-B") from None


def _parse_fps(text: str) -> Fraction:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate like 24 or 24000/1001") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make_clip.py",
        description="Build a labelled test clip (MP4 + per-frame ground truth JSONL) from still illustrations.",
    )
    parser.add_argument("output", help="the MP4 to write")
    parser.add_argument("--truth", help="ground-truth JSONL to write (default: <output stem>.truth.jsonl)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--root", help="dataset split laid out as ROOT/<character>/<image>")
    source.add_argument(
        "--preset", choices=sorted(PRESETS), help="keima3-test: keima3 raw images 31-36; newgame8-test: newgame8/test"
    )
    parser.add_argument("--data", help="with --preset: the keima3 or newgame8 folder (default: found as an asset)")
    parser.add_argument(
        "--stems", type=_parse_range, metavar="A-B", help="only images whose file name is a number in A..B"
    )
    parser.add_argument(
        "--list", dest="listing", metavar="FILE", help="only the <character>/<file> images listed in FILE"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help=f"clip length (default {DEFAULT_SECONDS:g})"
    )
    length.add_argument("--every-image", action="store_true", help="film every usable image once instead")
    parser.add_argument(
        "--size", type=_parse_size, default=DEFAULT_SIZE, metavar="WxH", help="frame size (default 640x360)"
    )
    parser.add_argument("--fps", type=_parse_fps, default=DEFAULT_FPS, help="frame rate (default 24000/1001)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same clip (default 0)")
    parser.add_argument(
        "--shot-seconds", type=_parse_range, default=SHOT_SECONDS, metavar="A-B", help="shot length range (default 2-4)"
    )
    parser.add_argument(
        "--pairs",
        type=float,
        default=PAIR_SHARE,
        metavar="SHARE",
        help=f"share of two-image shots (default {PAIR_SHARE})",
    )
    parser.add_argument("--detector", metavar="cascade|PATH.onnx",
                        help="face detector for the stills' boxes (default: the shipped learned one)")
    parser.add_argument("--cascade", help="with --detector cascade: the face cascade XML (default: the configured asset)")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    return parser


def run(args: argparse.Namespace) -> ClipInfo:
    select = None
    if args.preset:
        asset, split, stems = PRESETS[args.preset]
        root = assets.resolve(asset, args.data) / split
        select = stem_range(*stems) if stems else None
    else:
        if args.data:
            raise UsageError("--data goes with --preset; give the images with --root")
        root = Path(args.root)
    if args.stems:
        select = stem_range(int(args.stems[0]), int(args.stems[1]))
    if args.listing:
        if args.stems:
            raise UsageError("use --stems or --list, not both")
        select = images_from_list(root, args.listing)
    return make_clip(
        root,
        args.output,
        args.truth,
        select=select,
        seconds=None if args.every_image else args.seconds,
        size=args.size,
        fps=args.fps,
        seed=args.seed,
        shot_seconds=args.shot_seconds,
        pair_share=args.pairs,
        detector=load_detector(args.detector, cascade_path=args.cascade),
        force=args.force,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        info = run(args)
    except StreamerError as exc:
        print(f"make_clip: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("make_clip: interrupted", file=sys.stderr)
        return 130
    print(
        f"wrote {info.video} ({info.frames} frames, {info.seconds:.1f} s, {info.shots} shots) "
        f"and {info.truth} in {time.perf_counter() - started:.1f} s"
    )
    if info.skipped:
        print(f"skipped (no face found on the still): {', '.join(info.skipped)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
