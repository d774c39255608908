"""Scoring face boxes against hand-drawn truth: matches, precision-recall curves, AP.

Greedy matching, as in PASCAL VOC: detections in descending score each take the unmatched
truth box they overlap most, if that IoU reaches `iou`. A detection left over that overlaps an
`ignore` box (IoU >= iou, or mostly inside it) counts neither way; every other leftover is a
false face. Truth boxes never matched are misses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.detections import box_iou


@dataclass(frozen=True)
class MatchResult:
    """One picture. scores/hits: the counted detections (ignored ones dropped), hits[i] True for
    a match; truths: faces to find; matched_truth[j]: index of the detection that found truth j, or -1."""

    scores: np.ndarray
    hits: np.ndarray
    truths: int
    matched_truth: np.ndarray


def match_detections(
    boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray, ignored: np.ndarray | None = None, iou: float = 0.4
) -> MatchResult:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    truth = np.asarray(truth, np.float32).reshape(-1, 4)
    ignored = np.zeros((0, 4), np.float32) if ignored is None else np.asarray(ignored, np.float32).reshape(-1, 4)
    order = np.argsort(-scores, kind="stable")
    overlaps = box_iou(boxes, truth) if len(truth) else np.zeros((len(boxes), 0), np.float32)
    taken = np.full(len(truth), -1, np.int64)
    counted, hits = [], []
    for i in order:
        candidates = np.where(taken < 0, overlaps[i], -1.0) if len(truth) else np.zeros(0)
        j = int(np.argmax(candidates)) if len(candidates) else -1
        if j >= 0 and candidates[j] >= iou:
            taken[j] = i
            counted.append(i), hits.append(True)
        elif not _on_ignored(boxes[i], ignored, iou):
            counted.append(i), hits.append(False)
    return MatchResult(scores[counted] if counted else np.zeros(0, np.float32), np.asarray(hits, bool), len(truth), taken)


def _on_ignored(box: np.ndarray, ignored: np.ndarray, iou: float) -> bool:
    if not len(ignored):
        return False
    if box_iou(box[None], ignored).max() >= iou:
        return True
    x1 = np.maximum(box[0], ignored[:, 0])
    y1 = np.maximum(box[1], ignored[:, 1])
    x2 = np.minimum(box[2], ignored[:, 2])
    y2 = np.minimum(box[3], ignored[:, 3])
    inside = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = max(1e-6, float((box[2] - box[0]) * (box[3] - box[1])))
    return bool((inside / area).max() >= 0.5)


@dataclass(frozen=True)
class PrecisionRecall:
    """Over many pictures: precision and recall at each score threshold (descending), AP."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    truths: int
    pictures: int

    @property
    def average_precision(self) -> float:
        """Area under the interpolated precision-recall curve (VOC 2010+ all-points)."""
        if not len(self.recall):
            return 0.0
        recall = np.concatenate([[0.0], self.recall, [self.recall[-1]]])
        precision = np.concatenate([[1.0], self.precision, [0.0]])
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))

    def at(self, threshold: float) -> tuple[float, float, int]:
        """(recall, precision, false faces) of the detections scoring >= threshold."""
        kept = self.thresholds >= threshold
        if not kept.any():
            return 0.0, 1.0, 0
        last = int(np.nonzero(kept)[0][-1])
        tp = self.recall[last] * self.truths
        fp = int(round(tp / max(self.precision[last], 1e-9) - tp))
        return float(self.recall[last]), float(self.precision[last]), fp

    def best_recall_at_precision(self, min_precision: float) -> float:
        ok = self.precision >= min_precision
        return float(self.recall[ok].max()) if ok.any() else 0.0


def precision_recall(results: list[MatchResult]) -> PrecisionRecall:
    truths = sum(r.truths for r in results)
    scores = np.concatenate([r.scores for r in results]) if results else np.zeros(0, np.float32)
    hits = np.concatenate([r.hits for r in results]) if results else np.zeros(0, bool)
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / max(1, truths)
    precision = tp / np.maximum(1, tp + fp)
    return PrecisionRecall(scores[order], precision, recall, truths, len(results))
