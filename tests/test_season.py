"""A season at a time: `streamer annotate EP... -o OUT_DIR/` with a manifest, reruns, workers.

Episodes are copies of the shared real clips (and a broken file); the runs are the real CLI,
in-process or as a child process where the test kills it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, VIDEOS
from media import probe
from onnx_models import make_color_classifier
from streamer.cli import main
from streamer.sidecar import read_sidecar


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Path:
    """A folder of episodes: two real clips and one that is not a video at all."""
    folder = tmp_path_factory.mktemp("season")
    shutil.copy(VIDEOS / "sakurasou_480p.mp4", folder / "ep01.mp4")
    shutil.copy(VIDEOS / "onepiece_480p.mp4", folder / "ep02.mp4")
    (folder / "ep03.mp4").write_bytes((VIDEOS / "sakurasou_480p.mp4").read_bytes()[:150_000])  # cut off
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return make_color_classifier(tmp_path_factory.mktemp("model") / "colours.onnx")


def annotate_season(*args: str) -> int:
    return main(["annotate", *args, "-q"])


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_a_season_writes_every_episode_and_the_summary_and_reports_the_bad_one(season, model, tmp_path, capsys):
    out = tmp_path / "out"
    code = annotate_season(str(season), "-o", str(out), "-m", str(model), "--report")
    err = capsys.readouterr().err
    assert code == 3 and "episode ep03 failed" in err  # the others went on
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ep01.html", "ep01.jsonl", "ep01.mp4", "ep02.html", "ep02.jsonl", "ep02.mp4", "manifest.json",
                     "season.csv", "season.html", "season.json", "season.png"]
    for episode, clip in (("ep01", "sakurasou_480p.mp4"), ("ep02", "onepiece_480p.mp4")):
        assert probe(out / f"{episode}.mp4")["frames"] == probe(VIDEOS / clip)["frames"]
    summaries = {e: read_sidecar(out / f"{e}.jsonl")[1] for e in ("ep01", "ep02")}
    season_data = json.loads((out / "season.json").read_text())
    assert [e["name"] for e in season_data["episodes"]] == ["ep01", "ep02"]
    for name, stats in season_data["characters"].items():
        per_episode = [s.unknown if name == "unknown" else s.characters.get(name) for s in summaries.values()]
        assert stats["screen_time"] == pytest.approx(sum(p.screen_time for p in per_episode if p), abs=1e-3)
        assert stats["episodes"] == sum(1 for p in per_episode if p)
    header = (out / "season.csv").read_text().splitlines()[0]
    assert header.startswith("character,ep01,ep02,total,first_episode")
    assert set(json.loads((out / "manifest.json").read_text())["episodes"]) == {"ep01", "ep02"}

    # A rerun redoes nothing that is done: the outputs are untouched.
    before = mtimes(out)
    code = annotate_season(str(season), "-o", str(out), "-m", str(model), "--report")
    assert code == 3
    after = mtimes(out)
    assert {n: after[n] for n in before if n.startswith("ep")} == {n: before[n] for n in before if n.startswith("ep")}

    # Other settings are another job: the episodes are done again.
    assert annotate_season(str(season / "ep01.mp4"), str(season / "ep02.mp4"), "-o", str(out), "-m", str(model),
                           "--detect-every", "4", "--report") == 0
    assert mtimes(out)["ep01.mp4"] != before["ep01.mp4"]


def test_two_workers_write_the_same_season(season, model, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    episodes = [str(season / "ep01.mp4"), str(season / "ep02.mp4")]
    assert annotate_season(*episodes, "-o", str(one), "-m", str(model)) == 0
    assert annotate_season(*episodes, "-o", str(two), "-m", str(model), "--workers", "2") == 0
    for name in ("ep01.jsonl", "ep02.jsonl"):
        assert read_sidecar(one / name) == read_sidecar(two / name)
    assert (one / "season.csv").read_text() == (two / "season.csv").read_text()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _streamer(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "streamer", "annotate", *args, "-q"], env=env,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the processes")
def test_a_run_killed_after_the_first_episode_resumes_without_redoing_it(season, model, tmp_path):
    out = tmp_path / "out"
    run = _streamer(str(season / "ep01.mp4"), str(season / "ep02.mp4"), "-o", str(out), "-m", str(model))
    manifest = out / "manifest.json"
    _wait_for(lambda: manifest.exists() and "ep01" in manifest.read_text())
    run.send_signal(signal.SIGKILL)  # no chance to clean up
    run.wait(30)
    first = (out / "ep01.mp4").stat().st_mtime_ns
    rerun = _streamer(str(season / "ep01.mp4"), str(season / "ep02.mp4"), "-o", str(out), "-m", str(model))
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert (out / "ep01.mp4").stat().st_mtime_ns == first  # not redone
    assert probe(out / "ep02.mp4")["frames"] == probe(VIDEOS / "onepiece_480p.mp4")["frames"]
    assert not [p.name for p in out.iterdir() if ".part" in p.name]  # the killed run's temporary files are gone


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the processes")
def test_a_worker_killed_mid_episode_is_redone_once_and_its_outputs_are_whole(season, model, tmp_path):
    out = tmp_path / "out"
    run = _streamer(str(season / "ep01.mp4"), str(season / "ep02.mp4"), "-o", str(out), "-m", str(model), "--workers", "2")
    # Kill one worker while it writes its episode (its temporary MP4 is there).
    _wait_for(lambda: out.is_dir() and any(p.name.endswith(".part.mp4") for p in out.iterdir()))
    workers = [pid for pid in _children(run.pid) if "spawn" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    _, err = run.communicate(timeout=180)
    assert run.returncode == 0, err
    for episode, clip in (("ep01", "sakurasou_480p.mp4"), ("ep02", "onepiece_480p.mp4")):
        assert probe(out / f"{episode}.mp4")["frames"] == probe(VIDEOS / clip)["frames"]
        assert read_sidecar(out / f"{episode}.jsonl")[1] is not None
    assert set(json.loads((out / "manifest.json").read_text())["episodes"]) == {"ep01", "ep02"}
    assert not [p.name for p in out.iterdir() if ".part" in p.name]  # the killed worker's temporary files are gone


def test_a_folder_of_other_files_is_not_taken_over(season, model, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert annotate_season(str(season / "ep01.mp4"), str(season / "ep02.mp4"), "-o", str(out), "-m", str(model)) == 5
    assert "holds files but no season manifest; pass --force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_two_episodes_of_the_same_name_are_refused_before_any_work(season, model, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(season / "ep01.mp4", other / "ep01.mp4")
    assert annotate_season(str(season / "ep01.mp4"), str(other / "ep01.mp4"), "-o", str(tmp_path / "out")) == 2
    assert "same name" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_profile_on_a_season_is_refused_before_any_work(season, tmp_path, capsys):
    assert annotate_season(str(season / "ep01.mp4"), str(season / "ep02.mp4"), "-o", str(tmp_path / "out"), "--profile") == 2
    assert "--profile is for one video" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_runs(season, model, tmp_path, capsys):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".streamer-season.lock", "w") as held:  # what a running season holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert annotate_season(str(season / "ep01.mp4"), str(season / "ep02.mp4"), "-o", str(out), "-m", str(model)) == 5
    assert "another streamer run is writing the season" in capsys.readouterr().err
    assert not (out / "manifest.json").exists()
