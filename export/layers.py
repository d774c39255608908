"""The few layers of our own that a saved `.keras` classifier contains.

Registered with Keras under the package "streamer", so `keras.models.load_model` finds them
once this module is imported (`export.model_io.load_keras_model` does that). Each one converts
to plain ONNX operators through tf2onnx.
"""

from __future__ import annotations

from export.tf_runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402 - after the quiet TensorFlow import
from keras import ops  # noqa: E402


@keras.saving.register_keras_serializable(package="streamer")
class FlipLeftRight(keras.layers.Layer):
    """Mirror an NHWC batch horizontally (test-time flip averaging inside the graph)."""

    def call(self, images):
        return ops.flip(images, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape
