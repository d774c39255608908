"""FileSource on real clips: what it reports, the frames and audio it delivers, how it fails, how it stops."""

from __future__ import annotations

import random
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import VIDEOS
from media import make_audio_only, make_clip, remux
from streamer.errors import InputError
from streamer.frames import BGR24, YUV420P
from streamer.sources import FileSource, VideoInfo, VideoSource, open_source
from streamer.sources.background import BackgroundIterator

SAKURASOU = VIDEOS / "sakurasou_480p.mp4"


def audio_packet_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for s in container.streams.audio for p in container.demux(s) if p.dts is not None)


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("decode ")]


def test_info_of_the_sakurasou_clip_is_exact():
    with FileSource(SAKURASOU) as source:
        info = source.info
        assert len(source.audio_streams) == 1
    assert info == VideoInfo(
        width=852,
        height=480,
        average_rate=Fraction(24000, 1001),
        time_base=Fraction(1, 24000),
        frame_count=456,
        duration=pytest.approx(19.019),
        audio_stream_count=1,
        source=str(SAKURASOU),
    )


@pytest.mark.parametrize("threaded", [True, False])
def test_frames_carry_index_timestamps_and_every_audio_packet(tmp_path, threaded):
    clip = make_clip(tmp_path / "clip.mp4", fps=Fraction(24000, 1001), seconds=2.0)
    with FileSource(clip, threaded=threaded) as source:
        frames = list(source)
    assert [f.index for f in frames] == list(range(48))
    assert all(f.pixel_format == YUV420P and f.image.shape == (360, 320) for f in frames)
    assert [f.pts for f in frames] == [i * 1001 for i in range(48)]  # time base 1/24000
    assert all(f.time_base == Fraction(1, 24000) and f.time == pytest.approx(f.pts / 24000) for f in frames)
    assert frames[0].gray.shape == (240, 320)
    # All audio is there, in demux order, none twice; the packets after the last frame ride on it.
    packets = [p for f in frames for p in f.audio_packets]
    assert len(packets) == audio_packet_count(clip) > 0
    assert len({id(p) for p in packets}) == len(packets)
    assert all(p.dts is not None for p in packets)
    audio_pts = [p.pts for p in packets]
    assert audio_pts == sorted(audio_pts)
    assert frames[0].audio_packets  # audio that precedes the first picture


@pytest.mark.parametrize("codec, pix_fmt", [("libx264", "yuv420p"), ("mjpeg", "yuvj420p")])
def test_audio_that_outlasts_the_video_rides_on_the_last_frame(tmp_path, codec, pix_fmt):
    # No audio packet may be lost. mjpeg decodes without delay, so its last picture is out
    # before the audio tail is read: the tail must be added to that last frame.
    clip = make_clip(tmp_path / "clip.mp4", codec=codec, pix_fmt=pix_fmt, seconds=1.0, audio_seconds=1.5)
    with FileSource(clip) as source:
        frames = list(source)
    assert len(frames) == 24
    packets = [p for f in frames for p in f.audio_packets]
    assert len(packets) == audio_packet_count(clip)
    last_audio_end = max(p.pts + p.duration for p in packets) * packets[0].time_base
    assert float(last_audio_end) == pytest.approx(1.5, abs=0.03)
    if codec == "mjpeg":  # (with h264's decoder delay the tail lands on the last few frames)
        assert max(p.pts for p in frames[-1].audio_packets) == max(p.pts for p in packets)


def test_threaded_and_direct_decoding_give_identical_frames(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=160, height=120, fps=30, seconds=1.0, cut_at=10)
    with FileSource(clip, threaded=True, queue_size=2) as a, FileSource(clip, threaded=False) as b:
        for fa, fb in zip(a, b, strict=True):
            assert (fa.index, fa.pts, fa.time) == (fb.index, fb.pts, fb.time)
            assert np.array_equal(fa.image, fb.image)


def test_odd_size_gives_bgr_frames_and_even_size_can_be_forced_to_bgr(tmp_path):
    odd = make_clip(tmp_path / "odd.mp4", width=161, height=121, seconds=0.5, audio=False)
    with FileSource(odd) as source:
        assert source.pixel_format == BGR24
        frame = next(iter(source))
    assert frame.image.shape == (121, 161, 3) and (frame.width, frame.height) == (161, 121)
    with pytest.raises(InputError, match="even"):
        FileSource(odd, pixel_format="yuv420p")
    even = make_clip(tmp_path / "even.mp4", width=160, height=120, seconds=0.5, audio=False)
    with FileSource(even, pixel_format="bgr24") as source:
        frame = next(iter(source))
    assert frame.pixel_format == BGR24 and frame.image.shape == (120, 160, 3)
    with pytest.raises(ValueError):
        FileSource(even, pixel_format="rgb48")


def test_yuv_frames_show_the_same_picture_as_bgr_frames(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=160, height=120, seconds=0.5, audio=False)
    with FileSource(clip) as yuv, FileSource(clip, pixel_format="bgr24") as bgr:
        for fy, fb in zip(yuv, bgr, strict=True):
            assert np.abs(fy.to_bgr().astype(int) - fb.image.astype(int)).mean() < 2


def test_video_only_clip_has_no_audio_packets(tmp_path):
    clip = make_clip(tmp_path / "silent.mp4", fps=30, seconds=1.0, audio=False)
    with open_source(str(clip)) as source:
        assert isinstance(source, FileSource) and isinstance(source, VideoSource)
        assert source.info.audio_stream_count == 0 and source.audio_streams == ()
        frames = list(source)
    assert len(frames) == 30 and all(f.audio_packets == () for f in frames)


