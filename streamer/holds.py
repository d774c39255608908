"""Held pictures: anime shows one drawing for many frames, and seeing it again tells nothing new.

Anime is drawn on twos and threes and holds still pictures for seconds (a talking head moves
its mouth and nothing else). On the 1080p sakurasou clip, 77 % of frames differ from the frame
before in under 0.1 % of a sparse luma grid. The detector gives the same faces on the same
picture, so the loop skips a round on the picture the last round saw (`RecognitionLoop`: 18 of
60 rounds on that clip, 6 of 24 on the One Piece clip, `python benchmarks/holds.py`), and the
tracker does not follow a face whose patch did not change (`FaceTracker`).

A change is counted on the luma plane sampled every few pixels (about 240 points across,
~0.05 ms a frame at 1080p): a point changed when it moved by more than `level` grey levels
(codec noise on a held picture stays under it), and a picture changed when more than `share`
of its points did. A face of 20 px at 1080p covers about 6 of the ~32,000 points, so a small
face that comes in while nothing else moves may not count: the loop never skips more than
three rounds in a row.

>>> import numpy as np
>>> held = HoldDetector()
>>> picture = np.random.default_rng(0).integers(0, 255, (480, 852), dtype=np.uint8)
>>> moved = np.roll(picture, 3, axis=1)
>>> held.same_picture(held.sample(picture), held.sample(picture.copy())), held.same_picture(held.sample(picture), held.sample(moved))
(True, False)
"""

from __future__ import annotations

import cv2
import numpy as np

GRID_WIDTH = 240  # points across the frame
CHANGE_LEVEL = 12  # grey levels: a point moved by more than this changed
CHANGED_SHARE = 0.002  # of the points: a picture with more of them changed is another picture


def changed_share(before: np.ndarray, after: np.ndarray, level: int = CHANGE_LEVEL) -> float:
    """The fraction of pixels of two same-shaped uint8 images that differ by more than `level`
    (1.0 when their shapes differ)."""
    if before.shape != after.shape or before.size == 0:
        return 1.0
    difference = cv2.absdiff(before, after)
    return float(np.count_nonzero(difference > level)) / difference.size


class HoldDetector:
    """sample(gray) → a sparse luma grid; same_picture(grid, grid) → whether nothing moved.

    grid_width: about how many points across a frame is sampled with.
    level: grey levels by which a point must move to count as changed.
    share: the fraction of points that may change in one picture held on screen.
    """

    def __init__(self, grid_width: int = GRID_WIDTH, level: int = CHANGE_LEVEL, share: float = CHANGED_SHARE) -> None:
        if grid_width < 1 or not 0.0 <= share < 1.0:
            raise ValueError(f"grid_width must be >= 1 and share in [0, 1), got {grid_width}, {share}")
        self.grid_width = grid_width
        self.level = level
        self.share = share

    def sample(self, gray: np.ndarray) -> np.ndarray:
        """(H, W) uint8 luma → every k-th pixel each way, about `grid_width` across (a copy)."""
        step = max(1, gray.shape[1] // self.grid_width)
        return np.ascontiguousarray(gray[::step, ::step])

    def same_picture(self, before: np.ndarray, after: np.ndarray) -> bool:
        """Whether two grids from `sample` show one held picture."""
        return changed_share(before, after, self.level) <= self.share
