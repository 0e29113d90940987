"""The pix2pix U-Net generator (Isola et al. 2017), as in the CycleGAN/pix2pix reference implementation.

``depth`` stride-2 4x4 convolutions of widths f, 2f, 4f, 8f, 8f, ... (capped at
8f) go down; as many stride-2 4x4 transposed convolutions come back up, each
one's output concatenated with the encoder features of the same size. As in
the reference the activations come at the start of each block (LeakyReLU 0.2
before a down convolution, ReLU before an up convolution), so the skips carry
the normalised, not yet activated, encoder features; and neither the first
nor the innermost down convolution is normalised. Dropout follows the
normalisation of the first three decoder blocks, as in the pix2pix paper.

An image whose H or W is not a multiple of 2**depth is padded at the bottom
and right by reflection inside the model, and the output cropped back, so
the output always has the input's shape.
"""

from __future__ import annotations

import math

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.layers import NORMS, LeakyReLU, conv_init, crop_back, normalization, pad_to_multiple

MAX_DEPTH = 8
DROPOUT_BLOCKS = 3


def default_depth(height: int, width: int) -> int:
    """As many halvings as the smaller side allows without going below 1 pixel, at most 8."""
    return max(1, min(MAX_DEPTH, int(math.log2(min(height, width)))))


def unet_generator(input_shape: tuple[int, int, int], filters: int = 64, depth: int | None = None,
                   norm: str = "instance", dropout: float = 0.5, name: str = "generator") -> keras.Model:
    """A pix2pix U-Net with ``depth`` downsamplings (default: :func:`default_depth`); output shape == input shape.

    ``norm`` is "instance" or "batch"; ``dropout`` is the rate in the first
    three decoder blocks (0 for none), active only when called with training=True.
    """
    if norm not in NORMS:
        raise UserError(f"unknown norm {norm!r}; choose one of: {', '.join(NORMS)}")
    if not 0 <= dropout < 1:
        raise UserError(f"dropout must be in [0, 1), got {dropout}")
    height, width, channels = input_shape
    if depth is None:
        if height is None or width is None:
            raise UserError("a U-Net for any image size needs its depth: it cannot be read from the size")
        depth = default_depth(height, width)
    if depth < 1:
        raise UserError(f"the U-Net needs at least 1 downsampling, got depth={depth}")
    step = 2 ** depth
    if height is not None and width is not None and (-height % step >= height or -width % step >= width):
        raise UserError(f"depth {depth} is too deep for {height}x{width} images: "
                        f"padding to a multiple of {step} would need more than one mirror image")
    # Convolutions without a following norm keep their bias; before batch norm it would duplicate its offset.
    norm_bias = norm == "instance"

    def widths(i: int) -> int:
        return filters * min(2 ** i, 8)

    inputs = keras.Input(shape=input_shape, name="image")
    x, unpadded = pad_to_multiple(inputs, step)

    x = keras.layers.Conv2D(widths(0), 4, strides=2, padding="same", kernel_initializer=conv_init(),
                            name="down0_conv")(x)
    skips = []
    for i in range(1, depth):
        skips.append(x)
        innermost = i == depth - 1
        x = LeakyReLU(negative_slope=0.2, name=f"down{i}_lrelu")(x)
        x = keras.layers.Conv2D(widths(i), 4, strides=2, padding="same", kernel_initializer=conv_init(),
                                use_bias=innermost or norm_bias, name=f"down{i}_conv")(x)
        if not innermost:
            # Not at the innermost: over a 1x1 map instance norm would output its offset whatever the input.
            x = normalization(x, norm, name=f"down{i}_norm")

    for n, i in enumerate(range(depth - 1, 0, -1)):
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
        x = keras.layers.Conv2DTranspose(widths(i - 1), 4, strides=2, padding="same", kernel_initializer=conv_init(),
                                         use_bias=norm_bias, name=f"up{i}_conv")(x)
        x = normalization(x, norm, name=f"up{i}_norm")
        if dropout and n < DROPOUT_BLOCKS:
            x = keras.layers.Dropout(dropout, name=f"up{i}_dropout")(x)
        x = keras.layers.Concatenate(name=f"up{i}_concat")([skips[i - 1], x])

    x = keras.layers.ReLU(name="up0_relu")(x)
    x = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=conv_init(),
                                     name="up0_conv")(x)
    x = crop_back(x, unpadded)
    # float32 output whatever the policy: losses and images are computed in float32.
    outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)
