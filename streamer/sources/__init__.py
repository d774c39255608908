"""Where frames come from: one `VideoSource` interface (`base.py`), one file per kind of input,
and one factory that reads a spec string once and opens the right kind.

    with open_source("episode.mp4") as source:
        for frame in source:            # streamer.frames.Frame, in presentation order
            ...

Spec strings (what `annotate` and `live --source` take):
    0, 1, ...            webcam by index (/dev/video0, ... on Linux)     → webcam.py
    /dev/video0          webcam by device path                           → webcam.py
    screen, screen:N     the whole of monitor N of the X display         → screen.py
    screen:N@x,y,w,h     a region of monitor N, relative to its corner   → screen.py
    scheme://...         a network stream read by FFmpeg                 → stream.py
    anything else        a file                                          → file.py

Reading blocks at the input's own pace; `streamer.feed.LiveFeed` runs a live source in a
capture thread. Errors are `InputError` (files) or `SourceError` (live inputs) with one line,
raised by the constructor where possible, so a bad path, device, display or URL fails before
any work starts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Mapping

from streamer.errors import SourceError
from streamer.sources.base import PIXEL_FORMATS, DamagedStretch, DamageLog, VideoInfo, VideoSource, describe_damage
from streamer.sources.file import FileSource

SourceKind = Literal["file", "webcam", "screen", "stream"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def source_kind(spec: str | os.PathLike) -> SourceKind:
    """"webcam", "screen", "stream" (a URL) or "file" for a spec string (see the module doc)."""
    text = os.fspath(spec)
    if text.isdigit() or text.startswith("/dev/"):
        return "webcam"
    if text == "screen" or text.startswith(("screen:", "screen@")):
        return "screen"
    if _URL.match(text):
        return "stream"
    return "file"


@dataclass(frozen=True)
class SourceOptions:
    """How to open a source; each kind reads its own fields.

    capture_fps: webcam and screen capture rate (None: the webcam's default, 30 for the screen).
    width, height: the webcam mode to ask for. draw_mouse: the screen's pointer.
    open_timeout, read_timeout, reconnect_for, input_options: network streams (see StreamSource).
    threaded: decode a file in a thread of its own (off when a live feed's capture thread
        already is that thread).
    """

    capture_fps: float | None = None
    width: int | None = None
    height: int | None = None
    draw_mouse: bool = True
    open_timeout: float = 5.0
    read_timeout: float = 5.0
    reconnect_for: float = 30.0
    input_options: Mapping[str, str] = field(default_factory=dict)
    threaded: bool = True


def open_source(
    spec: str | os.PathLike,
    options: SourceOptions = SourceOptions(),
    on_event: Callable[[str], None] | None = None,
) -> VideoSource:
    """The opened source for a spec string, with the options that apply to its kind.

    on_event: hears one-line events of sources that have them (a stream that drops and reconnects).
    """
    kind = source_kind(spec)
    # Each kind is imported when used: a file job never loads the capture code.
    if kind == "webcam":
        from streamer.sources.webcam import WebcamSource

        return WebcamSource(os.fspath(spec), width=options.width, height=options.height, fps=options.capture_fps)
    if kind == "screen":
        from streamer.sources.screen import ScreenSource

        fps = options.capture_fps if options.capture_fps is not None else 30
        return ScreenSource(os.fspath(spec), fps=fps, draw_mouse=options.draw_mouse)
    if kind == "stream":
        from streamer.sources.stream import StreamSource

        return StreamSource(
            os.fspath(spec),
            open_timeout=options.open_timeout,
            read_timeout=options.read_timeout,
            reconnect_for=options.reconnect_for,
            options=dict(options.input_options),
            on_event=on_event,
        )
    if not Path(spec).exists():
        raise SourceError(
            f"source {spec} is not a file, a webcam (0, /dev/video0), the screen (screen, screen:N) or a URL"
        )
    return FileSource(spec, threaded=options.threaded)


__all__ = [
    "DamageLog",
    "DamagedStretch",
    "FileSource",
    "PIXEL_FORMATS",
    "SourceKind",
    "SourceOptions",
    "VideoInfo",
    "VideoSource",
    "describe_damage",
    "open_source",
    "source_kind",
]
