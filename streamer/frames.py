"""The frame type that travels from decoder to encoder, carrying its own timestamp.

Pixels stay in the decoder's planar YUV 4:2:0 (I420) where possible: detection and tracking
only need the luma plane, and skipping a YUV→BGR→YUV round trip saves ~6 ms per 1080p frame,
about a quarter of the whole budget at real-time encode speed. Sources that deliver BGR
(webcam, screen) or frames with odd sizes use "bgr24".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

BGR24 = "bgr24"
YUV420P = "yuv420p"


def i420_planes(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y (h, w), U and V (h/2, w/2) views of an I420 buffer shaped (h * 3 / 2, w).

    The chroma planes are not whole rows of the (h * 3 / 2, w) array when h is not a multiple
    of 4, so they are cut from the flat buffer (a view for a contiguous array).
    """
    if not image.flags.c_contiguous:
        raise ValueError("an I420 buffer must be C-contiguous (its planes are views of it)")
    flat = image.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    )


@dataclass(frozen=True)
class Frame:
    """One decoded video frame.

    image: BGR24 → (H, W, 3) uint8; YUV420P → (H * 3 // 2, W) uint8, planes Y, U, V stacked
        as PyAV's `to_ndarray(format="yuv420p")` gives them (H and W even).
    pixel_format: BGR24 or YUV420P.
    index: 0-based position among the source's decoded video frames.
    pts, time_base: the source's presentation timestamp; `time` = pts * time_base seconds.
        Kept so the encoder writes the input's timestamps (variable frame rate survives).
    audio_packets: demuxed audio packets (av.Packet) that precede this frame in the source,
        so a sink can copy audio unchanged and interleaved with the video.
    """

    image: np.ndarray
    index: int
    pts: int | None
    time_base: Fraction
    time: float
    pixel_format: str = BGR24
    audio_packets: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def height(self) -> int:
        return int(self.image.shape[0] * 2 // 3) if self.pixel_format == YUV420P else int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def gray(self) -> np.ndarray:
        """(H, W) uint8 luma: a view of the Y plane for YUV frames, a conversion for BGR."""
        if self.pixel_format == YUV420P:
            return self.image[: self.height]
        return cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)

    def to_bgr(self) -> np.ndarray:
        """(H, W, 3) uint8 BGR (a copy for YUV frames, the array itself for BGR frames)."""
        if self.pixel_format == YUV420P:
            return cv2.cvtColor(self.image, cv2.COLOR_YUV2BGR_I420)
        return self.image

    def scaled_bgr(self, width: int | None) -> tuple[np.ndarray, float]:
        """(BGR copy scaled down to about `width` pixels wide, the scale factor applied).

        For YUV frames the planes are scaled before the colour conversion, so a 1080p frame
        costs a 480-px conversion, not a full one. Never scales up; 0/None keeps the size.
        """
        if not width or width >= self.width:
            return self.to_bgr(), 1.0
        scale = width / self.width
        if self.pixel_format != YUV420P:
            small_h = max(1, round(self.height * scale))
            return cv2.resize(self.image, (width, small_h), interpolation=cv2.INTER_AREA), scale
        small_w = max(2, width & ~1)
        small_h = max(2, round(self.height * small_w / self.width) & ~1)
        y_plane, u_plane, v_plane = i420_planes(self.image, self.width, self.height)
        buffer = np.empty((small_h * 3 // 2, small_w), np.uint8)
        small_y, small_u, small_v = i420_planes(buffer, small_w, small_h)
        cv2.resize(y_plane, (small_w, small_h), dst=small_y, interpolation=cv2.INTER_AREA)
        cv2.resize(u_plane, (small_w // 2, small_h // 2), dst=small_u, interpolation=cv2.INTER_AREA)
        cv2.resize(v_plane, (small_w // 2, small_h // 2), dst=small_v, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(buffer, cv2.COLOR_YUV2BGR_I420), small_w / self.width

    def crop_bgr(self, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
        """BGR pixels of the region [y1:y2, x1:x2] (clipped to the frame), converting only that region."""
        x1, x2 = max(0, x1), min(self.width, x2)
        y1, y2 = max(0, y1), min(self.height, y2)
        if self.pixel_format != YUV420P:
            return self.image[y1:y2, x1:x2]
        # Chroma is subsampled 2x2: convert an even-aligned region, then trim.
        ex1, ey1 = x1 & ~1, y1 & ~1
        ex2, ey2 = min(self.width, (x2 + 1) & ~1), min(self.height, (y2 + 1) & ~1)
        h, w = self.height, self.width
        y_plane, u_plane, v_plane = i420_planes(self.image, w, h)
        rh, rw = ey2 - ey1, ex2 - ex1
        if rh <= 0 or rw <= 0:
            return np.zeros((0, 0, 3), np.uint8)
        # I420 is three planes back to back; cv2 reads them as flat memory.
        region = np.concatenate(
            [
                y_plane[ey1:ey2, ex1:ex2].ravel(),
                u_plane[ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2].ravel(),
                v_plane[ey1 // 2 : ey2 // 2, ex1 // 2 : ex2 // 2].ravel(),
            ]
        ).reshape(rh * 3 // 2, rw)
        bgr = cv2.cvtColor(region, cv2.COLOR_YUV2BGR_I420)
        return bgr[y1 - ey1 : y1 - ey1 + (y2 - y1), x1 - ex1 : x1 - ex1 + (x2 - x1)]
