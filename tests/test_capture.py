"""Live sources (streamer.sources: webcam, screen, stream) and the feed between capture and processing (streamer.feed).

Screen capture runs against a real X server (Xvfb) that the tests start and draw into; the
webcam is tested through its error path (CI machines have no camera); network errors use
loopback addresses only. Streams that really play are in test_live.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import VIDEOS
from live_support import STREAMER, env_for, free_udp_port, require_binaries, window_showing, xvfb, xvfb_server
from onnx_models import make_color_classifier
from streamer.errors import SourceError, UsageError
from streamer.feed import Captured, FrameSlot, LiveFeed
from streamer.frames import YUV420P, Frame
from streamer.sources import FileSource, open_source, source_kind
from streamer.sources.screen import Rect, ScreenSource, ScreenSpec, parse_screen_spec
from streamer.sources.stream import StreamSource, _Timeline
from streamer.sources.webcam import WebcamSource

SAKURASOU = VIDEOS / "sakurasou_480p.mp4"


# -- spec strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, kind",
    [
        ("0", "webcam"),
        ("12", "webcam"),
        ("/dev/video0", "webcam"),
        ("screen", "screen"),
        ("screen:1", "screen"),
        ("screen:0@10,20,640,360", "screen"),
        ("rtsp://camera.local/stream", "stream"),
        ("udp://127.0.0.1:5000", "stream"),
        ("https://example.org/live.m3u8", "stream"),
        ("clip.mp4", "file"),
        ("screenshots/a.mp4", "file"),
        ("./0", "file"),
    ],
)
def test_source_kind(spec, kind):
    assert source_kind(spec) == kind


@pytest.mark.parametrize(
    "spec, parsed",
    [
        ("screen", ScreenSpec(0, None)),
        ("screen:2", ScreenSpec(2, None)),
        ("screen:1@0,0,1280,720", ScreenSpec(1, Rect(0, 0, 1280, 720))),
        ("screen@10,20,30,40", ScreenSpec(0, Rect(10, 20, 30, 40))),
    ],
)
def test_screen_specs(spec, parsed):
    assert parse_screen_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["screen:", "screen:a", "screen:0@1,2,3", "screen:0@1,2,3,x", "screen:0@0,0,1,100", "screens"])
def test_bad_screen_specs_are_usage_errors(spec):
    with pytest.raises(UsageError, match="screen"):
        parse_screen_spec(spec)


# -- webcam -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "device, message",
    [
        ("/dev/video57", "no webcam at /dev/video57"),
        ("57", "no webcam at /dev/video57"),
        ("/dev/null", "cannot open webcam /dev/null: not a video capture device"),
    ],
)
def test_a_missing_webcam_is_one_clear_error(device, message):
    with pytest.raises(SourceError, match=message):
        WebcamSource(device)
    with pytest.raises(SourceError, match=message):
        open_source(device)


def test_cli_reports_a_missing_webcam_in_one_line(tmp_path):
    model = make_color_classifier(tmp_path / "rgb.onnx")
    done = subprocess.run(
        [*STREAMER, "live", "--source", "/dev/video57", "--model", str(model), "--no-window"],
        capture_output=True, text=True, timeout=60, env=env_for(None),
    )
    assert done.returncode == SourceError.exit_code
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("streamer: error: no webcam at /dev/video57 (no such device")


# -- network stream errors (loopback) -------------------------------------------------------------


def _closed_tcp_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize(
    "url, message",
    [
        ("rtsp://", "malformed URL .*no host"),
        ("http://127.0.0.1:notaport/live.ts", "malformed URL"),
        ("udp://127.0.0.1", "malformed URL .*no port"),
        ("nosuchproto://127.0.0.1:1/x", "no nosuchproto:// support"),
        ("http://127.0.0.1:{tcp}/live.ts", "connection refused"),
        ("rtsp://127.0.0.1:{tcp}/live", "connection refused"),
        ("udp://127.0.0.1:{udp}", r"nothing received within 1 s"),
    ],
)
def test_bad_or_silent_urls_fail_fast_with_one_line(url, message):
    url = url.format(tcp=_closed_tcp_port(), udp=free_udp_port())
    with pytest.raises(SourceError, match=message):
        StreamSource(url, open_timeout=1.0, read_timeout=1.0)


def test_srt_is_either_supported_or_refused_clearly():
    with pytest.raises(SourceError, match=r"srt:// support|nothing received|cannot open|connection refused"):
        StreamSource(f"srt://127.0.0.1:{free_udp_port()}", open_timeout=1.0, read_timeout=1.0)


# -- the stream timeline ------------------------------------------------------------------------------


def _packet(pts: int, time_base: Fraction = Fraction(1, 90000)) -> av.Packet:
    packet = av.Packet(b"\0" * 8)
    packet.pts = packet.dts = pts
    packet.time_base = time_base
    return packet


def test_timeline_starts_at_zero_continues_after_a_reconnect_and_survives_clock_jumps():
    tb = Fraction(1, 90000)
    timeline = _Timeline(tb, Fraction(25))
    # Joined mid-stream at 3600 s: output starts at 0 and keeps the spacing.
    assert [timeline.video_pts(Fraction(3600) + Fraction(i, 25)) for i in range(3)] == [0, 3600, 7200]
    # Reconnected after a 2 s outage; the server restarted its clock at 10 s.
    timeline.new_segment(gap=2.0)
    assert timeline.video_pts(Fraction(10)) == 7200 + 2 * 90000
    assert timeline.video_pts(Fraction(10) + Fraction(1, 25)) == 7200 + 2 * 90000 + 3600
    # A jump back inside a segment: one frame later, never backwards.
    last = 7200 + 2 * 90000 + 3600
    assert timeline.video_pts(Fraction(1)) == last + 3600


def test_timeline_shifts_audio_and_drops_what_would_go_back_in_time():
    tb = Fraction(1, 90000)
    timeline = _Timeline(tb, Fraction(25))
    timeline.video_pts(Fraction(100))  # source 100 s → output 0
    before_start = _packet(100 * 90000 - 1800)  # 20 ms before the first picture
    inside = _packet(100 * 90000 + 900)
    kept = timeline.audio([before_start, inside])
    assert kept == (inside,) and inside.pts == inside.dts == 900
    # A packet at the same time again (a repeat) is dropped; one in another time base is scaled.
    again = _packet(100 * 90000 + 900)
    other = _packet(100 * 48000 + 960, time_base=Fraction(1, 48000))
    assert timeline.audio([again]) == ()
    assert timeline.audio([other]) == (other,) and other.pts == 960


# -- the feed between capture and processing ----------------------------------------------------------


def _frame(index: int, packets: tuple = ()) -> Frame:
    image = np.zeros((6, 4), np.uint8)
    return Frame(image=image, index=index, pts=index, time_base=Fraction(1, 25), time=index / 25, pixel_format=YUV420P, audio_packets=packets)


def test_latest_frame_wins_and_carries_the_audio_of_the_frames_it_replaced():
    slot = FrameSlot(drop=True)
    stop = threading.Event()
    for index in range(4):
        slot.put(Captured(_frame(index, packets=(f"a{index}",)), captured_at=float(index)), stop)
    item = slot.get(timeout=0)
    assert item.frame.index == 3 and item.captured_at == 3.0
    assert item.frame.audio_packets == ("a0", "a1", "a2", "a3")
    assert (slot.dropped, slot.delivered) == (3, 1)
    assert slot.get(timeout=0) is None
    slot.close()
    assert slot.get(timeout=0) is FrameSlot.END


def test_a_lossless_slot_waits_for_the_consumer_and_reraises_the_producers_error():
    slot = FrameSlot(drop=False)
    stop = threading.Event()
    got = []

    def produce():
        for index in range(5):
            slot.put(Captured(_frame(index), 0.0), stop)
        slot.close(SourceError("camera unplugged"))

    thread = threading.Thread(target=produce)
    thread.start()
    with pytest.raises(SourceError, match="unplugged"):
        while True:
            item = slot.get(timeout=5)
            assert item is not None and item is not FrameSlot.END
            got.append(item.frame.index)
    thread.join(5)
    assert got == [0, 1, 2, 3, 4] and slot.dropped == 0


def test_live_feed_of_a_file_delivers_every_frame_without_dropping(tmp_path):
    with FileSource(SAKURASOU, threaded=False) as source, LiveFeed(source, drop=False) as feed:
        indices = []
        while (item := feed.next(timeout=5)) is not LiveFeed.END:
            assert item is not None
            indices.append(item.frame.index)
    assert indices == list(range(456)) and feed.dropped == 0


def test_a_source_that_yields_nothing_is_an_error_after_the_first_frame_timeout():
    released = threading.Event()

    class Silent(FileSource):
        def frames(self):
            released.wait(30)  # a device that never answers (until the test ends)
            yield from ()

    with Silent(SAKURASOU, threaded=False) as source:
        feed = LiveFeed(source, first_frame_timeout=0.3)
        try:
            with pytest.raises(SourceError, match="delivered no frame within 0.3 s"):
                while feed.next(timeout=0.1) is not LiveFeed.END:
                    pass
        finally:
            released.set()
            assert feed.stop(timeout=5)


# -- screen capture on a real X server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def display():
    with xvfb(1024, 768) as name:
        yield name


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    """A frame of the sakurasou clip with a face the cascade finds (852x480 BGR PNG)."""
    with av.open(str(SAKURASOU)) as container:
        for frame in container.decode(video=0):
            if frame.time >= 3.0:
                break
    path = tmp_path_factory.mktemp("screen") / "picture.png"
    cv2.imwrite(str(path), frame.to_ndarray(format="bgr24"))
    return path


def _first_frames(source: ScreenSource, count: int) -> list[Frame]:
    frames = []
    with source:
        for frame in source:
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def _find(picture: np.ndarray, frame: Frame) -> tuple[float, tuple[int, int]]:
    """Best match score of `picture` in the frame and where (x, y)."""
    scores = cv2.matchTemplate(frame.to_bgr(), picture, cv2.TM_CCOEFF_NORMED)
    _, best, _, where = cv2.minMaxLoc(scores)
    return best, where


@pytest.mark.gui
def test_screen_capture_finds_a_picture_shown_in_a_window(display, picture):
    image = cv2.imread(str(picture))
    with window_showing(picture, display, 100, 150):
        whole = _first_frames(ScreenSource("screen", display=display, fps=30), 3)
        region = _first_frames(ScreenSource("screen:0@100,150,301,201", display=display), 1)[0]
    frame = whole[-1]
    assert (frame.width, frame.height, frame.pixel_format) == (1024, 768, YUV420P)
    assert [f.index for f in whole] == [0, 1, 2]
    assert whole[0].time == 0.0 < whole[1].time < whole[2].time  # wall-clock stamps
    best, where = _find(image, frame)
    assert best > 0.95 and where == (100, 150)
    # The region: rounded down to even sizes, the picture's top-left corner pixel for pixel
    # (up to the YUV 4:2:0 round trip).
    assert (region.width, region.height) == (300, 200)
    difference = np.abs(region.to_bgr().astype(int) - image[:200, :300].astype(int))
    assert difference.mean() < 3


@pytest.mark.gui
def test_screen_errors_are_one_line(display, monkeypatch):
    with pytest.raises(SourceError, match=r"display :\d+ has 1 monitor \(screen:0\), not screen:1"):
        ScreenSource("screen:1", display=display)
    with pytest.raises(SourceError, match="does not fit on monitor 0"):
        ScreenSource("screen:0@900,0,200,200", display=display)
    with pytest.raises(SourceError, match="cannot open X display ':97'"):
        ScreenSource("screen", display=":97")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(SourceError, match=r"\$DISPLAY is not set"):
        ScreenSource("screen")


def test_screen_capture_gives_up_on_a_display_that_never_answers():
    # A "server" that accepts the connection and says nothing: xcb would wait forever.
    import socket

    with socket.socket() as server:
        for number in range(50, 100):
            try:
                server.bind(("127.0.0.1", 6000 + number))
                break
            except OSError:
                continue
        else:
            pytest.skip("no free X11 TCP port (6050-6099) on 127.0.0.1")
        server.listen(4)
        began = time.monotonic()
        with pytest.raises(SourceError, match=rf"screen capture of 127.0.0.1:{number} did not start within 1 s"):
            ScreenSource("screen", display=f"127.0.0.1:{number}", open_timeout=1.0)
        assert time.monotonic() - began < 5


def test_screen_capture_names_the_system_libraries_it_needs():
    # mss loads the system's libxcb-* with ctypes; a bare container may lack one.
    code = (
        "import ctypes.util\n"
        "real = ctypes.util.find_library\n"
        "ctypes.util.find_library = lambda name: None if name == 'xcb-shm' else real(name)\n"
        "from streamer.sources.screen import ScreenSource\n"
        "ScreenSource('screen', display=':97')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env_for(None))
    assert done.returncode != 0
    assert "screen capture needs the system's XCB libraries (Library libxcb-shm.so not found" in done.stderr
    assert "apt-get install libxcb1 libxcb-randr0 libxcb-render0 libxcb-shm0 libxcb-xfixes0" in done.stderr


@pytest.mark.gui
def test_screen_monitors_are_numbered_as_xrandr_lists_them():
    require_binaries("Xvfb", "xrandr")
    with xvfb(1024, 768) as name:
        env = env_for(name)
        # A second monitor on the right half, as a user makes one for a split screen.
        subprocess.run(["xrandr", "--setmonitor", "right", "400/1x300/1+600+400", "none"], env=env, check=True, timeout=10)
        listed = subprocess.run(["xrandr", "--listmonitors"], env=env, capture_output=True, text=True, check=True, timeout=10)
        rects = [
            Rect(int(m[3]), int(m[4]), int(m[1]), int(m[2]))
            for m in re.findall(r"^\s*(\d+):\s+\S+\s+(\d+)/\d+x(\d+)/\d+\+(\d+)\+(\d+)", listed.stdout, re.M)
        ]
        assert len(rects) == 2 and Rect(600, 400, 400, 300) in rects and Rect(0, 0, 1024, 768) in rects
        for index, rect in enumerate(rects):
            with ScreenSource(f"screen:{index}", display=name) as source:
                assert source.area == rect and (source.info.width, source.info.height) == (rect.width, rect.height)
        right = rects.index(Rect(600, 400, 400, 300))
        with ScreenSource(f"screen:{right}@10,20,100,50", display=name) as source:
            assert source.area == Rect(610, 420, 100, 50)
        with pytest.raises(SourceError, match=r"has 2 monitors \(screen:0 to screen:1\), not screen:2"):
            ScreenSource("screen:2", display=name)
        with pytest.raises(SourceError, match=rf"screen region 350,0,100,100 does not fit on monitor {right} \(400x300\)"):
            ScreenSource(f"screen:{right}@350,0,100,100", display=name)


@pytest.mark.gui
def test_screen_grabs_at_the_fps_asked_for_without_bursts_after_a_stall(display):
    # Pacing, not speed: mss grabs as fast as asked, the source spaces the grabs itself.
    with ScreenSource("screen:0@0,0,320,240", display=display, fps=10) as source:
        frames = iter(source)
        first = next(frames)
        counted = 0
        while (frame := next(frames)).time - first.time <= 1.0:
            counted += 1
        assert 7 <= counted <= 12, f"{counted} frames in 1 s at fps=10"
        time.sleep(0.5)  # the consumer stalls: one frame at once, then the schedule again
        after = [next(frames) for _ in range(3)]
        gaps = [later.time - earlier.time for earlier, later in zip(after, after[1:])]
        assert min(gaps) >= 0.05, f"frames {gaps} s apart after a stall at fps=10"
        # close() from another thread ends the iteration at once.
        closer = threading.Timer(0.05, source.close)
        closer.start()
        began = time.monotonic()
        left = sum(1 for _ in frames)
        closer.join()
        assert left <= 2 and time.monotonic() - began < 1.0
        source.close()  # again: nothing happens


@pytest.mark.gui
def test_screen_draws_the_mouse_pointer_unless_asked_not_to():
    require_binaries("Xvfb", "xdotool")
    with xvfb(640, 480) as name:
        env = env_for(name)

        def grab(draw_mouse: bool) -> np.ndarray:
            with ScreenSource("screen:0@280,200,40,40", display=name, draw_mouse=draw_mouse) as source:
                return next(iter(source)).to_bgr().astype(int)

        subprocess.run(["xdotool", "mousemove", "300", "220"], env=env, check=True, timeout=10)
        with_pointer, without = grab(True), grab(False)
        drawn = (np.abs(with_pointer - without).max(axis=2) > 40).sum()
        assert drawn >= 20, "the pointer should be drawn into the frame"
        subprocess.run(["xdotool", "mousemove", "600", "440"], env=env, check=True, timeout=10)
        assert np.abs(grab(True) - without).max() <= 2  # the pointer is elsewhere now: the same picture


@pytest.mark.gui
def test_screen_capture_reports_a_server_that_goes_away():
    with xvfb_server(320, 240) as (name, server):
        source = ScreenSource("screen", display=name, fps=20)
        frames = iter(source)
        next(frames)
        server.kill()
        server.wait(5)
        with pytest.raises(SourceError, match=rf"screen capture of {name} stopped"):
            for _ in range(100):
                next(frames)
        source.close()


@pytest.mark.gui
def test_live_records_the_screen_and_recognizes_the_face_on_it(display, picture, tmp_path):
    model = make_color_classifier(tmp_path / "rgb.onnx")
    out, sidecar = tmp_path / "screen.mp4", tmp_path / "screen.jsonl"
    with window_showing(picture, display, 40, 60):
        done = subprocess.run(
            [*STREAMER, "live", "--source", "screen:0@40,60,852,480", "--model", str(model), "--no-window",
             "--record", str(out), "--sidecar", str(sidecar), "--max-frames", "12", "--detect-every", "1"],
            capture_output=True, text=True, timeout=60, env=env_for(display),
        )
    assert done.returncode == 0, done.stderr
    assert "max frames reached: 12 frames" in done.stderr
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 12 and frames[0].shape == (480, 852, 3)
    # What was recorded is the picture on the screen, with the face boxes drawn on it.
    faces = [line for line in sidecar.read_text().splitlines() if '"type": "face"' in line]
    assert faces, "the cascade should find the face shown on the screen"
    same = np.abs(frames[-1].astype(int) - cv2.imread(str(picture)).astype(int)).max(axis=2) < 40
    assert same.mean() > 0.9
