"""Skip-frame face tracking: detections on some frames, optical flow on the frames between.

The detector is far too slow for every frame, so tracks carry faces from one detection round
to the next. Between rounds each box is moved by pyramidal Lucas–Kanade flow of corner points
inside it (forward–backward checked), shifted by their median displacement and scaled by the
median ratio of their pairwise distances. The points that pass the check are followed again on
the next frame (seeking corners costs about as much as following them); new ones are sought
when too few are left, when they fail, and after a detection round moved the box. On a
detection round the detections are matched to the (already moved) tracks by IoU; matches snap
the track to the detector's box, new faces start new tracks, and a track the detector has not
confirmed for `max_missed` rounds ends.

Flow never touches the whole frame. Each track keeps a small grey patch of the previous frame
around its box, reduced by an even factor k so the box is at most `flow_size` px (every k/2-th
pixel, then a 2x2 average: ~0.005–0.05 ms at 1080p, where a full-frame INTER_AREA resize costs
~1 ms). Each frame the same rectangle is cut from the new frame at the same scale and the points
are followed between the two. A close-up costs what a small face does, and a small face is
followed at full resolution rather than lost in a downscaled frame. Frames without tracks cost
nothing.

Anime holds its pictures (streamer.holds): a box whose patch is the same picture as the frame
before (under `still_share` of its pixels changed) keeps its place without flow, which is most
frames of a talking-head shot (once flow has found texture in it: a flat box still stalls).

Anime is full of flat colour: a box whose inside has too little texture to follow keeps its
place (the next detection round corrects it) and ends after `max_stalled` frames without a
detection; a box whose points mostly fail the forward–backward check has lost its face (it was
covered, or left in a way flow cannot follow) and ends.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from streamer.detections import Detections, box_iou
from streamer.holds import CHANGED_SHARE, changed_share

_LK_WINDOW = (11, 11)
_LK_LEVELS = 3  # with an 11 px window, follows ~40 patch px a frame: most of the room around a box
_LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03)
# Points are sought in the middle of a box: its border holds background that does not move with
# the face.
_INNER_MARGIN = 0.1
# Smallest minimum eigenvalue of the structure tensor (cv2.cornerMinEigenVal units) for a point
# to be worth following: anime line art scores 3e-3 and more, flat colour with codec noise 5e-5.
_MIN_TEXTURE = 5e-4
_MAX_STEP_SCALE = 1.25  # a face does not grow or shrink faster than this in one frame
_MAX_SCALE_POINTS = 16  # pairwise distances grow as n²; an even subset of points is as good
_MIN_PATCH = 8  # patch pixels each way below which a box is too small (or too far out) to follow


@dataclass(frozen=True)
class TrackUpdate:
    """What one `FaceTracker.update` gives: the live tracks, and the ids that ended in it (or by
    `reset()` just before it), in order of end, so per-track state elsewhere can be freed."""

    tracks: Detections
    ended_ids: tuple[int, ...] = ()


@dataclass(eq=False)
class _Track:
    track_id: int
    box: np.ndarray  # (4,) float64 xyxy, full-resolution pixels, not clipped to the frame
    confidence: float
    missed: int = 0  # consecutive detection rounds without a matching detection
    stalled: int = 0  # consecutive frames with too little texture to follow and no detection
    lost: bool = False  # flow lost the points this frame
    matched: bool = False  # a detection matched it in this update
    flow_quality: float = 1.0  # fraction of its points that flow followed last time (1 after a match)
    textured: bool = False  # its box had texture to follow the last time flow looked
    # The previous frame around the box: patch = frame[rect] reduced by `step`.
    patch: np.ndarray | None = None
    rect: tuple[int, int, int, int] = (0, 0, 0, 0)  # x1 y1 x2 y2, full-resolution, multiples of step wide
    step: int = 1
    # (n, 2) float32 points in `patch` that flow followed into it, carried to the next frame
    # (None: seek new ones there).
    points: np.ndarray | None = None


class FaceTracker:
    """update(gray, detections or None) → TrackUpdate: the live tracks (Detections with
    tracker_id) and the ids that ended.

    flow_size: a box is followed in a patch reduced (by an even factor) until the box is at most
        this many pixels across; smaller boxes are followed at full resolution.
    iou_threshold: least IoU between a track's moved box and a detection for them to match.
    max_missed: a track ends after this many consecutive detection rounds without a match.
    max_stalled: a track ends after this many consecutive frames in which its box had too
        little texture to follow and no detection confirmed it (the box stays put meanwhile).
    smoothing: on a match the box becomes smoothing * moved box + (1 - smoothing) * detection
        (0 = snap to the detection).
    duplicate_overlap: two boxes are the same face when this fraction of the smaller one lies
        inside the other; such detections yield one track, a detection nested in an unmatched
        track confirms it, and of two tracks on one face one ends: the other keeps its id if
        a detection confirmed it in this update (else if its flow was clearly cleaner, else if
        it is the older).
    max_points, min_points: corner points sought per box; fewer usable than min_points means
        "too little texture".
    min_inlier_ratio: a box whose points pass the forward–backward check in a smaller fraction
        (or fewer than min_points) has lost its face; its track ends unless a detection in
        the same update matches it.
    fb_max_error: forward–backward error (patch pixels) above which a point is dropped.
    min_visible: a track ends when less than this fraction of its box lies inside the frame.
    still_share: a box whose patch changed (streamer.holds.changed_share) in at most this
        fraction of its pixels since the previous frame is not followed: the picture is held
        (a box flow found too flat is followed anyway, so it stalls). None:
        streamer.holds.CHANGED_SHARE; 0 follows every box on every frame.

    Track ids start at 1, are unique per tracker instance and keep increasing across `reset()`.
    `TrackUpdate.ended_ids` holds the ids that ended in the update (misses, lost flow, stalling,
    leaving the frame, a second track on one face, a change of frame size) together with those
    dropped by reset() since the previous update(), so per-track state elsewhere (a label vote)
    can be freed: every id that was ever returned is reported there exactly once.

    >>> import numpy as np
    >>> tracker = FaceTracker()
    >>> gray = np.random.default_rng(0).integers(0, 255, (360, 640), dtype=np.uint8)
    >>> tracker.update(gray, Detections.from_boxes([[100, 100, 180, 180]])).tracks.tracker_id.tolist()
    [1]
    >>> result = tracker.update(gray, None)
    >>> result.tracks.tracker_id.tolist(), result.ended_ids
    ([1], ())
    >>> tracker.reset()
    >>> result = tracker.update(gray, None)
    >>> len(result.tracks), result.ended_ids
    (0, (1,))
    """

    def __init__(
        self,
        *,
        flow_size: int = 96,
        iou_threshold: float = 0.3,
        max_missed: int = 2,
        max_stalled: int = 12,
        smoothing: float = 0.0,
        duplicate_overlap: float = 0.7,
        max_points: int = 20,
        min_points: int = 5,
        min_inlier_ratio: float = 0.3,
        fb_max_error: float = 1.0,
        min_visible: float = 0.3,
        still_share: float | None = None,
    ) -> None:
        if flow_size < 16:
            raise ValueError(f"flow_size must be >= 16, got {flow_size}")
        if max_missed < 1:
            raise ValueError(f"max_missed must be >= 1, got {max_missed}")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.flow_size = flow_size
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.max_stalled = max_stalled
        self.smoothing = smoothing
        self.duplicate_overlap = duplicate_overlap
        self.max_points = max_points
        self.min_points = max(2, min_points)
        self.min_inlier_ratio = min_inlier_ratio
        self.fb_max_error = fb_max_error
        self.min_visible = min_visible
        self.still_share = CHANGED_SHARE if still_share is None else float(still_share)
        self._next_id = 1
        self._tracks: list[_Track] = []
        self._ended_by_reset: list[int] = []
        self._frame_shape: tuple[int, int] | None = None
        self.flows = 0  # boxes followed by flow, since the tracker was made
        self.seeks = 0  # of which needed new corner points sought (the rest carried theirs)

    def __len__(self) -> int:
        """Number of live tracks."""
        return len(self._tracks)

    def reset(self) -> None:
        """End every track (scene cut, new source); ids keep increasing afterwards.

        The dropped ids are reported in the `ended_ids` of the next update().
        """
        self._ended_by_reset.extend(track.track_id for track in self._tracks)
        self._tracks = []

    def update(self, gray: np.ndarray, detections: Detections | None) -> TrackUpdate:
        """Advance the tracks to this frame.

        gray: (H, W) uint8 luma plane of the frame (full resolution, any strides; not kept).
        detections: the detector's faces in this frame, in full-resolution pixels, or None on
            frames the detector skipped (an empty Detections is a round that found nothing).
        Returns the live tracks in id order (xyxy clipped to the frame, tracker_id set,
        confidence the detector's score at the track's last match, class fields unset) and
        the ids that ended.
        """
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"expected an (H, W) uint8 luma plane, got {gray.dtype} {gray.shape}")
        height, width = gray.shape
        if self._frame_shape != (height, width):
            self.reset()  # boxes and patches mean nothing at another frame size
            self._frame_shape = (height, width)
        ended, self._ended_by_reset = self._ended_by_reset, []

        current_patches: dict[int, np.ndarray] = {}
        for track in self._tracks:
            track.matched = track.lost = False
            if track.patch is not None:
                after = _sample(gray, track.rect, track.step)
                current_patches[track.track_id] = after
                # A held patch needs no flow, once flow has seen the box is not flat: a flat box
                # must still stall and end (max_stalled), held or not.
                held = (
                    self.still_share > 0
                    and track.textured
                    and changed_share(track.patch, after) <= self.still_share
                )
                if not held:
                    self._follow(track, after)
        if detections is not None:
            self._match(detections)
        ended.extend(self._end_finished_tracks(width, height))
        for track in self._tracks:
            self._refresh_patch(track, gray, current_patches.get(track.track_id))

        return TrackUpdate(self._as_detections(width, height), tuple(ended))

    # -- flow -------------------------------------------------------------------------------

    def _follow(self, track: _Track, after: np.ndarray) -> None:
        """Move track.box by the flow from track.patch (previous frame) to `after` (this one)."""
        origin, offset = _patch_origin(track.rect, track.step)
        crop_box = (track.box - origin - offset) / track.step
        self.flows += 1
        carried = self._carried_points(track, crop_box)
        points = carried if carried is not None else self._points_in(track.patch, crop_box)
        track.textured = points is not None
        track.points = None
        if points is None:
            track.stalled += 1  # too flat to follow: stay put rather than drift
            return
        moved, good = _lucas_kanade(track.patch, after, points, self.fb_max_error)
        if carried is not None and not self._enough(good):
            # Carried points can sit where the picture just changed (a blink, a mouth): the
            # face is lost only if the best corners of the patch fail too.
            points = self._points_in(track.patch, crop_box)
            if points is None:
                track.textured = False
                track.stalled += 1
                return
            moved, good = _lucas_kanade(track.patch, after, points, self.fb_max_error)
        if not self._enough(good):
            track.lost = True
            return
        kept, moved = points[good], moved[good]
        track.stalled = 0
        track.flow_quality = len(kept) / len(points)
        track.points = moved
        shift = _median(moved - kept) * track.step
        growth = _median_distance_ratio(kept, moved)
        center = (track.box[:2] + track.box[2:]) / 2 + shift
        half_size = (track.box[2:] - track.box[:2]) / 2 * growth
        track.box = np.concatenate([center - half_size, center + half_size])

    def _enough(self, good: np.ndarray) -> bool:
        """Whether enough points passed the forward–backward check to trust their flow."""
        kept = int(np.count_nonzero(good))
        return kept >= max(self.min_points, self.min_inlier_ratio * len(good))

    def _carried_points(self, track: _Track, box: np.ndarray) -> np.ndarray | None:
        """The points flow followed into track.patch last frame that still lie in the middle of
        `box` (patch pixels), or None when fewer than half of `max_points` are left (or none
        were carried: a detection moved the box, or the patch was cut at another scale)."""
        points = track.points
        if points is None:
            return None
        left, top, right, bottom = _inner(box)
        inside = (points[:, 0] >= left) & (points[:, 0] <= right) & (points[:, 1] >= top) & (points[:, 1] <= bottom)
        points = points[inside]
        return points if len(points) >= max(self.min_points, self.max_points // 2) else None

    def _points_in(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """(n, 2) float32 corner points inside the middle of `box` (xyxy in `image` pixels), or
        None if the box has too little texture to follow."""
        self.seeks += 1
        inner_left, inner_top, inner_right, inner_bottom = _inner(box)
        height, width = image.shape
        left, top = max(0, int(inner_left)), max(0, int(inner_top))
        right, bottom = min(width, int(math.ceil(inner_right))), min(height, int(math.ceil(inner_bottom)))
        if right - left < 6 or bottom - top < 6:
            return None
        region = image[top:bottom, left:right]
        strongest = float(cv2.cornerMinEigenVal(region, 3).max())
        if strongest < _MIN_TEXTURE:
            return None
        corners = cv2.goodFeaturesToTrack(
            region,
            maxCorners=self.max_points,
            # An absolute floor: goodFeaturesToTrack's quality is relative to the strongest
            # corner, which in a flat box would let codec noise through.
            qualityLevel=max(0.01, _MIN_TEXTURE / strongest),
            minDistance=max(2.0, min(right - left, bottom - top) / 10),
            blockSize=3,
        )
        if corners is None or len(corners) < self.min_points:
            return None
        return corners.reshape(-1, 2) + np.array([left, top], np.float32)

    def _refresh_patch(self, track: _Track, gray: np.ndarray, current: np.ndarray | None) -> None:
        """Keep this frame around the track's (new) box for the next update's flow."""
        size = float(max(track.box[2] - track.box[0], track.box[3] - track.box[1]))
        step = 1 if size <= self.flow_size else 2 * math.ceil(size / (2 * self.flow_size))
        height, width = gray.shape
        if current is not None and step == track.step:
            # The patch just cut from this frame at the old rectangle still serves while the
            # box keeps a quarter of its size clear of the rectangle's edges (or the frame's).
            margin = 0.25 * size
            x1, y1, x2, y2 = track.rect
            bx1, by1, bx2, by2 = track.box
            if (
                (bx1 - margin >= x1 or x1 == 0)
                and (by1 - margin >= y1 or y1 == 0)
                and (bx2 + margin <= x2 or x2 >= width - step)
                and (by2 + margin <= y2 or y2 >= height - step)
            ):
                track.patch = current
                return
        rect = _patch_rect(track.box, step, width, height)
        if track.points is not None and rect is not None and step == track.step:
            # The same scale: the points move to the new patch's coordinates.
            track.points = track.points + np.float32([track.rect[0] - rect[0], track.rect[1] - rect[1]]) / step
        else:
            track.points = None
        track.patch = None if rect is None else _sample(gray, rect, step)
        track.rect, track.step = rect or (0, 0, 0, 0), step
        if track.patch is None:
            track.stalled += 1  # nothing of it in the frame to follow

    # -- association ------------------------------------------------------------------------

    def _match(self, detections: Detections) -> None:
        """Match one detection round to the tracks; start tracks for new faces."""
        boxes, confidences = _distinct_faces(detections, self.duplicate_overlap)
        matched_detections = np.zeros(len(boxes), bool)
        if self._tracks and len(boxes):
            iou = box_iou(np.stack([t.box for t in self._tracks]), boxes)
            # Greedy by best IoU: with a handful of faces it equals the optimal assignment in
            # all but contrived cases, and needs no scipy.
            for flat_index in np.argsort(-iou, axis=None):
                t, d = np.unravel_index(flat_index, iou.shape)
                if iou[t, d] < self.iou_threshold:
                    break
                if self._tracks[t].matched or matched_detections[d]:
                    continue
                self._snap(self._tracks[t], boxes[d], confidences[d])
                matched_detections[d] = True
        for d in np.flatnonzero(~matched_detections):
            if self._tracks:
                overlap = _overlap_of_smaller(boxes[d : d + 1], np.stack([t.box for t in self._tracks]))[0]
                best = int(np.argmax(overlap))
                if overlap[best] >= self.duplicate_overlap:
                    if not self._tracks[best].matched:
                        # Nested in a track whose box grew or shrank wrongly: still that face.
                        self._snap(self._tracks[best], boxes[d], confidences[d])
                    continue  # otherwise a second box on a face already tracked
            box = boxes[d].astype(np.float64)
            self._tracks.append(_Track(self._next_id, box, float(confidences[d]), matched=True))
            self._next_id += 1
        for track in self._tracks:
            if not track.matched:
                track.missed += 1

    def _snap(self, track: _Track, box: np.ndarray, confidence: float) -> None:
        track.box = self.smoothing * track.box + (1.0 - self.smoothing) * box.astype(np.float64)
        track.confidence = float(confidence)
        track.matched, track.lost = True, False
        track.missed = track.stalled = 0
        track.flow_quality = 1.0
        track.points = None  # the detector moved the box: seek points in the face it sees

    # -- bookkeeping ------------------------------------------------------------------------

    def _end_finished_tracks(self, width: int, height: int) -> list[int]:
        """Drop finished tracks; returns their ids."""
        ended: list[int] = []
        alive: list[_Track] = []
        for track in self._tracks:
            finished = (
                track.missed >= self.max_missed
                or (track.lost and not track.matched)
                or track.stalled > self.max_stalled
                or _visible_fraction(track.box, width, height) < self.min_visible
            )
            if finished:
                ended.append(track.track_id)
            else:
                alive.append(track)
        # Two tracks on one face: usually a face passing in front of another, whose track the
        # occluder's points dragged along. Keep the one a detection confirmed now, else the one
        # whose flow was clearly cleaner (the occluded one lost many points), else the older.
        survivors: list[int] = []  # indices into `alive`
        if len(alive) > 1:
            boxes = np.stack([t.box for t in alive])
            same_face = _overlap_of_smaller(boxes, boxes) >= self.duplicate_overlap
        for index, track in enumerate(alive):
            slot = next((k for k, kept in enumerate(survivors) if same_face[index, kept]), None)
            if slot is None:
                survivors.append(index)
                continue
            older = alive[survivors[slot]]
            if _better_evidence(track, older):
                survivors[slot] = index
                ended.append(older.track_id)
            else:
                ended.append(track.track_id)
        survivors.sort()
        self._tracks = [alive[index] for index in survivors]
        return ended

    def _as_detections(self, width: int, height: int) -> Detections:
        if not self._tracks:
            return Detections.empty()
        boxes = np.stack([t.box for t in self._tracks])
        confidences = np.array([t.confidence for t in self._tracks], np.float32)
        ids = np.array([t.track_id for t in self._tracks], np.int64)
        return Detections.from_boxes(boxes, confidences).replace(tracker_id=ids).clipped(width, height)


def _better_evidence(newer: _Track, older: _Track) -> bool:
    """Whether `newer` rather than `older` should survive when both cover one face."""
    if newer.matched != older.matched:
        return newer.matched
    return newer.flow_quality > older.flow_quality + 0.2


# -- patches ------------------------------------------------------------------------------


def _patch_rect(box: np.ndarray, step: int, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The full-resolution rectangle kept around `box`: the box plus room for half its size of
    motion each way, clipped to the frame, its sides multiples of `step`; None if too small."""
    size = max(box[2] - box[0], box[3] - box[1])
    room = 0.5 * size + 4 * step
    x1, y1 = max(0, int(box[0] - room)), max(0, int(box[1] - room))
    x2, y2 = min(width, int(math.ceil(box[2] + room))), min(height, int(math.ceil(box[3] + room)))
    x2, y2 = x1 + (x2 - x1) // step * step, y1 + (y2 - y1) // step * step
    if (x2 - x1) // step < _MIN_PATCH or (y2 - y1) // step < _MIN_PATCH:
        return None
    return x1, y1, x2, y2


