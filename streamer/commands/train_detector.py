"""`streamer train-detector DATA... -o detector.keras`: train the learned face detector.

Arguments only; the work is in `streamer.training.detector_train` (TensorFlow is imported inside `run`);
the defaults are `streamer.training.config.DetectorTrainConfig`'s, which loads no TensorFlow.
The shipped detector (models/face_detector.onnx) is this command at its defaults on the shared
data, then `streamer export`: docs/detector.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamer.training.config import DetectorTrainConfig


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    d = DetectorTrainConfig(data=(), output="")  # the library's defaults, shown in the help
    parser = subparsers.add_parser(
        "train-detector",
        help="train the anime-face detector (.keras) on pictures with face boxes",
        description="Train a CenterNet-style face detector on MobileNetV2 from face-box annotation files "
        "(folders with annotations.json, see docs/detector.md). Each DATA's 'train' pictures train, its 'val' "
        "pictures set the score threshold, its 'test' pictures are left for the benchmark. Seeded. Turn the "
        ".keras file into the runtime's ONNX detector with `streamer export`.",
    )
    parser.add_argument("data", nargs="+", metavar="DATA", help="face-box annotations: a folder with annotations.json, or the file")
    parser.add_argument("-o", "--output", required=True, metavar="DETECTOR.keras", help="Keras model to write")
    parser.add_argument("--negatives", metavar="DIR",
                        help="folder of face-free patches to mix into training mosaics (e.g. animeface_patches/negative)")
    parser.add_argument("--weights", default="imagenet", metavar="imagenet|none|PATH",
                        help="MobileNetV2 backbone weights: imagenet (the 0.35 file, found as an asset), none, or a file")
    parser.add_argument("--alpha", type=float, default=d.alpha, help=f"MobileNetV2 width (default {d.alpha})")
    parser.add_argument("--steps", type=int, default=d.steps, metavar="N",
                        help=f"training steps, one batch of fresh random samples each (default {d.steps})")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N", help=f"(default {d.batch_size})")
    parser.add_argument("--size", type=int, default=d.size, metavar="PX",
                        help=f"side of the square training crops, a multiple of 32 (default {d.size})")
    parser.add_argument("--detect-width", type=int, default=d.detect_width, metavar="PX",
                        help=f"the width the runtime scales frames to: training scales pictures around it (default {d.detect_width})")
    parser.add_argument("--learning-rate", type=float, default=d.learning_rate, metavar="LR",
                        help=f"peak Adam learning rate, cosine-decayed (default {d.learning_rate:g})")
    parser.add_argument("--episode-weight", type=float, default=d.episode_weight, metavar="W",
                        help=f"how often the second and later DATA are sampled, relative to the first (default {d.episode_weight:g})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="TensorFlow threads (default: all cores)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.atomic import check_output_path
    from streamer.errors import UsageError

    output = Path(args.output)
    if output.suffix != ".keras":
        raise UsageError(f"-o must name a .keras file, got {output}")
    check_output_path(output, inputs=list(args.data), force=args.force)
    weights = _weights(args.weights)

    from streamer.training.detector_train import train_detector
    from streamer.progress import progress_bar

    config = DetectorTrainConfig(
        data=tuple(args.data), output=str(output), negatives=args.negatives, weights=weights, alpha=args.alpha,
        steps=args.steps, batch_size=args.batch_size, size=args.size, detect_width=args.detect_width,
        learning_rate=args.learning_rate, episode_weight=args.episode_weight, seed=args.seed, threads=args.threads,
    )
    log = not args.quiet and not sys.stderr.isatty()
    with progress_bar(config.steps, enabled=False if args.quiet else None, unit="step") as progress:
        def report(step: int, steps: int, loss: float, heat: float, reg: float) -> None:
            progress.update()
            if log and (step % 250 == 0 or step == steps):
                print(f"step {step}/{steps}: loss {loss:.3f} (heatmap {heat:.3f}, boxes {reg:.3f})", file=sys.stderr, flush=True)

        result = train_detector(config, report)
    if not args.quiet:
        print(
            f"wrote {result.output} in {result.seconds:.0f} s ({result.steps} steps, loss {result.final_loss:.3f}); "
            f"score threshold {result.score_threshold} (validation F1 {result.val_f1:.3f})",
            file=sys.stderr,
        )
    return 0


def _weights(choice: str) -> str | None:
    from streamer.errors import UsageError

    if choice == "none":
        return None
    from streamer import assets

    if choice == "imagenet":
        return str(assets.resolve(assets.MOBILENETV2_035))
    if not Path(choice).is_file():
        raise UsageError(f"--weights {choice}: no such file (use imagenet, none, or a Keras weights file)")
    return choice
