"""A track's best few crops: sharp and large, spread over its life, no near-duplicates."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from streamer.faces.collect import Candidate

# Two crops whose 16x16 grey thumbnails correlate at least this much show the same drawing:
# anime holds a drawing for many frames and pans or zooms over it; a new pose or expression
# falls well below.
NEAR_DUPLICATE = 0.95


def thumbprint(crop: np.ndarray) -> np.ndarray:
    """The crop's 16x16 grey thumbnail, zero mean and unit length (for correlation)."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    small -= small.mean()
    return small / max(float(np.linalg.norm(small)), 1e-6)


def best_crops(candidates: Sequence[Candidate], keep: int) -> tuple[list[Candidate], int]:
    """(up to `keep` crops, how many near-duplicates were dropped).

    The track's life is cut into `keep` equal stretches and the best crop of each is taken
    (so the picks are spread out), best first; a pick that is a near-duplicate of one already
    kept is dropped, and the next best of the whole track fills in.
    """
    if not candidates or keep < 1:
        return [], 0
    ordered = sorted(candidates, key=lambda c: c.time)
    stretches = np.array_split(np.arange(len(ordered)), min(keep, len(ordered)))
    firsts = [max((ordered[i] for i in part), key=lambda c: c.score) for part in stretches if len(part)]
    rest = sorted((c for c in ordered if all(c is not f for f in firsts)), key=lambda c: c.score, reverse=True)
    kept: list[Candidate] = []
    prints: list[np.ndarray] = []
    duplicates = 0
    for candidate in sorted(firsts, key=lambda c: c.score, reverse=True) + rest:
        if len(kept) == keep:
            break
        mark = thumbprint(candidate.crop)
        if any(float(mark @ other) >= NEAR_DUPLICATE for other in prints):
            duplicates += 1
            continue
        kept.append(candidate)
        prints.append(mark)
    return sorted(kept, key=lambda c: c.time), duplicates
