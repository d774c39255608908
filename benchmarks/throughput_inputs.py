"""Inputs for the throughput benchmark, built from ../shared with PyAV and cached in benchmarks/out/.

Nothing from ../shared is copied: every file here is derived (re-encoded or re-muxed) and lives
in the git-ignored benchmarks/out/, rebuilt when missing.

    upscaled(SAKURASOU, out / "sakurasou_1920x1080.mp4", 1920, 1080)      # the 1080p clip, audio copied
    looped(SAKURASOU, out / "sakurasou_480p_240s.mp4", 240.0)            # a long input, stream copy
    with_faces(background, out / "faces4.mp4", faces=face_stamps(4, 200), seconds=4.0)

Encodes made here use x264 "fast", crf 18: close enough to the source that the benchmark's own
encode (veryfast, crf 23) sees the same picture content.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2  # before av: with GUI OpenCV under X, importing av first makes cv2.imshow hang
import av
import numpy as np

from streamer.atomic import AtomicPath
from streamer.detectors.cascade import CascadeDetector
from streamer.model_contract import face_crop_box

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SAKURASOU = SHARED / "videos" / "sakurasou_480p.mp4"
ONEPIECE = SHARED / "videos" / "onepiece_480p.mp4"  # the cascade finds no face in it: a clean background
CASCADE = SHARED / "models" / "lbpcascade_animeface.xml"
KEIMA3 = SHARED / "datasets" / "keima3" / "raw"
KEIMA3_TEST = range(31, 37)  # upstream convention: images 31-36 are the test split

# The keima3 open-set model benchmarks/open_set.py trains: the live and season benchmarks use it when there.
KEIMA3_MODEL = REPO / "benchmarks" / "out" / "open_set" / "keima3" / "model.onnx"


def model_or_default(given: Path | None) -> Path | None:
    """`given`, else the keima3 model when benchmarks/open_set.py has trained it, else None (faces only)."""
    if given is not None:
        return given
    return KEIMA3_MODEL if KEIMA3_MODEL.exists() else None


# Picture transform applied to each decoded frame: (H, W, 3) BGR in, (H', W', 3) BGR out.
Paint = Callable[[np.ndarray, int], np.ndarray]


def upscaled(source: Path, dest: Path, width: int, height: int, seconds: float | None = None) -> Path:
    """`source` scaled to width x height (bicubic), first `seconds` only, audio packets copied."""
    if dest.exists():
        return dest

    def scale(frame: av.VideoFrame, index: int) -> av.VideoFrame:
        return frame.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")

    return _transcode(source, dest, width, height, seconds, scale)


def with_faces(
    background: Path, dest: Path, faces: Sequence[np.ndarray], seconds: float | None = None
) -> Path:
    """`background` with the BGR face `faces` pasted on a grid, drifting slowly; audio copied."""
    if dest.exists():
        return dest
    with av.open(str(background)) as probe:
        stream = probe.streams.video[0]
        width, height = stream.width, stream.height
    paint = _face_painter(faces, width, height)

    def draw(frame: av.VideoFrame, index: int) -> av.VideoFrame:
        bgr = paint(frame.to_ndarray(format="bgr24"), index)
        return av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")

    return _transcode(background, dest, width, height, seconds, draw)


def looped(source: Path, dest: Path, seconds: float) -> Path:
    """`source` repeated back to back until it lasts `seconds`, by stream copy (no re-encode).

    Each pass shifts every packet's timestamps by the source's duration, so the result plays as
    one long clip with continuous video and audio.
    """
    if dest.exists():
        return dest
    with av.open(str(source)) as probe:
        video = probe.streams.video[0]
        frame_seconds = float(1 / video.average_rate)
        last = max(float(p.pts * p.time_base) for p in probe.demux(video) if p.pts is not None)
    period = last + frame_seconds  # one pass, in seconds
    passes = max(1, math.ceil(seconds / period))
    with AtomicPath(dest) as tmp, av.open(str(tmp), "w") as out:
        streams_out = {}
        for n in range(passes):
            with av.open(str(source)) as src:
                if n == 0:
                    for stream in (*src.streams.video[:1], *src.streams.audio[:1]):
                        streams_out[stream.index] = out.add_stream_from_template(stream)
                wanted = [s for s in src.streams if s.index in streams_out]
                for packet in src.demux(wanted):
                    if packet.dts is None:  # the demuxer's flush packet
                        continue
                    shift = round(n * period / packet.time_base)
                    packet.pts = packet.pts + shift if packet.pts is not None else None
                    packet.dts += shift
                    packet.stream = streams_out[packet.stream.index]
                    out.mux(packet)
    return dest


def face_stamps(count: int, side: int, cascade: Path = CASCADE) -> list[np.ndarray]:
    """`count` square BGR face crops (side x side) from the keima3 test images, cycling characters.

    Only faces the cascade finds on the still image, cut with the runtime's own crop margin, so
    pasted copies are faces the cascade finds again.
    """
    if count == 0:
        return []
    detector = CascadeDetector(str(cascade), detect_width=640)
    per_character: list[list[np.ndarray]] = []
    for folder in sorted(p for p in KEIMA3.iterdir() if p.is_dir()):
        found = []
        for number in KEIMA3_TEST:
            for path in folder.glob(f"{number}.*"):
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    continue
                detections = detector.detect(image)
                for box in detections.xyxy:
                    x1, y1, x2, y2 = face_crop_box(box, image.shape[1], image.shape[0], margin=0.15)
                    if min(x2 - x1, y2 - y1) >= 48 and abs((x2 - x1) - (y2 - y1)) <= 2:
                        found.append(cv2.resize(image[y1:y2, x1:x2], (side, side), interpolation=cv2.INTER_AREA))
        per_character.append(found)
    # Interleave characters so 2 faces are 2 different people, 4 faces cover all three, etc.
    ordered = [crops[i] for i in range(max(map(len, per_character))) for crops in per_character if i < len(crops)]
    ordered = [crop for crop in ordered if _found_again(detector, crop)]
    if not ordered:
        raise RuntimeError("no keima3 test face survives pasting; check ../shared/datasets/keima3")
    return [ordered[i % len(ordered)] for i in range(count)]


def _found_again(detector: CascadeDetector, crop: np.ndarray) -> bool:
    """Does the cascade find this crop once pasted on a flat grey 3x-larger canvas?"""
    side = crop.shape[0]
    canvas = np.full((side * 3, side * 3, 3), 128, np.uint8)
    canvas[side : 2 * side, side : 2 * side] = crop
    return len(detector.detect(canvas)) >= 1


def _face_painter(faces: Sequence[np.ndarray], width: int, height: int) -> Paint:
    """Paste faces on a grid of 4 columns x 2 rows; each drifts on a small circle (tracker work)."""
    columns, rows = 4, 2
    cell_w, cell_h = width // columns, height // rows

    def paint(image: np.ndarray, index: int) -> np.ndarray:
        for k, face in enumerate(faces):
            side = face.shape[0]
            col, row = k % columns, (k // columns) % rows
            radius = max(1, (min(cell_w, cell_h) - side) // 3)
            phase = index * 0.05 + k
            x = col * cell_w + (cell_w - side) // 2 + int(radius * math.cos(phase))
            y = row * cell_h + (cell_h - side) // 2 + int(radius * math.sin(phase))
            x = min(max(x, 0), width - side)
            y = min(max(y, 0), height - side)
            image[y : y + side, x : x + side] = face
        return image

    return paint


def _transcode(
    source: Path,
    dest: Path,
    width: int,
    height: int,
    seconds: float | None,
    convert: Callable[[av.VideoFrame, int], av.VideoFrame],
) -> Path:
    """Decode `source`, `convert` each video frame, encode x264 fast crf 18; copy the first audio stream."""
    with av.open(str(source)) as src, AtomicPath(dest) as tmp:
        video_in = src.streams.video[0]
        video_in.thread_type = "AUTO"
        audio_in = src.streams.audio[0] if src.streams.audio else None
        with av.open(str(tmp), "w") as out:
            video_out = out.add_stream("libx264", rate=video_in.average_rate)
            video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
            video_out.codec_context.time_base = video_in.time_base
            video_out.options = {"preset": "fast", "crf": "18"}
            audio_out = out.add_stream_from_template(audio_in) if audio_in is not None else None
            index = 0
            wanted = [video_in] + ([audio_in] if audio_in is not None else [])
            for packet in src.demux(wanted):
                if packet.dts is None and packet.stream is audio_in:
                    continue  # the flush packet: nothing to copy (a video one drains the decoder)
                if seconds is not None and packet.pts is not None and packet.pts * packet.time_base >= seconds:
                    continue
                if packet.stream is audio_in:
                    packet.stream = audio_out
                    out.mux(packet)
                    continue
                for frame in packet.decode():
                    if seconds is not None and frame.time is not None and frame.time >= seconds:
                        continue
                    converted = convert(frame, index)
                    converted.pts, converted.time_base = frame.pts, frame.time_base
                    index += 1
                    out.mux(video_out.encode(converted))
            out.mux(video_out.encode(None))
    return dest


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    width: int
    height: int
    frames: int
    seconds: float  # duration of the video (frames / average rate)


def clip_info(path: Path) -> ClipInfo:
    """Size and frame count from a demux (packets, no decode: fast even at 4K)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for p in container.demux(stream) if p.dts is not None)
        return ClipInfo(path, stream.width, stream.height, frames, frames / float(stream.average_rate))
