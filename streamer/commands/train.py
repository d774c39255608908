"""`streamer train DATA_DIR -o MODEL.keras`: transfer learning of a character classifier.

Arguments only; the work is in `streamer.training.train` (TensorFlow is imported inside `run`);
the defaults are `streamer.training.config.TrainConfig`'s, which loads no TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamer.training.config import TrainConfig

BACKBONE_NAMES = ("mobilenet", "mobilenetv2", "efficientnetb0", "inceptionv3")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    d = TrainConfig()  # the library's defaults, shown in the help
    parser = subparsers.add_parser(
        "train",
        help="train a character classifier (.keras) on DATA_DIR/train/<character>/ face crops",
        description="Transfer learning on face crops as `streamer prepare` writes them: a pretrained backbone, "
        "frozen while a new head learns, then fine-tuned (all its layers by default); augmentation, class weights, a "
        "validation split with early stopping, and a fixed seed. Writes MODEL.keras and a PNG of the "
        "training curves beside it. Turn it into the runtime's ONNX file with `streamer export`.",
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder with train/<character>/ images (as prepare writes it)")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL.keras", help="Keras model to write")
    parser.add_argument("--backbone", default=d.backbone, choices=BACKBONE_NAMES, type=str.lower,
                        help=f"pretrained network to start from (default {d.backbone})")
    parser.add_argument("--weights", default=d.weights, metavar="imagenet|none|PATH",
                        help="backbone weights: imagenet (MobileNet 0.25 from the assets, others downloaded by Keras), "
                        "none (random), or a Keras weights file such as mobilenet_2_5_224_tf_no_top.h5, whose width "
                        f"is read from the file (default {d.weights})")
    parser.add_argument("--alpha", type=float, default=None,
                        help="backbone width for MobileNet/MobileNetV2 (default: from the weights file; 0.25 for "
                        "MobileNet, 1.0 for MobileNetV2)")
    parser.add_argument("--resolution", type=int, default=d.resolution, metavar="PX",
                        help=f"side the backbone sees: the 96x96 crops are upscaled inside the model (default {d.resolution})")
    parser.add_argument("--epochs", type=int, default=d.epochs, metavar="N",
                        help=f"at most N epochs with the backbone frozen (default {d.epochs})")
    parser.add_argument("--fine-tune-epochs", type=int, default=d.fine_tune_epochs, metavar="N",
                        help=f"then at most N epochs fine-tuning the backbone's top layers; 0 skips (default {d.fine_tune_epochs})")
    parser.add_argument("--fine-tune-layers", type=int, default=d.fine_tune_layers, metavar="N",
                        help=f"backbone layers unfrozen from the top for fine-tuning, -1 = all (default {d.fine_tune_layers})")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N", help=f"(default {d.batch_size})")
    parser.add_argument("--learning-rate", type=float, default=d.learning_rate, metavar="LR",
                        help=f"Adam learning rate of the frozen phase (default {d.learning_rate:g})")
    parser.add_argument("--fine-tune-learning-rate", type=float, default=d.fine_tune_learning_rate, metavar="LR",
                        help=f"learning rate of fine-tuning (default {d.fine_tune_learning_rate:g})")
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction, metavar="F",
                        help=f"share of each character's training images held out for early stopping (default {d.val_fraction})")
    parser.add_argument("--patience", type=int, default=d.patience, metavar="N",
                        help=f"stop a phase after N epochs without a better validation score (default {d.patience})")
    parser.add_argument("--label-smoothing", type=float, default=d.label_smoothing, metavar="E",
                        help=f"(default {d.label_smoothing})")
    parser.add_argument("--dropout", type=float, default=d.dropout, metavar="P", help=f"before the last layer (default {d.dropout})")
    parser.add_argument("--augment", type=float, default=d.augment, metavar="S",
                        help=f"augmentation strength (flips, rotation, zoom, shifts, brightness, contrast); 0 = off (default {d.augment:g})")
    parser.add_argument("--broadcast", type=float, default=d.broadcast, metavar="S",
                        help="strength of the broadcast look: faces squashed or stretched sideways, and shrunk and scaled "
                        f"back as small faces on screen are; 0 = off (default {d.broadcast:g})")
    parser.add_argument("--no-flip-average", dest="flip_average", action="store_false",
                        help="do not average the scores of each crop and its mirror image in the saved model")
    parser.add_argument("--crop-margin", type=float, default=None, metavar="M",
                        help="margin the crops were cut with, recorded in the model so the runtime cuts faces the same "
                        "way (default: from DATA_DIR/prepare.json when prepare wrote it, else 0 for ready-made face crops)")
    parser.add_argument("--others", action="append", default=None, metavar="auto|none|DIR",
                        help="faces of other characters, trained as 'someone else' and held out to calibrate the "
                        "unknown threshold: a folder of pictures (any sub-folders; square-ish crops up to 128 px as they are, "
                        "other pictures cut like prepare cuts them), none, or auto = the shared face folders "
                        "(animeface_patches, face_boxes illustrations, onepiece6) found via STREAMER_ASSETS or the cache; "
                        f"sub-folders named like a character being trained are skipped; repeatable (default {' '.join(d.others)})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"for the split, augmentation and initialisation (default {d.seed})")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="TensorFlow threads (default: all cores)")
    parser.add_argument("--curves", metavar="PNG", help="training curves image (default: MODEL.curves.png beside the model)")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from streamer.atomic import check_output_path
    from streamer.errors import UsageError

    output = Path(args.output)
    if output.suffix != ".keras":
        raise UsageError(f"-o must name a .keras file, got {output}")
    curves = Path(args.curves) if args.curves else output.with_name(output.stem + ".curves.png")
    check_output_path(output, force=args.force)
    check_output_path(curves, inputs=[output], force=args.force)

    from streamer.training.reports import plot_training_curves
    from streamer.training.train import train
    from streamer.progress import progress_bar

    config = TrainConfig(
        backbone=args.backbone,
        weights=args.weights,
        alpha=args.alpha,
        resolution=args.resolution,
        epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        fine_tune_layers=args.fine_tune_layers,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        fine_tune_learning_rate=args.fine_tune_learning_rate,
        val_fraction=args.val_fraction,
        patience=args.patience,
        label_smoothing=args.label_smoothing,
        dropout=args.dropout,
        augment=args.augment,
        broadcast=args.broadcast,
        flip_average=args.flip_average,
        crop_margin=args.crop_margin,
        others=tuple(args.others or TrainConfig.others),
        seed=args.seed,
        threads=args.threads,
    )
    with progress_bar(config.epochs + config.fine_tune_epochs, enabled=False if args.quiet else None, unit="epoch") as progress:
        result = train(args.data_dir, output, config, on_epoch=lambda record: progress.update())
    plot_training_curves(result.history, curves, title=f"{output.name}: {config.backbone}")
    if not args.quiet:
        counts = ", ".join(f"{name} {count}" for name, count in result.train_counts.items())
        val = f"; best validation accuracy {result.best_val_accuracy:.1%} at epoch {result.best_epoch}" if result.best_val_accuracy is not None else ""
        print(f"wrote {output} and {curves} in {result.seconds:.0f} s ({len(result.history)} epochs{val})", file=sys.stderr)
        print(f"  {config.backbone} with {result.weights}; training images: {counts}", file=sys.stderr)
        if result.calibration is not None:
            print(f"  open set: {result.calibration.meaning()}", file=sys.stderr)
        for note in result.notes:
            print(f"  note: {note}", file=sys.stderr)
    return 0
