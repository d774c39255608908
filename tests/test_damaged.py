"""Damaged inputs: a seeded fuzz set, each annotated as a user would (a subprocess, a time bound).

Each case either writes a playable output whose frames carry the input's own timestamps and
whose audio is kept, with the stretches that did not decode listed in the sidecar near where
the damage was put; or fails with one line and no output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import REPO, VIDEOS
from media import make_clip, remux

TIME_BOUND_S = 120  # a hang fails the test instead of the suite


def _random_bytes(data: bytearray, rng: np.random.Generator) -> tuple[int, int]:
    start = len(data) // 2
    data[start : start + 100] = rng.integers(0, 256, 100, dtype=np.uint8).tobytes()
    return start, start + 100


def _zeros(data: bytearray, rng: np.random.Generator) -> tuple[int, int]:
    start = int(len(data) * rng.uniform(0.3, 0.6))
    size = min(20000, len(data) // 10)
    data[start : start + size] = bytes(size)
    return start, start + size


def _cut_out(data: bytearray, rng: np.random.Generator) -> tuple[int, int]:
    start, size = len(data) // 2, min(30000, len(data) // 10)
    del data[start : start + size]
    return start, start + size


def _truncated(data: bytearray, rng: np.random.Generator) -> tuple[int, int]:
    start = int(len(data) * 0.7)
    del data[start:]
    return start, start


DAMAGE = {"random-bytes": _random_bytes, "zeros": _zeros, "cut-out": _cut_out, "truncated-tail": _truncated}


def _packets(path: Path) -> list[tuple[int, int, float, bool]]:
    """(byte position, size, time in s, is video) of every packet of an intact file."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        out = []
        for packet in container.demux():
            if packet.pos is not None and packet.pts is not None and packet.pos >= 0:
                out.append((packet.pos, packet.size, float(packet.pts * packet.time_base), packet.stream == video))
    return out


def _times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return [round(float(f.pts * video.time_base), 4) for f in container.decode(video)]


def _audio_seconds(path: Path) -> float:
    """Seconds of audio packets a demuxer gets out of the file (as far as it can read)."""
    total = 0.0
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return 0.0
        audio = container.streams.audio[0]
        try:
            for packet in container.demux(audio):
                if packet.dts is not None and packet.duration:
                    total += float(packet.duration * packet.time_base)
        except av.error.FFmpegError:
            pass
    return total


@pytest.fixture(scope="module")
def made_clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clip")
    clip = make_clip(folder / "made.mp4", width=320, height=240, seconds=3.0, cut_at=30)
    # Index first, as downloads have it: damage past the index reaches the packets, not the index.
    return {"made": clip, "made-faststart": remux(clip, folder / "fast.mp4", faststart=True)}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("which", ["sakurasou", "made", "made-faststart"])
def test_a_damaged_input_is_annotated_around_the_damage_or_refused_in_one_line(tmp_path, made_clips, which, damage):
    original = VIDEOS / "sakurasou_480p.mp4" if which == "sakurasou" else made_clips[which]
    data = bytearray(original.read_bytes())
    first, last = DAMAGE[damage](data, np.random.default_rng(7))
    broken = tmp_path / f"{which}-{damage}.mp4"
    broken.write_bytes(bytes(data))
    out, sidecar = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "streamer", "annotate", str(broken), "-o", str(out), "--sidecar", str(sidecar), "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=TIME_BOUND_S,
    )
    assert "Traceback" not in done.stderr
    if done.returncode != 0:
        assert done.returncode == 3 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not out.exists() and not sidecar.exists()
        return

    given_times = _times(original)
    times = _times(out)  # decodes the whole output: it is playable
    assert times and times == sorted(times) and set(times) <= set(given_times)
    # All the audio the damaged file still holds is copied.
    assert 0 < _audio_seconds(out) == pytest.approx(_audio_seconds(broken), abs=0.05)
    summary = json.loads(sidecar.read_text().splitlines()[-1])
    assert summary["frames"] == len(times)
    stretches = summary["damaged"]
    if stretches:
        assert "is damaged: skipped" in done.stderr
        hit = [t for pos, size, t, is_video in _packets(original) if is_video and pos < max(last, first + 1) and pos + size > first]
        assert hit, f"a stretch was reported ({stretches}) but the damage hit no video packet"
        for stretch in stretches:
            assert min(hit) - 1.0 <= stretch["start"] <= stretch["end"] <= max(hit) + 2.0, (stretch, min(hit), max(hit))
    missing = set(given_times) - set(times)
    if missing and damage != "truncated-tail":
        assert stretches, "frames went missing without a word"


def test_strict_refuses_what_the_default_skips(tmp_path, made_clips):
    data = bytearray(made_clips["made"].read_bytes())
    _zeros(data, np.random.default_rng(7))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    from streamer.cli import main

    assert main(["annotate", str(broken), "-o", str(tmp_path / "strict.mp4"), "--strict", "-q"]) == 3
    assert not (tmp_path / "strict.mp4").exists()
    assert main(["annotate", str(broken), "-o", str(tmp_path / "kept.mp4"), "-q"]) == 0
    assert (tmp_path / "kept.mp4").is_file()


def test_live_on_a_damaged_file_skips_the_stretch_and_says_so(tmp_path, made_clips):
    import io

    from streamer.live import LiveOptions, run_live
    from onnx_models import make_color_classifier

    data = bytearray(made_clips["made"].read_bytes())
    _zeros(data, np.random.default_rng(7))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    log = io.StringIO()
    sidecar = tmp_path / "live.jsonl"
    result = run_live(str(broken), make_color_classifier(tmp_path / "c.onnx"), options=LiveOptions(window=False, stats_every=None),
                      sidecar=sidecar, log=log)
    assert 0 < result.frames < 72
    assert "skipped what did not decode at" in log.getvalue()
    assert json.loads(sidecar.read_text().splitlines()[-1])["damaged"]
