"""`streamer live` end to end: dropping, a UDP stream over loopback, reconnects, signals, the window.

Real inputs only: ../shared clips streamed with PyAV to udp://127.0.0.1 (a port the kernel
picked), small clips made by the tests, an Xvfb server started here. Every wait is bounded.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction

import pytest

from conftest import CASCADE_PATH, VIDEOS
from live_support import (
    STREAMER,
    LineReader,
    env_for,
    free_udp_port,
    require_binaries,
    stop,
    stream_udp,
    wait_for_udp_listener,
    xvfb,
)
from media import make_clip, probe
from onnx_models import make_color_classifier
from streamer.detectors.cascade import CascadeDetector
from streamer.errors import DisplayError, OutputError, SourceError, UsageError
from streamer.live import LiveOptions, run_live
from streamer.sources import SourceOptions
from streamer.pipeline import LoopSettings
from streamer.sidecar import read_sidecar
from streamer.sources import FileSource

SAKURASOU = VIDEOS / "sakurasou_480p.mp4"
ONEPIECE = VIDEOS / "onepiece_480p.mp4"


@pytest.fixture
def model(tmp_path):
    return make_color_classifier(tmp_path / "rgb.onnx")


class SlowDetector:
    """The cascade, made deliberately slow: `seconds` of sleep per call (every frame with
    detect_every=1), so processing cannot keep up with a 24 fps source."""

    wants_color = False  # the FaceDetector protocol: the cascade reads the luma plane
    zooms = ()  # one pass

    def __init__(self, seconds: float) -> None:
        self.inner = CascadeDetector(CASCADE_PATH)
        self.name, self.box_convention, self.detect_width = "slow cascade", self.inner.box_convention, None
        self.seconds = seconds
        self.calls = 0

    def detect(self, image, zooms=None):
        self.calls += 1
        time.sleep(self.seconds)
        return self.inner.detect(image)


# -- drop policy ----------------------------------------------------------------------------------


def test_a_slow_loop_drops_frames_to_keep_pace_and_keeps_all_the_audio(tmp_path, model):
    clip = make_clip(tmp_path / "clip.mp4", fps=Fraction(24000, 1001), seconds=2.0)  # 48 frames
    detector = SlowDetector(0.06)  # ~16 fps at best, for a 24 fps source
    out, sidecar = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    result = run_live(
        clip, model, detector=detector, settings=LoopSettings(detect_every=1),
        options=LiveOptions(realtime=True, window=False, stats_every=None), record=out, sidecar=sidecar,
        log=io.StringIO(),
    )
    assert result.end_reason == "source ended"
    # Every frame of the source was either shown or dropped: none waited in a queue.
    assert result.dropped > 0 and result.frames + result.dropped == 48
    assert detector.calls == result.frames
    recorded, source = probe(out), probe(clip)
    assert recorded["frames"] == result.frames
    # The newest frame always wins, so the last one is shown: the recording spans the clip.
    assert recorded["times"][-1] == pytest.approx(source["times"][-1], abs=1e-3)
    # The audio of dropped frames rode on the next shown frame: none of it is lost.
    assert recorded["audio_duration"] == pytest.approx(source["audio_duration"], abs=1e-3)
    frames_in_sidecar = [record.frame for record in read_sidecar(sidecar)[0]]
    assert frames_in_sidecar == sorted(frames_in_sidecar)


def test_a_file_without_realtime_shows_every_frame_however_slow(tmp_path, model):
    clip = make_clip(tmp_path / "clip.mp4", fps=24, seconds=1.0, audio=False)
    result = run_live(
        clip, model, detector=SlowDetector(0.05), settings=LoopSettings(detect_every=1),
        options=LiveOptions(window=False, stats_every=None), log=io.StringIO(),
    )
    assert (result.frames, result.dropped) == (24, 0)


def test_outputs_are_checked_before_the_source_opens(tmp_path, model):
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="exists"):
        run_live("udp://127.0.0.1:9", model, record=existing, options=LiveOptions(window=False))
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(UsageError, match="max_frames must be 1 or more"):
        run_live(SAKURASOU, model, options=LiveOptions(max_frames=0, window=False))


# -- a network stream over loopback -----------------------------------------------------------------


def test_live_reads_a_udp_stream_recognizes_and_records_it(tmp_path, model):
    port = free_udp_port()
    out, sidecar = tmp_path / "stream.mp4", tmp_path / "stream.jsonl"
    live = subprocess.Popen(
        [*STREAMER, "live", "--source", f"udp://127.0.0.1:{port}", "--model", str(model), "--no-window",
         "--record", str(out), "--sidecar", str(sidecar), "--detect-every", "2",
         "--read-timeout", "1", "--reconnect-for", "0", "--open-timeout", "20", "--stats-every", "1"],
        stderr=subprocess.PIPE, text=True, env=env_for(None),
    )
    try:
        assert wait_for_udp_listener(port), "live did not start listening"
        sent = stream_udp(SAKURASOU, port, end=3.5)  # faces appear from 2.2 s on
        _, errors = live.communicate(timeout=30)
    finally:
        stop(live)
    assert live.returncode == 0, errors
    assert "dropped (no data for 1 s); not reconnecting" in errors
    assert " fps, latency " in errors and "dropped" in errors  # the logged figures
    recorded = probe(out)
    # Timestamps are the stream's, from 0: the recording lasts as long as what was sent. On a
    # busy machine live may drop the first frame or two to keep up (it never queues), so the
    # first recorded frame can be one of the stream's first few.
    assert 0.0 <= recorded["first_time"] <= 0.25
    assert recorded["duration"] == pytest.approx(3.5, abs=0.35)
    assert 0 < recorded["frames"] <= sent
    assert recorded["audio_codec"] == "aac" and recorded["audio_duration"] == pytest.approx(3.5, abs=0.35)
    faces, summary = read_sidecar(sidecar)
    assert faces and summary.frames == recorded["frames"]
    assert {face.name for face in faces} <= {"red", "green", "blue", "unknown"}


def test_a_dropped_stream_is_reconnected_then_given_up_cleanly(tmp_path, model):
    port = free_udp_port()
    out = tmp_path / "reconnect.mp4"
    sender_done = threading.Event()

    def sender():
        try:
            if not wait_for_udp_listener(port):
                return
            stream_udp(ONEPIECE, port, end=1.2)
            time.sleep(1.2)  # the outage: live notices after its read timeout
            if wait_for_udp_listener(port):  # the receiver's reconnect attempt is listening
                stream_udp(ONEPIECE, port, end=1.2)
        finally:
            sender_done.set()

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    log = io.StringIO()
    result = run_live(
        f"udp://127.0.0.1:{port}", model, record=out, options=LiveOptions(window=False, stats_every=None), log=log,
        source_options=SourceOptions(open_timeout=15, read_timeout=0.5, reconnect_for=1.5),
    )
    assert sender_done.wait(10)
    text = log.getvalue()
    assert "reconnecting for up to 1.5 s" in text and f"reconnected to udp://127.0.0.1:{port}" in text
    assert "did not come back within 1.5 s" in result.end_reason
    recorded = probe(out)
    # Both pieces are in the recording, the second after a gap about as long as the outage.
    assert recorded["frames"] == result.frames
    assert 2 * 1.2 - 0.5 < recorded["duration"] < 1.2 + 1.2 + 1.2 + 1.0


# -- stopping: signals ------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_run_and_the_recording_is_finished(tmp_path, model, sig):
    out = tmp_path / "stopped.mp4"
    live = subprocess.Popen(
        [*STREAMER, "live", "--source", str(SAKURASOU), "--realtime", "--model", str(model), "--no-window",
         "--record", str(out), "--stats-every", "0.3"],
        stderr=subprocess.PIPE, text=True, env=env_for(None),
    )
    reader = LineReader(live.stderr)
    try:
        assert reader.wait_for(" fps, latency ", timeout=30), reader.text(0)
        live.send_signal(sig)
        live.wait(15)
    finally:
        stop(live, signal.SIGKILL)
    errors = reader.text()
    assert live.returncode == 0, errors
    assert f"stopped by {sig.name}" in errors
    shown = int(errors.split(f"stopped by {sig.name}: ")[1].split(" frames")[0])
    recorded = probe(out)
    assert recorded["frames"] == shown > 0
    assert recorded["audio_codec"] == "aac"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


# -- the window -------------------------------------------------------------------------------------


def test_without_a_display_the_error_suggests_no_window(model):
    done = subprocess.run(
        [*STREAMER, "live", "--source", str(SAKURASOU), "--model", str(model)],
        capture_output=True, text=True, timeout=60, env=env_for(None),
    )
    assert done.returncode == UsageError.exit_code
    assert done.stderr.strip().splitlines() == [
        "streamer: error: no display for the preview window ($DISPLAY is not set); run with --no-window"
    ]


@pytest.mark.gui
def test_the_window_shows_frames_and_q_closes_it(tmp_path, model):
    require_binaries("Xvfb", "xdotool")
    out = tmp_path / "window.mp4"
    with xvfb(1024, 768) as display:
        env = env_for(display)
        live = subprocess.Popen(
            [*STREAMER, "live", "--source", str(SAKURASOU), "--realtime", "--model", str(model),
             "--record", str(out), "--stats-every", "0.3"],
            stderr=subprocess.PIPE, text=True, env=env,
        )
        reader = LineReader(live.stderr)
        try:
            assert reader.wait_for(" fps, latency ", timeout=30), reader.text(0)
            window = _find_window("streamer live", env)
            assert window, "no window titled 'streamer live'"
            name = subprocess.run(["xdotool", "getwindowname", window], env=env, capture_output=True, text=True, timeout=10)
            assert name.stdout.strip() == f"streamer live - {SAKURASOU}"
            subprocess.run(["xdotool", "windowfocus", "--sync", window, "key", "q"], env=env, check=True, timeout=10)
            live.wait(15)
        finally:
            stop(live, signal.SIGKILL)
    errors = reader.text()
    assert live.returncode == 0, errors
    # Frames were shown (the count is of frames passed to the window), then q ended the run.
    shown = int(errors.split("live: quit: ")[1].split(" frames")[0])
    assert shown > 0 and probe(out)["frames"] == shown


def _find_window(title: str, env: dict, attempts: int = 100):
    for _ in range(attempts):
        found = subprocess.run(["xdotool", "search", "--name", title], env=env, capture_output=True, text=True, timeout=10)
        if found.stdout.split():
            return found.stdout.split()[0]
        time.sleep(0.1)
    return None


def test_the_window_refuses_a_display_that_does_not_answer(monkeypatch):
    from streamer.window import check_display

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":97")
    with pytest.raises(DisplayError, match=r"cannot reach the X display ':97'") as caught:
        check_display()
    assert "--" not in str(caught.value)  # the flag is the command's to name (see the CLI test above)


@pytest.mark.parametrize("imports, refused", [("import av, cv2", True), ("import cv2, av", False)])
def test_importing_av_before_cv2_is_refused_instead_of_hanging_the_window(imports, refused):
    code = f"{imports}\nfrom streamer.window import check_import_order\ncheck_import_order()\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env_for(None))
    assert (done.returncode != 0) == refused
    assert ("imported before OpenCV" in done.stderr) == refused


# -- a source that fails mid-way ----------------------------------------------------------------------


class UnpluggedAfter(FileSource):
    """A real file source that fails like an unplugged camera after `count` frames."""

    def __init__(self, path, count: int) -> None:
        super().__init__(path, threaded=False)
        self.count = count

    def frames(self):
        for frame in super().frames():
            if frame.index == self.count:
                raise SourceError("webcam /dev/video0 stopped delivering frames after 10 (unplugged?)")
            yield frame


def test_a_source_failing_mid_way_keeps_the_recording_and_reports_the_error(tmp_path, model):
    out = tmp_path / "kept.mp4"
    with pytest.raises(SourceError, match=r"stopped delivering frames after 10 .*the recording up to that point was kept"):
        run_live(UnpluggedAfter(SAKURASOU, 10), model, record=out, options=LiveOptions(window=False, stats_every=None), log=io.StringIO())
    assert probe(out)["frames"] == 10
