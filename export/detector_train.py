"""`train-detector`: the face detector, trained from pictures with hand-drawn face boxes.

    streamer train-detector ../shared/datasets/face_boxes/illustrations \
        ../shared/datasets/face_boxes/episodes --negatives ../shared/datasets/animeface_patches/negative \
        -o detector.keras

Each DATA is a face-box annotation file (`streamer.face_boxes`); its "train" pictures train,
its "val" pictures choose the score threshold, its "test" pictures are never read here (the
benchmark measures on them). Steps, not epochs: a step is one batch of fresh random samples
(`streamer.training.detector_data.SampleMaker`), so the run length is what a session can afford.
Seeded: the same command gives the same model on the same machine.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from streamer.detectors.contract import DetectorContract
from streamer.errors import InputError, SettingError
from streamer.face_boxes import read_pictures
from streamer.training.config import DetectorTrainConfig  # defined apart, for the CLI; callers may import it here


@dataclass(frozen=True)
class DetectorTrainResult:
    output: Path
    steps: int
    seconds: float
    final_loss: float
    score_threshold: float
    val_f1: float


def train_detector(config: DetectorTrainConfig, progress=None) -> DetectorTrainResult:
    from streamer.training import detector_data
    from streamer.training.detector_model import build_detector, detector_loss
    from streamer.training.tf_runtime import configure, import_tensorflow

    if config.steps < 1:
        raise SettingError(f"{{steps}} must be 1 or more, got {config.steps}")
    if config.batch_size < 1:
        raise SettingError(f"{{batch_size}} must be 1 or more, got {config.batch_size}")
    if config.size % 32:
        raise SettingError(f"{{size}} must be a multiple of 32, got {config.size}")
    train_groups, val_pictures = [], []
    for data in config.data:
        pictures = read_pictures(data)
        train = [p for p in pictures if p.split == "train"]
        val_pictures += [p for p in pictures if p.split == "val"]
        if not train:
            raise InputError(f"{data}: no training pictures in it")
        train_groups.append(detector_data.load_examples(train))
    if not any(train_groups):
        raise InputError("none of the training pictures could be read")
    negatives: list[np.ndarray] = []
    if config.negatives:
        from streamer.image_files import list_images

        paths, _ = list_images(Path(config.negatives))
        negatives = detector_data.load_patches(paths)

    tf = import_tensorflow()
    configure(threads=config.threads, seed=config.seed)
    model = build_detector(alpha=config.alpha, weights=config.weights)
    # Every data set gets the same share of samples (scaled by episode_weight for the frames):
    # 284 illustrations would otherwise drown 150 broadcast frames.
    weights = [config.episode_weight if i > 0 else 1.0 for i in range(len(train_groups))]
    rng = np.random.default_rng(config.seed)
    maker = detector_data.SampleMaker(
        list(zip(train_groups, weights)), negatives, rng, size=config.size, runtime_side=config.detect_width
    )
    batches = _prefetch(maker, config.batch_size, config.size, config.steps)

    schedule = _WarmupCosine(config.learning_rate, config.steps)
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=schedule, clipnorm=10.0)

    @tf.function
    def step(images, heatmap, reg_target, reg_mask, weight):
        with tf.GradientTape() as tape:
            heat_logits, regression = model(images, training=True)
            total, heat_loss, reg_loss = detector_loss(tf, heat_logits, regression, heatmap, reg_target, reg_mask, weight)
            total_with_decay = total + 1e-5 * tf.add_n([tf.nn.l2_loss(v) for v in model.trainable_variables if "kernel" in v.name])
        gradients = tape.gradient(total_with_decay, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return total, heat_loss, reg_loss

    started = time.monotonic()
    running = None
    for index in range(config.steps):
        images, targets = next(batches)
        total, heat_loss, reg_loss = step(images, *targets)
        value = float(total)
        running = value if running is None else 0.98 * running + 0.02 * value
        if progress is not None:
            progress(index + 1, config.steps, running, float(heat_loss), float(reg_loss))
    seconds = time.monotonic() - started

    threshold, f1 = 0.35, float("nan")
    if val_pictures:
        threshold, f1 = _choose_threshold(model, val_pictures, config.detect_width)
    contract = DetectorContract(
        score_threshold=threshold,
        detect_width=config.detect_width,
        trained_on=", ".join(Path(d).name for d in config.data),
    )
    training = asdict(config)
    # Absolute, so `export` finds the pictures for its parity check from any folder.
    training["data"] = [str(Path(d).resolve()) for d in config.data]
    training.update(steps_done=config.steps, seconds=round(seconds, 1), final_loss=running, val_f1=f1)
    from streamer.training.model_io import save_detector

    save_detector(model, contract, config.output, training)
    return DetectorTrainResult(Path(config.output), config.steps, seconds, float(running), threshold, f1)


MIN_VAL_PRECISION = 0.95


def _choose_threshold(model, pictures, detect_width: int) -> tuple[float, float]:
    """(score threshold, its F1) from the validation pictures, IoU >= 0.4: the lowest threshold
    whose precision is at least MIN_VAL_PRECISION (recall matters more to a user than a rare
    false box, which the tracker's votes mostly leave `unknown`), else the best F1."""
    from streamer.training.model_io import KerasFaceDetector
    from streamer.detection_scoring import match_detections, precision_recall

    detector = KerasFaceDetector(model, DetectorContract(score_threshold=0.05, detect_width=detect_width))
    results = []
    import cv2

    for picture in pictures:
        image = cv2.imread(str(picture.path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        found = detector.detect(image)
        results.append(match_detections(found.xyxy, found.confidence, picture.boxes(), picture.ignored_boxes(), 0.4))
    curve = precision_recall(results)
    candidates = []
    for threshold in np.round(np.arange(0.15, 0.8, 0.025), 3):
        recall, precision, _ = curve.at(float(threshold))
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        candidates.append((float(threshold), precision, f1))
    precise = [(t, f1) for t, precision, f1 in candidates if precision >= MIN_VAL_PRECISION]
    if precise:
        return precise[0]
    best = max(candidates, key=lambda c: c[2])
    return best[0], best[2]


class _WarmupCosine:
    """Linear warm-up over the first 3 % of steps, then cosine decay to 2 % of the peak."""

    def __new__(cls, peak: float, steps: int):
        import keras

        warmup = max(1, int(0.03 * steps))
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=peak * 0.05, decay_steps=max(1, steps - warmup), alpha=0.02,
            warmup_target=peak, warmup_steps=warmup,
        )


def _prefetch(maker, batch_size: int, size: int, steps: int, depth: int = 4):
    """Batches made in a background thread (OpenCV releases the GIL), `depth` ahead."""
    from streamer.training.detector_data import encode_targets

    ready: queue.Queue = queue.Queue(maxsize=depth)

    def work() -> None:
        for _ in range(steps):
            images, heat, reg, mask, weight = [], [], [], [], []
            for _ in range(batch_size):
                crop, boxes, ignored = maker.make()
                h, r, m, w = encode_targets(boxes, ignored, size)
                images.append(crop[..., ::-1])  # the model takes RGB
                heat.append(h), reg.append(r), mask.append(m), weight.append(w)
            ready.put((np.stack(images).astype(np.float32), tuple(np.stack(x) for x in (heat, reg, mask, weight))))

    threading.Thread(target=work, daemon=True, name="detector-batches").start()
    while True:
        yield ready.get()
