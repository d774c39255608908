"""One episode of a season, as a job a worker process (or a Ray task) runs on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from streamer.errors import StreamerError
from streamer.pipeline import LoopSettings
from streamer.sinks.mp4 import EncoderSettings


@dataclass(frozen=True)
class EpisodeJob:
    """Everything a worker needs, by value (it is pickled to another process)."""

    name: str
    source: Path
    video: Path
    sidecar: Path
    page: Path | None
    model: Path | None
    detector: str | None
    cascade_path: Path | None
    settings: LoopSettings = LoopSettings()
    encoder: EncoderSettings = EncoderSettings()
    strict: bool = False
    threads: int = 0
    progress: bool | None = False


@dataclass(frozen=True)
class EpisodeOutcome:
    name: str
    error: str | None = None  # one line; None when the outputs are complete
    frames: int = 0
    seconds: float = 0.0
    damaged: tuple[dict, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.error is None


def run_episode(job: EpisodeJob) -> EpisodeOutcome:
    """Annotate one episode (and write its page); a bad episode is an outcome, not an exception."""
    from streamer.annotate import annotate
    from streamer.report import write_report

    try:
        result = annotate(
            job.source, job.video, job.model, detector=job.detector, cascade_path=job.cascade_path,
            sidecar_path=job.sidecar, settings=job.settings, encoder=job.encoder, force=True,
            progress=job.progress, strict=job.strict, threads=job.threads,
        )
        if job.page is not None:
            write_report([job.sidecar], job.page, video=job.video, force=True)
    except Exception as exc:  # noqa: BLE001 - one bad episode must not stop the season
        for path in (job.video, job.sidecar, job.page):
            if path is not None and path.exists() and not path.is_dir():
                path.unlink()  # an episode is all its outputs or none of them
        reason = str(exc) if isinstance(exc, StreamerError) else f"internal error: {type(exc).__name__}: {exc}"
        return EpisodeOutcome(job.name, error=reason.splitlines()[0] if reason else type(exc).__name__)
    return EpisodeOutcome(job.name, frames=result.frames, seconds=result.seconds,
                          damaged=tuple(d.to_json() for d in result.damaged))
