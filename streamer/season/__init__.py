"""A season at a time: many episodes into one folder, resumable, on several processes.

    result = annotate_season(["season1/"], "out/", "characters.onnx", workers=2)

Per episode `<name>.mp4` and `<name>.jsonl` (and `<name>.html` with report=True) in the output
folder; for the season `season.json`, `season.csv`, `season.png` (and `season.html`), and the
manifest that makes a rerun skip what is done (`manifest.py`). A bad episode is reported and
the others go on. Workers are processes (`concurrent.futures`, spawned): each runs its own
decoder and encoder threads, sized so N workers share the machine's cores.

    episodes.py  which inputs, which output names
    manifest.py  what is done, and whether it still holds
    work.py      one episode as a job a worker runs
    cluster.py   the same jobs as Ray tasks, on a cluster or a local Ray (`ray=`)
    summary.py   the season's screen-time tables and chart
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import multiprocessing
import os
import sys
import time
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from streamer.errors import InputError, OutputError, OutputExistsError, SettingError
from streamer.pipeline import LoopSettings, load_parts
from streamer.season.episodes import Episode, find_episodes, is_video_folder
from streamer.season.manifest import MANIFEST_NAME, Manifest, input_identity, job_key
from streamer.season.summary import EpisodeTimes, write_summary
from streamer.season.work import EpisodeJob, EpisodeOutcome, run_episode
from streamer.sidecar import read_sidecar
from streamer.sinks.mp4 import EncoderSettings


@dataclass(frozen=True)
class SeasonResult:
    folder: Path
    done: tuple[str, ...]  # annotated in this run
    skipped: tuple[str, ...]  # already done by an earlier run, outputs kept
    failed: tuple[tuple[str, str], ...]  # (episode, one-line reason)
    summary: tuple[Path, ...]
    seconds: float


def annotate_season(
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    model: str | os.PathLike | None = None,
    *,
    detector: str | None = None,
    cascade_path: str | os.PathLike | None = None,
    settings: LoopSettings = LoopSettings(),
    encoder: EncoderSettings = EncoderSettings(),
    strict: bool = False,
    workers: int = 1,
    report: bool = False,
    force: bool = False,
    progress: bool | None = None,
    warn: Callable[[str], None] | None = None,
    ray: str | None = None,
) -> SeasonResult:
    """Annotate every episode not done yet into `output_dir` (see the module doc).

    ray: run the episodes as Ray tasks on the cluster at this address, or "local" for a Ray
        instance started here (`cluster.py`); None: `workers` local processes.
    force: redo every episode (and accept a folder that holds other files).
    progress: the batch's bar (episodes, ETA) and, with one worker, the episode's (None: on a terminal).
    """
    started = time.monotonic()
    if workers < 1:
        raise SettingError("{workers} must be 1 or more")
    settings.check()
    if ray is not None and workers != 1:
        raise SettingError("{workers} does not go with {ray}: Ray runs as many episodes at once as the cluster has CPUs")
    # Absolute paths: a Ray worker on another machine does not share this working directory.
    episodes = [Episode(e.source.absolute(), e.name) for e in find_episodes(inputs)]
    folder = _season_folder(Path(output_dir).absolute(), force)
    with _locked(folder):
        return _season(episodes, folder, Path(model).absolute() if model is not None else None, started,
                       detector=detector, cascade_path=cascade_path, settings=settings, encoder=encoder, strict=strict,
                       workers=workers, report=report, force=force, progress=progress, warn=warn, ray=ray)


def _season(episodes, folder, model_path, started, *, detector, cascade_path, settings, encoder, strict, workers,
            report, force, progress, warn, ray) -> SeasonResult:
    if detector is not None and detector.lower() != "cascade":
        detector = str(Path(detector).absolute())
    if cascade_path is not None:
        cascade_path = Path(cascade_path).absolute()
    settings = dataclasses.replace(settings, galleries=tuple(str(Path(g).absolute()) for g in settings.galleries))
    # Loaded once here so a bad model, detector or gallery fails before any episode starts.
    load_parts(model_path, detector, settings, cascade_path, warn)
    job = job_key(_job_files(model_path, detector, cascade_path, settings),
                  {"settings": asdict(settings), "encoder": asdict(encoder), "strict": strict, "report": report})
    manifest = Manifest(folder / MANIFEST_NAME, {}) if force else Manifest.load(folder)
    _remove_stale_parts(folder)

    failed: list[tuple[str, str]] = []
    skipped, todo, identities = [], [], {}
    for episode in episodes:
        try:
            identities[episode.name] = input_identity(episode.source)
        except OSError as exc:
            failed.append((episode.name, f"cannot read {episode.source}: {exc.strerror or exc}"))
            continue
        if manifest.is_done(episode.name, identities[episode.name], job, folder):
            skipped.append(episode.name)
        else:
            manifest.forget(episode.name)
            todo.append(episode)

    # N episodes at once share the cores: each one's decoder and x264 get their part of them.
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else (1 if ray is not None else 0)
    jobs = [_job(e, folder, model_path, detector, cascade_path, settings, encoder, strict, report, threads,
                 progress if workers == 1 and ray is None else False) for e in todo]
    done = []
    from streamer.progress import progress_bar

    with progress_bar(len(jobs), enabled=progress, unit="episode", desc="season") as bar:
        if ray is not None:
            from streamer.season.cluster import ray_outcomes

            outcomes = ray_outcomes(jobs, ray, folder)
        else:
            outcomes = _run(jobs, workers)
        for outcome in outcomes:
            bar.update()
            if outcome.ok:
                episode = next(e for e in todo if e.name == outcome.name)
                outputs = [p for p in episode.outputs(folder, report).values()]
                manifest.record(outcome.name, identities[outcome.name], job, outputs,
                                frames=outcome.frames, seconds=round(outcome.seconds, 3))
                done.append(outcome.name)
                if outcome.damaged and warn is not None:
                    spans = ", ".join(f"{d['start']:.2f}-{d['end']:.2f} s" for d in outcome.damaged[:5])
                    warn(f"warning: episode {outcome.name} is damaged: skipped what did not decode at {spans}")
            else:
                failed.append((outcome.name, outcome.error))
    _remove_stale_parts(folder)  # what a worker killed mid-episode left (its retry wrote the outputs)
    finished = [e for e in episodes if e.name in set(done) | set(skipped)]
    summary = _write_season(folder, finished, report)
    return SeasonResult(folder, tuple(done), tuple(skipped), tuple(failed), tuple(summary), time.monotonic() - started)


def is_season_input(inputs: Sequence[str | os.PathLike]) -> bool:
    """Several inputs, a folder of videos or a glob pattern: a season, not one file."""
    if len(inputs) > 1:
        return True
    only = Path(os.fspath(inputs[0]))
    return is_video_folder(only) or (not only.exists() and any(c in os.fspath(inputs[0]) for c in "*?["))


def _season_folder(folder: Path, force: bool) -> Path:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output {folder} is a file; a season's output is a folder")
    theirs = [p for p in folder.iterdir() if not p.name.startswith(".streamer-season")] if folder.is_dir() else []
    if theirs and not force and not (folder / MANIFEST_NAME).exists():
        raise OutputExistsError(f"output folder {folder} holds files but no season manifest")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make {folder}: {exc.strerror or exc}") from None
    return folder


@contextlib.contextmanager
def _locked(folder: Path):
    """One run at a time per season folder: a second one would take the first's temporary
    files for a killed run's, and the two manifests would overwrite each other."""
    path = folder / ".streamer-season.lock"
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"another streamer run is writing the season in {folder}") from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def _remove_stale_parts(folder: Path) -> None:
    """Temporary files of a run that was killed (kill -9 leaves them; they are never outputs)."""
    for path in [*folder.glob(".*.part.*"), *folder.glob(".streamer-season-*")]:
        try:
            path.unlink()
        except OSError:
            pass


