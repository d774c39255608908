"""`streamer annotate INPUT -o OUTPUT.mp4 --model CLASSIFIER.onnx`: label a video file."""

from __future__ import annotations

import argparse
import sys

from streamer.detect import DEFAULT_DETECT_WIDTH
from streamer.pipeline import DEFAULT_DETECT_EVERY, DEFAULT_THRESHOLD


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "annotate",
        help="label the characters in a video file (MP4 out, audio kept, optional sidecar)",
        description="Detect, track and name anime characters in a video file. Writes an H.264 MP4 with "
        "the same size, frame rate, timestamps and audio as the input, and optionally a sidecar record "
        "of who appears where and when.",
    )
    parser.add_argument("input", metavar="INPUT", help="video file to annotate")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT.mp4", help="labelled MP4 to write")
    parser.add_argument("-m", "--model", required=True, metavar="CLASSIFIER.onnx",
                        help="character classifier exported by `streamer export`")
    parser.add_argument("--cascade", metavar="XML",
                        help="anime-face cascade (default: found via STREAMER_ASSETS, the cache, or downloaded)")
    parser.add_argument("--detect-every", type=int, default=DEFAULT_DETECT_EVERY, metavar="N",
                        help=f"run the face detector every N frames, track in between (default {DEFAULT_DETECT_EVERY})")
    parser.add_argument("--detect-width", type=int, default=DEFAULT_DETECT_WIDTH, metavar="PX",
                        help=f"width of the downscaled copy the detector sees (default {DEFAULT_DETECT_WIDTH}; 0 = full size)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="P",
                        help=f"label a face 'unknown' when its best score stays below P (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--sidecar", metavar="PATH", help="write per-frame records to PATH (.jsonl or .csv)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--crf", type=int, default=23, help="x264 quality, lower is better (default 23)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("--profile", action="store_true", help="print where the time went, per stage")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.annotate import EncoderSettings, annotate, print_profile
    from streamer.pipeline import LoopSettings

    result = annotate(
        args.input,
        args.output,
        args.model,
        cascade_path=args.cascade,
        sidecar_path=args.sidecar,
        settings=LoopSettings(detect_every=args.detect_every, detect_width=args.detect_width, threshold=args.threshold),
        encoder=EncoderSettings(preset=args.preset, crf=args.crf),
        force=args.force,
        progress=False if args.quiet else None,
        profile=args.profile,
    )
    if not args.quiet:
        extra = f", sidecar {result.sidecar}" if result.sidecar else ""
        print(f"wrote {result.output} ({result.frames} frames, {result.fps:.1f} fps{extra})", file=sys.stderr)
    if args.profile:
        print_profile(result)
    return 0
