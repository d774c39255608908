"""Durations as people read them on a timeline or a screen-time table."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """m:ss (h:mm:ss past an hour), seconds truncated."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
