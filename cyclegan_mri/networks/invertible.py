"""The invertible network of iVAN (Wang et al., "Variable Augmented Network for Invertible Modality
Synthesis and Fusion", IEEE JBHI 2023), and the variable augmentation around it.

The network maps C channels to C channels through blocks of an invertible 1x1
convolution (Glow's LU form) and an affine coupling whose three subnetworks are
dense blocks; its inverse is exact, so one set of weights translates both ways.
A single-channel image has nothing to split into a coupling's two halves: iVAN
augments it into copies on the channel axis (:class:`RepeatChannels`), and
reads the result as the mean of the output's copies (:class:`MeanOfCopies`).
Everything is fully convolutional without resampling, so any image size works,
odd ones included. Layout is NHWC.
"""

from __future__ import annotations

import random

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

from cyclegan_mri.networks.layers import LeakyReLU


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class InvertibleConv1x1(keras.layers.Layer):
    """Glow's invertible 1x1 convolution, its C x C weight kept as ``W = P @ L @ (U + diag(sign_s * exp(log_s)))``.

    Each pixel's channel vector ``x`` becomes ``W @ x`` (``y[..., i] = sum_j W[i, j] x[..., j]``).
    ``P`` (a permutation) and ``sign_s`` are fixed; the strictly-lower part of
    ``L`` (whose diagonal is 1), the strictly-upper ``U`` and ``log_s`` are
    trained. The LU form makes ``log|det W| = sum(log_s)`` and keeps ``W``
    invertible whatever the weights. ``W`` starts as a random orthogonal matrix
    drawn from ``seed`` (from Python's generator, which
    ``keras.utils.set_random_seed`` seeds, when None).
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        # Drawn now, like keras' initializers do: the build may run inside a traced function.
        self._draw_seed = seed if seed is not None else random.randint(1, 10 ** 9)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("InvertibleConv1x1 needs a known number of channels")
        rng = np.random.default_rng(self._draw_seed)
        orthogonal, _ = np.linalg.qr(rng.standard_normal((channels, channels)))
        permutation, lower, upper = scipy.linalg.lu(orthogonal)
        diagonal = np.diag(upper)

        def constant(value):
            return lambda shape, dtype=None: tf.constant(value, dtype=dtype)

        self.permutation = self.add_weight(name="permutation", shape=(channels, channels),
                                           initializer=constant(permutation), trainable=False)
        self.sign_s = self.add_weight(name="sign_s", shape=(channels,),
                                      initializer=constant(np.sign(diagonal)), trainable=False)
        self.lower = self.add_weight(name="lower", shape=(channels, channels),
                                     initializer=constant(np.tril(lower, -1)), trainable=True)
        self.upper = self.add_weight(name="upper", shape=(channels, channels),
                                     initializer=constant(np.triu(upper, 1)), trainable=True)
        self.log_s = self.add_weight(name="log_s", shape=(channels,),
                                     initializer=constant(np.log(np.abs(diagonal))), trainable=True)
        self._lower_mask = np.tril(np.ones((channels, channels)), -1)
        self._upper_mask = np.triu(np.ones((channels, channels)), 1)

    def _factors(self) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        # float64 whatever the policy: the forward and the inverse must agree to float32 rounding.
        f64 = lambda v: tf.cast(v, tf.float64)  # noqa: E731
        eye = tf.eye(self._lower_mask.shape[0], dtype=tf.float64)
        lower = f64(self.lower) * self._lower_mask + eye
        upper = f64(self.upper) * self._upper_mask + tf.linalg.diag(f64(self.sign_s) * tf.exp(f64(self.log_s)))
        return f64(self.permutation), lower, upper

    def _kernel64(self) -> tf.Tensor:
        permutation, lower, upper = self._factors()
        return permutation @ lower @ upper

    def _inverse_kernel64(self) -> tf.Tensor:
        # W^-1 = U^-1 L^-1 P^T, from triangular solves: no general matrix inversion.
        permutation, lower, upper = self._factors()
        eye = tf.eye(self._lower_mask.shape[0], dtype=tf.float64)
        lower_inv = tf.linalg.triangular_solve(lower, eye, lower=True)
        upper_inv = tf.linalg.triangular_solve(upper, eye, lower=False)
        return upper_inv @ lower_inv @ tf.transpose(permutation)

    def kernel(self) -> tf.Tensor:
        """The C x C matrix ``W``, in the variables' dtype."""
        return tf.cast(self._kernel64(), self.variable_dtype)

    def log_determinant(self) -> tf.Tensor:
        """``log|det W|``: the log-determinant per pixel (an H x W image's is this times H * W)."""
        return tf.reduce_sum(self.log_s)

    def call(self, x, reverse: bool = False):
        matrix = self._inverse_kernel64() if reverse else self._kernel64()
        return tf.einsum("...j,ij->...i", x, tf.cast(matrix, x.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class DenseBlock(keras.layers.Layer):
    """Five 3x3 convolutions, each fed the block's input and every earlier output; ``out_channels`` out.

    The first four give ``growth`` channels each, followed by LeakyReLU(0.2);
    the last has no activation and starts at zero (kernel and bias), so that a
    coupling built of dense blocks starts as the identity.
    """

    def __init__(self, out_channels: int, growth: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = out_channels
        self.growth = growth
        # Xavier normal scaled by 0.1 (weights times 0.1: variance times 0.01), as in iVAN: small residuals at start.
        hidden_init = keras.initializers.VarianceScaling(scale=0.01, mode="fan_avg",
                                                         distribution="untruncated_normal")
        self.convs = [keras.layers.Conv2D(growth, 3, padding="same", kernel_initializer=hidden_init,
                                          dtype=self.dtype_policy, name=f"conv{i}") for i in range(4)]
        self.convs.append(keras.layers.Conv2D(out_channels, 3, padding="same", kernel_initializer="zeros",
                                              bias_initializer="zeros", dtype=self.dtype_policy, name="conv4"))
        self.activations = [LeakyReLU(0.2, dtype=self.dtype_policy, name=f"lrelu{i}") for i in range(4)]

    def build(self, input_shape):
        channels = input_shape[-1]
        for i, conv in enumerate(self.convs):
            conv.build((*input_shape[:-1], channels + i * self.growth))

    def call(self, x):
        features = [x]
        for conv, activation in zip(self.convs[:-1], self.activations):
            features.append(activation(conv(tf.concat(features, axis=-1))))
        return self.convs[-1](tf.concat(features, axis=-1))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.out_channels)

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels, "growth": self.growth}


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class InvertibleBlock(keras.layers.Layer):
    """An invertible 1x1 convolution, then an affine coupling of the two channel halves.

    With ``x1`` the first ``channels // 2`` channels and ``x2`` the rest::

        y1 = x1 + F(x2)
        y2 = x2 * exp(s) + G(y1),  s = clamp * (2 * sigmoid(H(y1)) - 1)

    ``s`` is bounded by ``clamp`` so that neither direction can blow up. The
    reverse solves the same equations for ``x2`` then ``x1``.
    """

    def __init__(self, channels: int, growth: int = 32, clamp: float = 0.8, **kwargs):
        super().__init__(**kwargs)
        if channels < 2:
            raise ValueError(f"an invertible block needs at least 2 channels to split, got {channels}")
        self.channels = channels
        self.growth = growth
        self.clamp = clamp
        self.split = channels // 2
        rest = channels - self.split
        self.conv = InvertibleConv1x1(dtype=self.dtype_policy, name="conv1x1")
        self.f = DenseBlock(self.split, growth, dtype=self.dtype_policy, name="f")
        self.g = DenseBlock(rest, growth, dtype=self.dtype_policy, name="g")
        self.h = DenseBlock(rest, growth, dtype=self.dtype_policy, name="h")

    def build(self, input_shape):
        if input_shape[-1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got input shape {input_shape}")
        rest = self.channels - self.split
        self.conv.build(input_shape)
        self.f.build((*input_shape[:-1], rest))
        self.g.build((*input_shape[:-1], self.split))
        self.h.build((*input_shape[:-1], self.split))

    def _log_scale(self, y1):
        return self.clamp * (2.0 * tf.sigmoid(self.h(y1)) - 1.0)

    def call(self, x, reverse: bool = False):
        if not reverse:
            x = self.conv(x)
            x1, x2 = x[..., :self.split], x[..., self.split:]
            y1 = x1 + self.f(x2)
            y2 = x2 * tf.exp(self._log_scale(y1)) + self.g(y1)
            return tf.concat([y1, y2], axis=-1)
        y1, y2 = x[..., :self.split], x[..., self.split:]
        x2 = (y2 - self.g(y1)) * tf.exp(-self._log_scale(y1))
        x1 = y1 - self.f(x2)
        return self.conv(tf.concat([x1, x2], axis=-1), reverse=True)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "growth": self.growth, "clamp": self.clamp}


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class InvertibleNetwork(keras.layers.Layer):
    """``blocks`` invertible blocks over ``channels`` channels; ``call(x, reverse=True)`` is the exact inverse.

    Always computes in float32, whatever ``dtype`` or global policy it is given:
    the inverse undoes the forward only to the precision it runs in, and in
    bfloat16 that is two decimal digits. Inputs are cast to float32 and outputs
    are float32.
    """

    def __init__(self, channels: int, blocks: int = 8, growth: int = 32, clamp: float = 0.8, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.channels = channels
        self.n_blocks = blocks
        self.growth = growth
        self.clamp = clamp
        self.blocks = [InvertibleBlock(channels, growth, clamp, dtype="float32", name=f"block{i}")
                       for i in range(blocks)]

    def build(self, input_shape):
        if input_shape[-1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got input shape {input_shape}")
        for block in self.blocks:
            block.build(input_shape)

    def call(self, x, reverse: bool = False):
        x = tf.cast(x, tf.float32)
        for block in (reversed(self.blocks) if reverse else self.blocks):
            x = block(x, reverse=reverse)
        return x

    def log_determinant(self) -> tf.Tensor:
        """The sum of the 1x1 convolutions' log-determinants per pixel (the couplings' depend on the input)."""
        return tf.add_n([block.conv.log_determinant() for block in self.blocks])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "blocks": self.n_blocks,
                "growth": self.growth, "clamp": self.clamp}


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class RepeatChannels(keras.layers.Layer):
    """(N, H, W, C) -> (N, H, W, copies * C): ``copies`` copies of the image, one after another on the channels."""

    def __init__(self, copies: int = 2, **kwargs):
        super().__init__(**kwargs)
        if copies < 1:
            raise ValueError(f"copies must be at least 1, got {copies}")
        self.copies = copies

    def call(self, x):
        return tf.tile(x, [1] * (len(x.shape) - 1) + [self.copies])

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else self.copies * channels)

    def get_config(self):
        return {**super().get_config(), "copies": self.copies}


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class MeanOfCopies(keras.layers.Layer):
    """(N, H, W, copies * C) -> (N, H, W, C): the mean of the ``copies`` consecutive groups of C channels."""

    def __init__(self, copies: int = 2, **kwargs):
        super().__init__(**kwargs)
        if copies < 1:
            raise ValueError(f"copies must be at least 1, got {copies}")
        self.copies = copies

    def build(self, input_shape):
        if input_shape[-1] is None or input_shape[-1] % self.copies:
            raise ValueError(f"{input_shape[-1]} channels do not split into {self.copies} copies")

    def call(self, x):
        channels = x.shape[-1] // self.copies
        grouped = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [self.copies, channels]], axis=0))
        return tf.reduce_mean(grouped, axis=-2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.copies)

    def get_config(self):
        return {**super().get_config(), "copies": self.copies}


