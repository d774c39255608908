"""The training settings, in a module that imports nothing heavy.

The command line (`streamer.commands.train`, `streamer.commands.train_detector`) reads its
defaults from these fields, so `streamer --help` shows the library's own defaults without
loading TensorFlow. `streamer.training.train` and `streamer.training.detector_train` take them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """How `train` trains a character classifier; each field is a step of its recipe
    (`streamer.training.train`)."""

    backbone: str = "mobilenet"
    weights: str = "imagenet"  # "imagenet", "none" or a path
    alpha: float | None = None  # width; None: the file's, or the backbone's default
    resolution: int = 224  # side the backbone sees; crops are upscaled inside the model
    epochs: int = 30  # phase 1 (frozen backbone), at most
    fine_tune_epochs: int = 60  # phase 2, at most; 0 skips fine-tuning
    fine_tune_layers: int = -1  # backbone layers unfrozen from the top in phase 2; -1: all
    batch_size: int = 16
    learning_rate: float = 3e-3
    fine_tune_learning_rate: float = 1e-4
    val_fraction: float = 0.15
    patience: int = 15
    label_smoothing: float = 0.1
    dropout: float = 0.3
    augment: float = 1.0  # strength multiplier; 0 turns augmentation off
    broadcast: float = 0.5  # strength of the broadcast look (squashed, small, soft faces); 0: off
    flip_average: bool = True  # average scores of crop and mirror image, inside the graph
    crop_margin: float | None = None  # how the crops were cut; None: DATA_DIR/prepare.json's, else 0
    # Open-set recognition (streamer.open_set): faces of other characters, trained as one more
    # class and held out to calibrate the `unknown` threshold. Each entry: "auto" (the shared
    # face folders found in the assets, `streamer.training.train._others_assets`), "none", or a
    # folder of pictures (any sub-folders): face crops are used as they are, illustrations and
    # frames cut like `prepare`.
    others: tuple[str, ...] = ("auto",)
    others_per_epoch: int = 0  # others drawn afresh each epoch; 0: as many as the known training faces
    others_max: int = 2000  # others loaded for training, at most
    others_held_out: int = 300  # others kept aside for the validation loss and the threshold
    projection_size: int = 128  # the training head's cosine space (the embedding is the backbone's features)
    cosine_scale: float = 16.0
    seed: int = 1
    threads: int | None = None


@dataclass(frozen=True)
class DetectorTrainConfig:
    """How `train-detector` trains the face detector (`streamer.training.detector_train`)."""

    data: tuple[str, ...]
    output: str
    negatives: str | None = None
    weights: str | None = None  # MobileNetV2 ImageNet weights file; None: random init
    alpha: float = 0.35
    steps: int = 7000
    batch_size: int = 16
    size: int = 320
    detect_width: int = 480
    learning_rate: float = 2e-3
    episode_weight: float = 2.0  # how often a sample comes from each data set, relative
    seed: int = 1
    threads: int | None = None
