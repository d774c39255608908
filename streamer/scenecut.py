"""Hard-cut detection on a tiny luma thumbnail, cheap enough to run on every frame.

A cut is where consecutive frames stop looking alike even after allowing for motion. Each frame
is shrunk to a 64x36 thumbnail (~0.02 ms whatever the frame size), and the thumbnail is compared
with the previous one by normalised cross-correlation over small shifts (cv2.matchTemplate,
±4 x ±3 thumbnail pixels, ±6 % of the frame's width and ±8 % of its height):

- shifts absorb pans and moving characters (a fast pan over a busy background keeps a high
  correlation at some shift, where a plain frame difference would fire);
- normalising the correlation absorbs global brightness and contrast changes (anime flashes,
  lighting changes), so only a change of *content* scores high;
- bars (letterbox, pillarbox: edge rows and columns that are flat and the same in both frames)
  are left out first: two portrait pictures of one character between grey pillars correlate
  at 0.79 with the bars in (no cut), and -0.08 without them.

Scores on the shared clips (1 - best correlation): hard cuts 0.65–0.98; pans, zooms, talking
mouths and confetti at most 0.29; the default threshold sits between.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMB_WIDTH, THUMB_HEIGHT = 64, 36
# How far (in thumbnail pixels) the previous frame may have moved and still count as the same
# shot: ±6 % of the width, ±8 % of the height per frame, a very fast pan. Faster whip pans
# may fire (they also blur, and the tracker loses its faces in them anyway).
SHIFT_X, SHIFT_Y = 4, 3
# Below this thumbnail standard deviation (grey levels) a frame is "flat" (black, white,
# a flash): correlation means nothing there, so content appearing or vanishing counts instead.
FLAT_STD = 3.0
# ... and at or above this one a frame is a full picture (not the dim tail of a fade).
PICTURE_STD = 10.0
# An edge row or column is a bar when its grey levels vary by less than this in both frames
# and its mean moved by less than this between them.
BAR_TOLERANCE = 2.0


def luma_thumbnail(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luma → (THUMB_HEIGHT, THUMB_WIDTH) float32 thumbnail.

    A bilinear resize to twice the thumbnail size reads only ~4 pixels per output pixel,
    whatever the input size (INTER_AREA over a whole 1080p frame would cost ~1 ms); the 2x2
    average after it evens out the single-pixel sampling.
    """
    height, width = gray.shape[:2]
    if width > 2 * THUMB_WIDTH and height > 2 * THUMB_HEIGHT:
        gray = cv2.resize(gray, (2 * THUMB_WIDTH, 2 * THUMB_HEIGHT), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(gray, (THUMB_WIDTH, THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32)


def _inner_span(is_bar: np.ndarray) -> slice:
    """The rows (or columns) between the bars at both ends: all of them when nothing is left."""
    kept = np.flatnonzero(~is_bar)
    return slice(int(kept[0]), int(kept[-1]) + 1) if kept.size else slice(None)


def without_bars(previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both thumbnails cut to what lies inside their shared bars (letterbox, pillarbox).

    The bars stay when too little would be left to shift the template over.
    """
    def bars(axis: int) -> np.ndarray:
        return (
            (previous.std(axis) < BAR_TOLERANCE)
            & (current.std(axis) < BAR_TOLERANCE)
            & (np.abs(previous.mean(axis) - current.mean(axis)) < BAR_TOLERANCE)
        )

    rows, columns = _inner_span(bars(1)), _inner_span(bars(0))
    inner = previous[rows, columns]
    if inner.shape[0] <= 4 * SHIFT_Y or inner.shape[1] <= 4 * SHIFT_X:
        return previous, current
    return inner, current[rows, columns]


def cut_score(previous: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(score, mean absolute difference) of two luma thumbnails from `luma_thumbnail`.

    score: 1 - the best normalised cross-correlation over the allowed shifts (0 = same picture,
    ~1 = unrelated); where a frame is flat: 1.0 if the other is a full picture, else 0.0.
    Both are measured inside the bars the two frames share (`without_bars`).
    """
    previous, current = without_bars(previous, current)
    mean_abs_diff = float(np.abs(current - previous).mean())
    previous_std, current_std = float(previous.std()), float(current.std())
    if min(previous_std, current_std) < FLAT_STD:
        # A picture cut to or from black/white is a cut; the last steps of a fade (a picture
        # already dimmed to almost nothing) are not.
        return (1.0 if max(previous_std, current_std) >= PICTURE_STD else 0.0), mean_abs_diff
    template = previous[SHIFT_Y : previous.shape[0] - SHIFT_Y, SHIFT_X : previous.shape[1] - SHIFT_X]
    if float(template.std()) < FLAT_STD:
        # The centre is flat though the border is not: compare without shifts.
        correlation = float(np.corrcoef(previous.ravel(), current.ravel())[0, 1])
    else:
        correlation = float(cv2.matchTemplate(current, template, cv2.TM_CCOEFF_NORMED).max())
    return 1.0 - correlation, mean_abs_diff


class SceneCutDetector:
    """is_cut(gray) → True on the first frame of a new shot (a hard cut).

    threshold: cut when `cut_score` ≥ this (0..2; the default sits between the cuts and the
        motion measured on the shared clips, see the module docstring).
    min_scene_len: after a cut, the next min_scene_len - 1 frames cannot be cuts (a flash
        or a one-frame insert fires once, not twice).
    min_change: and only when the thumbnails differ by at least this many grey levels on
        average (correlation of two nearly identical, low-contrast frames is noise).

    The first frame after construction or `reset()` is never a cut (there is nothing to
    compare it with). Frames may change size mid-stream; the thumbnail does not.

    >>> import numpy as np
    >>> cuts = SceneCutDetector()
    >>> rng = np.random.default_rng(0)
    >>> a, b = (rng.integers(0, 255, (360, 640), dtype=np.uint8) for _ in range(2))
    >>> [cuts.is_cut(a), cuts.is_cut(a), cuts.is_cut(b)]
    [False, False, True]
    """

    def __init__(self, threshold: float = 0.45, min_scene_len: int = 8, min_change: float = 6.0) -> None:
        if not 0.0 < threshold <= 2.0:
            raise ValueError(f"threshold must be in (0, 2], got {threshold}")
        if min_scene_len < 1:
            raise ValueError(f"min_scene_len must be >= 1, got {min_scene_len}")
        self.threshold = threshold
        self.min_scene_len = min_scene_len
        self.min_change = min_change
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame and the last cut (e.g. when the source changes)."""
        self._previous: np.ndarray | None = None
        self._frames_since_cut = self.min_scene_len  # a cut may come right away
        self.last_score = 0.0  # the latest frame's cut_score, for diagnostics and tuning

    def is_cut(self, gray: np.ndarray) -> bool:
        """gray: (H, W) uint8 luma of the next frame, in decode order."""
        if gray.ndim != 2:
            raise ValueError(f"expected an (H, W) luma plane, got shape {gray.shape}")
        thumbnail = luma_thumbnail(gray)
        previous, self._previous = self._previous, thumbnail
        self._frames_since_cut += 1
        if previous is None:
            self.last_score = 0.0
            return False
        self.last_score, mean_abs_diff = cut_score(previous, thumbnail)
        cut = (
            self.last_score >= self.threshold
            and mean_abs_diff >= self.min_change
            and self._frames_since_cut >= self.min_scene_len
        )
        if cut:
            self._frames_since_cut = 0
        return cut
