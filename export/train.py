"""`train`: transfer learning of a character classifier on face crops, in Keras.

    DATA_DIR/train/<character>/*.png  →  MODEL.keras (+ MODEL.curves.png)

The saved model takes what the runtime gives it: a batch of RGB float32 crops in 0..255,
(N, 96, 96, 3), and returns unit embeddings (N, features): an open-set model
(`streamer.open_set`), whose contract carries each character's prototype and the calibrated
`unknown` threshold. Everything between — the upscaling to the backbone's resolution, the
backbone's own pixel scaling, and (by default) averaging the embeddings of the crop and its
mirror image — is inside the graph, so the ONNX export carries it too and the runtime only
converts BGR to RGB. Training itself runs a softmax head over the characters plus "someone
else" (faces of other characters, `--others`) on top of the same features.

Recipe (each step is a TrainConfig field; see docs/training.md and docs/open_set.md for
what the defaults reach):
1. a stratified, seeded validation split of the training images (`val_fraction`);
2. the 96x96 crops upscaled to `resolution` (224) inside the model: MobileNet's ImageNet
   features are made at that scale (keima3: 16/18 at 96 px, 17/18 at 160, 18/18 at 224);
3. augmentation during training only (`streamer.training.augment`): horizontal flips, small
   rotations, zoom, shifts, brightness/contrast jitter, and the broadcast look (faces squashed
   or stretched, shrunk and scaled back as small faces on screen are); hue is left alone
   because hair and eye colour are what tell look-alike characters apart;
4. phase 1: the backbone frozen, only the new head (dropout, projection, cosine softmax) learns;
5. phase 2: the backbone unfrozen (all of it by default, or its top `fine_tune_layers`)
   with a 30x smaller learning rate; batch-norm layers stay frozen and in inference mode
   (their ImageNet statistics are better than any a few hundred crops give);
6. class weights for unbalanced folders, label smoothing, and after each phase the weights of
   the epoch with the lowest validation loss are restored (early stopping after `patience`
   epochs without improvement);
7. the embedding's centre set to the mean feature of the others, each character's prototype
   computed from its training faces, and the threshold calibrated on held-out faces
   (`streamer.open_set.calibrate`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from streamer.training.tf_runtime import configure, import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import

from streamer.training.augment import build_augmenter
from streamer.training.backbones import BackboneSpec, WeightsChoice, build_backbone, get_spec, preprocessing_layer, resolve_weights
from streamer.training.config import TrainConfig  # defined without TensorFlow, for the CLI; callers may import it here
from streamer.training.dataset import ImageSet, crop_margin_of, detector_of, load_image_folder, stratified_split, train_folder
from streamer.training.layers import Centered, CosineScores, FlipLeftRight, L2Normalize
from streamer.training.model_io import save_classifier
from streamer.errors import AssetError, InputError, SettingError
from streamer.image_files import list_images_recursive
from streamer.model_contract import ModelContract, resize_crop
from streamer.open_set import Calibration, calibrate, prototype_scores, prototypes_of

INPUT_SIZE = (96, 96)  # height, width: the crops `prepare` writes and the runtime cuts


def _others_assets():
    from streamer import assets

    # Faces of many characters in the shared data: animeface's clean 64x64 crops, and pictures
    # cut like the runtime's crops (pixiv illustrations, One Piece posters and screenshots), so
    # "someone else" is not just "a tight, clean crop". Not the real episode frames of
    # face_boxes: they are what benchmarks/real_frames.py measures on.
    return (
        (assets.ANIMEFACE_PATCHES, ("positive",)),
        (assets.FACE_BOXES, ("illustrations",)),
        (assets.ONEPIECE6, ("raw",)),
    )


@dataclass(frozen=True)
class EpochRecord:
    phase: int  # 1 frozen backbone, 2 fine-tuning
    epoch: int  # counted over both phases, from 1
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    labels: tuple[str, ...]
    train_counts: dict[str, int]
    val_counts: dict[str, int]
    history: tuple[EpochRecord, ...]
    best_epoch: int
    best_val_accuracy: float | None
    seconds: float
    weights: str
    config: TrainConfig
    notes: tuple[str, ...] = field(default=())
    calibration: Calibration | None = None


def train(
    data_dir: str | os.PathLike,
    output: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train on DATA_DIR/train and save the classifier to `output` (.keras), atomically.

    The caller validates `output` (exists without --force etc.) before calling: this runs for
    minutes. Raises InputError (data), UsageError (options), ModelError/AssetError (weights).
    """
    started = time.monotonic()
    _check_config(config)
    spec = get_spec(config.backbone)
    data = load_image_folder(train_folder(data_dir), INPUT_SIZE)
    configure(threads=config.threads, seed=config.seed)
    weights = resolve_weights(spec, config.weights, config.alpha)
    kept, held = stratified_split(data.labels, config.val_fraction, config.seed)
    train_set, val_set = data.subset(kept), data.subset(held)
    notes = []
    if len(val_set) == 0:
        notes.append("no validation images (too few per character): no early stopping, the last epoch is kept")

    crop_margin = config.crop_margin if config.crop_margin is not None else crop_margin_of(data_dir)
    others_folders = resolve_others(config.others)
    others_train, others_held = (
        load_others(others_folders, crop_margin, config, exclude=data.class_names) if others_folders else (None, None)
    )
    if not others_folders:
        notes.append(
            "no faces of other characters (--others): strangers will often get a name; the threshold keeps "
            "95 % of the validation faces named"
        )
    k = len(data.class_names)
    # Others are one more class ("someone else"). Measured against outlier exposure (others'
    # target spread evenly over the characters) on keima3: 97 % against 80-95 % of strangers rejected.
    classifier, embedder, backbone = build_classifier(spec, weights, k + bool(others_folders), config)
    augmenter = build_augmenter(config.augment, config.broadcast, config.seed)
    trainer = keras.Sequential([augmenter, classifier], name="trainer") if augmenter is not None else classifier

    per_epoch = config.others_per_epoch or len(train_set)
    train_ds = _dataset(train_set, config, shuffle=True, others=others_train, others_count=per_epoch)
    val_ds = (
        _dataset(val_set, config, shuffle=False, others=others_held, others_count=len(others_held) if others_held is not None else 0)
        if len(val_set) else None
    )
    best = BestWeights(classifier, config.patience if val_ds is not None else None)
    history: list[EpochRecord] = []
    recorder = _Recorder(history, on_epoch)

    phases = [(1, config.epochs, config.learning_rate)]
    if config.fine_tune_epochs > 0:
        phases.append((2, config.fine_tune_epochs, config.fine_tune_learning_rate))
    for phase, epochs, learning_rate in phases:
        if epochs <= 0:
            continue
        set_trainable(backbone, 0 if phase == 1 else config.fine_tune_layers)
        trainer.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
            metrics=["accuracy"],
            # XLA compilation costs more than it saves for a few hundred small images on a CPU.
            jit_compile=False,
        )
        recorder.phase = phase
        best.start_phase()
        trainer.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            callbacks=[recorder, best],
            verbose=0,
        )
        best.restore()

    # The runtime cuts faces in video with the margin the training crops had (the contract says).
    detector_name, detector_box = detector_of(data_dir)
    set_center(embedder, others_train if others_train is not None else train_set.images_rgb)
    inference = with_flip_average(embedder) if config.flip_average else embedder
    prototypes = prototypes_of(embed(inference, train_set.images_rgb), train_set.labels, k)
    calibration = calibrate(
        prototype_scores(embed(inference, val_set.images_rgb), prototypes, np.arange(k), k),
        val_set.labels,
        prototype_scores(embed(inference, others_held), prototypes, np.arange(k), k)
        if others_held is not None else np.zeros((0, k), np.float32),
    )
    contract = ModelContract(
        labels=data.class_names, input_size=INPUT_SIZE, output="embedding", crop_margin=crop_margin,
        detector=detector_name, detector_box=detector_box,
        prototypes=tuple((c, tuple(float(v) for v in prototypes[c])) for c in range(k)),
        threshold=calibration.threshold, threshold_meaning=calibration.meaning(),
    )
    training_info = {
        "backbone": spec.name,
        "alpha": weights.alpha,
        "weights": weights.describe(),
        "config": {k: v for k, v in asdict(config).items() if k != "threads"},
        "data_dir": str(Path(data_dir).resolve()),
        "best_epoch": best.best_epoch,
        "train_images": len(train_set),
        "val_images": len(val_set),
        "others": [str(folder) for folder in others_folders],
        "others_train": 0 if others_train is None else len(others_train),
        "others_held_out": 0 if others_held is None else len(others_held),
        "calibration": asdict(calibration),
    }
    model_path = save_classifier(inference, contract, output, training_info)
    return TrainResult(
        model_path=model_path,
        labels=data.class_names,
        train_counts=train_set.counts(),
        val_counts=val_set.counts(),
        history=tuple(history),
        best_epoch=best.best_epoch,
        best_val_accuracy=best.best_val_accuracy,
        seconds=time.monotonic() - started,
        weights=weights.describe(),
        config=config,
        notes=tuple(notes),
        calibration=calibration,
    )


