"""The pix2pix PatchGAN discriminator (Isola et al. 2017), with its normalisation a choice.

C64 (no norm), then ``n_layers - 1`` stride-2 4x4 convolutions doubling the
width (capped at 8f), one stride-1 convolution and a 1-channel logit map: with
the default ``n_layers=3`` each logit sees a 70x70 patch. Given the input and
the output concatenated on the channel axis it is the conditional
discriminator of pix2pix. As in the reference implementation the convolutions
followed by batch normalisation carry no bias. The same layers, with cubic
kernels, make the 3D PatchGAN (``volumetric.py``).
"""

from __future__ import annotations

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.layers import NORMS, LeakyReLU, conv_init, normalization


def patchgan_discriminator(input_shape: tuple[int, int, int], filters: int = 64, n_layers: int = 3,
                           norm: str = "batch", name: str = "discriminator") -> keras.Model:
    """A 70x70 PatchGAN (for ``n_layers=3``) with ``norm`` "batch" (pix2pix) or "instance"."""
    return patchgan_network(keras.Input(shape=input_shape, name="image"), filters, n_layers, norm, name)


def patchgan_network(inputs, filters: int, n_layers: int, norm: str, name: str) -> keras.Model:
    """The PatchGAN's layers on ``inputs``, images (N, H, W, C) or volumes (N, D, H, W, C): square or cubic
    kernels of 4."""
    if norm not in NORMS:
        raise UserError(f"unknown norm {norm!r}; choose one of: {', '.join(NORMS)}")
    conv = keras.layers.Conv2D if len(inputs.shape) == 4 else keras.layers.Conv3D
    use_bias = norm == "instance"
    x = conv(filters, 4, strides=2, padding="same", kernel_initializer=conv_init(), name="c0_conv")(inputs)
    x = LeakyReLU(negative_slope=0.2, name="c0_lrelu")(x)
    for i in range(1, n_layers + 1):
        strides = 2 if i < n_layers else 1
        x = conv(filters * min(2 ** i, 8), 4, strides=strides, padding="same", use_bias=use_bias,
                 kernel_initializer=conv_init(), name=f"c{i}_conv")(x)
        x = normalization(x, norm, name=f"c{i}_norm")
        x = LeakyReLU(negative_slope=0.2, name=f"c{i}_lrelu")(x)
    x = conv(1, 4, padding="same", kernel_initializer=conv_init(), name="logits_conv")(x)
    # float32 logits whatever the policy: the losses are computed in float32.
    outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
