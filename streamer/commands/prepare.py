"""`streamer prepare RAW_DIR OUT_DIR`: face crops from illustrations, split into train/test.

Arguments only; the work is in `streamer.training.prepare` (imported inside `run`, so `streamer --help`
stays light).
"""

from __future__ import annotations

import argparse
import sys

# Mirrors streamer.detectors.settings.DetectorSettings / DEFAULT_TEST_FRACTION (tests check they agree).
DEFAULTS = {"test_fraction": 1.0 / 6.0, "min_neighbors": 3, "scale_factor": 1.1, "min_face": 24, "detect_width": None}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prepare",
        help="find and crop faces in RAW_DIR/<character>/ images, split them into train/ and test/",
        description="Find the face in every image of RAW_DIR/<character>/ with the runtime's anime-face "
        "detector, crop it the way the runtime does (square, with a margin, 96x96), and write "
        "OUT_DIR/train/<character>/ and OUT_DIR/test/<character>/ plus OUT_DIR/prepare-report.md, which "
        "lists images without a face, with several faces, and unreadable files.",
    )
    parser.add_argument("raw_dir", metavar="RAW_DIR", help="folder with one sub-folder of images per character")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (must not exist or be empty, unless --force)")
    parser.add_argument("--test-fraction", type=float, default=DEFAULTS["test_fraction"], metavar="F",
                        help="share of each character's images for the test set (default 1/6: the last sixth "
                        "in numeric file-name order, e.g. 31-36 of 36)")
    parser.add_argument("--seed", type=int, default=None,
                        help="pick the test images at random with this seed instead of the last ones by name")
    parser.add_argument("--detector", metavar="cascade|PATH.onnx",
                        help="face detector: the shipped learned one (default), cascade, or a face-detector ONNX file; "
                        "the classifier trained on these crops remembers it")
    parser.add_argument("--cascade", metavar="XML",
                        help="anime-face cascade (default: found via STREAMER_ASSETS, the cache, or downloaded)")
    parser.add_argument("--detect-width", type=int, default=DEFAULTS["detect_width"], metavar="PX",
                        help="scale images down to this width before detection (0 = full size; default: the learned "
                        "detector's own width from its metadata, full size for the cascade)")
    parser.add_argument("--min-neighbors", type=int, default=DEFAULTS["min_neighbors"], metavar="N",
                        help="cascade's minNeighbors: lower finds more faces and more false ones (default 3)")
    parser.add_argument("--scale-factor", type=float, default=DEFAULTS["scale_factor"], metavar="S",
                        help="cascade's scaleFactor (default 1.1)")
    parser.add_argument("--min-face", type=int, default=DEFAULTS["min_face"], metavar="PX",
                        help="smallest face side in pixels (default 24)")
    parser.add_argument("-f", "--force", action="store_true", help="replace OUT_DIR if it exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.training.prepare import DetectorSettings, count_images, prepare
    from streamer.progress import progress_bar

    settings = DetectorSettings(
        detector=args.detector,
        cascade=args.cascade,
        detect_width=None if args.detect_width is None else (args.detect_width or 0),
        min_neighbors=args.min_neighbors,
        scale_factor=args.scale_factor,
        min_face=args.min_face,
    )
    with progress_bar(count_images(args.raw_dir), enabled=False if args.quiet else None, unit="image") as progress:
        report = prepare(
            args.raw_dir,
            args.out_dir,
            test_fraction=args.test_fraction,
            seed=args.seed,
            settings=settings,
            force=args.force,
            on_image=progress.update,
        )
    if not args.quiet:
        faces = sum(c.faces for c in report.characters)
        images = sum(c.images for c in report.characters)
        train = sum(len(c.train) for c in report.characters)
        print(
            f"wrote {report.out_dir}: {faces} faces from {images} images of {len(report.characters)} characters "
            f"({train} train, {faces - train} test); report {report.out_dir / 'prepare-report.md'}",
            file=sys.stderr,
        )
        for c in report.characters:
            problems = []
            if c.no_face:
                problems.append(f"no face in {len(c.no_face)}")
            if c.several_faces:
                problems.append(f"several faces in {len(c.several_faces)}")
            if c.unreadable:
                problems.append(f"{len(c.unreadable)} unreadable")
            if c.not_images:
                problems.append(f"{len(c.not_images)} non-image files skipped")
            detail = f" ({'; '.join(problems)})" if problems else ""
            print(f"  {c.name}: {c.faces}/{c.images} faces, {len(c.train)} train, {len(c.test)} test{detail}", file=sys.stderr)
        for warning in report.warnings:
            print(f"  warning: {warning}", file=sys.stderr)
    return 0
