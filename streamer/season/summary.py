"""The season summary: screen time per character per episode and in total, first and last
appearance, as `season.json`, `season.csv` (a spreadsheet's characters x episodes table) and
`season.png` (the same table as a chart)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from streamer.atomic import AtomicPath
from streamer.detections import UNKNOWN
from streamer.durations import clock
from streamer.sidecar import SidecarSummary, names_on_screen


@dataclass(frozen=True)
class EpisodeTimes:
    name: str
    summary: SidecarSummary

    def seconds(self, character: str) -> float:
        return self.summary.screen_time(character)


def season_json(episodes: Sequence[EpisodeTimes]) -> dict:
    characters = {}
    for name in names_on_screen(e.summary for e in episodes):
        seen = []
        for episode in episodes:
            stats = episode.summary.stats_of(name)
            if stats:
                seen.append((episode.name, stats))
        characters[name] = {
            "screen_time": round(sum(stats.screen_time for _, stats in seen), 3),
            "episodes": len(seen),
            "first": {"episode": seen[0][0], "time": seen[0][1].first},
            "last": {"episode": seen[-1][0], "time": seen[-1][1].last},
        }
    return {
        "episodes": [{"name": e.name, **{k: v for k, v in e.summary.to_json().items() if k not in ("type", "version")}}
                     for e in episodes],
        "characters": characters,
    }


def season_csv(episodes: Sequence[EpisodeTimes]) -> str:
    data = season_json(episodes)["characters"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["character", *(e.name for e in episodes), "total", "first_episode", "first_time", "last_episode", "last_time"])
    for name, stats in data.items():
        writer.writerow([name, *(f"{e.seconds(name):.3f}" for e in episodes), f"{stats['screen_time']:.3f}",
                         stats["first"]["episode"], f"{stats['first']['time']:.3f}",
                         stats["last"]["episode"], f"{stats['last']['time']:.3f}"])
    return out.getvalue()


def season_chart(episodes: Sequence[EpisodeTimes]) -> np.ndarray:
    """A characters x episodes grid, each cell shaded by its screen time and labelled m:ss."""
    names = names_on_screen(e.summary for e in episodes) or ["(no faces)"]
    font = cv2.FONT_HERSHEY_SIMPLEX
    columns = [e.name for e in episodes] + ["total"]
    # Columns as wide as the longest episode name (within reason), names cut to fit.
    widest = max(cv2.getTextSize(title, font, 0.45, 1)[0][0] for title in columns)
    cell_w, cell_h, label_w, head_h = max(76, min(170, widest + 12)), 30, 190, 60
    columns = [_fit(title, cell_w - 8, font, 0.45) for title in columns]
    width = label_w + cell_w * (len(episodes) + 1)
    height = head_h + cell_h * len(names)
    image = np.full((height, width, 3), 255, np.uint8)
    totals = {name: sum(e.seconds(name) for e in episodes) for name in names}
    longest = max([e.seconds(n) for e in episodes for n in names] + [1e-9])
    for col, title in enumerate(columns):
        x = label_w + col * cell_w
        cv2.putText(image, title, (x + 4, head_h - 12), font, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
    for row, name in enumerate(names):
        y = head_h + row * cell_h
        cv2.putText(image, name[:24], (6, y + 20), font, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
        for col in range(len(columns)):
            x = label_w + col * cell_w
            seconds = totals[name] if col == len(episodes) else episodes[col].seconds(name)
            share = seconds / longest if col < len(episodes) else 0.0
            colour = (int(255 - 180 * share), int(255 - 110 * share), 255) if name == UNKNOWN else (255, int(255 - 130 * share), int(255 - 200 * share))
            cv2.rectangle(image, (x, y), (x + cell_w - 2, y + cell_h - 2), colour, -1)
            text = clock(seconds)
            cv2.putText(image, text, (x + 8, y + 20), font, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    cv2.putText(image, "screen time (m:ss) per character and episode", (6, 22), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def _fit(text: str, width: int, font: int, scale: float) -> str:
    while len(text) > 1 and cv2.getTextSize(text, font, scale, 1)[0][0] > width:
        text = text[:-2] + "~"
    return text


def write_summary(folder: Path, episodes: Sequence[EpisodeTimes]) -> list[Path]:
    """season.json, season.csv and season.png in `folder`, each replaced atomically."""
    written = []
    for name, write in (
        ("season.json", lambda p: p.write_text(json.dumps(season_json(episodes), indent=1) + "\n", encoding="utf-8")),
        ("season.csv", lambda p: p.write_text(season_csv(episodes), encoding="utf-8")),
        ("season.png", lambda p: cv2.imwrite(str(p), season_chart(episodes))),
    ):
        with AtomicPath(folder / name) as temporary:
            write(temporary)
        written.append(folder / name)
    return written
