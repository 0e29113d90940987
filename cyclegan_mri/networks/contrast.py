"""An intensity-first generator: a per-pixel intensity map plus a small-context correction.

Translating T1 to T2 keeps the anatomy and changes the contrast, so most of the
mapping is a function of each pixel's own intensity (a lookup table fitted on
aligned pairs scores 25 dB on this dataset). The generator spends its capacity
there: a per-pixel MLP (1x1 convolutions, width 4f) maps each intensity, and a
branch of dilated 3x3 convolutions over the MLP's features (receptive field
31x31 with the default 4 layers) adds a correction where the intensity alone is
ambiguous (partial volumes at tissue borders, tissues that share an intensity in
one contrast). The branch's last convolution starts at zero, so training starts
from a pure intensity map.

A per-pixel map alone is under-determined by an unpaired loss: any invertible
reassignment of tissue intensities can satisfy a cycle and a small patch
discriminator. Pair it with something that picks the right one: a structure
loss (``--lambda-structure``) or a discriminator that sees anatomy.
"""

from __future__ import annotations

import keras

from cyclegan_mri.networks.layers import LeakyReLU, ReflectionPadding2D, conv_init

DILATIONS = (1, 2, 4, 8)


def contrast_generator(input_shape: tuple[int, int, int], filters: int = 16, mlp_layers: int = 3,
                       dilations: tuple[int, ...] = DILATIONS, name: str = "generator") -> keras.Model:
    """Per-pixel MLP of ``mlp_layers`` hidden 1x1 layers of 4f units, plus dilated 3x3 convolutions of f channels.

    Takes any image size (nothing is strided); output shape == input shape, in (-1, 1).
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i in range(mlp_layers):
        x = keras.layers.Conv2D(4 * filters, 1, kernel_initializer="he_normal", name=f"pixel{i}_conv")(x)
        x = LeakyReLU(negative_slope=0.2, name=f"pixel{i}_lrelu")(x)
    intensity = keras.layers.Conv2D(input_shape[-1], 1, kernel_initializer=conv_init(), name="pixel_out")(x)

    context = x
    for i, rate in enumerate(dilations):
        # Mirrored borders: a zero frame would read as a dark tissue to a map that looks at intensities.
        context = ReflectionPadding2D(rate, name=f"context{i}_pad")(context)
        context = keras.layers.Conv2D(filters, 3, dilation_rate=rate, kernel_initializer="he_normal",
                                      name=f"context{i}_conv")(context)
        context = LeakyReLU(negative_slope=0.2, name=f"context{i}_lrelu")(context)
    correction = keras.layers.Conv2D(input_shape[-1], 1, kernel_initializer="zeros", name="context_out")(context)

    x = keras.layers.Add(name="sum")([intensity, correction])
    # float32 output whatever the policy: losses and images are computed in float32.
    outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)