def build_classifier(spec: BackboneSpec, weights: WeightsChoice, classes: int, config: TrainConfig):
    """(classifier, embedder, backbone): RGB 0..255 (N, 96, 96, 3) → probabilities (N, classes),
    its (N, features) unit embedding (the backbone's centred features), and the backbone inside both."""
    backbone = build_backbone(spec, weights, config.resolution)
    inputs = keras.Input((*INPUT_SIZE, 3), name="image")
    x = inputs
    if config.resolution != INPUT_SIZE[0]:
        x = keras.layers.Resizing(config.resolution, config.resolution, interpolation="bilinear", name="upscale")(x)
    scaling = preprocessing_layer(spec)
    if scaling is not None:
        x = scaling(x)
    # training=False keeps batch norm in inference mode in both phases (see the module doc).
    features = backbone(x, training=False)
    x = keras.layers.Dropout(config.dropout, name="dropout")(features)
    x = keras.layers.Dense(config.projection_size, name="projection")(x)
    logits = CosineScores(classes, config.cosine_scale, name="cosine")(L2Normalize(name="projected")(x))
    outputs = keras.layers.Softmax(name="scores")(logits)
    classifier = keras.Model(inputs, outputs, name=f"{spec.name}_classifier")
    # The embedding is the backbone's pooled features, centred and normalised, not the head's
    # projection: measured on keima3, both reject strangers, but the projection only spans
    # the trained characters' directions, and characters enrolled later all land in the same
    # corner of it (5-shot newgame8 0.66 named, every stranger then named too; features: 0.76).
    embedding = L2Normalize(name="embedding")(Centered(name="center")(features))
    embedder = keras.Model(inputs, embedding, name=f"{spec.name}_embedder")
    return classifier, embedder, backbone


