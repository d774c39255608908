"""Typed errors. Library code raises these; only the CLI turns them into a line and an exit code."""

from __future__ import annotations


class StreamerError(Exception):
    """Base class: a problem the user can fix, reported as one line without a traceback."""

    exit_code = 1


class UsageError(StreamerError):
    """Arguments that contradict each other or name nothing usable."""

    exit_code = 2


class SettingError(UsageError):
    """A setting the library cannot run with. `setting` is its name in the library (detect_every);
    the command layer, which knows the flag it came from, says `--detect-every` instead."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting} {problem}")
        self.setting = setting
        self.problem = problem


class DisplayError(UsageError):
    """No display for a window (no $DISPLAY, or an X server that does not answer)."""


class InputError(StreamerError):
    """An input (video, image folder, stream) that is missing, unreadable or not what it claims."""

    exit_code = 3


class ModelError(StreamerError):
    """A classifier or cascade that does not load or does not fit the contract."""

    exit_code = 4


class OutputError(StreamerError):
    """An output that cannot be written (unwritable, exists without --force, equals an input)."""

    exit_code = 5


class AssetError(StreamerError):
    """An asset that cannot be found, downloaded or verified."""

    exit_code = 6


class SourceError(StreamerError):
    """A live source (webcam, screen, network) that cannot be opened or stopped yielding frames."""

    exit_code = 7
