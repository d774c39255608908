"""Grouping the unknown tracks of a whole input set, so one stranger lands in one folder.

Each track is one vector: the mean of its kept crops' embeddings, unit length. With an
open-set model that is the model's own embedding (what `enroll` uses). Without one, a generic
embedding: a hue-saturation histogram of the face's middle, which mostly says the hair and
skin colour (anime characters are told apart by colour first); see docs/faces.md for how well
each does. Grouping is average-linkage agglomerative clustering on cosine similarity: the two
most similar groups merge while their mean similarity is at least the threshold.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

# Measured defaults (docs/faces.md): the model's embedding is tighter than colour histograms.
MODEL_THRESHOLD = 0.6
COLOUR_THRESHOLD = 0.8


def colour_embedding(crops: Sequence[np.ndarray]) -> np.ndarray:
    """(n, 48) unit vectors: a 12 x 4 hue-saturation histogram of each crop's middle 60 %."""
    vectors = []
    for crop in crops:
        h, w = crop.shape[:2]
        middle = crop[int(h * 0.2) : int(h * 0.8), int(w * 0.2) : int(w * 0.8)]
        hsv = cv2.cvtColor(middle, cv2.COLOR_BGR2HSV)
        histogram = cv2.calcHist([hsv], [0, 1], None, [12, 4], [0, 180, 0, 256]).ravel()
        vectors.append(np.sqrt(histogram))  # Hellinger: cosine on square roots of proportions
    return _unit(np.asarray(vectors, np.float32))


def group(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Indices of `vectors` (unit rows) in groups, biggest first."""
    n = len(vectors)
    if n == 0:
        return []
    groups = [[i] for i in range(n)]
    similarity = vectors @ vectors.T
    sums = similarity.copy()  # sums[a, b]: total similarity between the members of a and b
    active = np.ones(n, bool)
    np.fill_diagonal(sums, -np.inf)
    while True:
        sizes = np.array([len(g) for g in groups], np.float64)
        mean = sums / np.outer(sizes, sizes)
        mean[~active, :] = -np.inf
        mean[:, ~active] = -np.inf
        a, b = np.unravel_index(int(np.argmax(mean)), mean.shape)
        if mean[a, b] < threshold:
            break
        groups[a] += groups[b]
        groups[b] = []
        active[b] = False
        sums[a, :] += sums[b, :]
        sums[:, a] += sums[:, b]
        sums[a, a] = -np.inf
        sums[b, :] = sums[:, b] = -np.inf
    found = [g for g, on in zip(groups, active) if on]
    return sorted(found, key=lambda g: (-len(g), g[0]))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)
