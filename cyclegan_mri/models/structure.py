"""Structure-consistency losses: a translation keeps its source's anatomy while its contrast changes.

Both compare an image with its translation through a description of local
structure that does not depend on the contrast, so they hold the generator to
the anatomy without telling it which intensity each tissue takes:

- ``mind``: the modality-independent neighbourhood descriptor (Heinrich et al.,
  Med. Image Anal. 2012), as the structure constraint of Yang et al. (DLMIA
  2018). For each pixel, the Gaussian-weighted patch distances to its four
  neighbours at ``distance`` pixels, divided by their mean (the local
  variance) and mapped through exp(-d): an edge gives the same descriptor
  whichever side is brighter. Loss: the mean absolute difference.
- ``gradient``: one minus the normalised cross-correlation of the gradient
  *magnitudes* (after Hiasa et al., SASHIMI 2018). Their gradient correlation
  uses signed gradients, which rewards keeping each edge's polarity; between
  T1 and T2 most tissue borders flip polarity, so the magnitude is compared.

Both are per-example values averaged over the global batch (``losses.global_mean``).
"""

from __future__ import annotations

import math

import tensorflow as tf

from cyclegan_mri.models.losses import global_mean

MIND_DISTANCE = 2
MIND_SIGMA = 1.0
# Heinrich et al. clamp the variance estimate to [0.001, 1000] times its image mean: flat regions
# (background) would otherwise divide by zero, and a few strong edges would dominate the rest.
VARIANCE_CLAMP = (1e-3, 1e3)
EPSILON = 1e-6


def _gaussian_kernel(sigma: float) -> tf.Tensor:
    radius = max(1, math.ceil(2 * sigma))
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-0.5 * tf.square(offsets / sigma))
    weights = weights / tf.reduce_sum(weights)
    return tf.reshape(tf.tensordot(weights, weights, axes=0), (2 * radius + 1, 2 * radius + 1, 1, 1))


def _shift(padded: tf.Tensor, dy: int, dx: int, pad: int, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    return padded[:, pad + dy:pad + dy + height, pad + dx:pad + dx + width, :]


def mind_descriptor(images: tf.Tensor, distance: int = MIND_DISTANCE, sigma: float = MIND_SIGMA) -> tf.Tensor:
    """MIND of NHWC images: (N, H, W, 4), each value in (0, 1], the largest of each pixel 1.

    Colour images are described through the mean of their channels: structure, not colour, is compared.
    """
    images = tf.reduce_mean(tf.cast(images, tf.float32), axis=-1, keepdims=True)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [distance, distance], [distance, distance], [0, 0]], mode="SYMMETRIC")
    kernel = _gaussian_kernel(sigma)
    distances = []
    for dy, dx in ((0, distance), (0, -distance), (distance, 0), (-distance, 0)):
        squared = tf.square(images - _shift(padded, dy, dx, distance, height, width))
        # Blurring the squared difference sums it over a Gaussian patch around each pixel.
        distances.append(tf.nn.conv2d(squared, kernel, strides=1, padding="SAME"))
    distances = tf.concat(distances, axis=-1)
    variance = tf.reduce_mean(distances, axis=-1, keepdims=True)
    image_mean = tf.reduce_mean(variance, axis=[1, 2, 3], keepdims=True) + EPSILON
    variance = tf.clip_by_value(variance, VARIANCE_CLAMP[0] * image_mean, VARIANCE_CLAMP[1] * image_mean)
    descriptor = tf.exp(-distances / variance)
    return descriptor / tf.reduce_max(descriptor, axis=-1, keepdims=True)


def mind_loss(source: tf.Tensor, translated: tf.Tensor) -> tf.Tensor:
    """Mean |MIND(source) - MIND(translated)| per example, averaged over the global batch."""
    difference = tf.abs(mind_descriptor(source) - mind_descriptor(translated))
    return global_mean(tf.reduce_mean(difference, axis=[1, 2, 3]))


def gradient_magnitude(images: tf.Tensor) -> tf.Tensor:
    """|grad| of NHWC images by forward differences, (N, H-1, W-1, C)."""
    images = tf.cast(images, tf.float32)
    dy = images[:, 1:, :-1] - images[:, :-1, :-1]
    dx = images[:, :-1, 1:] - images[:, :-1, :-1]
    return tf.sqrt(tf.square(dy) + tf.square(dx) + EPSILON)


def gradient_loss(source: tf.Tensor, translated: tf.Tensor) -> tf.Tensor:
    """1 - NCC of the gradient magnitudes per example, averaged over the global batch (0 for equal structure)."""
    a, b = gradient_magnitude(source), gradient_magnitude(translated)
    a = a - tf.reduce_mean(a, axis=[1, 2, 3], keepdims=True)
    b = b - tf.reduce_mean(b, axis=[1, 2, 3], keepdims=True)
    ncc = tf.reduce_sum(a * b, axis=[1, 2, 3]) / tf.sqrt(
        tf.reduce_sum(tf.square(a), axis=[1, 2, 3]) * tf.reduce_sum(tf.square(b), axis=[1, 2, 3]) + EPSILON)
    return global_mean(1.0 - ncc)


STRUCTURE_LOSSES = {"mind": mind_loss, "gradient": gradient_loss}
