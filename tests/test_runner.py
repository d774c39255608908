"""The one runner (`streamer.runner.run`): sinks opened, fed, closed or all discarded; the ends.

The real loop (the product's parts from `build_loop`, the cascade) over real clips the tests
make; sinks are the real MP4 and sidecar sinks plus small recording ones.
"""

from __future__ import annotations

import threading

import pytest

from conftest import CASCADE_PATH, VIDEOS
from media import make_clip, probe
from streamer.detections import Detections
from streamer.detectors.cascade import CascadeDetector
from streamer.errors import InputError, SourceError
from streamer.frames import Frame
from streamer.pipeline import LoopSettings, build_loop
from streamer.runner import Stop, captured, run
from streamer.sidecar import read_sidecar
from streamer.sinks import Mp4Sink, SidecarSink, Sink, StreamInfo
from streamer.sources import FileSource


class RecordingSink(Sink):
    """Keeps what the runner did to it."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[str] = []
        self.frames: list[int] = []
        self.stop_after = stop_after

    def open(self, stream: StreamInfo) -> None:
        self.calls.append("open")
        self.size = (stream.video.width, stream.video.height)

    def write(self, frame: Frame, detections: Detections) -> None:
        self.frames.append(frame.index)

    def idle(self) -> None:
        self.calls.append("idle")

    @property
    def stop_reason(self) -> str | None:
        return "quit" if self.stop_after is not None and len(self.frames) >= self.stop_after else None

    def close(self) -> None:
        self.calls.append("close")

    def discard(self) -> None:
        self.calls.append("discard")


class FailingSink(RecordingSink):
    def write(self, frame: Frame, detections: Detections) -> None:
        super().write(frame, detections)
        if len(self.frames) == 5:
            raise OSError("disk full")


def loop():
    return build_loop(CascadeDetector(str(CASCADE_PATH)), None, LoopSettings(detect_every=4))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("runner") / "clip.mp4", seconds=1.0)


def test_every_sink_is_opened_fed_every_frame_and_closed(clip, tmp_path):
    recorder = RecordingSink()
    with FileSource(clip) as source:
        result = run(captured(source), loop(), [Mp4Sink(tmp_path / "out.mp4"), SidecarSink(tmp_path / "out.jsonl"), recorder],
                     StreamInfo.of(source))
    frames = probe(clip)["frames"]
    assert (result.frames, result.end_reason) == (frames, "source ended")
    assert recorder.calls == ["open", "close"] and recorder.frames == list(range(frames))
    assert probe(tmp_path / "out.mp4")["frames"] == frames
    assert read_sidecar(tmp_path / "out.jsonl")[1].frames == frames


def test_a_failing_sink_discards_every_output(clip, tmp_path):
    recorder = RecordingSink()
    with FileSource(clip) as source, pytest.raises(OSError, match="disk full"):
        run(captured(source), loop(), [Mp4Sink(tmp_path / "out.mp4"), recorder, FailingSink(), SidecarSink(tmp_path / "s.jsonl")],
            StreamInfo.of(source))
    assert recorder.calls == ["open", "discard"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_sink_can_end_the_run_and_the_outputs_are_kept(clip, tmp_path):
    with FileSource(clip) as source:
        result = run(captured(source), loop(), [Mp4Sink(tmp_path / "out.mp4"), RecordingSink(stop_after=7)],
                     StreamInfo.of(source))
    assert (result.frames, result.end_reason) == (7, "quit")
    assert probe(tmp_path / "out.mp4")["frames"] == 7


def test_max_frames_and_a_stop_from_another_thread(clip):
    with FileSource(clip) as source:
        assert run(captured(source), loop(), [], StreamInfo.of(source), max_frames=3).end_reason == "max frames reached"
    stop = Stop()

    def frames_then_stop():
        with FileSource(clip) as source:
            for index, item in enumerate(captured(source)):
                if index == 4:
                    thread = threading.Thread(target=stop.request, args=("stopped by SIGTERM",))
                    thread.start()
                    thread.join()
                yield item

    with FileSource(clip) as source:
        info = StreamInfo(source.info)  # no audio: its streams die with the source
    result = run(frames_then_stop(), loop(), [], info, stop=stop)
    # The frame being handed over when the request came is still processed, then the run ends.
    assert (result.frames, result.end_reason) == (5, "stopped by SIGTERM")


def test_idle_ticks_reach_the_sinks():
    recorder = RecordingSink()
    with FileSource(VIDEOS / "sakurasou_480p.mp4") as source:
        frames = captured(source)
        items = [next(frames), None, None, next(frames)]
        run(iter(items), loop(), [recorder], StreamInfo.of(source))
    assert recorder.calls == ["open", "idle", "idle", "close"] and recorder.frames == [0, 1]


def test_a_live_source_failing_after_frames_keeps_the_outputs_when_asked(clip, tmp_path):
    def unplugged():
        with FileSource(clip) as source:
            for index, item in enumerate(captured(source)):
                if index == 6:
                    raise SourceError("webcam /dev/video0 stopped delivering frames after 6")
                yield item

    with FileSource(clip) as source:
        info = StreamInfo(source.info)  # no audio: its streams die with the source
    result = run(unplugged(), loop(), [Mp4Sink(tmp_path / "kept.mp4")], info, keep_after_source_error=True)
    assert (result.frames, result.end_reason) == (6, "source failed") and "after 6" in str(result.source_error)
    assert probe(tmp_path / "kept.mp4")["frames"] == 6
    # Without keep_after_source_error (annotate), the error is the run's, and nothing is left.
    with pytest.raises(SourceError):
        run(unplugged(), loop(), [Mp4Sink(tmp_path / "gone.mp4")], info)
    assert not (tmp_path / "gone.mp4").exists()


def test_a_source_with_no_frame_is_an_input_error_and_leaves_nothing(clip, tmp_path):
    with FileSource(clip) as source:
        info = StreamInfo(source.info)  # no audio: its streams die with the source
    with pytest.raises(InputError, match="no video frame"):
        run(iter(()), loop(), [Mp4Sink(tmp_path / "empty.mp4")], info)
    assert list(tmp_path.iterdir()) == []


def test_a_run_stopped_before_its_first_frame_writes_nothing(clip, tmp_path):
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep")  # what --force would replace: an empty recording must not
    stop = Stop()
    stop.request("stopped by SIGINT")
    with FileSource(clip) as source:
        result = run(iter([None]), loop(), [Mp4Sink(existing), SidecarSink(tmp_path / "out.jsonl")], StreamInfo(source.info),
                     stop=stop)
    assert (result.frames, result.end_reason) == (0, "stopped by SIGINT")
    assert existing.read_bytes() == b"keep" and sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
