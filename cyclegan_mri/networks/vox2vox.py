"""The two networks of Vox2Vox (Cirillo et al. 2020): a 3D U-Net segmenter and its conditional PatchGAN.

As in the official TF2 code (mdciri/Vox2Vox, ``models.py``), with the sizes there as defaults; volumes are NDHWC
and every kernel is cubic (``kernel_size`` = 4), every convolution "he_normal" initialised with a bias, every
normalisation an instance normalisation and every activation a LeakyReLU of slope 0.3.

Generator, for a (D, H, W, C) volume and f = ``filters``:

* encoder: ``depth - 1`` steps; step k = 1, 2, ... is a stride-2 convolution to f * 2**(k-1) channels, instance
  norm (not in step 1), LeakyReLU and dropout. Each step's output is kept for the decoder.
* bottleneck: a stride-2 convolution to f * 2**(depth-1) channels, instance norm and LeakyReLU; then
  ``bottleneck_blocks`` blocks, each a stride-1 convolution y to f * 2**(depth-1) channels whose output is
  ``concatenate([LeakyReLU(norm(y)), y])``: the block's output has twice the width, whatever its input's.
* decoder: steps k = ``depth - 1`` down to 1, each a stride-2 transposed convolution to f * 2**(k-1) channels,
  instance norm and LeakyReLU, concatenated with encoder step k's output (same size and width), then dropout.
* classifier: a stride-2 transposed convolution to ``classes`` channels and a softmax over them, computed in
  float32 (the official code puts the softmax in the transposed convolution: the same weights).

The output is (D, H, W, classes) class probabilities. The volume is halved ``depth`` times, so each spatial size
must be a multiple of 2**depth (:func:`smallest_multiple`; 16 by default): Vox2Vox trains on 128^3 patches.

Discriminator, for an image (D, H, W, C) and a segmentation (D, H, W, ``classes``), one-hot or probabilities,
concatenated on the channel axis: ``depth`` steps k = 1, 2, ... of a stride-2 convolution to f * 2**(k-1)
channels, instance norm (not in step 1), LeakyReLU and dropout; then zero padding by 1 voxel on each side, a
"valid" stride-1 convolution to f * 2**depth channels, instance norm and LeakyReLU; zero padding by 1 again and
a "valid" stride-1 convolution to 1 channel: a float32 map of raw scores (a least-squares GAN, no activation).
Each "valid" convolution after its padding shrinks a size by ``kernel_size - 3``, so an input of size N gives a
map of size N / 2**depth - 2 * (kernel_size - 3): 14^3 for 128^3 with the defaults.
"""

from __future__ import annotations

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.layers import InstanceNormalization, LeakyReLU

# The official code uses Keras' LeakyReLU with its default slope, 0.3 (not the 0.2 of pix2pix and CycleGAN).
LEAKY_SLOPE = 0.3


def smallest_multiple(depth: int = 4) -> int:
    """2**depth: every spatial size of a volume that a Vox2Vox network of ``depth`` halvings takes is a multiple."""
    return 2 ** depth


def _check_settings(network: str, input_shape, filters: int, depth: int, kernel_size: int, dropout: float) -> None:
    if len(input_shape) != 4:
        raise UserError(f"the Vox2Vox {network} takes volumes of shape (D, H, W, C), got {tuple(input_shape)}")
    if filters < 1:
        raise UserError(f"the Vox2Vox {network} needs at least 1 filter, got filters={filters}")
    if depth < 1:
        raise UserError(f"the Vox2Vox {network} needs at least 1 downsampling, got depth={depth}")
    if kernel_size < 1:
        raise UserError(f"the Vox2Vox {network} needs a kernel of at least 1 voxel, got kernel_size={kernel_size}")
    if not 0 <= dropout < 1:
        raise UserError(f"dropout must be in [0, 1), got {dropout}")
    step = smallest_multiple(depth)
    for axis, size in zip("DHW", input_shape[:3]):
        if size is not None and (size < 1 or size % step):
            shape = "x".join(str(n) for n in input_shape[:3])
            raise UserError(f"the Vox2Vox {network} of depth {depth} takes sizes that are multiples of {step}, "
                            f"got {size} along {axis} in {shape}")


def _check_classes(classes: int) -> None:
    if classes < 2:
        raise UserError(f"a segmentation needs at least 2 classes (background included), got classes={classes}")


def _conv(filters: int, kernel_size: int, strides: int, padding: str, name: str, transpose: bool = False):
    layer = keras.layers.Conv3DTranspose if transpose else keras.layers.Conv3D
    return layer(filters, kernel_size, strides=strides, padding=padding, kernel_initializer="he_normal", name=name)


def _down_step(x, filters: int, kernel_size: int, norm: bool, dropout: float, name: str):
    """Stride-2 convolution, instance norm (if ``norm``), LeakyReLU and dropout: an encoder step of both networks."""
    x = _conv(filters, kernel_size, 2, "same", f"{name}_conv")(x)
    if norm:
        x = InstanceNormalization(name=f"{name}_norm")(x)
    x = LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_lrelu")(x)
    return keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)


