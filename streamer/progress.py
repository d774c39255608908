"""The progress bar of long jobs: tqdm on stderr, drawn only for a person watching a terminal.

    with progress_bar(total=source.info.frame_count) as bar:
        for frame in source:
            ...
            bar.update()

Off when stderr is not a terminal (logs, CI, pipes) unless forced on, and with enabled=False
(--quiet). An unknown total (a live input, a container that does not say) shows the count and
the rate.
"""

from __future__ import annotations

from typing import TextIO

from tqdm import tqdm


def progress_bar(
    total: int | None,
    *,
    enabled: bool | None = None,
    unit: str = "frame",
    desc: str | None = None,
    stream: TextIO | None = None,
) -> tqdm:
    """A tqdm bar on `stream` (stderr): enabled None draws it only on a terminal, True / False force it."""
    return tqdm(
        total=total if total and total > 0 else None,
        file=stream,
        unit=unit,
        desc=desc,
        disable=None if enabled is None else not enabled,
        dynamic_ncols=True,
        mininterval=0.1,
    )
