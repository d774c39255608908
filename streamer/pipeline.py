"""The recognition loop, in one place: one frame in, labelled faces out.

    frame → scene cut? (reset) → detect (every N frames, or right after a cut; not again on
          a held picture) → track (optical flow in between) → label (per track, batched)
          → Detections

The loop is given its parts (detector, tracker, scene-cut detector, labeler); `build_loop`
is the one place that chooses the defaults. Sources, sinks, drawing and pacing stay outside:
`streamer.runner.run` feeds it frames for `annotate` and `live` alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from streamer.detections import Detections
from streamer.detectors import DEFAULT_DETECT_WIDTH, FaceDetector, detect_frame
from streamer.errors import SettingError
from streamer.frames import Frame
from streamer.holds import HoldDetector
from streamer.labeler import DEFAULT_THRESHOLD, Classifier, FacesOnly, TrackLabeler
from streamer.profiling import StageTimer
from streamer.scenecut import SceneCutDetector
from streamer.track import FaceTracker

# Defaults measured on 1080p with 2 cores (see README, "Throughput"): a detector call on a
# 480-px copy costs about 25 ms alone (the learned detector's four passes; more beside the
# encoder; the cascade's ~27), so every 8th frame keeps detection at 3-4 ms a frame while a
# new face still gets a box within a third of a second at 24 fps.
DEFAULT_DETECT_EVERY = 8
# A round on the picture the last round saw is skipped (streamer.holds), but at most this many
# in a row: a face that comes in while nothing else moves is found within ~1.3 s at 24 fps.
DEFAULT_MAX_HELD_ROUNDS = 3


@dataclass(frozen=True)
class LoopSettings:
    detect_every: int = DEFAULT_DETECT_EVERY
    detect_width: int = DEFAULT_DETECT_WIDTH
    threshold: float | None = None  # None: the model's calibrated one (DEFAULT_THRESHOLD without)
    galleries: tuple[str, ...] = ()  # enrolled characters (streamer.gallery), for open-set models
    skip_holds: bool = True  # no detection round, and no flow, on a picture held still (streamer.holds)

    def check(self) -> None:
        """SettingError for settings the loop cannot run with."""
        if self.detect_every < 1:
            raise SettingError("{detect_every} must be 1 or more")
        if self.detect_width is not None and self.detect_width < 0:
            raise SettingError("{detect_width} must be 0 (full size) or more")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise SettingError("{threshold} must be between 0 and 1")


def load_parts(
    model: str | os.PathLike | Classifier | None,
    detector: str | os.PathLike | FaceDetector | None,
    settings: LoopSettings,
    cascade_path: str | os.PathLike | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[Classifier | None, FaceDetector]:
    """The classifier (a path is loaded; None: faces only) and the detector a job runs with,
    loaded before any input is decoded; `warn` hears when their box conventions differ."""
    from streamer.classifier import OnnxClassifier
    from streamer.detectors import load_detector, mismatch_warning

    from streamer.gallery import read_gallery

    galleries = [read_gallery(path) for path in settings.galleries]
    if galleries and model is None:
        raise SettingError("{galleries}: a gallery needs the model its characters were enrolled with ({model})")
    classifier = OnnxClassifier(model, galleries=galleries) if isinstance(model, (str, os.PathLike)) else model
    if not hasattr(detector, "detect"):
        detector = load_detector(detector, settings.detect_width, cascade_path=cascade_path)
    warning = mismatch_warning(classifier, detector)
    if warning and warn is not None:
        warn(warning)
    return classifier, detector


class RecognitionLoop:
    """`process(frame) -> Detections` with tracker_id, class_name and the name's confidence.

    detector: finds faces on detection rounds (every `detect_every` processed frames, and on
        the first frame after a scene cut).
    tracker: carries the boxes between rounds and gives them ids (streamer.track.FaceTracker).
    scene_cuts: says when a shot ends (streamer.scenecut.SceneCutDetector): tracks and votes reset.
    labeler: names the tracks (TrackLabeler, or FacesOnly without a classifier).
    holds: says when a due round would see the picture the last round saw (streamer.holds);
        such a round is skipped once every pass of the detector has run on that picture, at
        most `max_held_rounds` in a row. None: every due round runs.
    """

    def __init__(
        self,
        detector: FaceDetector,
        tracker: FaceTracker,
        scene_cuts: SceneCutDetector,
        labeler: TrackLabeler | FacesOnly,
        *,
        detect_every: int = DEFAULT_DETECT_EVERY,
        holds: HoldDetector | None = None,
        max_held_rounds: int = DEFAULT_MAX_HELD_ROUNDS,
        timer: StageTimer | None = None,
    ) -> None:
        if detect_every < 1:
            raise SettingError("{detect_every} must be 1 or more")
        self.holds = holds
        self.max_held_rounds = max_held_rounds
        self.detector = detector
        self.tracker = tracker
        self.scene_cuts = scene_cuts
        self.labeler = labeler
        self.detect_every = detect_every
        self.timer = timer or StageTimer(enabled=False)
        self.cuts = 0
        # Counted in processed frames, not source indices: live sources drop frames.
        self._frames_since_detection: int | None = None
        self._pass_turn = 1  # which half of the detector's passes ran last (`_next_passes`)
        self._all_passes = tuple(detector.zooms) or (None,)
        self._held_grid = None  # the picture the last detection round ran on (HoldDetector.sample)
        self._passes_on_held: set = set()  # the passes that have run on that picture
        self._held_rounds = 0  # rounds skipped since the last one that ran
        self.rounds = self.held_rounds = 0  # detection rounds run, and skipped on a held picture

    def process(self, frame: Frame) -> Detections:
        timer = self.timer
        gray = frame.gray
        with timer.stage("scenecut"):
            cut = self.scene_cuts.is_cut(gray)
        if cut:
            # Anime cuts hard: boxes and names from the last shot mean nothing in this one.
            self.cuts += 1
            self.tracker.reset()
            self.labeler.reset()
        detections = None
        if cut or self._detection_due():
            zooms = None if cut or self._frames_since_detection is None else self._next_passes()
            with timer.stage("detect"):
                grid = self.holds.sample(gray) if self.holds is not None else None
                same_picture = (
                    grid is not None and self._held_grid is not None and self.holds.same_picture(self._held_grid, grid)
                )
                if not cut and same_picture and self._may_skip():
                    self._held_rounds += 1
                    self.held_rounds += 1
                else:
                    detections = detect_frame(self.detector, frame, zooms)
                    self._ran_on(grid, zooms, same_picture)
            self._frames_since_detection = 0
        else:
            self._frames_since_detection += 1
        with timer.stage("track"):
            update = self.tracker.update(gray, detections)
        with timer.stage("classify"):
            return self.labeler.update(frame, update.tracks, update.ended_ids)

    def _next_passes(self) -> tuple[float, ...] | None:
        """A round within a shot: every other pass of the detector, the two halves in turn.

        A shot's first round runs every pass. After it the tracker carries the faces, so a
        round needs only find faces that came in and confirm the others: with the learned
        detector's four passes, (1, 0.6) and (0.8, 0.4) take turns, each scale comes round
        every second round (a track ends only after `max_missed` 3 unconfirmed rounds), and a
        round costs about half of all four.
        """
        zooms = self._all_passes
        if len(zooms) < 3:
            return None
        self._pass_turn = 1 - self._pass_turn
        return zooms[self._pass_turn :: 2]

    def _may_skip(self) -> bool:
        """Whether a round on the held picture may be skipped: every pass has run on it, and
        fewer than `max_held_rounds` rounds were skipped since the last that ran."""
        return self._held_rounds < self.max_held_rounds and self._passes_on_held.issuperset(self._all_passes)

    def _ran_on(self, grid, zooms: tuple[float, ...] | None, same_picture: bool) -> None:
        """Note that the detector ran `zooms` (None: every pass) on the picture `grid`."""
        self.rounds += 1
        self._held_rounds = 0
        passes = set(self._all_passes if zooms is None else zooms)
        if same_picture:
            self._passes_on_held |= passes  # the held picture: the other half of the passes
        elif grid is not None:
            self._held_grid, self._passes_on_held = grid, passes

    def _detection_due(self) -> bool:
        since = self._frames_since_detection
        return since is None or since + 1 >= self.detect_every


def build_loop(
    detector: FaceDetector,
    classifier: Classifier | None,
    settings: LoopSettings = LoopSettings(),
    timer: StageTimer | None = None,
) -> RecognitionLoop:
    """The recognition loop with the product's default parts, for `annotate` and `live`."""
    settings.check()
    # The detector often misses a face for a round or two (profile turns, motion blur): with
    # detection every 8 frames, 3 missed rounds (~1 s at 24 fps) before a track ends keeps one
    # id through such gaps without keeping boxes on faces that left.
    tracker = FaceTracker(max_missed=3, still_share=None if settings.skip_holds else 0.0)
    labeler = TrackLabeler(classifier, threshold=settings.threshold) if classifier is not None else FacesOnly()
    return RecognitionLoop(
        detector,
        tracker,
        SceneCutDetector(),
        labeler,
        detect_every=settings.detect_every,
        holds=HoldDetector() if settings.skip_holds else None,
        timer=timer,
    )
