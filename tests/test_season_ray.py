"""Seasons on Ray: a local cluster the tests start (2 CPUs, bound to loopback), episodes sent
with `annotate --ray ADDRESS`, and a worker killed mid-episode."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, VIDEOS
from media import probe
from onnx_models import make_color_classifier
from streamer.sidecar import read_sidecar

ray = pytest.importorskip("ray", reason="the cluster extra is not installed (pip install '.[cluster]')")

LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # Ray's single-machine mode: everything on 127.0.0.1


def listening() -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket on this machine, from /proc/net."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                address, port = local.split(":")
                found.add((address, int(port, 16)))
    return found


def is_loopback(hex_address: str) -> bool:
    if len(hex_address) == 8:  # IPv4, little-endian bytes
        return hex_address.endswith("7F")
    # IPv6 loopback, or IPv4-mapped loopback (::ffff:127.x.x.x)
    return hex_address == "00000000000000000000000001000000" or (
        hex_address.startswith("0000000000000000FFFF0000") and hex_address.endswith("7F"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running head node with 2 CPUs; yields its address."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net to check what listens")
    before = listening()
    temp = tmp_path_factory.mktemp("ray")
    # A cluster with token authentication, as docs/season.md sets one up: the head and every
    # client read the same token file (a fresh machine has no ~/.ray/auth_token).
    token = temp / "auth_token"
    token.write_text(secrets.token_hex(32))
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    saved = {name: os.environ.get(name) for name in auth}
    os.environ.update(auth)  # the streamer processes the tests start inherit it
    env = dict(os.environ, **LOOPBACK_ONLY, RAY_USAGE_STATS_ENABLED="0")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as probe_socket:  # a free port for the head's GCS
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    started = subprocess.run(
        [ray_cli, "start", "--head", "--num-cpus=2", f"--port={port}", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={temp}"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert started.returncode == 0, started.stderr
    address = f"127.0.0.1:{port}"
    try:
        yield {"address": address, "new_listeners": listening() - before}
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=60)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("episodes")
    shutil.copy(VIDEOS / "sakurasou_480p.mp4", folder / "ep01.mp4")
    shutil.copy(VIDEOS / "onepiece_480p.mp4", folder / "ep02.mp4")
    shutil.copy(VIDEOS / "popteamepic_348p_60fps.mp4", folder / "ep03.mp4")
    return sorted(folder.iterdir())


def streamer(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "streamer", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_the_cluster_listens_on_loopback_only(cluster):
    assert cluster["address"].startswith("127.0.0.1:")
    assert cluster["new_listeners"] and all(is_loopback(address) for address, _ in cluster["new_listeners"])


def test_three_episodes_through_ray_give_whole_outputs_and_the_summary(cluster, episodes, tmp_path):
    model = make_color_classifier(tmp_path / "colours.onnx")
    out = tmp_path / "out"
    done = streamer("annotate", *map(str, episodes), "-o", str(out), "-m", str(model), "--ray", cluster["address"], "-q")
    assert done.returncode == 0, done.stderr
    for episode in episodes:
        assert probe(out / f"{episode.stem}.mp4")["frames"] == probe(episode)["frames"]
    season = json.loads((out / "season.json").read_text())
    assert [e["name"] for e in season["episodes"]] == ["ep01", "ep02", "ep03"]
    for name, stats in season["characters"].items():
        total = 0.0
        for episode in episodes:
            summary = read_sidecar(out / f"{episode.stem}.jsonl")[1]
            part = summary.unknown if name == "unknown" else summary.characters.get(name)
            total += part.screen_time if part else 0.0
        assert stats["screen_time"] == pytest.approx(total, abs=1e-3)
    assert set(json.loads((out / "manifest.json").read_text())["episodes"]) == {"ep01", "ep02", "ep03"}
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no marker or temporary file left
    rerun = streamer("annotate", *map(str, episodes), "-o", str(out), "-m", str(model), "--ray", cluster["address"])
    assert rerun.returncode == 0 and "0 annotated, 3 already done" in rerun.stderr


def test_a_ray_worker_killed_mid_episode_is_retried_and_the_outputs_are_whole(cluster, episodes, tmp_path):
    model = make_color_classifier(tmp_path / "colours.onnx")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.Popen([sys.executable, "-m", "streamer", "annotate", str(episodes[0]), str(episodes[1]), "-o", str(out),
                            "-m", str(model), "--ray", cluster["address"], "-q"], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    killed = None
    while killed is None:
        assert time.monotonic() < deadline and run.poll() is None, "no episode task seen running"
        if out.is_dir() and any(p.name.endswith(".part.mp4") for p in out.iterdir()):
            for entry in Path("/proc").iterdir():
                try:
                    if entry.name.isdigit() and "ray::_episode_task" in (entry / "cmdline").read_text(errors="replace"):
                        os.kill(int(entry.name), signal.SIGKILL)
                        killed = int(entry.name)
                        break
                except (OSError, ProcessLookupError):
                    continue
        time.sleep(0.02)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    for episode in episodes[:2]:
        assert probe(out / f"{episode.stem}.mp4")["frames"] == probe(episode)["frames"]
    assert not [p.name for p in out.iterdir() if ".part" in p.name]


def test_ray_local_starts_its_own_instance_and_stops_it(episodes, tmp_path):
    model = make_color_classifier(tmp_path / "colours.onnx")
    out = tmp_path / "out"
    done = streamer("annotate", str(episodes[0]), str(episodes[1]), "-o", str(out), "-m", str(model), "--ray", "local", "-q")
    assert done.returncode == 0, done.stderr
    assert set(json.loads((out / "manifest.json").read_text())["episodes"]) == {"ep01", "ep02"}


_NO_SHARED_FOLDER = r"""
import os, sys
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_AUTH_MODE", "token")
from pathlib import Path
import ray
from streamer.season.cluster import _episode_task
from streamer.season.work import EpisodeJob
address, source, model, out = sys.argv[1:5]
ray.init(address=address, log_to_driver=False)
job = EpisodeJob(name="ep01", source=Path(source), video=Path(out) / "ep01.mp4", sidecar=Path(out) / "ep01.jsonl",
                 page=None, model=Path(model), detector=None, cascade_path=None)
blobs = {Path(model): ray.put(Path(model).read_bytes())}
outcome, files = ray.get(ray.remote(_episode_task).remote(job, "/nonexistent/marker", "run", blobs))
print(outcome.ok, sorted(files), len(files["ep01.mp4"]) > 1000, list(Path(out).iterdir()))
"""


def test_without_a_shared_folder_the_worker_sends_the_outputs_back(cluster, episodes, tmp_path):
    model = make_color_classifier(tmp_path / "colours.onnx")
    out = tmp_path / "unseen"
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", _NO_SHARED_FOLDER, cluster["address"], str(episodes[1]), str(model), str(out)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    # Nothing written where the worker could not see; both files came back to the driver.
    assert done.stdout.strip().splitlines()[-1] == "True ['ep01.jsonl', 'ep01.mp4'] True []"
