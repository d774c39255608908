"""Where labelled frames go: the `Sink` interface (`base.py`) and one file per destination.

    mp4.py         Mp4Sink: the labelled H.264 MP4, audio copied
    background.py  BackgroundSink: any sink's writing in a thread of its own (the encoder)
    sidecar.py     SidecarSink: the face records and the screen-time summary
    window.py      WindowSink: the live preview window with its status line
    progress.py    ProgressSink: the terminal progress bar
"""

from streamer.sinks.background import BackgroundSink
from streamer.sinks.base import Sink, StreamInfo
from streamer.sinks.mp4 import Mp4Sink
from streamer.sinks.progress import ProgressSink
from streamer.sinks.sidecar import SidecarSink

__all__ = ["BackgroundSink", "Mp4Sink", "ProgressSink", "SidecarSink", "Sink", "StreamInfo"]
