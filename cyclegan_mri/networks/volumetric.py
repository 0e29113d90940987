"""3D CycleGAN networks for NIfTI volumes: the ResNet generator and the PatchGAN discriminator, in 3D.

Both are the 2D ones of this package (``resnet.py``, ``patchgan.py``) built on volumes, every layer made 3D, as
the 3D CycleGAN of davidiommi/3D-CycleGan-Pytorch-MedImaging does. Volumes are NDHWC.

Generator, in the CycleGAN paper's notation with cubic kernels:
c7s1-f, d2f, d4f, ``n_blocks`` x R4f, u2f, uf, c7s1-C + tanh, where
c7s1-k is a 7x7x7 stride-1 convolution with k filters, instance norm and ReLU (the last one, with C the input's
channel count, has neither); dk a 3x3x3 stride-2 convolution + instance norm + ReLU; Rk a residual block of two
3x3x3 convolutions (instance norm on both, ReLU between) whose output is ADDED to its input; uk a 3x3x3 stride-2
transposed convolution + instance norm + ReLU. The 7x7x7 and block convolutions see padded inputs: edge
replication by default (the reference's), reflection, or Keras' zeros.

Discriminator (a PatchGAN): C64-C128-C256-C512 with 4x4x4 kernels, where Ck is a convolution with k filters,
instance norm and LeakyReLU(0.2); C64 has no norm; the first three are stride 2, C512 stride 1; then a 4x4x4
convolution to a 1-channel map of logits.
"""

from __future__ import annotations

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.patchgan import patchgan_network
from cyclegan_mri.networks.resnet import resnet_network

PADDINGS_3D = ("replicate", "reflect", "zero")


def _check_volume_shape(input_shape, network: str) -> None:
    if len(input_shape) != 4:
        raise UserError(f"the {network} takes volumes of shape (D, H, W, C), got {tuple(input_shape)}")


def resnet_generator_3d(input_shape: tuple[int | None, int | None, int | None, int], filters: int = 64,
                        n_blocks: int = 9, padding: str = "replicate", name: str = "generator") -> keras.Model:
    """A 3D CycleGAN ResNet generator; output shape == input shape, float32 in (-1, 1).

    ``input_shape`` is (D, H, W, C); a ``None`` size builds a network for any size along that axis (patches for
    sliding-window inference). Sizes that are not multiples of 4 are padded by reflection at the end of each
    axis and cropped back. ``padding`` is "replicate" (the reference), "reflect" or "zero".
    """
    if padding not in PADDINGS_3D:
        raise UserError(f"unknown padding {padding!r}; choose one of: {', '.join(PADDINGS_3D)}")
    _check_volume_shape(input_shape, "3D ResNet generator")
    # Reflection at the bottleneck (1/4 of the padded size) needs 2 voxels there, so 8 after padding: 5 or more.
    smallest = 5 if padding == "reflect" else 4
    known = [n for n in input_shape[:3] if n is not None]
    if known and min(known) < smallest:
        size = "x".join(str(n) for n in input_shape[:3])
        raise UserError(f"the 3D ResNet generator with {padding} padding needs volumes of at least "
                        f"{smallest}x{smallest}x{smallest}, got {size}")
    return resnet_network(keras.Input(shape=input_shape, name="volume"), filters, n_blocks, padding, name)


def patchgan_discriminator_3d(input_shape: tuple[int | None, int | None, int | None, int], filters: int = 64,
                              n_layers: int = 3, norm: str = "instance",
                              name: str = "discriminator") -> keras.Model:
    """A 3D PatchGAN: one logit per patch of the (D, H, W, C) input; ``norm`` "instance" (default) or "batch".

    With ``n_layers=3`` the logit map is 1/8 of the input along each axis (three stride-2 convolutions, "same"
    padding), and each logit sees a 70x70x70 patch.
    """
    _check_volume_shape(input_shape, "3D PatchGAN discriminator")
    return patchgan_network(keras.Input(shape=input_shape, name="volume"), filters, n_layers, norm, name)
