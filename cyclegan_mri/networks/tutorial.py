"""The tutorial's generator and PatchGAN discriminator, widths scaled by ``filters``.

The generator's "residual" blocks concatenate their output with their input
instead of adding it (as the tutorial's code does), so the bottleneck grows
from 4f to 16f channels. At 220x184x1 with filters=64 the generator has
6,943,235 parameters and the discriminator 6,960,321.
"""

from __future__ import annotations

import keras

from cyclegan_mri.networks.layers import InstanceNormalization, LeakyReLU, conv_init, crop_back, pad_to_multiple


def _conv(x, filters, kernel, strides=1, transpose=False, name=None):
    layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
    return layer(filters, kernel, strides=strides, padding="same", kernel_initializer=conv_init(), name=name)(x)


def _concat_block(x, filters: int, index: int):
    y = _conv(x, filters, 3, name=f"block{index}_conv1")
    y = InstanceNormalization(name=f"block{index}_norm1")(y)
    y = keras.layers.ReLU(name=f"block{index}_relu")(y)
    y = _conv(y, filters, 3, name=f"block{index}_conv2")
    y = InstanceNormalization(name=f"block{index}_norm2")(y)
    return keras.layers.Concatenate(name=f"block{index}_concat")([y, x])


def tutorial_generator(input_shape: tuple[int, int, int], filters: int = 64, n_blocks: int = 3,
                       name: str = "generator") -> keras.Model:
    """c7s1-f, d2f, d4f, ``n_blocks`` concatenating blocks of 4f, u2f, uf, c7s1-1 + IN + tanh.

    Sizes that are not multiples of 4 are padded by reflection at the bottom and right and cropped back
    (the tutorial's 220x184 needs neither).
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x, unpadded = pad_to_multiple(inputs, 4)
    for i, (width, kernel, strides) in enumerate([(filters, 7, 1), (2 * filters, 3, 2), (4 * filters, 3, 2)]):
        x = _conv(x, width, kernel, strides, name=f"down{i}_conv")
        x = InstanceNormalization(name=f"down{i}_norm")(x)
        x = keras.layers.ReLU(name=f"down{i}_relu")(x)
    for i in range(n_blocks):
        x = _concat_block(x, 4 * filters, i)
    for i, width in enumerate([2 * filters, filters]):
        x = _conv(x, width, 3, 2, transpose=True, name=f"up{i}_conv")
        x = InstanceNormalization(name=f"up{i}_norm")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
    x = _conv(x, input_shape[-1], 7, name="out_conv")
    x = crop_back(x, unpadded)
    x = InstanceNormalization(name="out_norm")(x)
    # float32 output whatever the policy: losses and images are computed in float32.
    outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)


def tutorial_discriminator(input_shape: tuple[int, int, int], filters: int = 64,
                           name: str = "discriminator") -> keras.Model:
    """70x70-style PatchGAN: C64 (no norm), C128, C256, C512 (stride 2), C512 (stride 1), 1 logit per patch."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv(inputs, filters, 4, 2, name="c0_conv")
    x = LeakyReLU(negative_slope=0.2, name="c0_lrelu")(x)
    for i, (width, strides) in enumerate([(2 * filters, 2), (4 * filters, 2), (8 * filters, 2), (8 * filters, 1)], 1):
        x = _conv(x, width, 4, strides, name=f"c{i}_conv")
        x = InstanceNormalization(name=f"c{i}_norm")(x)
        x = LeakyReLU(negative_slope=0.2, name=f"c{i}_lrelu")(x)
    x = _conv(x, 1, 4, name="logits_conv")
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
