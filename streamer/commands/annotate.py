"""`streamer annotate INPUT -o OUTPUT.mp4 --model CLASSIFIER.onnx`: label a video file."""

from __future__ import annotations

import argparse
import sys

from streamer.commands.options import add_encoder_options, add_recognition_options, loop_settings


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
    add_recognition_options(parser)
    parser.add_argument("--sidecar", metavar="PATH", help="write per-frame records to PATH (.jsonl or .csv)")
    add_encoder_options(parser)
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("--profile", action="store_true", help="print where the time went, per stage")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.annotate import EncoderSettings, annotate, print_profile

    result = annotate(
        args.input,
        args.output,
        args.model,
        cascade_path=args.cascade,
        sidecar_path=args.sidecar,
        settings=loop_settings(args),
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
