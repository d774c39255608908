"""Training-time augmentation of the classifier's face crops.

Two groups, each with its own strength (`TrainConfig.augment`, `TrainConfig.broadcast`):

- the usual ones: horizontal flips, small rotations, zoom, shifts, brightness and contrast.
  Hue is left alone: hair and eye colour are what tell look-alike characters apart.
- the *broadcast look*: what a face cut from an episode frame has and a face cut from a poster
  or fan art does not. Broadcast frames arrive squashed or stretched (4:3 material shown wide,
  datasets resized to squares), and most faces on screen are far smaller than the 96-px crop,
  so the runtime's crop is an upscaled, soft copy of a few dozen pixels. The training
  illustrations are large and sharp; without this the classifier learns detail the runtime
  never sees.
"""

from __future__ import annotations

from streamer.training.tf_runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import
from keras import ops  # noqa: E402

# Sides, in pixels, a crop is shrunk to before it is scaled back (a face of that height on
# screen); one is drawn per crop.
SHRUNK_SIDES = (20, 28, 40, 56, 72)


class ShrinkAndRestore(keras.layers.Layer):
    """Training only: shrink a share of the crops to a small side and scale them back up.

    rate: the share of crops shrunk; each picks one of `sides` at random.
    """

    def __init__(self, rate: float, sides: tuple[int, ...] = SHRUNK_SIDES, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.sides = tuple(int(side) for side in sides)
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training or self.rate <= 0:
            return images
        height, width = images.shape[1], images.shape[2]
        batch = ops.shape(images)[0]
        # Every candidate size for the whole batch (cheap at 96 px), then one chosen per crop.
        versions = [images] + [
            ops.image.resize(ops.image.resize(images, (side, side), antialias=True), (height, width))
            for side in self.sides
        ]
        shrink = keras.random.uniform((batch,), seed=self.generator) < self.rate
        which = keras.random.randint((batch,), 1, len(versions), seed=self.generator)
        which = ops.where(shrink, which, ops.zeros_like(which))
        chosen = ops.one_hot(which, len(versions), dtype=images.dtype)  # (batch, versions)
        stacked = ops.stack(versions, axis=1)  # (batch, versions, h, w, c)
        return ops.sum(stacked * chosen[:, :, None, None, None], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape


def build_augmenter(strength: float, broadcast: float, seed: int):
    """Random transforms applied to training batches only (None when both strengths are 0)."""
    if strength <= 0 and broadcast <= 0:
        return None
    s, b = max(0.0, float(strength)), max(0.0, float(broadcast))
    L = keras.layers
    layers = []
    if s > 0:
        layers += [
            L.RandomFlip("horizontal", seed=seed),
            L.RandomRotation(0.04 * s, fill_mode="reflect", seed=seed + 1),  # ±14° at strength 1
        ]
    # Zoom; with the broadcast look the width scales on its own too: faces 0.75-1.3x as wide.
    zoom = (-0.15 * s, 0.1 * s)
    width_zoom = (min(zoom[0], -0.25 * b), max(zoom[1], 0.3 * b)) if b > 0 else None
    if s > 0 or b > 0:
        layers.append(L.RandomZoom(zoom, width_zoom, fill_mode="reflect", seed=seed + 2))
    if s > 0:
        layers += [
            L.RandomTranslation(0.08 * s, 0.08 * s, fill_mode="reflect", seed=seed + 3),
            L.RandomBrightness(0.15 * s, value_range=(0, 255), seed=seed + 4),
            L.RandomContrast(0.2 * s, seed=seed + 5),
        ]
    if b > 0:
        layers.append(ShrinkAndRestore(min(1.0, 0.5 * b), seed=seed + 6, name="shrink_and_restore"))
    return keras.Sequential(layers, name="augment")
