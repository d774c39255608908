"""The README's first command from a clean state: a fresh `git clone` of this repository's
committed HEAD, an empty HOME and empty caches, `STREAMER_ASSETS` at the shared folder, then
`make demo DEMO_ARGS=--quick`, which creates .venv, pip-installs the project with its `train`
and `test` extras and runs samples/demo.py (prepare → train → export → evaluate → clip →
annotate → score). Then its outputs are checked as a user would look at them.

Only pip keeps what it has: PIP_CACHE_DIR points at the real user's pip cache (so the install
is from cached wheels once they are there) and the user's pip configuration file, if any, is
passed on (how this machine reaches its package indexes); everything the project itself caches
(assets, Keras, matplotlib) starts empty. Uncommitted work is not in the clone.

Slow (a full install plus the quick demo: minutes); the second command, `make test`, is what
runs this file, so it is not run again from here. The demo's own pieces (frame choice, output
folder, missing assets, frame extraction) have fast tests at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2  # before av: with GUI OpenCV under X, importing av first makes cv2.imshow hang
import av
import numpy as np
import pytest

from streamer.errors import InputError, OutputError
from streamer.groundtruth import read_truth
from streamer.sidecar import FaceRecord, read_sidecar

from conftest import REPO, SHARED
from media import make_clip

# samples/ is not an installed package: import it from the checkout.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from samples import demo  # noqa: E402

KEIMA3_NAMES = {"nishikino_maki", "sakurauchi_riko", "takimoto_hifumi"}
INSTALL_AND_DEMO_TIMEOUT_S = 45 * 60  # a first install downloads TensorFlow; cached, it is minutes
# The caller's make (when `make test` runs us) must not steer the clone's make.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR")
# Anything that would let the clone see this checkout's code or interpreter settings.
PYTHON_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "CONDA_PREFIX")


def real_pip_cache() -> str | None:
    """The current user's pip cache folder (`pip cache dir`), None where pip has its cache off."""
    result = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def user_pip_config() -> str | None:
    """The pip configuration an empty HOME would hide (PIP_CONFIG_FILE, else the per-user file)."""
    if os.environ.get("PIP_CONFIG_FILE"):
        return os.environ["PIP_CONFIG_FILE"]
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for path in (config_home / "pip" / "pip.conf", Path.home() / ".pip" / "pip.conf"):
        if path.is_file():
            return str(path)
    return None


