"""Open-set recognition: name a face only when it is close enough to a character it knows.

An open-set classifier outputs an embedding (a unit vector per face) instead of probabilities.
Each character has one or more prototypes, unit vectors in the same space: the mean embedding
of its training faces (stored in the model's metadata by `train`) or of the images a user
enrolled (a gallery, `streamer enroll`). A face's score for a character is its cosine
similarity to that character's nearest prototype; the face is named after the best-scoring
character, or `unknown` when even that score is below the model's threshold. Trained and
enrolled characters are scored, and rejected, by the same rule.

The threshold is calibrated by `train` on held-out data: faces of the known characters that
training did not see, and faces of other characters ("others", e.g. animeface_patches). This
module holds the arithmetic; it is plain numpy, shared by training, the runtime and `evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def normalized(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def prototype_scores(embeddings: np.ndarray, vectors: np.ndarray, owners: np.ndarray, labels: int) -> np.ndarray:
    """(n, labels) float32: for each face, the cosine similarity to each label's nearest prototype.

    vectors: (m, d) unit prototypes; owners: (m,) the label index of each. A label without a
    prototype scores -1 (never named).
    """
    embeddings = normalized(np.asarray(embeddings, np.float32).reshape(len(embeddings), -1))
    similarity = embeddings @ np.asarray(vectors, np.float32).T  # (n, m)
    scores = np.full((len(embeddings), labels), -1.0, np.float32)
    for index in range(labels):
        mine = owners == index
        if mine.any():
            scores[:, index] = similarity[:, mine].max(axis=1)
    return scores


def prototypes_of(embeddings: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """(classes, d) unit prototypes: the normalised mean of each class's unit embeddings."""
    embeddings = normalized(embeddings)
    return normalized(np.stack([embeddings[labels == c].mean(axis=0) for c in range(classes)]))


@dataclass(frozen=True)
class Calibration:
    """The threshold `train` chose, and what it gave on the held-out data it was chosen on."""

    threshold: float
    known: int  # held-out faces of known characters
    known_named: float  # share of them named right at the threshold
    others: int  # held-out faces of other characters
    others_rejected: float  # share of them `unknown` at the threshold

    def meaning(self) -> str:
        return (
            f"a face is unknown when its cosine similarity to every character's prototype is below "
            f"{self.threshold:.3f}; chosen on held-out faces: {self.known_named:.1%} of {self.known} known faces "
            f"named right, {self.others_rejected:.1%} of {self.others} faces of others rejected"
        )


def named_right(scores: np.ndarray, truth: np.ndarray, threshold: float) -> np.ndarray:
    """(n,) bool: the best score names the true label and reaches the threshold."""
    if len(scores) == 0:
        return np.zeros(0, bool)
    best = scores.argmax(axis=1)
    return (best == truth) & (scores[np.arange(len(scores)), best] >= threshold)


def rejected(scores: np.ndarray, threshold: float) -> np.ndarray:
    """(n,) bool: every score is below the threshold (the face is `unknown`)."""
    if len(scores) == 0:
        return np.zeros(0, bool)
    return scores.max(axis=1) < threshold


def calibrate(
    known_scores: np.ndarray,
    known_truth: np.ndarray,
    other_scores: np.ndarray,
    known_weight: float = 2.0,
) -> Calibration:
    """The threshold that maximises known_weight x (known named right) + (others rejected).

    Known faces weigh double: calling a stranger `unknown` is the point, but not at the price of
    the characters the user trained (validation sets are small, and each known face lost there
    is several percent). Among equally good thresholds the middle one is taken, leaving room
    on both sides. Without faces of others, the threshold keeps 95 % of the known faces named.
    """
    known_best = known_scores.max(axis=1) if len(known_scores) else np.zeros(0, np.float32)
    other_best = other_scores.max(axis=1) if len(other_scores) else np.zeros(0, np.float32)
    if len(other_best) == 0:
        threshold = float(np.quantile(known_best, 0.05)) if len(known_best) else 0.5
    else:
        candidates = np.unique(np.concatenate([known_best, other_best, [1.0 + 1e-6]]))
        gains = np.array(
            [
                known_weight * (named_right(known_scores, known_truth, t).mean() if len(known_best) else 0.0)
                + rejected(other_scores, t).mean()
                for t in candidates
            ]
        )
        best = np.flatnonzero(gains >= gains.max() - 1e-9)
        # Every threshold in (candidates[i - 1], candidates[i]] gives candidate i's figures:
        # take the middle of the first run of best candidates' interval.
        first = last = int(best[0])
        while last + 1 < len(candidates) and last + 1 in set(best.tolist()):
            last += 1
        lower = candidates[first - 1] if first > 0 else candidates[first]
        threshold = float((lower + candidates[last]) / 2)
    threshold = float(np.clip(threshold, -1.0, 1.0))
    return Calibration(
        threshold=threshold,
        known=len(known_best),
        known_named=float(named_right(known_scores, known_truth, threshold).mean()) if len(known_best) else 0.0,
        others=len(other_best),
        others_rejected=float(rejected(other_scores, threshold).mean()) if len(other_best) else 0.0,
    )