def _job_files(model: Path | None, detector: str | None, cascade_path, settings: LoopSettings) -> list[Path | None]:
    from streamer.detectors import CASCADE, SHIPPED_DETECTOR

    if detector is None and cascade_path is None:
        detector_file = SHIPPED_DETECTOR
    elif detector is not None and detector.lower() != CASCADE:
        detector_file = Path(detector)
    else:
        detector_file = Path(cascade_path) if cascade_path is not None else None
    return [model, detector_file, *(Path(g) for g in settings.galleries)]


def _job(episode: Episode, folder: Path, model, detector, cascade_path, settings, encoder, strict, report, threads,
         progress) -> EpisodeJob:
    outputs = episode.outputs(folder, report)
    return EpisodeJob(
        name=episode.name, source=episode.source, video=outputs["video"], sidecar=outputs["sidecar"],
        page=outputs.get("page"), model=model, detector=detector,
        cascade_path=Path(cascade_path) if cascade_path is not None else None,
        settings=settings, encoder=encoder, strict=strict, threads=threads, progress=progress,
    )


def _run(jobs: list[EpisodeJob], workers: int) -> Iterator[EpisodeOutcome]:
    """Outcomes as episodes finish. A worker that dies (killed, out of memory) breaks the pool:
    the episodes that were running get one retry in a fresh pool; a second death is that
    episode's failure. At most `workers` episodes are in flight, so "running" is known."""
    if workers == 1:
        for job in jobs:
            yield run_episode(job)
        return
    waiting = list(jobs)
    solo: list[EpisodeJob] = []  # suspects of a broken pool, rerun alone so a death is theirs
    deaths: dict[str, int] = {}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or X state copied
    while waiting or solo:
        alone = bool(solo)
        queue, slots = (solo, 1) if alone else (waiting, workers)
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=slots, mp_context=context,
            # As `streamer annotate` runs: decoder and encoder threads take turns with the loop.
            initializer=sys.setswitchinterval, initargs=(0.0005,),
        ) as pool:
            running: dict[concurrent.futures.Future, EpisodeJob] = {}
            try:
                while queue or running:
                    while queue and len(running) < slots:
                        running[pool.submit(run_episode, queue[0])] = queue[0]
                        queue.pop(0)
                    finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                    for future in finished:
                        outcome = future.result()  # BrokenProcessPool when a worker died
                        del running[future]
                        yield outcome
                    if alone:
                        break  # one suspect at a time, each in a fresh pool
            except concurrent.futures.process.BrokenProcessPool:
                for future, job in running.items():
                    if future.done() and not future.cancelled() and future.exception() is None:
                        yield future.result()  # finished before the pool broke
                        continue
                    if not alone:
                        solo.append(job)  # which of them died is not known yet
                        continue
                    deaths[job.name] = deaths.get(job.name, 0) + 1
                    if deaths[job.name] > 1:
                        yield EpisodeOutcome(job.name, error="its worker process died twice (killed, or out of memory)")
                    else:
                        solo.append(job)


def _write_season(folder: Path, finished: list[Episode], report: bool) -> list[Path]:
    times = []
    for episode in finished:
        _, summary = read_sidecar(folder / f"{episode.name}.jsonl")
        if summary is None:
            raise InputError(f"{folder / episode.name}.jsonl has no summary")
        times.append(EpisodeTimes(episode.name, summary))
    written = write_summary(folder, times)
    if report and finished:
        from streamer.report import write_season_page

        written.append(write_season_page([folder / f"{e.name}.jsonl" for e in finished], folder / "season.html"))
    return written


__all__ = ["SeasonResult", "annotate_season", "is_season_input"]
