"""`streamer faces INPUT... -o OUT_DIR [-m MODEL.onnx]`: a face set per character from episodes."""

from __future__ import annotations

import argparse
import sys

from streamer.commands.options import add_recognition_options, loop_settings


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "faces",
        help="pull a clean face set per character out of episodes or images (a training set)",
        description="Follow every face through its shot and keep each track's best few crops (sharp, large, "
        "spread over the track, near-duplicates dropped): named tracks go to OUT_DIR/<character>/, unknown "
        "tracks are grouped across all inputs by similarity into OUT_DIR/unknown-NN/ (one stranger, one "
        "folder). Also writes faces.jsonl (where each crop came from), a contact sheet per folder and "
        "prepare.json, so OUT_DIR is an input for `streamer train` and `streamer enroll`.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="videos, images, or folders of them")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="the folder to write the face set into")
    add_recognition_options(parser)
    parser.add_argument("--per-track", type=int, default=3, metavar="K", help="crops kept per track (default 3)")
    parser.add_argument("--cluster-threshold", type=float, metavar="S",
                        help="least mean cosine similarity for unknown tracks to share a folder (default 0.6 with an "
                        "open-set model's embedding, 0.8 with the colour embedding used without one)")
    parser.add_argument("--min-cluster", type=int, default=2, metavar="N",
                        help="tracks an unknown group needs for a folder of its own; smaller ones go to unknown/ (default 2)")
    parser.add_argument("-f", "--force", action="store_true", help="replace an existing output folder")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.errors import InputError
    from streamer.faces import extract_faces

    result = extract_faces(
        args.inputs, args.output, args.model, detector=args.detector, cascade_path=args.cascade,
        settings=loop_settings(args), per_track=args.per_track, cluster_threshold=args.cluster_threshold,
        min_cluster=args.min_cluster, force=args.force, progress=False if args.quiet else None,
        warn=lambda text: print(f"streamer: {text}", file=sys.stderr),
    )
    for file, reason in result.failed:
        print(f"streamer: skipped {file}: {reason}", file=sys.stderr)
    if not args.quiet:
        folders = ", ".join(f"{name} {count}" for name, count in result.folders.items())
        print(f"wrote {result.crops} crops of {result.tracks} tracks to {result.folder} ({folders}; "
              f"{result.near_duplicates} near-duplicates dropped; {result.embedding} embedding)", file=sys.stderr)
    return InputError.exit_code if result.failed else 0