def _sample(gray: np.ndarray, rect: tuple[int, int, int, int], step: int) -> np.ndarray:
    """gray[rect] reduced `step` times (1 or even), as a new contiguous uint8 array.

    Every step/2-th pixel, then OpenCV's 2x2 INTER_AREA fast path: cost follows the output,
    and the average keeps thin line art from flickering in and out as it moves.
    """
    x1, y1, x2, y2 = rect
    if step == 1:
        return np.array(gray[y1:y2, x1:x2])
    half = step // 2
    size = ((x2 - x1) // step, (y2 - y1) // step)
    return cv2.resize(gray[y1:y2:half, x1:x2:half], size, interpolation=cv2.INTER_AREA)


def _patch_origin(rect: tuple[int, int, int, int], step: int) -> tuple[np.ndarray, float]:
    """(origin xyxy, offset): patch pixel p covers full-resolution origin + offset + p * step.

    With step k the patch pixel i averages samples at k*i and k*i + k/2, centred k/4 past k*i.
    """
    x1, y1 = rect[0], rect[1]
    return np.array([x1, y1, x1, y1], np.float64), (step / 4 if step > 1 else 0.0)


def _lucas_kanade(
    before: np.ndarray, after: np.ndarray, points: np.ndarray, fb_max_error: float
) -> tuple[np.ndarray, np.ndarray]:
    """Follow (n, 2) float32 points from `before` to `after`: ((n, 2) new positions, (n,) bool
    usable), usable meaning found both ways and back within fb_max_error pixels of the start."""
    start = points.reshape(-1, 1, 2)
    forward, status_f, _ = cv2.calcOpticalFlowPyrLK(
        before, after, start, None, winSize=_LK_WINDOW, maxLevel=_LK_LEVELS, criteria=_LK_CRITERIA
    )
    backward, status_b, _ = cv2.calcOpticalFlowPyrLK(
        after, before, forward, None, winSize=_LK_WINDOW, maxLevel=_LK_LEVELS, criteria=_LK_CRITERIA
    )
    fb_error = np.linalg.norm((backward - start).reshape(-1, 2), axis=1)
    usable = (status_f.ravel() == 1) & (status_b.ravel() == 1) & (fb_error <= fb_max_error)
    return forward.reshape(-1, 2), usable


def _inner(box: np.ndarray) -> tuple[float, float, float, float]:
    """The middle of an xyxy box, where points are sought and kept (_INNER_MARGIN off each side)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    margin_x, margin_y = (x2 - x1) * _INNER_MARGIN, (y2 - y1) * _INNER_MARGIN
    return x1 + margin_x, y1 + margin_y, x2 - margin_x, y2 - margin_y


def _median(values: np.ndarray) -> np.ndarray:
    """np.median over axis 0, without its overhead (~50 µs a call, most of the cost on a few
    dozen values)."""
    ordered = np.sort(values, axis=0)
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


@functools.lru_cache(maxsize=None)
def _even_subset(n: int) -> np.ndarray:
    return np.linspace(0, n - 1, _MAX_SCALE_POINTS).astype(int)


@functools.lru_cache(maxsize=None)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def _median_distance_ratio(before: np.ndarray, after: np.ndarray) -> float:
    """Median ratio of pairwise point distances after/before (the box's change of scale)."""
    if len(before) > _MAX_SCALE_POINTS:
        pick = _even_subset(len(before))
        before, after = before[pick], after[pick]
    if len(before) < 3:
        return 1.0
    i, j = _pairs(len(before))
    distance_before = np.hypot(*(before[i] - before[j]).T)
    distance_after = np.hypot(*(after[i] - after[j]).T)
    usable = distance_before > 3.0  # near pairs give noisy ratios
    if usable.sum() < 3:
        return 1.0
    ratio = float(_median(distance_after[usable] / distance_before[usable]))
    return min(max(ratio, 1.0 / _MAX_STEP_SCALE), _MAX_STEP_SCALE)


# -- boxes --------------------------------------------------------------------------------


def _overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m): intersection of each pair of xyxy boxes over the smaller box's area.

    Catches a box nested inside another (the cascade's habit), which IoU scores low.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    return np.where(smaller > 0, w * h / np.maximum(smaller, 1e-9), 0.0)


def _distinct_faces(detections: Detections, duplicate_overlap: float) -> tuple[np.ndarray, np.ndarray]:
    """Detections without empty boxes and without duplicates of one face: ((k, 4), (k,)).

    Keeps the most confident box of each overlapping group (the larger one on ties), in the
    detections' order.
    """
    boxes = np.asarray(detections.xyxy, np.float32).reshape(-1, 4)
    confidences = np.asarray(detections.confidence, np.float32).reshape(-1)
    nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, confidences = boxes[nonempty], confidences[nonempty]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.lexsort((-area, -confidences))
    overlap = _overlap_of_smaller(boxes, boxes)
    kept: list[int] = []
    for index in order:
        if all(overlap[index, k] < duplicate_overlap for k in kept):
            kept.append(int(index))
    kept.sort()  # new tracks are numbered in the detector's order
    return boxes[kept], confidences[kept]


def _visible_fraction(box: np.ndarray, width: int, height: int) -> float:
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    if area <= 0:
        return 0.0
    inside_w = max(0.0, min(box[2], width) - max(box[0], 0.0))
    inside_h = max(0.0, min(box[3], height) - max(box[1], 0.0))
    return inside_w * inside_h / area
