"""Score what `annotate` saw (its sidecar) against what was really there (ground truth).

Pure: sidecar records (`streamer.sidecar.FaceRecord`) and truth frames
(`streamer.groundtruth.FrameTruth`) in, a `VideoScore` out; reading files is the caller's job.

Per frame, predicted boxes are matched one-to-one to truth boxes by IoU, best pairs first, pairs
below `iou_threshold` (0.5, the usual detection criterion) never. Greedy is optimal here: two
truth faces never overlap (they come from different images), so a prediction clears 0.5 with at
most one of them.

- detection: recall = matched / truth faces, precision = matched / predicted boxes, summed over
  all frames (a face on screen for 3 s weighs 3 s, as a viewer sees it).
- names (on matched faces only, so a detection miss is not counted twice): accuracy = predicted
  name == truth name; `unknown` is wrong for accuracy and also counted on its own (unknown rate).
- identities: a truth face followed through its shot (`TruthFace.face`). An identity switch is a
  frame where that face is matched to a track id other than the one it was last matched to in
  the shot (cuts start new identities, so a new track after a cut is no switch; boxes without a
  track id, -1, are left out). An identity is named right when the name it was matched with
  most often is its own: the counterpart of one test image being classified right.
- label flips: along each track's life (its records in frame order), the number of times its
  name changes, `unknown` included (a viewer sees that as a change too); averaged over tracks.

Example:

    records, _ = read_sidecar("clip.jsonl")
    result = score(records, read_truth("clip.truth.jsonl").frames)
    print(result.recall, result.name_accuracy, result.flips_per_track)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from streamer.detections import NO_ID, UNKNOWN, box_iou
from streamer.errors import InputError
from streamer.groundtruth import FrameTruth
from streamer.sidecar import FaceRecord

DEFAULT_IOU_THRESHOLD = 0.5
# Sidecar times have 6 decimals, truth times too; frames of the same clip agree far within this.
TIME_TOLERANCE = 1e-3


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class CharacterScore:
    """The figures of one character. A name the model predicted that is not in the truth gets
    a row too (truth_faces 0), so confusions with it show up."""

    name: str
    truth_faces: int  # truth boxes of this character, over all frames
    detected: int  # of them, matched by a predicted box
    correct: int  # of those, predicted with this name
    unknown: int  # of those, predicted as unknown
    predicted: int  # matched predictions carrying this name (whatever the truth was)

    @property
    def recall(self) -> float | None:
        return _ratio(self.detected, self.truth_faces)

    @property
    def accuracy(self) -> float | None:
        """Name accuracy on this character's matched faces."""
        return _ratio(self.correct, self.detected)

    @property
    def precision(self) -> float | None:
        """Of the matched faces given this name, the share that really are this character."""
        return _ratio(self.correct, self.predicted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "truth_faces": self.truth_faces,
            "detected": self.detected,
            "correct": self.correct,
            "unknown": self.unknown,
            "predicted": self.predicted,
            "recall": self.recall,
            "accuracy": self.accuracy,
            "precision": self.precision,
        }


