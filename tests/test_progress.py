"""Progress: one redrawn line on a terminal, silence everywhere else."""

from __future__ import annotations

import io
import re

from streamer.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_the_stream_is_not_a_terminal():
    stream = io.StringIO()
    with Progress(100, stream=stream) as progress:
        for _ in range(100):
            progress.update()
    assert progress.done == 100 and stream.getvalue() == ""


def test_quiet_when_disabled_even_on_a_terminal():
    stream = FakeTerminal()
    with Progress(10, enabled=False, stream=stream) as progress:
        progress.update(10)
    assert stream.getvalue() == ""


def test_draws_on_a_terminal_and_ends_the_line():
    stream = FakeTerminal()
    with Progress(456, stream=stream) as progress:
        for _ in range(456):
            progress.update()
    text = stream.getvalue()
    assert text.startswith("\r[") and text.endswith("\n") and text.count("\n") == 1
    final = text.rstrip("\n").split("\r")[-1]
    assert re.match(r"\[#{10,}\]  456/456 frames  [\d.]+ fps  ETA 0:00", final), final
    # Redraws are throttled: a fast loop of 456 updates draws a handful of lines, not 456.
    assert text.count("\r") <= 20


def test_bar_counts_rate_and_eta_at_a_given_moment():
    progress = Progress(100, enabled=False)
    progress.update(25)
    line = progress.line(now=progress._start + 5.0)  # 25 frames in 5 s
    assert "25/100 frames" in line and "5.0 fps" in line and "ETA 0:15" in line
    bar = line[1 : line.index("]")]
    assert bar.count("#") * 4 == len(bar)  # a quarter full


def test_unknown_total_shows_count_rate_and_elapsed():
    progress = Progress(None, enabled=False, unit="images")
    progress.update(30)
    line = progress.line(now=progress._start + 65.0)
    assert line == "30 images  0.5 images/s  1:05"


def test_a_count_past_an_estimated_total_does_not_break_the_bar():
    progress = Progress(10, enabled=False)
    progress.update(12)
    assert progress.line().startswith("12 frames")


def test_close_is_idempotent():
    stream = FakeTerminal()
    progress = Progress(3, stream=stream)
    progress.update()
    progress.close()
    progress.close()
    assert stream.getvalue().count("\n") == 1
