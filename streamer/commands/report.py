"""`streamer report SIDECAR... -o report.html`: a page to look at what annotate found."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="an HTML review page of sidecars: timeline, player, tracks gallery, screen time",
        description="Write a self-contained HTML page (opens from disk, no network) for an annotated "
        "episode: a timeline with one lane per character, the labelled MP4 in a player when it is "
        "beside the sidecar (SIDECAR's name with .mp4), one thumbnail per track, screen time per "
        "character. With several sidecars, OUTPUT is the season page (characters x episodes) and "
        "each episode's page is written beside it as <sidecar name>.html.",
    )
    parser.add_argument("sidecars", nargs="+", metavar="SIDECAR", help="sidecar(s) written by annotate (.jsonl or .csv)")
    parser.add_argument("-o", "--output", required=True, metavar="REPORT.html", help="the page to write")
    parser.add_argument("--video", metavar="VIDEO", help="the labelled video of a single sidecar (default: SIDECAR's name with .mp4)")
    parser.add_argument("--title", help="the page's title (default: the sidecar's or the output's name)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing pages")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.report import write_report

    result = write_report(
        args.sidecars, args.output, video=args.video, title=args.title, force=args.force,
        warn=lambda text: print(f"streamer: warning: {text}", file=sys.stderr),
    )
    if not args.quiet:
        pages = ", ".join(str(p) for p in result.pages)
        print(f"wrote {pages} ({result.tracks} tracks, {result.thumbnails} thumbnails)", file=sys.stderr)
    return 0
