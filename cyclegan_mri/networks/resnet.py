"""The ResNet generator of the CycleGAN paper (Zhu et al. 2017), as in its reference implementation.

c7s1-f, d2f, d4f, ``n_blocks`` residual blocks of 4f, u2f, uf, c7s1-C + tanh,
where C is the input's channel count. Unlike the tutorial's generator the
blocks ADD their input to their output, so the bottleneck stays at 4f
channels; the 7x7 and block convolutions see reflection-padded inputs. The
paper uses 6 blocks for 128x128 images and 9 for 256x256 and larger.

The same layers build the 3D generator (``volumetric.py``) from (D, H, W, C)
inputs: every convolution cubic, and edge replication among the paddings.
"""

from __future__ import annotations

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.layers import (
    InstanceNormalization,
    Padding3D,
    ReflectionPadding2D,
    conv_init,
    crop_back,
    pad_to_multiple,
)

PADDINGS = ("reflect", "zero")


def _conv_layers(rank: int) -> tuple[type, type]:
    """(convolution, transposed convolution) of images (rank 2) or volumes (rank 3)."""
    return (keras.layers.Conv2D, keras.layers.Conv2DTranspose) if rank == 2 else (keras.layers.Conv3D,
                                                                                  keras.layers.Conv3DTranspose)


def _padded_conv(x, filters: int, kernel: int, padding: str, name: str):
    """A stride-1 convolution keeping the spatial size: its input padded by ``padding`` ("reflect", or
    "replicate" for volumes), or Keras' zero "same" padding for "zero"."""
    rank = len(x.shape) - 2
    if padding == "zero":
        conv_padding = "same"
    else:
        pad = ReflectionPadding2D(kernel // 2, name=f"{name}_pad") if rank == 2 else Padding3D(
            kernel // 2, mode=padding, name=f"{name}_pad")
        x = pad(x)
        conv_padding = "valid"
    return _conv_layers(rank)[0](filters, kernel, padding=conv_padding, kernel_initializer=conv_init(), name=name)(x)


def _residual_block(x, filters: int, padding: str, index: int):
    y = _padded_conv(x, filters, 3, padding, name=f"block{index}_conv1")
    y = InstanceNormalization(name=f"block{index}_norm1")(y)
    y = keras.layers.ReLU(name=f"block{index}_relu")(y)
    y = _padded_conv(y, filters, 3, padding, name=f"block{index}_conv2")
    y = InstanceNormalization(name=f"block{index}_norm2")(y)
    # No activation after the sum, as in the reference: the block learns a residual of its input.
    return keras.layers.Add(name=f"block{index}_add")([x, y])


def resnet_generator(input_shape: tuple[int, int, int], filters: int = 64, n_blocks: int = 9,
                     padding: str = "reflect", name: str = "generator") -> keras.Model:
    """A CycleGAN ResNet generator; output shape == input shape.

    Sizes that are not multiples of 4 are padded by reflection at the bottom and right and cropped back;
    ``None`` rows and columns build a network for any size (``--crop`` training).

    ``padding`` is "reflect" (the reference) or "zero" (Keras "same" padding everywhere).
    """
    if padding not in PADDINGS:
        raise UserError(f"unknown padding {padding!r}; choose one of: {', '.join(PADDINGS)}")
    known = [n for n in input_shape[:2] if n is not None]
    if known and min(known) < 4:
        raise UserError(f"the ResNet generator needs images of at least 4x4, got {input_shape[0]}x{input_shape[1]}")
    return resnet_network(keras.Input(shape=input_shape, name="image"), filters, n_blocks, padding, name)


def resnet_network(inputs, filters: int, n_blocks: int, padding: str, name: str) -> keras.Model:
    """The ResNet generator's layers on ``inputs``, images (N, H, W, C) or volumes (N, D, H, W, C)."""
    conv, conv_transpose = _conv_layers(len(inputs.shape) - 2)
    # Two stride-2 steps down and up give back the input's size only for multiples of 4.
    x, unpadded = pad_to_multiple(inputs, 4)
    x = _padded_conv(x, filters, 7, padding, name="down0_conv")
    x = InstanceNormalization(name="down0_norm")(x)
    x = keras.layers.ReLU(name="down0_relu")(x)
    for i, channels in enumerate([2 * filters, 4 * filters], 1):
        x = conv(channels, 3, strides=2, padding="same", kernel_initializer=conv_init(), name=f"down{i}_conv")(x)
        x = InstanceNormalization(name=f"down{i}_norm")(x)
        x = keras.layers.ReLU(name=f"down{i}_relu")(x)
    for i in range(n_blocks):
        x = _residual_block(x, 4 * filters, padding, i)
    for i, channels in enumerate([2 * filters, filters]):
        x = conv_transpose(channels, 3, strides=2, padding="same", kernel_initializer=conv_init(),
                           name=f"up{i}_conv")(x)
        x = InstanceNormalization(name=f"up{i}_norm")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
    # No normalisation at the output: it would fix each image's mean and spread, which the target must set.
    x = _padded_conv(x, inputs.shape[-1], 7, padding, name="out_conv")
    x = crop_back(x, unpadded)
    # float32 output whatever the policy: losses and images are computed in float32.
    outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)