def with_flip_average(embedder):
    """A model that returns the unit mean of `embedder`'s embeddings of the crops and their mirrors."""
    inputs = keras.Input(embedder.input_shape[1:], name="image")
    mirrored = FlipLeftRight(name="mirror")(inputs)
    mean = keras.layers.Average(name="flip_mean")([embedder(inputs), embedder(mirrored)])
    return keras.Model(inputs, L2Normalize(name="embedding")(mean), name=f"{embedder.name}_flip_average")


def set_center(embedder, images_rgb: np.ndarray, count: int = 1000) -> None:
    """Set the embedder's centre to the mean backbone feature of (up to `count` of) the images."""
    layer = embedder.get_layer("center")
    features = keras.Model(embedder.input, layer.input)
    mean = embed(features, images_rgb[:count]).mean(axis=0)
    layer.center.assign(mean.astype(np.float32))


def embed(model, images_rgb: np.ndarray | None) -> np.ndarray:
    """(n, d) embeddings of RGB uint8 crops (empty for None)."""
    if images_rgb is None or len(images_rgb) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    return np.asarray(model.predict(images_rgb.astype(np.float32), batch_size=64, verbose=0), np.float32)


def resolve_others(choices: tuple[str, ...] | str) -> list[Path]:
    """The folders of other characters' faces that `--others` names ([]: train without)."""
    from streamer import assets

    folders: list[Path] = []
    for choice in [choices] if isinstance(choices, str) else choices:
        if choice.strip().lower() == "none":
            continue
        if choice.strip().lower() == "auto":
            for asset, inside in _others_assets():
                try:
                    folders += [assets.resolve(asset, download=False) / sub for sub in inside]
                except AssetError:
                    pass
            continue
        folder = Path(choice)
        if not folder.is_dir():
            raise SettingError(f"{{others}} must be auto, none or a folder of pictures; {folder} is not a folder")
        folders.append(folder)
    return folders


