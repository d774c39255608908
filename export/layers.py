"""The few layers of our own that a saved `.keras` classifier contains.

Registered with Keras under the package "streamer", so `keras.models.load_model` finds them
once this module is imported (`streamer.training.model_io.load_keras_model` does that). Each one converts
to plain ONNX operators through tf2onnx.
"""

from __future__ import annotations

from streamer.training.tf_runtime import import_tensorflow

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


@keras.saving.register_keras_serializable(package="streamer")
class L2Normalize(keras.layers.Layer):
    """Scale each row to unit length: embeddings compared by cosine similarity."""

    def call(self, x):
        return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-12))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="streamer")
class CosineScores(keras.layers.Layer):
    """Logits = scale x cosine(embedding, class weight): a softmax head whose classes are
    directions in the embedding space, so a character's training faces gather around one
    direction and a face far from every direction can be told apart (open-set recognition)."""

    def __init__(self, classes: int, scale: float = 16.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.classes = int(classes)
        self.scale = float(scale)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(int(input_shape[-1]), self.classes), initializer="glorot_uniform", trainable=True
        )

    def call(self, embedding):
        kernel = self.kernel / ops.sqrt(ops.maximum(ops.sum(self.kernel * self.kernel, axis=0, keepdims=True), 1e-12))
        return self.scale * ops.matmul(embedding, kernel)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.classes)

    def get_config(self):
        return {**super().get_config(), "classes": self.classes, "scale": self.scale}


@keras.saving.register_keras_serializable(package="streamer")
class Centered(keras.layers.Layer):
    """x - center, with `center` a fixed vector set after training (the mean feature of faces of
    other characters): features of anime faces share a large common part, and cosine
    similarities only tell faces apart once it is taken away."""

    def build(self, input_shape):
        self.center = self.add_weight(name="center", shape=(int(input_shape[-1]),), initializer="zeros", trainable=False)

    def call(self, x):
        return x - self.center

    def compute_output_shape(self, input_shape):
        return input_shape
