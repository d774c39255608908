"""Names per track, not per frame: classify a track's face now and then and accumulate the votes.

Classifying every face on every frame is wasteful (a face changes little from one frame to the
next) and makes names flicker (one blurred frame flips the argmax). Instead each track is
classified when it appears, then every `refresh_every` frames of its life, and again when its
box has grown a lot (a face that came closer gives a better crop). A look that agrees with the
track's name so far doubles the wait before the next (up to `settled_every` frames); one that
disagrees brings it back to `refresh_every`: a settled name is checked less often, a doubtful
one as often as before. The crops of all tracks due on a frame go through the classifier in
one batch.

A track's scores are the plain mean of its last `max_votes` probability vectors. Plain, not
weighted by crop size: crops are resized to the model's input anyway, a track's size changes
little between refreshes, and the growth trigger already adds a vote for a face that got much
bigger. The window (rather than all votes since the start) lets a track recover from a bad
first look, e.g. a face half-hidden as it enters.

name = argmax of the mean; if the mean's best score is below `threshold`, the track is
"unknown" (class_id -1). The returned confidence is that best mean score. Scores are
probabilities for a closed-set model and cosine similarities to the characters' prototypes for
an open-set one (`streamer.open_set`): the mean of a stranger's similarities stays below the
threshold however many votes it gets, so a stranger's track stays `unknown`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np

from streamer.detections import FACE, NO_ID, UNKNOWN, Detections
from streamer.frames import Frame
from streamer.model_contract import CROP_MARGIN, face_crop_box

# Below this mean score a track is `unknown`. Measured on the video-accuracy clips
# (docs/video_accuracy.md): at 0.5, 5-6 % of correctly found faces of known characters ended
# `unknown` (a shot's mean score sits lower than a still's); 0.4 names them and still leaves a
# 3-character model room to say `unknown` (its scores' floor is 1/3).
DEFAULT_THRESHOLD = 0.4
MIN_CROP_SIDE = 2  # pixels; smaller crops (boxes at or beyond the frame edge) are not classified


class Classifier(Protocol):
    """What the labeler needs of a classifier (streamer.classifier.OnnxClassifier is one)."""

    labels: tuple[str, ...]
    crop_margin: float  # cut crops as the training crops were cut (streamer.model_contract)

    def predict(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """(n, len(labels)) float32 probabilities for n BGR crops."""
        ...


@dataclass(frozen=True)
class LabelerStats:
    """Counters since the labeler was made: frames seen, classifier calls, crops classified."""

    frames: int = 0
    batches: int = 0
    crops: int = 0


@dataclass
class _TrackState:
    votes: deque  # of (k,) float32 probability vectors, the latest max_votes
    mean: np.ndarray | None = None  # mean of `votes`, kept so unchanged tracks are not re-averaged
    age: int = 0  # frames this track has been seen in
    classified_at_age: int = -1  # age at the last classification, -1 = never
    classified_area: float = 0.0  # box area at the last classification
    wait: int = 0  # frames from the last classification to the next
    last_seen: int = 0  # labeler frame counter when last seen


class TrackLabeler:
    """update(frame, tracks, ended_ids) → the same tracks with class_id, class_name, confidence.

    classifier: anything with `labels` and `predict(crops_bgr) -> (n, k)` probabilities; its
        `crop_margin` (CROP_MARGIN when it has none) is the margin crops are cut with.
    threshold: best mean score below which a track is "unknown"; None: the classifier's own
        (`threshold`, calibrated by `train` for open-set models), else DEFAULT_THRESHOLD.
    refresh_every: classify a track again after this many frames of its life (>= 1).
    settled_every: the longest wait between two looks at a track whose looks agree with its
        name (the wait doubles from `refresh_every` with each agreeing look); None: 4 x
        refresh_every; = refresh_every: every `refresh_every` frames whatever the looks say.
    max_votes: how many of the latest classifications are averaged.
    regrow: classify again when the box area reached this multiple of the area at the last
        classification (0 disables).
    forget_after: drop the state of a track not seen for this many frames, in case the tracker
        never reports it as ended.

    Detections without a tracker_id (-1) are classified on every frame, without memory.
    """

    def __init__(
        self,
        classifier: Classifier,
        *,
        threshold: float | None = None,
        refresh_every: int = 12,
        settled_every: int | None = None,
        max_votes: int = 8,
        regrow: float = 2.0,
        forget_after: int = 300,
    ) -> None:
        if refresh_every < 1 or max_votes < 1:
            raise ValueError("refresh_every and max_votes must be >= 1")
        settled_every = 4 * refresh_every if settled_every is None else settled_every
        if settled_every < refresh_every:
            raise ValueError("settled_every must be at least refresh_every")
        self.classifier = classifier
        self.labels = tuple(classifier.labels)
        # Fakes in tests may lack it; OnnxClassifier reads it from the model's metadata.
        self.crop_margin = float(getattr(classifier, "crop_margin", CROP_MARGIN))
        if threshold is None:
            threshold = getattr(classifier, "threshold", None)
        self.threshold = float(DEFAULT_THRESHOLD if threshold is None else threshold)
        self.refresh_every = int(refresh_every)
        self.settled_every = int(settled_every)
        self.max_votes = int(max_votes)
        self.regrow = float(regrow)
        self.forget_after = int(forget_after)
        self._tracks: dict[int, _TrackState] = {}
        self._frames = self._batches = self._crops = 0

    @property
    def stats(self) -> LabelerStats:
        return LabelerStats(self._frames, self._batches, self._crops)

    @property
    def active_tracks(self) -> int:
        """Tracks whose votes are held (for tests: ended ids are freed)."""
        return len(self._tracks)

    def reset(self) -> None:
        """Forget every track (after a scene cut, with tracker.reset()); counters are kept."""
        self._tracks.clear()

    def update(self, frame: Frame, tracks: Detections, ended_ids: Iterable[int] = ()) -> Detections:
        """Label `tracks` (Detections with tracker_id, full-resolution boxes) seen in `frame`.

        ended_ids: tracker ids that will not come back; their state is freed.
        Returns Detections in the same order with class_id (index into labels or -1),
        class_name (label or "unknown") and confidence (the mean best probability, 0 when never
        classified).
        """
        self._frames += 1
        for track_id in ended_ids:
            self._tracks.pop(int(track_id), None)

        k = len(self.labels)
        n = len(tracks)
        scores = np.zeros((n, k), np.float32)  # per-detection mean probabilities (0 = none yet)
        due_rows, crops = [], []
        areas = tracks.area
        states = [self._state(int(track_id)) for track_id in tracks.tracker_id]
        for row, state in enumerate(states):
            if state is not None:
                state.age += 1
                state.last_seen = self._frames
            if state is None or self._due(state, float(areas[row])):
                crop = self._crop(frame, tracks.xyxy[row])
                if crop is not None:
                    due_rows.append(row)
                    crops.append(crop)

        if crops:
            probabilities = np.asarray(self.classifier.predict(crops), np.float32).reshape(len(crops), k)
            self._batches += 1
            self._crops += len(crops)
            for row, vote in zip(due_rows, probabilities):
                state = states[row]
                if state is None:  # untracked detection: this frame's answer only
                    scores[row] = vote
                    continue
                state.wait = self._next_wait(state, vote)
                state.votes.append(vote)  # the oldest drops out beyond max_votes
                state.mean = np.mean(np.stack(state.votes), axis=0)
                state.classified_at_age = state.age
                state.classified_area = float(areas[row])

        for row, state in enumerate(states):
            if state is not None and state.mean is not None:
                scores[row] = state.mean
        self._forget_stale()
        return _named(tracks, scores, self.labels, self.threshold)

    def _state(self, track_id: int) -> _TrackState | None:
        if track_id == NO_ID:
            return None
        state = self._tracks.get(track_id)
        if state is None:
            state = self._tracks[track_id] = _TrackState(votes=deque(maxlen=self.max_votes), last_seen=self._frames)
        return state

    def _due(self, state: _TrackState, area: float) -> bool:
        if state.classified_at_age < 0:
            return True  # new, or every crop so far was empty
        if state.age - state.classified_at_age >= state.wait:
            return True
        return self.regrow > 0 and area >= self.regrow * max(state.classified_area, 1.0)

    def _next_wait(self, state: _TrackState, vote: np.ndarray) -> int:
        """Frames until the track's next look, given this look's `vote` (not yet counted)."""
        if state.mean is None:
            return self.refresh_every  # a first look
        name_so_far, name_now = _name_indices(np.stack([state.mean, vote]), self.threshold)
        if name_so_far != name_now:
            return self.refresh_every  # a look that disagrees
        return min(2 * state.wait, self.settled_every)

    def _crop(self, frame: Frame, xyxy: np.ndarray) -> np.ndarray | None:
        x1, y1, x2, y2 = face_crop_box(xyxy, frame.width, frame.height, self.crop_margin)
        if x2 - x1 < MIN_CROP_SIDE or y2 - y1 < MIN_CROP_SIDE:
            return None
        return frame.crop_bgr(x1, y1, x2, y2)

    def _forget_stale(self) -> None:
        if self.forget_after <= 0:
            return
        horizon = self._frames - self.forget_after
        for track_id in [t for t, s in self._tracks.items() if s.last_seen < horizon]:
            del self._tracks[track_id]


def _name_indices(scores: np.ndarray, threshold: float) -> np.ndarray:
    """(n,) the name index each row of `scores` (n, k) gives, -1 (NO_ID) for unknown: the argmax,
    unless its score is below `threshold` or zero (never classified)."""
    best = scores.argmax(axis=1)
    best_score = scores[np.arange(len(scores)), best]
    return np.where((best_score >= threshold) & (best_score > 0), best, NO_ID)


def _named(tracks: Detections, scores: np.ndarray, labels: tuple[str, ...], threshold: float) -> Detections:
    """Tracks with the argmax name of `scores` (n, k), or unknown below `threshold`."""
    n = len(tracks)
    if n == 0:
        return tracks
    class_id = _name_indices(scores, threshold)
    best_score = scores.max(axis=1)
    class_name = np.array([labels[c] if c != NO_ID else UNKNOWN for c in class_id], dtype=object)
    return tracks.replace(class_id=class_id, class_name=class_name, confidence=best_score)


class FacesOnly:
    """The labeler when there is no classifier: every track is a `face`, its confidence the
    detector's score (annotate/live without --model)."""

    stats = LabelerStats()

    def reset(self) -> None:
        pass

    def update(self, frame: Frame, tracks: Detections, ended_ids: Iterable[int] = ()) -> Detections:
        return tracks.replace(class_name=np.full(len(tracks), FACE, dtype=object))
