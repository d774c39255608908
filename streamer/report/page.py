"""The review pages as HTML: one per episode (timeline, player, tracks gallery, screen time)
and one per season (characters x episodes). Self-contained: the style, the script and the
thumbnails are inside the page; only the video is a file beside it."""

from __future__ import annotations

import base64
import html
import urllib.parse
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

from streamer.detections import UNKNOWN
from streamer.durations import clock
from streamer.report.stretches import Stretch
from streamer.sidecar import SidecarSummary, names_on_screen


@dataclass(frozen=True)
class Episode:
    """What one episode page shows. video: its path relative to the page, or None (no player)."""

    title: str
    summary: SidecarSummary
    stretches: tuple[Stretch, ...]
    thumbnails: tuple[bytes | None, ...]  # one per stretch
    video: str | None
    page: str = ""  # the page's file name, for the season's links


def episode_page(episode: Episode) -> str:
    summary = episode.summary
    names = summary.names()
    by_name: dict[str, list[tuple[Stretch, bytes | None]]] = {name: [] for name in names}
    for stretch, thumbnail in zip(episode.stretches, episode.thumbnails):
        by_name.setdefault(stretch.name, []).append((stretch, thumbnail))
    duration = max(summary.duration, max((s.end for s in episode.stretches), default=0.0), 1e-3)
    player = (
        f'<section><video id="video" src="{_attr(episode.video)}" controls preload="metadata"></video></section>'
        if episode.video
        else '<p class="meta">No video beside the page: the timeline and the gallery still work, without the player.</p>'
    )
    labels = ['<div class="axis-label">time</div>'] + [f'<div title="{_attr(n)}">{_text(n)}</div>' for n in names]
    lanes = []
    for name in names:
        bars = "".join(_bar(stretch, duration) for stretch, _ in by_name[name])
        extra = " unknown" if name == UNKNOWN else ""
        lanes.append(f'<div class="lane{extra}" data-name="{_attr(name)}">{bars}</div>')
    return _document(
        episode.title,
        f"""<header><h1>{_text(episode.title)}</h1>
<p class="meta">{clock(summary.duration)} · {summary.frames} frames · {summary.faces} face records · {len(episode.stretches)} tracks</p></header>
{player}
<h2>Who is on screen when</h2>
<div class="controls"><label>zoom <input type="range" id="zoom" min="1" max="60" step="1" value="1"></label></div>
<div class="timeline"><div class="labels">{"".join(labels)}</div>
<div class="scroll"><div class="lanes" data-duration="{duration:.3f}"><div class="axis"></div>{"".join(lanes)}</div></div></div>
<h2>Screen time</h2>
{_screen_time(summary)}
<h2>Tracks</h2>
{"".join(_gallery(name, by_name[name]) for name in names)}""",
    )


def season_page(title: str, episodes: Sequence[Episode]) -> str:
    columns = names_on_screen(e.summary for e in episodes)
    totals = {name: sum(e.summary.screen_time(name) for e in episodes) for name in columns}
    head = "".join(f"<th>{_text(n)}</th>" for n in columns)
    rows = []
    for episode in episodes:
        cells = "".join(f'<td data-name="{_attr(n)}">{clock(episode.summary.screen_time(n))}</td>' for n in columns)
        rows.append(f'<tr><td><a href="{_attr(urllib.parse.quote(episode.page))}">{_text(episode.title)}</a></td>{cells}</tr>')
    total_cells = "".join(f"<td>{clock(totals[n])}</td>" for n in columns)
    chart = _bars([(n, totals[n], n == UNKNOWN) for n in columns])
    return _document(
        title,
        f"""<header><h1>{_text(title)}</h1><p class="meta">{len(episodes)} episodes</p></header>
<h2>Screen time per episode</h2>
<table class="season"><tr><th>episode</th>{head}</tr>{"".join(rows)}<tr><th>total</th>{total_cells}</tr></table>
<h2>Screen time, whole season</h2>
{chart}""",
    )


def _bar(stretch: Stretch, duration: float) -> str:
    left = 100 * stretch.start / duration
    width = 100 * (stretch.end - stretch.start) / duration
    tip = f"track {stretch.track} · {clock(stretch.start)}–{clock(stretch.end)} · mean confidence {stretch.confidence:.2f}"
    return (
        f'<button class="bar" style="left:{left:.4f}%;width:{width:.4f}%" data-start="{stretch.start:.3f}" '
        f'data-end="{stretch.end:.3f}" data-track="{stretch.track}" title="{_attr(tip)}"></button>'
    )


def _screen_time(summary: SidecarSummary) -> str:
    return _bars([(name, summary.screen_time(name), name == UNKNOWN) for name in summary.names()])


def _bars(rows: list[tuple[str, float, bool]]) -> str:
    longest = max((seconds for _, seconds, _ in rows), default=0.0) or 1.0
    body = "".join(
        f'<tr class="{"unknown" if unknown else "character"}" data-name="{_attr(name)}" data-seconds="{seconds:.3f}">'
        f'<td>{_text(name)}</td><td style="width:30rem"><div class="fill" style="width:{100 * seconds / longest:.2f}%"></div></td>'
        f"<td>{clock(seconds)}</td></tr>"
        for name, seconds, unknown in rows
    )
    return f'<table class="screen-time">{body}</table>'


def _gallery(name: str, members: list[tuple[Stretch, bytes | None]]) -> str:
    figures = []
    for stretch, thumbnail in members:
        image = (
            f'<img alt="{_attr(name)}, track {stretch.track}" src="data:image/jpeg;base64,{base64.b64encode(thumbnail).decode()}">'
            if thumbnail
            else '<div class="missing"></div>'
        )
        figures.append(
            f'<figure class="thumb" data-start="{stretch.start:.3f}" data-track="{stretch.track}">{image}'
            f"<figcaption>track {stretch.track}<br>{clock(stretch.start)}–{clock(stretch.end)}</figcaption></figure>"
        )
    return f'<h3>{_text(name)} ({len(members)})</h3><div class="gallery" data-name="{_attr(name)}">{"".join(figures)}</div>'


def _document(title: str, body: str) -> str:
    style = resources.files("streamer.report").joinpath("page.css").read_text(encoding="utf-8")
    script = resources.files("streamer.report").joinpath("page.js").read_text(encoding="utf-8")
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{_text(title)}</title>\n'
        f"<style>\n{style}</style></head>\n<body>\n{body}\n<script>\n{script}</script>\n</body></html>\n"
    )


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _attr(value: str | None) -> str:
    return html.escape(value or "", quote=True)
