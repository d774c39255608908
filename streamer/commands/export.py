"""`streamer export MODEL.keras -o MODEL.onnx`: the runtime's ONNX classifier, with labels and
preprocessing in its metadata, checked against Keras. The work is in `streamer.training.onnx_export`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OPSET = 17  # mirrors streamer.training.onnx_export.DEFAULT_OPSET (a test checks they agree)
DEFAULT_TOLERANCE = 1e-4
DETECTOR_TOLERANCE = 1e-3  # mirrors streamer.training.detector_export.PARITY_TOLERANCE (a test checks they agree)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="convert a trained .keras classifier or face detector to the .onnx file annotate/live use",
        description="Convert MODEL.keras to ONNX (dynamic batch size) with tf2onnx, write the labels, input "
        "size and preprocessing into the ONNX metadata, then classify real images with onnxruntime and Keras "
        "and compare: the file is written only if no probability differs by more than the tolerance.",
    )
    parser.add_argument("model", metavar="MODEL.keras", help="classifier written by `streamer train`")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL.onnx", help="ONNX file to write")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--check-images", metavar="DIR",
                        help="images for the parity check (default: the test/ or train/ folder the model was trained on)")
    parser.add_argument("--tolerance", type=float, default=None,
                        help=f"largest allowed difference between ONNX and Keras outputs (default {DEFAULT_TOLERANCE:g} on a classifier's "
                        f"probabilities, {DETECTOR_TOLERANCE:g} on a detector's raw scores and log sizes)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite MODEL.onnx if it exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.atomic import check_output_path
    from streamer.errors import UsageError

    output = Path(args.output)
    if output.suffix.lower() != ".onnx":
        raise UsageError(f"-o must name an .onnx file, got {output}")
    check_output_path(output, inputs=[args.model], force=args.force)

    from streamer.training.model_io import read_payload

    if "detector" in read_payload(args.model):
        return _export_detector(args, output)

    from streamer.training.onnx_export import export_onnx

    result = export_onnx(args.model, output, check_images=args.check_images, opset=args.opset, tolerance=DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance)
    if not args.quiet:
        print(
            f"wrote {result.onnx_path} (opset {result.opset}, {len(result.labels)} labels: {', '.join(result.labels)})",
            file=sys.stderr,
        )
        print(
            f"  parity on {result.parity_images} images from {result.parity_source}: "
            f"max abs diff {result.max_abs_diff:.2e} (ONNX vs Keras), same top-1: {'yes' if result.same_top1 else 'NO'}",
            file=sys.stderr,
        )
    return 0


def _export_detector(args: argparse.Namespace, output: Path) -> int:
    from streamer.training.detector_export import export_detector

    # A detector's parity is checked on raw scores and log sizes: the classifier's 1e-4 on
    # probabilities is too strict for them, so the detector has its own default.
    tolerance = DETECTOR_TOLERANCE if args.tolerance is None else args.tolerance
    result = export_detector(args.model, output, check_images=args.check_images, opset=args.opset, tolerance=tolerance)
    if not args.quiet:
        print(f"wrote {result.onnx_path} (face detector, opset {result.opset})", file=sys.stderr)
        print(
            f"  parity on {result.parity_pictures} pictures: max abs diff {result.max_abs_diff:.2e} (ONNX vs Keras), "
            f"same {result.faces} faces",
            file=sys.stderr,
        )
    return 0
