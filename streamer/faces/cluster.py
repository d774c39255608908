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
    """Indices of `vectors` (unit rows) in groups, biggest first.

    Each group remembers its best partner (the most similar other group) and the merge takes
    the best of those, so a merge costs one pass over the groups rather than over all pairs:
    a season's thousands of unknown tracks group in seconds. Only rows whose partner took part
    in a merge are searched again.
    """
    n = len(vectors)
    if n == 0:
        return []
    sums = (vectors @ vectors.T).astype(np.float64)  # sums[a, b]: total similarity between a's and b's members
    sizes = np.ones(n)
    active = np.ones(n, bool)
    members = [[i] for i in range(n)]

    def row(a: int) -> np.ndarray:
        """Mean similarity of group a to every group (-inf for itself and merged-away ones)."""
        means = sums[a] / (sizes[a] * sizes)
        means[~active] = -np.inf
        means[a] = -np.inf
        return means

    best = np.empty(n)
    partner = np.zeros(n, np.int64)
    for a in range(n):
        means = row(a)
        partner[a] = int(np.argmax(means))
        best[a] = means[partner[a]]
    while True:
        a = int(np.argmax(best))
        if not best[a] >= threshold:  # also ends when one group is left (best is -inf)
            break
        b = int(partner[a])
        members[a] += members[b]
        members[b] = []
        active[b] = False
        best[b] = -np.inf
        sums[a] += sums[b]
        sums[:, a] = sums[a]
        sizes[a] += sizes[b]
        to_a = row(a)
        partner[a] = int(np.argmax(to_a))
        best[a] = to_a[partner[a]]
        # A group whose partner was a or b must look again; any other may now prefer a.
        for x in np.nonzero(active & ((partner == a) | (partner == b)))[0]:
            if x != a:
                means = row(int(x))
                partner[x] = int(np.argmax(means))
                best[x] = means[partner[x]]
        closer = active & (to_a > best)
        closer[a] = False
        best[closer] = to_a[closer]
        partner[closer] = a
    found = [g for g, on in zip(members, active) if on]
    return sorted(found, key=lambda g: (-len(g), g[0]))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)
