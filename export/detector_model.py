"""The face detector's network and loss: a CenterNet-style head on MobileNetV2.

    RGB 0..255 (N, H, W, 3), H and W multiples of 32
      → MobileNetV2 (ImageNet weights) features at strides 8, 16, 32
      → a small top-down feature pyramid (64 channels) merged at stride 8
      → heatmap logits (N, H/8, W/8, 1) and regression (N, H/8, W/8, 4): dx, dy, log w, log h

One output per face centre and no anchors: small faces (about 12 px and up at stride 8) and
faces filling the picture come from the same cells. The exported graph adds the sigmoid and a
3x3 max-pool peak filter, so the runtime only thresholds, decodes and runs NMS
(`streamer.detectors.onnx_face`).
"""

from __future__ import annotations

import math

from streamer.training.tf_runtime import import_tensorflow

FEATURE_LAYERS = ("block_6_expand_relu", "block_13_expand_relu", "out_relu")  # strides 8, 16, 32
PYRAMID_CHANNELS = 64
PRIOR = 0.05  # initial face probability of a cell, so the first steps are not swamped by negatives


def build_detector(alpha: float = 0.35, weights: str | None = None, channels: int = PYRAMID_CHANNELS):
    """A Keras model: image (None, None, None, 3) RGB 0..255 → [heatmap logits, regression]."""
    import_tensorflow()
    import keras
    from keras import layers

    image = keras.Input((None, None, 3), name="image")
    scaled = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(image)
    backbone = keras.applications.MobileNetV2(
        input_shape=(None, None, 3), alpha=alpha, include_top=False, weights=None
    )
    if weights:
        backbone.load_weights(weights)
    features = keras.Model(backbone.input, [backbone.get_layer(n).output for n in FEATURE_LAYERS], name="backbone")
    c3, c4, c5 = features(scaled)

    def lateral(x, name):
        x = layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    def smooth(x, name):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
        x = layers.BatchNormalization(name=f"{name}_dwbn")(x)
        x = layers.ReLU(name=f"{name}_dwrelu")(x)
        x = layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_pw")(x)
        x = layers.BatchNormalization(name=f"{name}_pwbn")(x)
        return layers.ReLU(name=f"{name}_pwrelu")(x)

    p5 = lateral(c5, "p5")
    p4 = layers.Add(name="p4_add")([lateral(c4, "p4"), layers.UpSampling2D(2, name="p5_up")(p5)])
    p4 = smooth(p4, "p4_smooth")
    p3 = layers.Add(name="p3_add")([lateral(c3, "p3"), layers.UpSampling2D(2, name="p4_up")(p4)])
    p3 = smooth(p3, "p3_smooth")
    p3 = smooth(p3, "p3_smooth2")

    heat = smooth(p3, "heat_tower")
    heat = layers.Conv2D(
        1, 1, name="heatmap",
        bias_initializer=keras.initializers.Constant(-math.log((1 - PRIOR) / PRIOR)),
    )(heat)
    reg = smooth(p3, "reg_tower")
    reg = layers.Conv2D(4, 1, name="regression")(reg)
    return keras.Model(image, [heat, reg], name="face_detector")


def detector_loss(tf, heat_logits, regression, heatmap, reg_target, reg_mask, weight):
    """CenterNet's penalty-reduced focal loss on the heatmap plus L1 on offsets and log sizes,
    both normalised by the number of faces. Returns (total, heat, reg) scalars."""
    prob = tf.clip_by_value(tf.sigmoid(heat_logits), 1e-4, 1 - 1e-4)
    positive = tf.cast(tf.equal(heatmap, 1.0), tf.float32)
    pos_loss = -tf.math.log(prob) * tf.square(1 - prob) * positive
    neg_loss = -tf.math.log(1 - prob) * tf.square(prob) * tf.pow(1 - heatmap, 4) * (1 - positive)
    faces = tf.maximum(tf.reduce_sum(positive), 1.0)
    heat_loss = tf.reduce_sum((pos_loss + neg_loss) * weight) / faces
    reg_loss = tf.reduce_sum(tf.abs(regression - reg_target) * reg_mask) / faces
    return heat_loss + reg_loss, heat_loss, reg_loss


def with_peaks(tf, heat_logits, regression):
    """What the exported graph outputs: face scores kept only at 3x3 local maxima, and regression."""
    scores = tf.sigmoid(heat_logits)
    pooled = tf.nn.max_pool2d(scores, ksize=3, strides=1, padding="SAME")
    peaks = scores * tf.cast(tf.equal(scores, pooled), scores.dtype)
    return peaks, regression
