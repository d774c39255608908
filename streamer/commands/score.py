"""`streamer score SIDECAR TRUTH`: how well an `annotate` sidecar matches a clip's ground truth.

Reading is here; the scoring is `streamer.scoring` (pure), the truth format `streamer.groundtruth`.
"""

from __future__ import annotations

import argparse
import json

from streamer.scoring import DEFAULT_IOU_THRESHOLD

STILLS_IOU = 0.4  # mirrors streamer.still_scoring.DEFAULT_IOU (a test checks they agree)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "score",
        help="score an annotate sidecar (video or stills) against ground truth (recall, precision, names, flips)",
        description="Compare the faces an `annotate` sidecar records with the ground truth of the same clip "
        "(as samples/make_clip.py writes it). Per frame, boxes are matched by IoU; prints detection recall "
        "and precision, name accuracy and the unknown rate on matched faces, identity switches, label flips "
        "per track, and a per-character table.",
    )
    parser.add_argument("sidecar", metavar="SIDECAR", help="sidecar written by `annotate --sidecar` (.jsonl or .csv)")
    parser.add_argument("truth", metavar="TRUTH",
                        help="ground truth: of a clip (<clip>.truth.jsonl), or of still images (a face-box "
                        "annotations.json with named faces, or its folder; see docs/stills.md)")
    parser.add_argument("--split", metavar="NAME",
                        help="stills: score only the pictures of this split of the truth (e.g. test)")
    parser.add_argument("--iou", type=float, default=None, metavar="T",
                        help=f"least IoU for a predicted box to match a truth box (default {DEFAULT_IOU_THRESHOLD} for "
                        f"a clip, {STILLS_IOU} for stills, as the detector benchmark matches)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.errors import UsageError
    from streamer.groundtruth import read_truth
    from streamer.scoring import check_same_clip, score, summary_lines
    from streamer.sidecar import read_sidecar

    if args.iou is not None and not 0.0 < args.iou <= 1.0:
        raise UsageError(f"--iou must be above 0 and at most 1, got {args.iou:g}")
    if _is_stills_truth(args.truth):
        return _score_stills(args)
    records, summary = read_sidecar(args.sidecar)
    truth = read_truth(args.truth)
    check_same_clip(records, truth.frames, summary.frames if summary else None)
    result = score(records, truth.frames, iou_threshold=args.iou if args.iou is not None else DEFAULT_IOU_THRESHOLD)
    if args.json:
        print(json.dumps({"sidecar": args.sidecar, "truth": args.truth, **result.to_dict()}, indent=2))
        return 0
    print(f"{args.sidecar} against {args.truth}: {result.frames} frames, {truth.shots} shots")
    for line in summary_lines(result):
        print(line)
    return 0


def _is_stills_truth(truth: str) -> bool:
    from pathlib import Path

    path = Path(truth)
    return path.is_dir() or path.suffix.lower() == ".json"


def _score_stills(args: argparse.Namespace) -> int:
    from streamer.face_boxes import read_pictures
    from streamer.image_records import read_image_records
    from streamer.still_scoring import score_stills, summary_lines

    records, _ = read_image_records(args.sidecar)
    pictures = read_pictures(args.truth, (args.split,) if args.split else None)
    iou = args.iou if args.iou is not None else STILLS_IOU
    result = score_stills(records, pictures, iou=iou)
    if args.json:
        print(json.dumps({"sidecar": args.sidecar, "truth": args.truth, "iou": iou, **result.to_dict()}, indent=2))
        return 0
    print(f"{args.sidecar} against {args.truth}: {result.pictures} pictures (IoU >= {iou:g})")
    for line in summary_lines(result):
        print(line)
    return 0
