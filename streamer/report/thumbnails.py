"""Thumbnails for the review page: each track's face, cut from the video at its best frame.

The video is read in time order; a target more than a few seconds ahead is reached by seeking
(to the keyframe before it) rather than decoding everything in between, so a 24-minute episode
costs a short decode per track, not a full pass.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Sequence

import cv2
import av
import numpy as np

from streamer.errors import InputError
from streamer.sidecar import FaceRecord
from streamer.sources.demux import ffmpeg_reason, first_video_stream

THUMBNAIL_SIZE = 96
# Decoding on is cheaper than a seek (which restarts at a keyframe) for targets this close.
_SEEK_AHEAD_S = 4.0
# The labelled MP4 has the box drawn on its border: cut inside it.
_INSET = 0.06


def cut_thumbnails(video: str | os.PathLike, wanted: Sequence[FaceRecord], size: int = THUMBNAIL_SIZE) -> list[bytes | None]:
    """JPEG bytes of each wanted record's face (None where the video has no such frame).

    InputError (one line) for a video that cannot be read.
    """
    found: list[bytes | None] = [None] * len(wanted)
    if not wanted:
        return found
    try:
        container = av.open(os.fspath(video))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"cannot read the video {video}: {ffmpeg_reason(exc)}") from None
    with container:
        stream = first_video_stream(container)
        if stream is None:
            raise InputError(f"{video} has no video stream")
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base)
        rate = stream.average_rate or stream.guessed_rate or 25
        half_frame = 0.5 / float(rate)
        pictures = None
        position: float | None = None  # time of the last picture decoded
        current = None  # that picture, as BGR (two tracks may want the same frame)
        try:
            for index in sorted(range(len(wanted)), key=lambda i: wanted[i].time):
                target = wanted[index].time
                if current is None or abs(position - target) > half_frame:
                    if pictures is None or position is None or target - position > _SEEK_AHEAD_S or target < position - half_frame:
                        container.seek(max(0, int(target / time_base)), stream=stream, backward=True)
                        pictures = container.decode(stream)
                    current = None
                    for picture in pictures:
                        if picture.pts is None:
                            continue
                        position = float(picture.pts * time_base)
                        if position >= target - half_frame:
                            current = picture.to_ndarray(format="bgr24")
                            break
                    else:
                        pictures = None  # the video ended before the target: no thumbnail
                if current is not None and abs(position - target) <= half_frame:
                    found[index] = _face_jpeg(current, wanted[index], size)
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot read the video {video}: {ffmpeg_reason(exc)}") from None
    return found


def _face_jpeg(image: np.ndarray, record: FaceRecord, size: int) -> bytes | None:
    height, width = image.shape[:2]
    inset_x, inset_y = (record.x2 - record.x1) * _INSET, (record.y2 - record.y1) * _INSET
    x1, y1 = max(0, round(record.x1 + inset_x)), max(0, round(record.y1 + inset_y))
    x2, y2 = min(width, round(record.x2 - inset_x)), min(height, round(record.y2 - inset_y))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    scale = size / max(x2 - x1, y2 - y1)  # the face's own shape, at most size x size
    shape = (max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale)))
    face = cv2.resize(image[y1:y2, x1:x2], shape, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return encoded.tobytes() if ok else None
