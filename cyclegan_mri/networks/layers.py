"""Layers shared by every network of the package."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class InstanceNormalization(keras.layers.Layer):
    """Normalise each image's channels over its own spatial axes.

    ``y = scale * (x - mean) / sqrt(var + epsilon) + offset`` with mean and
    variance per image and channel, so the result never depends on the other
    images of the batch (batching several generator calls together changes
    nothing). Statistics are computed in float32 even under a mixed-precision
    policy: the variance of a large bf16/fp16 feature map loses too many bits.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(
            name="scale", shape=(channels,),
            initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02), trainable=True)
        self.offset = self.add_weight(name="offset", shape=(channels,), initializer="zeros", trainable=True)

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        spatial = list(range(1, len(x.shape) - 1))  # (1, 2) for images, (1, 2, 3) for volumes
        mean, variance = tf.nn.moments(x32, axes=spatial, keepdims=True)
        normalized = (x32 - mean) * tf.math.rsqrt(variance + self.epsilon)
        out = tf.cast(self.scale, tf.float32) * normalized + tf.cast(self.offset, tf.float32)
        return tf.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
