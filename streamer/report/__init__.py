"""The review page: what a sidecar found, for a person to look at.

    write_report(["ep01.jsonl"], "ep01.html")                  # one episode
    write_report(["ep01.jsonl", "ep02.jsonl"], "season.html")  # a season page + one page per episode

An episode page has a timeline (one lane per character and one for `unknown`, a bar per track,
zoomable), the labelled video in a player when it is beside the sidecar (`<stem>.mp4`, or
`video=`), a gallery with one thumbnail per track (cut from that video at the track's clearest
frame) and the screen time per character. Clicking a bar or a thumbnail seeks the player.
A season page has the characters x episodes screen-time table, linking to each episode's page
(written beside it as `<sidecar stem>.html`). Pages are self-contained files (no network):
open them straight from disk.

    stretches.py   the sidecar's face records → one stretch per track and name
    thumbnails.py  each stretch's face, cut from the video
    page.py        the HTML
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from streamer.atomic import AtomicPath, check_output_path
from streamer.errors import InputError, OutputError, SettingError
from streamer.report.page import Episode, episode_page, season_page
from streamer.report.stretches import stretches
from streamer.report.thumbnails import cut_thumbnails
from streamer.sidecar import read_sidecar


@dataclass(frozen=True)
class ReportResult:
    pages: tuple[Path, ...]  # the season page first when there is one
    tracks: int
    thumbnails: int


def write_report(
    sidecars: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    video: str | os.PathLike | None = None,
    title: str | None = None,
    force: bool = False,
    warn: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write the page(s); nothing is written when a sidecar is bad (InputError, one line).

    video: the labelled MP4 of a single sidecar (default: `<sidecar stem>.mp4` beside it).
    warn: hears a line for a video that cannot be read (the page is written without it).
    """
    sidecars = [Path(s) for s in sidecars]
    if not sidecars:
        raise SettingError("{sidecars}: give at least one sidecar")
    if video is not None and len(sidecars) > 1:
        raise SettingError("{video} names the video of one sidecar; with several, each one's <stem>.mp4 is used")
    output = Path(output)
    season = len(sidecars) > 1
    targets = [output.parent / f"{s.stem}.html" for s in sidecars] if season else [output]
    if season and len({t.name for t in targets} | {output.name}) != len(targets) + 1:
        raise SettingError("{sidecars}: two sidecars (or one and the season page) would write the same page name")
    for target in [output] + (targets if season else []):
        check_output_path(target, sidecars, force=force)

    episodes = []
    for sidecar, target in zip(sidecars, targets):
        records, summary = _read_whole(sidecar)
        frame_duration = summary.duration / summary.frames if summary.frames else 0.0
        found = stretches(records, frame_duration)
        clip = Path(video) if video is not None else sidecar.with_suffix(".mp4")
        thumbnails: list[bytes | None] = [None] * len(found)
        if clip.is_file():
            try:
                thumbnails = cut_thumbnails(clip, [s.best for s in found])
            except InputError as exc:
                if warn is not None:
                    warn(f"{exc}; the page has no player or thumbnails")
                clip = None
        elif video is not None:
            raise InputError(f"video {clip} not found")
        else:
            clip = None
        episodes.append(
            Episode(
                title=title if title and not season else sidecar.stem,
                summary=summary,
                stretches=tuple(found),
                thumbnails=tuple(thumbnails),
                video=_relative_url(clip, target.parent) if clip is not None else None,
                page=target.name,
            )
        )

    pages = [(target, episode_page(episode)) for target, episode in zip(targets, episodes)]
    if season:
        pages.insert(0, (output, season_page(title or output.stem, episodes)))
    _write_all(pages)
    return ReportResult(
        pages=tuple(path for path, _ in pages),
        tracks=sum(len(e.stretches) for e in episodes),
        thumbnails=sum(1 for e in episodes for t in e.thumbnails if t),
    )


def write_season_page(sidecars: Sequence[str | os.PathLike], output: str | os.PathLike, title: str | None = None) -> Path:
    """Only the season page, linking to episode pages already written beside it as
    `<sidecar name>.html` (what a season run does after each episode wrote its own); replaced
    if it exists."""
    output = Path(output)
    episodes = []
    for sidecar in map(Path, sidecars):
        _, summary = _read_whole(sidecar)
        episodes.append(Episode(sidecar.stem, summary, (), (), None, page=f"{sidecar.stem}.html"))
    _write_all([(output, season_page(title or output.parent.name or output.stem, episodes))])
    return output


def _read_whole(sidecar: Path):
    """(records, summary) of a sidecar that was finished: one with no summary was cut short."""
    records, summary = read_sidecar(sidecar)
    if summary is None:
        raise InputError(f"sidecar {sidecar} has no summary (cut short while it was written?)")
    return records, summary


def _relative_url(path: Path, folder: Path) -> str:
    relative = os.path.relpath(path.resolve(), folder.resolve())
    return urllib.parse.quote(Path(relative).as_posix())


def _write_all(pages: list[tuple[Path, str]]) -> None:
    """Every page under a temporary name first; all appear, or none."""
    pending = []
    try:
        for path, text in pages:
            atomic = AtomicPath(path)
            pending.append(atomic)
            try:
                atomic.path.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        for atomic in pending:
            atomic.discard()
        raise
    for atomic in pending:
        atomic.commit()


__all__ = ["ReportResult", "write_report", "write_season_page"]