@dataclass(frozen=True)
class VideoScore:
    """The figures of one sidecar against its ground truth. Rates are None where undefined (0/0)."""

    frames: int
    iou_threshold: float
    truth_faces: int  # truth boxes over all frames
    predicted_faces: int  # sidecar boxes over all frames
    matched: int  # pairs with IoU >= iou_threshold
    iou_sum: float  # summed IoU of the matched pairs
    correct: int  # matched with the right name
    unknown: int  # matched and named unknown
    identities: int  # truth faces followed through a shot (shot, face) that are in at least one frame
    identities_detected: int  # ... matched in at least one frame
    identities_named: int  # ... whose most frequent matched name is the right one
    identity_switches: int
    tracks: int  # distinct track ids (>= 0) in the sidecar
    label_flips: int  # name changes summed over tracks
    tracks_with_flips: int
    characters: tuple[CharacterScore, ...]  # sorted by name
    confusion: tuple[tuple[str, str, int], ...]  # (truth name, predicted name, matched faces)

    @property
    def recall(self) -> float | None:
        return _ratio(self.matched, self.truth_faces)

    @property
    def precision(self) -> float | None:
        return _ratio(self.matched, self.predicted_faces)

    @property
    def mean_iou(self) -> float | None:
        return self.iou_sum / self.matched if self.matched else None

    @property
    def name_accuracy(self) -> float | None:
        """Right names over matched faces (unknown counts as wrong)."""
        return _ratio(self.correct, self.matched)

    @property
    def unknown_rate(self) -> float | None:
        """Unknown over matched faces."""
        return _ratio(self.unknown, self.matched)

    @property
    def end_to_end(self) -> float | None:
        """Right names over all truth faces: found and named right."""
        return _ratio(self.correct, self.truth_faces)

    @property
    def identity_accuracy(self) -> float | None:
        """Identities named right (majority name) over identities detected at least once."""
        return _ratio(self.identities_named, self.identities_detected)

    @property
    def flips_per_track(self) -> float | None:
        return _ratio(self.label_flips, self.tracks)

    def to_dict(self) -> dict[str, Any]:
        confusion: dict[str, dict[str, int]] = {}
        for truth_name, predicted_name, count in self.confusion:
            confusion.setdefault(truth_name, {})[predicted_name] = count
        return {
            "frames": self.frames,
            "iou_threshold": self.iou_threshold,
            "detection": {
                "truth_faces": self.truth_faces,
                "predicted_faces": self.predicted_faces,
                "matched": self.matched,
                "recall": self.recall,
                "precision": self.precision,
                "mean_iou": self.mean_iou,
            },
            "names": {
                "correct": self.correct,
                "unknown": self.unknown,
                "accuracy": self.name_accuracy,
                "unknown_rate": self.unknown_rate,
                "end_to_end": self.end_to_end,
            },
            "identities": {
                "count": self.identities,
                "detected": self.identities_detected,
                "named_right": self.identities_named,
                "accuracy": self.identity_accuracy,
                "switches": self.identity_switches,
            },
            "tracks": {
                "count": self.tracks,
                "label_flips": self.label_flips,
                "flips_per_track": self.flips_per_track,
                "with_flips": self.tracks_with_flips,
            },
            "characters": {c.name: {k: v for k, v in c.to_dict().items() if k != "name"} for c in self.characters},
            "confusion": confusion,
        }


