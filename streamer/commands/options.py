"""Options shared by the commands that run the recognition loop (`annotate`, `live`)."""

from __future__ import annotations

import argparse

from streamer.detect import DEFAULT_DETECT_WIDTH
from streamer.pipeline import DEFAULT_DETECT_EVERY, DEFAULT_THRESHOLD, LoopSettings


def add_recognition_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--cascade", metavar="XML",
                        help="anime-face cascade (default: found via STREAMER_ASSETS, the cache, or downloaded)")
    parser.add_argument("--detect-every", type=int, default=DEFAULT_DETECT_EVERY, metavar="N",
                        help=f"run the face detector every N frames, track in between (default {DEFAULT_DETECT_EVERY})")
    parser.add_argument("--detect-width", type=int, default=DEFAULT_DETECT_WIDTH, metavar="PX",
                        help=f"width of the downscaled copy the detector sees (default {DEFAULT_DETECT_WIDTH}; 0 = full size)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="P",
                        help=f"label a face 'unknown' when its best score stays below P (default {DEFAULT_THRESHOLD})")


def add_encoder_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str = "the output") -> None:
    parser.add_argument("--preset", default="veryfast", help=f"x264 preset for {what} (default veryfast)")
    parser.add_argument("--crf", type=int, default=23, help=f"x264 quality for {what}, lower is better (default 23)")


def loop_settings(args: argparse.Namespace) -> LoopSettings:
    return LoopSettings(detect_every=args.detect_every, detect_width=args.detect_width, threshold=args.threshold)
