"""`streamer evaluate MODEL TEST_DIR`: accuracy, per-character figures, confusion matrix, and
a per-image table of a .keras or .onnx classifier. The work is in `streamer.training.evaluate`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a classifier (.keras or .onnx) on TEST_DIR/<character>/ images",
        description="Classify every image of TEST_DIR/<character>/ and compare with its folder's name. Prints "
        "the accuracy and per-character precision/recall, and writes a report folder with report.md (those "
        "figures and a per-image table of the top-3 scores with OK/NG), confusion.png, threshold.png (known "
        "accuracy and foreign rejection against the threshold) and evaluation.json. A face whose best score is below "
        "the threshold is unknown, as in `annotate`; a known face called unknown counts as wrong. "
        "An .onnx model runs exactly as `annotate --model` runs it.",
    )
    parser.add_argument("model", metavar="MODEL", help="classifier: .onnx (from export) or .keras (from train)")
    parser.add_argument("test_dir", metavar="TEST_DIR",
                        help="folder of <character>/ image folders (or a prepared DATA_DIR: its test/ is used)")
    parser.add_argument("--foreign", metavar="DIR",
                        help="faces (crops or pictures, in any sub-folders) of characters the model must not name: "
                        "reports how many come out unknown")
    parser.add_argument("--gallery", action="append", default=[], metavar="GALLERY.json",
                        help="characters enrolled with `streamer enroll` for this .onnx model (repeatable)")
    parser.add_argument("--threshold", type=float, default=None, metavar="S",
                        help="unknown below this score (default: the model's calibrated threshold, as annotate uses)")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="report folder to write (default: MODEL-evaluation beside the model, e.g. chars.onnx-evaluation)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (accuracy, correct, total, unknown, threshold, foreign, "
                        "per_character, confusion, images)")
    parser.add_argument("-f", "--force", action="store_true", help="replace the report folder if it exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.training.evaluate import evaluate, foreign_images, labelled_images, summary_lines, write_reports
    from streamer.training.dataset import test_folder
    from streamer.training.outdir import AtomicDir, check_output_dir
    from streamer.progress import progress_bar

    model = Path(args.model)
    out_dir = Path(args.output) if args.output else model.with_name(model.name + "-evaluation")
    if args.threshold is not None and not -1.0 <= args.threshold <= 1.0:
        from streamer.errors import UsageError

        raise UsageError("--threshold must be between -1 and 1")
    check_output_dir(out_dir, inputs=[args.test_dir, model], force=args.force)
    total = len(labelled_images(test_folder(args.test_dir)))
    if args.foreign:
        total += len(foreign_images(Path(args.foreign), ()))
    with progress_bar(total, enabled=False if args.quiet else None, unit="image") as progress:
        evaluation = evaluate(
            model, args.test_dir, on_batch=progress.update, foreign_dir=args.foreign,
            galleries=args.gallery, threshold=args.threshold,
        )
    with AtomicDir(out_dir) as staging:
        written = write_reports(evaluation, staging)
    paths = {key: str(out_dir / path.name) for key, path in written.items()}
    if args.json:
        print(json.dumps({**evaluation.to_dict(), "reports": paths}, indent=2))
    if not args.quiet:
        stream = sys.stderr
        for line in summary_lines(evaluation):
            print(line, file=stream)
        print(f"wrote {out_dir} (report.md, confusion.png, threshold.png, evaluation.json)", file=stream)
    return 0