def match_boxes(
    predicted: np.ndarray, truth: np.ndarray, iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> list[tuple[int, int, float]]:
    """One-to-one matches of (n, 4) predicted and (m, 4) truth xyxy boxes: (predicted row, truth
    row, IoU) for every pair with IoU >= iou_threshold, best IoU first, greedily."""
    if len(predicted) == 0 or len(truth) == 0:
        return []
    iou = box_iou(predicted, truth).astype(np.float64)
    pairs = []
    used_predicted, used_truth = set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        p, t = (int(i) for i in np.unravel_index(flat, iou.shape))
        if iou[p, t] < iou_threshold:
            break
        if p in used_predicted or t in used_truth:
            continue
        pairs.append((p, t, float(iou[p, t])))
        used_predicted.add(p)
        used_truth.add(t)
    return pairs


def label_flips(records: Sequence[FaceRecord]) -> dict[int, int]:
    """Name changes per track id (>= 0) along its records in frame order: {track: flips}."""
    names_by_track: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for record in records:
        if record.track != NO_ID:
            names_by_track[record.track].append((record.frame, record.name))
    flips = {}
    for track, named in names_by_track.items():
        names = [name for _, name in sorted(named, key=lambda item: item[0])]
        flips[track] = sum(1 for a, b in zip(names, names[1:]) if a != b)
    return flips


def check_same_clip(records: Sequence[FaceRecord], truth: Sequence[FrameTruth], sidecar_frames: int | None = None) -> None:
    """InputError unless the sidecar can describe the truth's video: same frame count (when the
    sidecar's summary gives one), no record past the last frame, and matching frame times."""
    if sidecar_frames is not None and sidecar_frames != len(truth):
        raise InputError(
            f"the sidecar covers {sidecar_frames} frames and the ground truth {len(truth)}: "
            "was the sidecar made from this clip?"
        )
    for record in records:
        if not 0 <= record.frame < len(truth):
            raise InputError(
                f"the sidecar has frame {record.frame} and the ground truth only frames 0-{len(truth) - 1}: "
                "was the sidecar made from this clip?"
            )
        expected = truth[record.frame].time
        if abs(record.time - expected) > TIME_TOLERANCE:
            raise InputError(
                f"frame {record.frame} is at {record.time:.3f} s in the sidecar and {expected:.3f} s in the "
                "ground truth: was the sidecar made from this clip?"
            )


def score(
    records: Sequence[FaceRecord],
    truth: Sequence[FrameTruth],
    *,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> VideoScore:
    """Score sidecar `records` against `truth` (one FrameTruth per frame; records refer to them by
    frame index, which must be within the truth: see `check_same_clip`)."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    by_frame: dict[int, list[FaceRecord]] = defaultdict(list)
    for record in records:
        by_frame[record.frame].append(record)

    truth_faces = matched = correct = unknown = switches = 0
    iou_sum = 0.0
    per_truth: Counter[str] = Counter()
    per_detected: Counter[str] = Counter()
    per_unknown: Counter[str] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    last_track: dict[tuple[int, int], int] = {}  # identity (shot, face) → track it was last matched to
    identity_names: dict[tuple[int, int], str] = {}
    identity_votes: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)

    for frame in truth:
        predicted = by_frame.get(frame.frame, [])
        truth_faces += len(frame.faces)
        for face in frame.faces:
            per_truth[face.name] += 1
            identity_names[(frame.shot, face.face)] = face.name
        pairs = match_boxes(
            np.array([(r.x1, r.y1, r.x2, r.y2) for r in predicted], np.float64).reshape(-1, 4),
            np.array([f.box for f in frame.faces], np.float64).reshape(-1, 4),
            iou_threshold,
        )
        for p, t, iou in pairs:
            record, face = predicted[p], frame.faces[t]
            identity = (frame.shot, face.face)
            matched += 1
            iou_sum += iou
            per_detected[face.name] += 1
            confusion[(face.name, record.name)] += 1
            identity_votes[identity][record.name] += 1
            if record.name == face.name:
                correct += 1
            elif record.name == UNKNOWN:
                unknown += 1
                per_unknown[face.name] += 1
            if record.track != NO_ID:
                if identity in last_track and last_track[identity] != record.track:
                    switches += 1
                last_track[identity] = record.track

    flips = label_flips(records)
    names = sorted((set(per_truth) | {n for _, n in confusion}) - {UNKNOWN})
    characters = tuple(
        CharacterScore(
            name=name,
            truth_faces=per_truth[name],
            detected=per_detected[name],
            correct=confusion[(name, name)],
            unknown=per_unknown[name],
            predicted=sum(count for (_, predicted_name), count in confusion.items() if predicted_name == name),
        )
        for name in names
    )
    return VideoScore(
        frames=len(truth),
        iou_threshold=iou_threshold,
        truth_faces=truth_faces,
        predicted_faces=len(records),
        matched=matched,
        iou_sum=iou_sum,
        correct=correct,
        unknown=unknown,
        identities=len(identity_names),
        identities_detected=len(identity_votes),
        identities_named=sum(
            1 for identity, votes in identity_votes.items() if _majority(votes) == identity_names[identity]
        ),
        identity_switches=switches,
        tracks=len(flips),
        label_flips=sum(flips.values()),
        tracks_with_flips=sum(1 for n in flips.values() if n),
        characters=characters,
        confusion=tuple(sorted((t, p, n) for (t, p), n in confusion.items())),
    )


def _majority(votes: Counter[str]) -> str:
    """The most frequent name; a tie goes to no name (neither is the identity's name for sure)."""
    ranked = votes.most_common(2)
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return ""
    return ranked[0][0]


def summary_lines(result: VideoScore) -> list[str]:
    """The figures as a readable table (lines without newlines)."""

    def pct(value: float | None) -> str:
        return "   n/a" if value is None else f"{100 * value:5.1f}%"

    r = result
    lines = [
        f"detection   recall     {pct(r.recall)}  ({r.matched} of {r.truth_faces} truth faces, IoU >= {r.iou_threshold:g})",
        f"            precision  {pct(r.precision)}  ({r.matched} of {r.predicted_faces} predicted boxes)",
        f"            mean IoU    {'n/a' if r.mean_iou is None else f'{r.mean_iou:.3f}'}",
        f"names       accuracy   {pct(r.name_accuracy)}  ({r.correct} of {r.matched} matched faces)",
        f"            unknown    {pct(r.unknown_rate)}  ({r.unknown} of {r.matched} matched faces)",
        f"            end to end {pct(r.end_to_end)}  ({r.correct} of {r.truth_faces} truth faces found and named right)",
        f"identities  named right {pct(r.identity_accuracy)} ({r.identities_named} of {r.identities_detected} detected; "
        f"{r.identities} faces followed through their shots)",
        f"            switches   {r.identity_switches}",
        f"tracks      {r.tracks}, label flips {r.label_flips} = "
        f"{'n/a' if r.flips_per_track is None else f'{r.flips_per_track:.2f}'} per track "
        f"({r.tracks_with_flips} tracks with flips)",
    ]
    if r.characters:
        width = max(9, *(len(c.name) for c in r.characters))
        lines += ["", f"{'character':<{width}}  truth  recall  accuracy  unknown  precision"]
        for c in r.characters:
            unknown = _ratio(c.unknown, c.detected)
            lines.append(
                f"{c.name:<{width}}  {c.truth_faces:5d}  {pct(c.recall)}  {pct(c.accuracy):>8}  "
                f"{pct(unknown):>7}  {pct(c.precision):>9}"
            )
    return lines