def load_others(
    folders: list[Path], crop_margin: float, config: TrainConfig, exclude: tuple[str, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """(training faces, held-out faces) of other characters, RGB uint8 at the input size: a
    seeded draw taking from every folder in turn (a small folder of pictures counts as much
    as thousands of crops), cut as the training crops were cut (`streamer.picture_faces`).
    Pictures in a sub-folder named like a character being trained (`exclude`) are not others:
    training onepiece6's characters must not learn them as "someone else"."""
    from streamer.picture_faces import FaceCutter

    rng = np.random.default_rng(config.seed)
    excluded = set(exclude)
    queues = []
    for folder in folders:
        paths = [p for p in list_images_recursive(folder) if not excluded & set(p.relative_to(folder).parts[:-1])]
        queues.append([paths[i] for i in rng.permutation(len(paths))])
    wanted = config.others_held_out + config.others_max
    cutter = FaceCutter(INPUT_SIZE, crop_margin)
    faces: list[np.ndarray] = []
    while len(faces) < wanted and any(queues):
        for queue in queues:
            while queue and len(faces) < wanted:
                crops, _, _ = cutter.cut([queue.pop()])
                if crops:
                    faces.append(resize_crop(crops[0], INPUT_SIZE)[..., ::-1])
                    break
    if len(faces) < 20:
        where = ", ".join(str(f) for f in folders)
        raise InputError(f"others {where}: {len(faces)} faces found; give folders with at least 20 faces of other characters")
    order = rng.permutation(len(faces))
    images = np.stack([faces[i] for i in order])
    held_count = min(config.others_held_out, len(faces) // 5)
    return images[held_count:], images[:held_count]


def set_trainable(backbone, top_layers: int) -> None:
    """Freeze the backbone except its last `top_layers` layers (-1: all); batch norm stays frozen."""
    layers = backbone.layers
    backbone.trainable = top_layers != 0
    if top_layers == 0:
        return
    first = 0 if top_layers < 0 else max(0, len(layers) - top_layers)
    for index, layer in enumerate(layers):
        layer.trainable = index >= first and not isinstance(layer, keras.layers.BatchNormalization)


def class_weights(labels: np.ndarray, classes: int) -> np.ndarray:
    """Weight per class, n / (classes * count): each character counts as much in the loss."""
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (classes * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def _dataset(images: ImageSet, config: TrainConfig, shuffle: bool, others: np.ndarray | None = None, others_count: int = 0):
    """Batches of (image, one-hot, weight). With `others`, `others_count` of them join each
    epoch (drawn afresh every epoch when shuffling) as one more class after the characters."""
    known = len(images.class_names)
    classes = known + (others is not None)
    counts = np.bincount(images.labels, minlength=classes)
    if others is not None:
        counts[known] = others_count
    weight = class_weights(np.repeat(np.arange(classes), counts), classes)

    def tensors(x: np.ndarray, label: np.ndarray):
        return tf.data.Dataset.from_tensor_slices((x, np.eye(classes, dtype=np.float32)[label], weight[label]))

    ds = tensors(images.images_rgb, images.labels)
    total = len(images)
    if others is not None and others_count > 0:
        pool = tensors(others, np.full(len(others), known))
        if shuffle:
            pool = pool.shuffle(len(others), seed=config.seed + 7, reshuffle_each_iteration=True)
        ds = ds.concatenate(pool.take(others_count))
        total += min(others_count, len(others))
    if shuffle:
        ds = ds.shuffle(total, seed=config.seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda x, y, w: (tf.cast(x, tf.float32), y, w))
    return ds.batch(config.batch_size).prefetch(2)


def _check_config(config: TrainConfig) -> None:
    if config.epochs < 1:
        raise SettingError(f"{{epochs}} must be at least 1, got {config.epochs}")
    if config.fine_tune_epochs < 0:
        raise SettingError(f"{{fine_tune_epochs}} must be 0 or more, got {config.fine_tune_epochs}")
    if not 0.0 <= config.val_fraction < 1.0:
        raise SettingError(f"{{val_fraction}} must be in [0, 1), got {config.val_fraction}")
    if config.batch_size < 1:
        raise SettingError(f"{{batch_size}} must be at least 1, got {config.batch_size}")
    if not 0.0 <= config.label_smoothing < 1.0:
        raise SettingError(f"{{label_smoothing}} must be in [0, 1), got {config.label_smoothing}")
    if config.crop_margin is not None and not 0.0 <= config.crop_margin <= 2.0:
        raise SettingError(f"{{crop_margin}} must be in [0, 2], got {config.crop_margin}")
    if config.resolution < INPUT_SIZE[0]:
        raise SettingError(f"{{resolution}} must be at least {INPUT_SIZE[0]} (the crop size), got {config.resolution}")


class BestWeights(keras.callbacks.Callback):
    """Remember the weights of the best validation epoch; stop a phase after `patience` epochs
    without improvement; `restore()` puts the best weights back. Best = lowest validation
    loss (ties: higher accuracy). The loss, not the accuracy: with a dozen validation images
    the accuracy moves in steps of 8 % and picked lucky epochs (on keima3 the test result
    then varied from 16/18 to 18/18 with the seed; by the loss, 18/18 for seeds 1, 2 and 3).
    With patience None (no validation data) nothing is tracked and the last weights stay.

    Weights are kept per variable object, not as `get_weights()` lists, whose order follows
    the trainable flags that change between the phases.
    """

    def __init__(self, classifier, patience: int | None) -> None:
        super().__init__()
        self.classifier = classifier
        self.patience = patience
        self.best_key: tuple[float, float] | None = None
        self.best_values: list | None = None
        self.best_epoch = 0
        self.best_val_accuracy: float | None = None
        self.epochs_seen = 0
        self.since_best = 0

    def start_phase(self) -> None:
        self.since_best = 0

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.epochs_seen += 1
        logs = logs or {}
        if self.patience is None or "val_loss" not in logs:
            self.best_epoch = self.epochs_seen
            return
        key = (-float(logs["val_loss"]), float(logs.get("val_accuracy", 0.0)))
        if self.best_key is None or key > self.best_key:
            self.best_key = key
            self.best_values = [v.numpy() for v in self.classifier.variables]
            self.best_epoch = self.epochs_seen
            self.best_val_accuracy = float(logs.get("val_accuracy", 0.0))
            self.since_best = 0
        else:
            self.since_best += 1
            if self.since_best >= self.patience:
                self.model.stop_training = True

    def restore(self) -> None:
        if self.best_values is not None:
            for variable, value in zip(self.classifier.variables, self.best_values):
                variable.assign(value)


class _Recorder(keras.callbacks.Callback):
    """Collects EpochRecords (and forwards them, e.g. to a progress bar)."""

    def __init__(self, history: list[EpochRecord], on_epoch: Callable[[EpochRecord], None] | None) -> None:
        super().__init__()
        self.history = history
        self.on_epoch = on_epoch
        self.phase = 1

    def on_epoch_end(self, epoch, logs=None) -> None:
        logs = logs or {}
        record = EpochRecord(
            phase=self.phase,
            epoch=len(self.history) + 1,
            loss=float(logs.get("loss", math.nan)),
            accuracy=float(logs.get("accuracy", math.nan)),
            val_loss=float(logs["val_loss"]) if "val_loss" in logs else None,
            val_accuracy=float(logs["val_accuracy"]) if "val_accuracy" in logs else None,
        )
        self.history.append(record)
        if self.on_epoch is not None:
            self.on_epoch(record)
