"""The progress bar (tqdm): drawn on a terminal, silent everywhere else."""

from __future__ import annotations

import io

from streamer.progress import progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_the_stream_is_not_a_terminal():
    stream = io.StringIO()
    with progress_bar(100, stream=stream) as bar:
        for _ in range(100):
            bar.update()
    assert stream.getvalue() == ""


def test_quiet_when_disabled_even_on_a_terminal():
    stream = FakeTerminal()
    with progress_bar(10, enabled=False, stream=stream) as bar:
        bar.update(10)
    assert stream.getvalue() == ""


def test_draws_count_and_rate_on_a_terminal_and_ends_the_line():
    stream = FakeTerminal()
    with progress_bar(456, stream=stream) as bar:
        for _ in range(456):
            bar.update()
    text = stream.getvalue()
    assert "456/456" in text and "frame/s" in text and text.endswith("\n")


def test_unknown_total_shows_the_count():
    stream = FakeTerminal()
    with progress_bar(None, unit="image", stream=stream) as bar:
        bar.update(7)
    assert "7image" in text_of(stream) or "7 image" in text_of(stream)


def text_of(stream: io.StringIO) -> str:
    return stream.getvalue().replace("\r", "\n")
