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
runs this file, so it is not run again from here.
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

from streamer.groundtruth import read_truth
from streamer.sidecar import read_sidecar

from conftest import REPO, SHARED

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
    """Clone HEAD, run `make demo DEMO_ARGS=--quick` there; (clone, completed process, cache)."""
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
        capture_output=True,
        text=True,
        timeout=INSTALL_AND_DEMO_TIMEOUT_S,
    )
    if done.returncode != 0:
        pytest.fail(f"make demo failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return clone, done, cache


@pytest.mark.slow
def test_demo_prints_accuracy_paths_and_timing(fresh_demo):
    clone, done, _ = fresh_demo
    out = done.stdout
    assert re.search(r"^accuracy: \d+/18 = [\d.]+ %$", out, re.M), "evaluate's accuracy line is missing"
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