def invertible_translator(network: InvertibleNetwork, input_shape: tuple, reverse: bool = False, copies: int = 2,
                          name: str | None = None) -> keras.Model:
    """A model translating (H, W, C) images through ``network`` (``copies * C`` channels), forward or in reverse.

    The image is repeated ``copies`` times on the channel axis, passed through
    the network, and read back as the mean of the output's copies. Translators
    built on one network share its weights: the forward and reverse ones are the
    two directions of the same map.
    """
    if network.channels != copies * input_shape[-1]:
        raise ValueError(f"a network of {network.channels} channels cannot take {copies} copies of "
                         f"{input_shape[-1]} channels")
    inputs = keras.Input(shape=input_shape, name="image")
    # float32 around the network too: a bfloat16 copy or mean would cost the precision the inverse relies on.
    x = RepeatChannels(copies, dtype="float32", name="repeat")(inputs)
    x = network(x, reverse=reverse)
    outputs = MeanOfCopies(copies, dtype="float32", name="mean")(x)
    return keras.Model(inputs, outputs, name=name)


def invertible_fuser(network: InvertibleNetwork, input_shape: tuple, channels_per_source: int,
                     name: str | None = None) -> keras.Model:
    """A model fusing two C-channel sources, given concatenated (``input_shape`` is (H, W, 2C)), into one image.

    The fused image is the mean of the two C-channel halves of the network's forward output.
    """
    if input_shape[-1] != 2 * channels_per_source or network.channels != 2 * channels_per_source:
        raise ValueError(f"fusing two sources of {channels_per_source} channels needs input and network of "
                         f"{2 * channels_per_source} channels, got {input_shape[-1]} and {network.channels}")
    inputs = keras.Input(shape=input_shape, name="sources")
    outputs = MeanOfCopies(2, dtype="float32", name="mean")(network(inputs))
    return keras.Model(inputs, outputs, name=name)
