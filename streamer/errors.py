"""Typed errors. Library code raises these; only the CLI turns them into a line and an exit code."""

from __future__ import annotations

import re
from typing import Callable


class StreamerError(Exception):
    """Base class: a problem the user can fix, reported as one line without a traceback."""

    exit_code = 1


class UsageError(StreamerError):
    """Arguments that contradict each other or name nothing usable."""

    exit_code = 2


class SettingError(UsageError):
    """A setting the library cannot run with, or a hint that names one.

    The message names settings as placeholders, "{detect_every} must be 1 or more": `str()`
    shows the library's names (detect_every), and the command layer, which knows which flag each
    setting came from, shows its flags (--detect-every) through `render`.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(self.render(lambda name: name))

    def render(self, name_of: Callable[[str], str]) -> str:
        return _PLACEHOLDER.sub(lambda match: name_of(match.group(1)), self.template)


_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


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


class OutputExistsError(OutputError):
    """An output that is already there: it is never replaced unless the caller says so (the
    command layer names its --force flag)."""


class AssetError(StreamerError):
    """An asset that cannot be found, downloaded or verified."""

    exit_code = 6


class SourceError(StreamerError):
    """A live source (webcam, screen, network) that cannot be opened or stopped yielding frames."""

    exit_code = 7