def vox2vox_generator(input_shape: tuple[int, int, int, int], classes: int = 4, filters: int = 64, depth: int = 4,
                      bottleneck_blocks: int = 4, kernel_size: int = 4, dropout: float = 0.2,
                      name: str = "generator") -> keras.Model:
    """The Vox2Vox generator: (D, H, W, C) volumes to (D, H, W, ``classes``) float32 class probabilities.

    A ``None`` size builds a network for any size along that axis (a multiple of 2**depth when called).
    ``dropout`` (the rate of every dropout layer, 0 for none) is active only when called with training=True.
    """
    _check_settings("generator", input_shape, filters, depth, kernel_size, dropout)
    _check_classes(classes)
    if bottleneck_blocks < 0:
        raise UserError(f"bottleneck_blocks must not be negative, got {bottleneck_blocks}")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    skips = []
    for d in range(depth - 1):
        x = _down_step(x, filters * 2 ** d, kernel_size, d > 0, dropout, f"encoder{d + 1}")
        skips.append(x)

    width = filters * 2 ** (depth - 1)
    x = _conv(width, kernel_size, 2, "same", "bottleneck_conv")(x)
    x = InstanceNormalization(name="bottleneck_norm")(x)
    x = LeakyReLU(negative_slope=LEAKY_SLOPE, name="bottleneck_lrelu")(x)
    for i in range(1, bottleneck_blocks + 1):
        y = _conv(width, kernel_size, 1, "same", f"bottleneck{i}_conv")(x)
        activated = InstanceNormalization(name=f"bottleneck{i}_norm")(y)
        activated = LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"bottleneck{i}_lrelu")(activated)
        x = keras.layers.Concatenate(name=f"bottleneck{i}_concat")([activated, y])

    for d in range(depth - 2, -1, -1):
        step = f"decoder{d + 1}"
        x = _conv(filters * 2 ** d, kernel_size, 2, "same", f"{step}_deconv", transpose=True)(x)
        x = InstanceNormalization(name=f"{step}_norm")(x)
        x = LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{step}_lrelu")(x)
        x = keras.layers.Concatenate(name=f"{step}_concat")([x, skips[d]])
        x = keras.layers.Dropout(dropout, name=f"{step}_dropout")(x)

    x = _conv(classes, kernel_size, 2, "same", "classifier", transpose=True)(x)
    # float32 probabilities whatever the policy: the losses (and a Dice score) are computed in float32.
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def vox2vox_discriminator(input_shape: tuple[int, int, int, int], classes: int = 4, filters: int = 64, depth: int = 3,
                          kernel_size: int = 4, dropout: float = 0.2, name: str = "discriminator") -> keras.Model:
    """The Vox2Vox conditional PatchGAN: ``[image, segmentation]`` to a float32 (D', H', W', 1) map of raw scores.

    ``input_shape`` is the image's (D, H, W, C); the segmentation is (D, H, W, ``classes``). Each size N becomes
    N / 2**depth - 2 * (kernel_size - 3) in the map, which must keep at least 1 voxel.
    """
    _check_settings("discriminator", input_shape, filters, depth, kernel_size, dropout)
    _check_classes(classes)
    for size in input_shape[:3]:
        # Each "valid" convolution after a padding of 1 on both sides changes a size by 3 - kernel_size.
        if size is not None and min(size // 2 ** depth + 3 - kernel_size, size // 2 ** depth + 6 - 2 * kernel_size) < 1:
            shape = "x".join(str(n) for n in input_shape[:3])
            raise UserError(f"the Vox2Vox discriminator of depth {depth} and kernel {kernel_size} needs larger "
                            f"volumes than {shape}: its score map would be empty")
    image = keras.Input(shape=input_shape, name="image")
    segmentation = keras.Input(shape=(*input_shape[:3], classes), name="segmentation")
    x = keras.layers.Concatenate(name="concat")([image, segmentation])
    for d in range(depth):
        x = _down_step(x, filters * 2 ** d, kernel_size, d > 0, dropout, f"encoder{d + 1}")

    x = keras.layers.ZeroPadding3D(1, name="penultimate_pad")(x)
    x = _conv(filters * 2 ** depth, kernel_size, 1, "valid", "penultimate_conv")(x)
    x = InstanceNormalization(name="penultimate_norm")(x)
    x = LeakyReLU(negative_slope=LEAKY_SLOPE, name="penultimate_lrelu")(x)
    x = keras.layers.ZeroPadding3D(1, name="scores_pad")(x)
    x = _conv(1, kernel_size, 1, "valid", "scores_conv")(x)
    # float32 scores whatever the policy: the least-squares losses are computed in float32.
    outputs = keras.layers.Activation("linear", dtype="float32", name="scores")(x)
    return keras.Model([image, segmentation], outputs, name=name)