def test_a_source_is_single_pass(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=0.5, audio=False)
    with FileSource(clip) as source:
        list(source)
        with pytest.raises(RuntimeError):
            iter(source)


# -- bad inputs -------------------------------------------------------------------------------


def _garbage_in_the_middle(clip: Path, target: Path) -> Path:
    data = bytearray(clip.read_bytes())
    middle = len(data) // 2
    rng = random.Random(0)
    data[middle : middle + 5000] = bytes(rng.randrange(256) for _ in range(5000))
    target.write_bytes(bytes(data))
    return target


def _file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _first_half(path: Path, target: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: _file(d / "notes.mp4", b"not a video\n"), "not a video file"),
        (lambda d: _file(d / "empty.mp4", b""), "not a video file"),
        (lambda d: make_audio_only(d / "song.m4a"), "has no video stream"),
        # Index at the end (the usual MP4 layout): the first half has no index at all.
        (lambda d: _first_half(make_clip(d / "a.mp4"), d / "cut.mp4"), "not a video file"),
    ],
    ids=["missing", "folder", "text", "empty", "audio-only", "truncated-index-at-end"],
)
def test_unreadable_inputs_fail_at_open_with_one_line(tmp_path, make_input, message):
    path = make_input(tmp_path)
    with pytest.raises(InputError, match=message) as caught:
        FileSource(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize("threaded", [True, False])
@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_a_cut_off_file_is_reported_not_silently_shortened(tmp_path, threaded, fraction):
    # Index first (faststart, as web downloads have it): the cut file opens and demuxes
    # without any FFmpeg error until its data runs out.
    whole = remux(make_clip(tmp_path / "a.mp4", seconds=3.0), tmp_path / "fast.mp4", faststart=True)
    cut = _first_half(whole, tmp_path / "cut.mp4", fraction)
    with FileSource(cut, threaded=threaded) as source:
        assert source.info.frame_count == 72
        with pytest.raises(InputError, match="ends early after .* truncated") as caught:
            for _ in source:
                pass
    assert str(cut) in str(caught.value)


@pytest.mark.parametrize("threaded", [True, False])
def test_garbage_in_the_middle_is_refused_with_the_position_when_strict(tmp_path, threaded):
    damaged = _garbage_in_the_middle(make_clip(tmp_path / "a.mp4", seconds=2.0), tmp_path / "damaged.mp4")
    frames = 0
    with FileSource(damaged, threaded=threaded, strict=True) as source:
        with pytest.raises(InputError, match=r"damaged: decoding failed near frame \d+") as caught:
            for _ in source:
                frames += 1
    assert 0 < frames < 48 and "\n" not in str(caught.value)


@pytest.mark.parametrize("threaded", [True, False])
def test_garbage_in_the_middle_is_skipped_and_listed_by_default(tmp_path, threaded):
    clip = make_clip(tmp_path / "a.mp4", seconds=2.0)
    with FileSource(clip) as source:
        times = [f.time for f in source]
    damaged = _garbage_in_the_middle(clip, tmp_path / "damaged.mp4")
    with FileSource(damaged, threaded=threaded) as source:
        kept = [f.time for f in source]
    assert 0 < len(kept) < 48 and set(kept) <= set(times) and kept == sorted(kept)
    (stretch,) = source.damaged
    assert stretch.packets >= 1 and 0 < stretch.start <= stretch.end < 2.0
    missing = sorted(set(times) - set(kept))
    assert stretch.start <= missing[0] + 1e-3  # the stretch starts where frames went missing
    assert all(stretch.start - 1e-3 <= t <= stretch.end for t in missing)


def test_the_faststart_remux_itself_decodes_completely(tmp_path):
    # Guards the two tests above: the cut, not the remux, is what they detect.
    whole = remux(make_clip(tmp_path / "a.mp4", seconds=3.0), tmp_path / "fast.mp4", faststart=True)
    with FileSource(whole) as source:
        assert sum(1 for _ in source) == 72


# -- stopping ---------------------------------------------------------------------------------


def test_stopping_early_ends_the_reader_thread_and_closes_the_file():
    before = set(reader_threads())
    with FileSource(SAKURASOU, queue_size=2) as source:
        for frame in source:
            if frame.index == 3:
                break
        reader = source._reader
    assert reader is not None and not reader.alive
    assert set(reader_threads()) <= before


def test_an_exception_in_the_consumer_stops_the_reader(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with FileSource(SAKURASOU, queue_size=2) as source:
            for frame in source:
                if frame.index == 5:
                    raise KeyboardInterrupt
    assert source._reader is not None and not source._reader.alive


def test_abandoned_iterator_stops_the_reader_when_closed():
    source = FileSource(SAKURASOU, queue_size=1)
    frames = iter(source)
    next(frames)
    frames.close()  # what a for-loop's garbage collection or `with` does
    assert not source._reader.alive


def test_background_iterator_reraises_the_producers_exception_with_its_type():
    def produce():
        yield 1
        yield 2
        raise ZeroDivisionError("boom in the thread")

    items = []
    with pytest.raises(ZeroDivisionError, match="boom in the thread"):
        for item in BackgroundIterator(produce(), queue_size=1):
            items.append(item)
    assert items == [1, 2]


def test_background_iterator_stop_closes_the_generator_in_its_thread():
    closed_in = []

    def produce():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed_in.append(threading.current_thread().name)

    reader = BackgroundIterator(produce(), queue_size=2, name="producer-under-test")
    assert next(iter(reader)) == 0
    assert reader.stop() and not reader.alive
    assert closed_in == ["producer-under-test"]
