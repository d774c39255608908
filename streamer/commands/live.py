"""`streamer live --source SOURCE --model CLASSIFIER.onnx`: names on the characters as it plays."""

from __future__ import annotations

import argparse
import sys

# cv2 before anything that imports av: with OpenCV's Qt GUI, av first makes cv2.imshow hang.
import cv2  # noqa: F401

from streamer.commands.options import add_encoder_options, add_recognition_options, loop_settings
from streamer.errors import UsageError

SOURCE_HELP = (
    "what to watch: a webcam index or device (0, /dev/video0); the screen (screen, screen:N for "
    "monitor N, screen:N@x,y,w,h for a region of it); a stream URL (rtsp://, rtmp://, http(s)://, "
    "udp://, ...); or a video file (add --realtime to play it at its own speed)"
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "live",
        help="label the characters in a webcam, the screen, a stream or a file as it plays",
        description="Detect, track and name anime characters in a live source, shown in a window with "
        "fps, latency and dropped frames. When processing is slower than the source, frames are "
        "dropped (and counted) so the picture never falls behind. Optionally records what is shown "
        "as an MP4 (finished and playable on q, Ctrl-C, SIGTERM or the end of the source).",
    )
    parser.add_argument("-s", "--source", required=True, metavar="SOURCE", help=SOURCE_HELP)
    parser.add_argument("-r", "--record", metavar="OUT.mp4",
                        help="record what is shown (labels, no status line) as an H.264 MP4, with the source's audio")
    parser.add_argument("--sidecar", metavar="PATH", help="write per-frame records of the shown frames to PATH (.jsonl or .csv)")
    parser.add_argument("--no-window", dest="window", action="store_false",
                        help="no preview window (headless machines; stop with Ctrl-C, --max-frames or --duration)")
    parser.add_argument("--realtime", action="store_true",
                        help="play a file at its own speed, dropping frames when processing is slower "
                        "(default for files: every frame, as fast as processing goes)")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after showing N frames")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after SECONDS of wall time")

    capture = parser.add_argument_group("webcam and screen")
    capture.add_argument("--fps", type=float, metavar="FPS", dest="capture_fps",
                         help="capture rate (default: the webcam's own, 30 for the screen)")
    capture.add_argument("--size", metavar="WxH", help="webcam mode to ask for, e.g. 1280x720")
    capture.add_argument("--hide-mouse", action="store_true", help="screen: leave the mouse pointer out")

    network = parser.add_argument_group("network streams")
    network.add_argument("--open-timeout", type=float, default=5.0, metavar="SECONDS",
                         help="give up opening a stream after SECONDS (default 5)")
    network.add_argument("--read-timeout", type=float, default=5.0, metavar="SECONDS",
                         help="a stream silent for SECONDS counts as dropped (default 5)")
    network.add_argument("--reconnect-for", type=float, default=30.0, metavar="SECONDS",
                         help="after a drop, try to reconnect for SECONDS, then end (default 30; 0 = never)")
    network.add_argument("--input-option", action="append", default=[], metavar="KEY=VALUE",
                         help="FFmpeg input option, repeatable (e.g. rtsp_transport=tcp)")

    add_recognition_options(parser.add_argument_group("recognition"))

    output = parser.add_argument_group("output")
    add_encoder_options(output, "--record")
    output.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    output.add_argument("--stats-every", type=float, default=5.0, metavar="SECONDS",
                        help="log fps, latency and drops every SECONDS (default 5; 0 = only at the end)")
    output.add_argument("-q", "--quiet", action="store_true", help="no figure lines or summary")
    output.add_argument("--profile", action="store_true", help="print where the time went, per stage")
    parser.set_defaults(handler=run)
    return parser


def _size(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise UsageError(f"--size {text!r}: give WIDTHxHEIGHT, e.g. 1280x720")
    return int(width), int(height)


def _input_options(items: list[str]) -> dict[str, str]:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--input-option {item!r}: give KEY=VALUE, e.g. rtsp_transport=tcp")
        options[key] = value
    return options


def run(args: argparse.Namespace) -> int:
    import contextlib
    import os

    from streamer.commands.runtime import quick_thread_handoff, stop_on_signals
    from streamer.errors import DisplayError
    from streamer.live import LiveOptions, run_live
    from streamer.sinks.mp4 import EncoderSettings
    from streamer.sources import SourceOptions

    width, height = _size(args.size)
    if args.capture_fps is not None and args.capture_fps <= 0:
        raise UsageError("--fps must be above 0")
    if args.stats_every < 0:
        raise UsageError("--stats-every must be 0 (only at the end) or more")
    source_options = SourceOptions(
        capture_fps=args.capture_fps,
        width=width,
        height=height,
        draw_mouse=not args.hide_mouse,
        open_timeout=args.open_timeout,
        read_timeout=args.read_timeout,
        reconnect_for=args.reconnect_for,
        input_options=_input_options(args.input_option),
    )
    options = LiveOptions(
        realtime=args.realtime,
        window=args.window,
        max_frames=args.max_frames,
        duration=args.duration,
        stats_every=args.stats_every or None,
    )
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(os.devnull, "w")) if args.quiet else sys.stderr
        # The capture thread hands frames over sooner; Ctrl-C and SIGTERM finish the outputs.
        stack.enter_context(quick_thread_handoff())
        stop = stack.enter_context(stop_on_signals())
        try:
            result = run_live(
                args.source,
                args.model,
                detector=args.detector,
                cascade_path=args.cascade,
                settings=loop_settings(args),
                source_options=source_options,
                options=options,
                record=args.record,
                sidecar=args.sidecar,
                encoder=EncoderSettings(preset=args.preset, crf=args.crf),
                force=args.force,
                log=log,
                profile=args.profile,
                stop=stop,
            )
        except DisplayError as exc:
            raise UsageError(f"{exc}; run with --no-window") from None
    if not args.quiet:
        print(result.summary(), file=sys.stderr)
    if args.profile:
        print(result.timer.report(result.frames, result.seconds), file=sys.stderr)
    return 0
