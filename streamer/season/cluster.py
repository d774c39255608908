"""Episodes as Ray tasks, on a running cluster (`--ray ADDRESS`) or a local one (`--ray local`).

Models, detectors and galleries travel once, through Ray's object store; a worker uses its own
copy when the same file is at the same path on its machine. A worker writes an episode's
outputs straight into the season folder when it sees that folder (a shared filesystem: it finds
the run's marker file there), else into a folder of its own, and hands the files back for the
driver to write. Either way an episode's outputs are complete or absent (they are written under
temporary names), and a worker that dies mid-episode costs that episode a retry (`max_retries`),
never a duplicate: only the driver records episodes in the manifest.

Security: a Ray cluster is a network service. `--ray local` binds every Ray process to the
loopback address (Ray's single-machine mode) with the dashboard off; a cluster's own token
authentication (on by default since Ray 2.x) is left on; see docs/season.md for the token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

from streamer.atomic import AtomicPath
from streamer.errors import SettingError
from streamer.season.work import EpisodeJob, EpisodeOutcome, run_episode

LOCAL = "local"
_MARKER = ".streamer-season-{}"


def ray_outcomes(jobs: list[EpisodeJob], address: str, folder: Path) -> Iterator[EpisodeOutcome]:
    """Run `jobs` as Ray tasks; outcomes as they finish (outputs already in `folder`)."""
    if not jobs:
        return  # a finished season: no cluster to start or reach
    if address == LOCAL or _is_loopback(address):
        # Ray's single-machine mode: every Ray server binds to 127.0.0.1, nothing beyond
        # loopback. Read when Ray is imported, so it is set first.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if address != LOCAL:
        # Token authentication stays on: Ray 2.60 only sends the token it finds (RAY_AUTH_TOKEN,
        # or ~/.ray/auth_token) when told to, before it first talks to the cluster.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        import ray
    except ImportError:
        raise SettingError("{ray} needs Ray: pip install 'anime-streamer[cluster]'") from None
    run_id = uuid.uuid4().hex
    marker = folder / _MARKER.format(run_id)
    marker.write_text(run_id)
    try:
        try:
            if address == LOCAL:
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SettingError(f"{{ray}} {address}: cannot start or reach the Ray cluster: {reason}") from None
        try:
            blobs = {path: ray.put(path.read_bytes()) for path in _input_files(jobs)}
            task = ray.remote(num_cpus=1, max_retries=1)(_episode_task)
            running = {task.remote(job, str(marker), run_id, blobs): job for job in jobs}
            while running:
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    job = running.pop(ref)
                    try:
                        outcome, files = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        yield EpisodeOutcome(job.name, error=f"failed on the cluster: {str(exc).strip().splitlines()[0]}")
                        continue
                    for name, data in (files or {}).items():
                        with AtomicPath(folder / name) as temporary:
                            temporary.write_bytes(data)
                    yield outcome
        finally:
            ray.shutdown()
    finally:
        marker.unlink(missing_ok=True)


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _input_files(jobs: list[EpisodeJob]) -> set[Path]:
    files: set[Path] = set()
    for job in jobs:
        files.update(p for p in (job.model, job.cascade_path) if p is not None)
        if job.detector and Path(job.detector).is_file():
            files.add(Path(job.detector))
        files.update(Path(g) for g in job.settings.galleries)
    return files


def _episode_task(job: EpisodeJob, marker: str, run_id: str, blobs: dict) -> tuple[EpisodeOutcome, dict | None]:
    """On a worker: the episode, with the driver's files where this machine lacks them."""
    import sys

    import ray

    sys.setswitchinterval(0.0005)  # as `streamer annotate` runs: decoder and encoder threads take turns

    with tempfile.TemporaryDirectory(prefix="streamer-episode-") as scratch:
        scratch_path = Path(scratch)
        local: dict[Path, Path] = {}
        for path, ref in blobs.items():
            data = ray.get(ref)
            if path.is_file() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest():
                local[path] = path
            else:
                copy = scratch_path / "inputs" / hashlib.sha256(str(path).encode()).hexdigest()[:16] / path.name
                copy.parent.mkdir(parents=True)
                copy.write_bytes(data)
                local[path] = copy
        swap = lambda p: local.get(Path(p), p) if p is not None else None  # noqa: E731
        job = dataclasses.replace(
            job,
            model=swap(job.model),
            cascade_path=swap(job.cascade_path),
            detector=str(swap(Path(job.detector))) if job.detector and Path(job.detector) in local else job.detector,
            settings=dataclasses.replace(job.settings, galleries=tuple(str(swap(Path(g))) for g in job.settings.galleries)),
        )
        marker_path = Path(marker)
        if marker_path.is_file() and marker_path.read_text() == run_id:
            return run_episode(job), None  # the season folder is shared: write there
        outputs = scratch_path / "outputs"
        outputs.mkdir()
        moved = dataclasses.replace(
            job,
            video=outputs / job.video.name,
            sidecar=outputs / job.sidecar.name,
            page=outputs / job.page.name if job.page is not None else None,
        )
        outcome = run_episode(moved)
        files = {p.name: p.read_bytes() for p in outputs.iterdir()} if outcome.ok else None
        return outcome, files