def base_python() -> str:
    """The interpreter this test's venv was made from: `make` builds the clone's venv with it
    (a pyenv shim would look for its versions under the empty HOME)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def clean_env(home: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES + PYTHON_VARIABLES}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(cache),
        XDG_CONFIG_HOME=str(home / ".config"),
        STREAMER_CACHE=str(cache / "streamer"),
        STREAMER_ASSETS=str(SHARED),
        MPLCONFIGDIR=str(cache / "matplotlib"),
        KERAS_HOME=str(home / ".keras"),
    )
    if (pip_cache := real_pip_cache()) is not None:
        env["PIP_CACHE_DIR"] = pip_cache
    if (pip_config := user_pip_config()) is not None:
        env["PIP_CONFIG_FILE"] = pip_config
    return env


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory):
    """Clone HEAD, run `make demo DEMO_ARGS=--quick` there; (clone, completed process with
    stdout and stderr together in .stdout, cache)."""
    for tool in ("git", "make"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not (SHARED / "datasets" / "keima3").is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set STREAMER_ASSETS")
    root = tmp_path_factory.mktemp("fresh")
    clone, home, cache = root / "clone", root / "home", root / "cache"
    home.mkdir()
    cache.mkdir()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    done = subprocess.run(
        ["make", "demo", "DEMO_ARGS=--quick", f"PYTHON={base_python()}"],
        cwd=clone,
        env=clean_env(home, cache),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, as on a terminal: the commands' summaries go to stderr
        text=True,
        timeout=INSTALL_AND_DEMO_TIMEOUT_S,
    )
    if done.returncode != 0:
        shutil.rmtree(clone / ".venv", ignore_errors=True)
        pytest.fail(f"make demo failed ({done.returncode}):\n{done.stdout[-6000:]}")
    yield clone, done, cache
    # The clone's venv is 2.6 GB and pytest keeps the last three runs' temporary folders.
    shutil.rmtree(clone / ".venv", ignore_errors=True)


@pytest.mark.slow
def test_demo_prints_accuracy_paths_and_timing(fresh_demo):
    clone, done, _ = fresh_demo
    out = done.stdout
    assert re.search(r"^accuracy: \d+/18 = [\d.]+ % \(\d+ called unknown at threshold [\d.-]+\)$", out, re.M), (
        "evaluate's accuracy line is missing")
    assert re.search(r"test accuracy\s+[\d.]+ % \(\d+ of 18 keima3 test faces", out)
    for name in ("labeled video", "sidecar", "evaluation report", "labeled frame"):
        assert re.search(rf"^  {name} +\S", out, re.M), f"no '{name}' line"
    steps = re.findall(r"^  (\w+) +([\d.]+)(?: +\d+ %)?$", out, re.M)
    assert [s for s, _ in steps] == [
        "setup", "prepare", "train", "export", "evaluate", "clip", "annotate", "score", "frame", "total"
    ]
    assert float(steps[0][1]) > 0  # the setup really installed something in the fresh clone
    assert (clone / ".venv" / "bin" / "streamer").is_file()


@pytest.mark.slow
def test_demo_outputs_are_real(fresh_demo):
    clone, _, _ = fresh_demo
    demo = clone / "demo-out"
    summary = json.loads((demo / "summary.json").read_text())
    assert summary["mode"] == "quick"
    assert Path(summary["labeled_video"]) == demo / "labeled.mp4"

    # The evaluation report, and an accuracy that is a real measurement on the 18 test faces.
    report = Path(summary["evaluation_report"])
    assert report.is_file() and "accuracy" in report.read_text().lower()
    evaluation = json.loads((report.parent / "evaluation.json").read_text())
    assert evaluation["total"] == 18 and evaluation["accuracy"] == summary["accuracy"]["accuracy"]
    assert evaluation["correct"] >= 8  # better than chance (6 of 18), by a margin

    # The labelled MP4 decodes, frame for frame with the clip, and carries the clip's audio.
    truth = read_truth(demo / "clip.truth.jsonl")
    with av.open(str(demo / "labeled.mp4")) as container:
        assert len(container.streams.audio) == 1
        frames = samples = 0
        loudest = 0.0
        for frame in container.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                assert (frame.width, frame.height) == (640, 360)
                frames += 1
            else:
                samples += frame.samples
                loudest = max(loudest, float(np.abs(frame.to_ndarray()).max()))
    assert frames == len(truth.frames)
    assert abs(samples / 48000 - frames / (24000 / 1001)) < 0.1  # as long as the video
    assert loudest > 0.05  # the sine tone, not silence

    # The sidecar names faces, only the three the model knows, and has its summary.
    records, side_summary = read_sidecar(demo / "labeled.jsonl")
    named = [r for r in records if r.name != "unknown"]
    assert named and {r.name for r in named} <= KEIMA3_NAMES
    assert side_summary is not None and side_summary.frames == frames and side_summary.characters

    # The picture: a frame with a named face, as a PNG of the video's size.
    chosen = summary["labeled_frame"]
    assert chosen["names"] and set(chosen["names"]) <= KEIMA3_NAMES
    assert chosen["frame"] in {r.frame for r in named}
    image = cv2.imread(str(demo / "labeled_frame.png"))
    assert image is not None and image.shape == (360, 640, 3)


@pytest.mark.slow
def test_demo_leaves_the_clone_clean_and_downloads_nothing(fresh_demo):
    clone, _, cache = fresh_demo
    # Everything the demo and the install wrote is git-ignored (.venv, demo-out, egg-info).
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == ""
    # The assets all came from STREAMER_ASSETS: nothing was downloaded into the empty cache.
    cached = list((cache / "streamer").rglob("*")) if (cache / "streamer").exists() else []
    assert cached == []


# --- the demo's own pieces (fast) ---------------------------------------------------------------


def face(frame: int, name: str, confidence: float = 0.9, x1: int = 0) -> FaceRecord:
    return FaceRecord(frame, frame / 24, 1, x1, 0, x1 + 50, 50, name, confidence)


def test_pick_frame_prefers_more_named_faces_then_confidence_then_earliest():
    records = [
        face(0, "unknown", 0.4), face(0, "unknown", 0.4), face(0, "maki"),  # 1 named, 2 unknown
        face(3, "riko", 0.6, x1=300), face(3, "maki", 0.7, x1=10),  # 2 named
        face(5, "riko", 0.9, x1=300), face(5, "maki", 0.9, x1=10),  # 2 named, more confident
        face(9, "riko", 0.9, x1=300), face(9, "maki", 0.9, x1=10),  # a later copy of frame 5
    ]
    chosen = demo.pick_frame(records)
    assert (chosen.index, chosen.names) == (5, ("maki", "riko"))  # names left to right
    assert chosen.time == pytest.approx(5 / 24)


def test_pick_frame_without_a_named_face_is_an_error():
    with pytest.raises(InputError, match="no named face"):
        demo.pick_frame([face(0, "unknown"), face(1, "unknown")])


def test_out_folder_of_someone_else_is_refused_and_the_demos_own_is_reused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not empty and not a demo folder"):
        demo.prepare_out(theirs)
    assert sorted(p.name for p in theirs.iterdir()) == ["thesis.txt"]

    ours = tmp_path / "ours"
    demo.prepare_out(ours)
    (ours / "labeled.mp4").write_bytes(b"old result")
    demo.prepare_out(ours)  # a rerun: fine
    assert (ours / "model").is_dir() and (ours / demo.MARKER).is_file()


def test_missing_images_stop_the_demo_at_once_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STREAMER_ASSETS", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("STREAMER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert demo.main(["--quick", "--out", str(out)]) == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("demo: error: keima3 illustrations")
    assert "STREAMER_ASSETS" in err[0]
    assert not out.exists()  # nothing started, nothing written


def test_save_frame_writes_the_decoded_frame_as_png(tmp_path):
    video = make_clip(tmp_path / "clip.mp4", seconds=1.0, cut_at=10)
    png = tmp_path / "frame.png"
    demo.save_frame(video, 15, png)
    with av.open(str(video)) as container:
        expected = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)][15]
    saved = cv2.imread(str(png))
    assert saved.shape == (240, 320, 3)
    assert np.array_equal(saved, expected)  # PNG is lossless
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left

    with pytest.raises(InputError, match="no frame 999"):
        demo.save_frame(video, 999, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_timing_table_lists_every_step_and_the_total():
    lines = demo.timing_table([demo.StepTime("train", 30.0), demo.StepTime("annotate", 10.0)])
    assert lines[1].split() == ["train", "30.0", "75", "%"]
    assert lines[2].split() == ["annotate", "10.0", "25", "%"]
    assert lines[-1].split() == ["total", "40.0"]


def test_a_failing_step_stops_the_demo_with_its_exit_code(capsys):
    seconds = demo.run_step([sys.executable, "-c", "print('fine')"], ["streamer", "fine"])
    assert seconds > 0 and "$ streamer fine" in capsys.readouterr().out
    with pytest.raises(demo.StepFailed, match="`streamer prepare x` failed with exit code 6") as failed:
        demo.run_step([sys.executable, "-c", "import sys; sys.exit(6)"], ["streamer", "prepare", "x"])
    assert failed.value.exit_code == 6
    with pytest.raises(demo.StepFailed) as killed:
        demo.run_step([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], ["x"])
    assert killed.value.exit_code == 137
