"""From a sidecar's face records to what the review page draws: one stretch per track and name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from streamer.sidecar import FaceRecord


@dataclass(frozen=True)
class Stretch:
    """A track on screen under one name: from its first to its last frame with that name.

    end: the last frame's time plus one frame. confidence: the mean over its records.
    best: the record to show it by (the largest, most confident box).
    """

    track: int
    name: str
    start: float
    end: float
    frames: int
    confidence: float
    best: FaceRecord


def stretches(records: Iterable[FaceRecord], frame_duration: float) -> list[Stretch]:
    """One Stretch per (track, name) pair, in order of start. A track whose name changed over
    its life gives one stretch per name, as the sidecar's summary counts it."""
    groups: dict[tuple[int, str], list[FaceRecord]] = {}
    for record in records:
        groups.setdefault((record.track, record.name), []).append(record)
    found = []
    for (track, name), members in groups.items():
        best = max(members, key=lambda r: (r.x2 - r.x1) * (r.y2 - r.y1) * r.confidence)
        found.append(
            Stretch(
                track=track,
                name=name,
                start=min(r.time for r in members),
                end=max(r.time for r in members) + frame_duration,
                frames=len(members),
                confidence=sum(r.confidence for r in members) / len(members),
                best=best,
            )
        )
    return sorted(found, key=lambda s: (s.start, s.track))
