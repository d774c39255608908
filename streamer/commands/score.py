"""`streamer score SIDECAR TRUTH`: how well an `annotate` sidecar matches a clip's ground truth.

Reading is here; the scoring is `streamer.scoring` (pure), the truth format `streamer.groundtruth`.
"""

from __future__ import annotations

import argparse
import json

from streamer.scoring import DEFAULT_IOU_THRESHOLD


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "score",
        help="score an annotate sidecar against ground truth (recall, precision, names, flips)",
        description="Compare the faces an `annotate` sidecar records with the ground truth of the same clip "
        "(as samples/make_clip.py writes it). Per frame, boxes are matched by IoU; prints detection recall "
        "and precision, name accuracy and the unknown rate on matched faces, identity switches, label flips "
        "per track, and a per-character table.",
    )
    parser.add_argument("sidecar", metavar="SIDECAR", help="sidecar written by `annotate --sidecar` (.jsonl or .csv)")
    parser.add_argument("truth", metavar="TRUTH", help="ground truth of the clip (<clip>.truth.jsonl)")
    parser.add_argument("--iou", type=float, default=DEFAULT_IOU_THRESHOLD, metavar="T",
                        help=f"least IoU for a predicted box to match a truth box (default {DEFAULT_IOU_THRESHOLD})")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.errors import UsageError
    from streamer.groundtruth import read_truth
    from streamer.scoring import check_same_clip, score, summary_lines
    from streamer.sidecar import read_sidecar

    if not 0.0 < args.iou <= 1.0:
        raise UsageError(f"--iou must be above 0 and at most 1, got {args.iou:g}")
    records, summary = read_sidecar(args.sidecar)
    truth = read_truth(args.truth)
    check_same_clip(records, truth.frames, summary.frames if summary else None)
    result = score(records, truth.frames, iou_threshold=args.iou)
    if args.json:
        print(json.dumps({"sidecar": args.sidecar, "truth": args.truth, **result.to_dict()}, indent=2))
        return 0
    print(f"{args.sidecar} against {args.truth}: {result.frames} frames, {truth.shots} shots")
    for line in summary_lines(result):
        print(line)
    return 0
