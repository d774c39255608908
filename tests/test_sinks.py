"""Mp4Sink: FileSource → Mp4Sink round trips keep size, frames, timestamps and audio; failures leave nothing."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import VIDEOS
from media import make_clip, probe
from streamer.errors import OutputError
from streamer.frames import BGR24, Frame
from streamer.commands.runtime import quick_thread_handoff
from streamer.sinks import BackgroundSink, Mp4Sink, Sink, StreamInfo
from streamer.sources import FileSource, VideoInfo

SAKURASOU = VIDEOS / "sakurasou_480p.mp4"


def opened(sink: Sink, info: VideoInfo, audio_streams=()) -> Sink:
    sink.open(StreamInfo(info, tuple(audio_streams)))
    return sink


def roundtrip(source_path: Path, target: Path, preset: str = "veryfast", **source_options) -> Mp4Sink:
    with FileSource(source_path, **source_options) as source:
        with opened(Mp4Sink(target, preset=preset), source.info, source.audio_streams) as sink:
            for frame in source:
                sink.write(frame)
    return sink


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(video=0)]


def audio_packets(path: Path) -> list[tuple[int, int, bytes]]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        return [(p.pts, p.duration, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.dts is not None]


def assert_same_video(source: Path, output: Path, expected_pix_fmt: str) -> dict:
    a, b = probe(source), probe(output)
    assert (b["width"], b["height"], b["frames"]) == (a["width"], a["height"], a["frames"])
    assert b["pix_fmt"] == expected_pix_fmt
    assert abs(b["duration"] - a["duration"]) <= float(1 / a["fps"])
    assert b["times"] == a["times"]  # every frame keeps its timestamp
    assert b["audio_streams"] == a["audio_streams"]
    if a["audio_streams"]:
        assert (b["audio_codec"], b["sample_rate"], b["channels"]) == (a["audio_codec"], a["sample_rate"], a["channels"])
        assert b["audio_duration"] == pytest.approx(a["audio_duration"], abs=0.05)
        assert audio_packets(output) == audio_packets(source)  # copied, not re-encoded
    return b


@pytest.mark.parametrize(
    "clip_options, pix_fmt",
    [
        (dict(width=320, height=240, fps=Fraction(24000, 1001)), "yuv420p"),
        (dict(width=320, height=240, fps=30, audio=False, cut_at=20), "yuv420p"),
        (dict(width=321, height=241, fps=Fraction(24000, 1001), channels=1, sample_rate=44100), "yuv444p"),
        (dict(width=321, height=241, fps=30, codec="mpeg4", pix_fmt="yuv420p", audio=False), "yuv444p"),
        (dict(width=320, height=240, fps=Fraction(30000, 1001), cut_at=10, seconds=1.0), "yuv420p"),
        (dict(codec="mjpeg", pix_fmt="yuvj420p", seconds=1.0, audio_seconds=1.5), "yuv420p"),
    ],
    ids=["23.976-audio", "30-silent-cut", "odd-23.976-mono44k", "odd-mpeg4-source", "29.97-cut", "audio-outlasts-video"],
)
def test_roundtrip_of_generated_clips(tmp_path, clip_options, pix_fmt):
    clip = make_clip(tmp_path / "in.mp4", **clip_options)
    sink = roundtrip(clip, tmp_path / "out.mp4")
    facts = assert_same_video(clip, tmp_path / "out.mp4", pix_fmt)
    assert sink.frames_written == facts["frames"]
    assert facts["fps"] == Fraction(clip_options.get("fps", Fraction(24000, 1001)))  # never int(fps)


def test_roundtrip_keeps_the_picture(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", width=320, height=240, seconds=1.0, cut_at=12, audio=False)
    roundtrip(clip, tmp_path / "out.mp4")
    with FileSource(clip, pixel_format="bgr24") as a, FileSource(tmp_path / "out.mp4", pixel_format="bgr24") as b:
        for fa, fb in zip(a, b, strict=True):
            error = fa.image.astype(float) - fb.image.astype(float)
            psnr = 10 * np.log10(255.0**2 / max(np.mean(error**2), 1e-9))
            assert psnr > 30, f"frame {fa.index}: PSNR {psnr:.1f} dB"


def test_roundtrip_of_bgr_frames_at_an_even_size(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", width=320, height=240, seconds=1.0)
    roundtrip(clip, tmp_path / "out.mp4", pixel_format="bgr24")
    assert_same_video(clip, tmp_path / "out.mp4", "yuv420p")


def test_roundtrip_of_the_whole_sakurasou_clip(tmp_path):
    # ultrafast: the encoder's speed setting is x264's business; 19 s stay a ~2 s test.
    sink = roundtrip(SAKURASOU, tmp_path / "out.mp4", preset="ultrafast")
    facts = assert_same_video(SAKURASOU, tmp_path / "out.mp4", "yuv420p")
    assert sink.frames_written == facts["frames"] == 456
    assert facts["fps"] == Fraction(24000, 1001) and facts["audio_codec"] == "aac"


def test_audio_can_be_left_out(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=1.0)
    with FileSource(clip) as source, opened(Mp4Sink(tmp_path / "out.mp4"), source.info) as sink:
        for frame in source:
            sink.write(frame)  # frames still carry audio packets; the sink drops them
    facts = probe(tmp_path / "out.mp4")
    assert facts["audio_streams"] == 0 and facts["frames"] == 24


def _info(width=64, height=48, rate=Fraction(30), time_base=Fraction(1, 30)) -> VideoInfo:
    return VideoInfo(width, height, rate, time_base, None, None, 0, "test")


def _bgr(index: int, pts: int | None, width=64, height=48, time_base=Fraction(1, 30)) -> Frame:
    image = np.full((height, width, 3), (index * 20) % 256, np.uint8)
    time = float(pts * time_base) if pts is not None else index / 30
    return Frame(image, index, pts, time_base, time, BGR24)


def test_live_style_frames_without_timestamps_get_the_nominal_rate(tmp_path):
    with opened(Mp4Sink(tmp_path / "live.mp4"), _info()) as sink:
        for i in range(15):
            sink.write(_bgr(i, None))
    assert frame_times(tmp_path / "live.mp4") == pytest.approx([i / 30 for i in range(15)])


def test_repeated_timestamps_are_nudged_to_keep_increasing(tmp_path):
    info = _info(time_base=Fraction(1, 3000))
    with opened(Mp4Sink(tmp_path / "dup.mp4"), info) as sink:
        for i, pts in enumerate([0, 0, 200, 200, 400]):
            sink.write(_bgr(i, pts, time_base=Fraction(1, 3000)))
    times = frame_times(tmp_path / "dup.mp4")
    assert len(times) == 5 and times == sorted(set(times)) and times[2] == pytest.approx(200 / 3000)


def test_frames_in_another_time_base_are_rescaled(tmp_path):
    with opened(Mp4Sink(tmp_path / "out.mp4"), _info(time_base=Fraction(1, 90000))) as sink:
        for i in range(5):
            sink.write(_bgr(i, i, time_base=Fraction(1, 30)))
    assert frame_times(tmp_path / "out.mp4") == pytest.approx([i / 30 for i in range(5)])


def test_a_frame_of_the_wrong_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="64x48"):
        with opened(Mp4Sink(tmp_path / "out.mp4"), _info()) as sink:
            sink.write(_bgr(0, 0, width=66))
    assert not (tmp_path / "out.mp4").exists()


# -- nothing half-written ---------------------------------------------------------------------


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_error_inside_the_with_leaves_no_output(tmp_path, error):
    clip = make_clip(tmp_path / "in.mp4", seconds=1.0)
    with pytest.raises(error):
        with FileSource(clip) as source, opened(Mp4Sink(tmp_path / "out.mp4"), source.info, source.audio_streams) as sink:
            for frame in source:
                sink.write(frame)
                if frame.index == 10:
                    raise error("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # no output, no temporary


def test_an_error_inside_the_with_keeps_an_existing_output_untouched(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=1.0)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the user's precious earlier result")
    with pytest.raises(RuntimeError):
        with FileSource(clip) as source, opened(Mp4Sink(out), source.info, source.audio_streams) as sink:
            for frame in source:
                sink.write(frame)
            raise RuntimeError("failed after the last frame")
    assert out.read_bytes() == b"the user's precious earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]


def test_a_finished_output_replaces_an_existing_file(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=0.5, audio=False)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    roundtrip(clip, out)
    assert probe(out)["frames"] == 12


@pytest.mark.parametrize(
    "target",
    [lambda d: d / "no-such-folder" / "out.mp4", lambda d: d / "in.mp4" / "out.mp4"],
    ids=["missing-folder", "parent-is-a-file"],
)
def test_an_unwritable_output_is_an_output_error(tmp_path, target):
    clip = make_clip(tmp_path / "in.mp4", seconds=0.5, audio=False)
    with FileSource(clip) as source:
        with pytest.raises(OutputError, match="cannot write") as caught:
            opened(Mp4Sink(target(tmp_path)), source.info)
    assert "\n" not in str(caught.value)


# -- encoding in a background thread ------------------------------------------------------------


def test_background_sink_writes_the_same_file_as_the_inline_sink(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", cut_at=20)
    with FileSource(clip) as source:
        with opened(BackgroundSink(Mp4Sink(tmp_path / "out.mp4")), source.info, source.audio_streams) as sink:
            for frame in source:
                sink.write(frame)
    assert sink.frames_written == probe(clip)["frames"]
    assert_same_video(clip, tmp_path / "out.mp4", "yuv420p")


def test_background_sink_hands_the_encoder_error_back_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="64x48"):
        with opened(BackgroundSink(Mp4Sink(tmp_path / "out.mp4")), _info()) as sink:
            sink.write(_bgr(0, 0, width=66))
            for index in range(1, 50):  # the error surfaces at a later write (or at close)
                sink.write(_bgr(index, index))
    assert list(tmp_path.iterdir()) == []


def test_background_sink_discards_on_an_error_in_the_caller(tmp_path):
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep")
    with pytest.raises(KeyboardInterrupt):
        with opened(BackgroundSink(Mp4Sink(existing)), _info()) as sink:
            sink.write(_bgr(0, 0))
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"] and existing.read_bytes() == b"keep"


def test_quick_thread_handoff_sets_and_restores_the_switch_interval():
    before = sys.getswitchinterval()
    with quick_thread_handoff(0.0005):
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    assert sys.getswitchinterval() == before
    with pytest.raises(KeyboardInterrupt), quick_thread_handoff(0.001):
        raise KeyboardInterrupt  # Ctrl-C mid-run restores it too
    assert sys.getswitchinterval() == before


def test_overlapping_handoffs_restore_the_interval_when_the_last_one_ends():
    # Two runs in threads: the first to start is not the last to end.
    before = sys.getswitchinterval()
    first, second = quick_thread_handoff(0.0005), quick_thread_handoff(0.0005)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert sys.getswitchinterval() == pytest.approx(0.0005)  # the second run is still going
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before
