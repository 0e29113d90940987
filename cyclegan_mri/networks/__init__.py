"""Generators and discriminators, chosen by name.

A new architecture is a builder function registered here; models, training and
the command line pick it up by its name.

Generators: "tutorial" (the TensorFlow tutorial's, concatenating blocks),
"resnet6" and "resnet9" (the CycleGAN paper's ResNet with 6 or 9 additive
residual blocks), "unet" (the pix2pix U-Net) and "contrast" (a per-pixel
intensity map with a small-context correction). Discriminators: "tutorial"
(the tutorial's PatchGAN) and "patchgan" (pix2pix's 70x70 PatchGAN, batch or
instance normalisation).

Volumes (NDHWC, for the 3D CycleGAN) have registries of their own, GENERATORS_3D
and DISCRIMINATORS_3D, that the same ``build_*`` functions look names up in:
generators "resnet6_3d" and "resnet9_3d" (the ResNet with 3D layers, edge
replication padding) and discriminator "patchgan3d". They are kept apart so that
code meant for slices (and tests over "every generator") only sees 2D networks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks import intensity, invertible  # noqa: F401  registered layers: exports load anywhere
from cyclegan_mri.networks.contrast import contrast_generator
from cyclegan_mri.networks.patchgan import patchgan_discriminator
from cyclegan_mri.networks.resnet import resnet_generator
from cyclegan_mri.networks.tutorial import tutorial_discriminator, tutorial_generator
from cyclegan_mri.networks.unet import unet_generator
from cyclegan_mri.networks.volumetric import patchgan_discriminator_3d, resnet_generator_3d

GENERATORS: dict[str, Callable[..., keras.Model]] = {
    "tutorial": tutorial_generator,
    "resnet6": partial(resnet_generator, n_blocks=6),
    "resnet9": partial(resnet_generator, n_blocks=9),
    "unet": unet_generator,
    "contrast": contrast_generator,
}
DISCRIMINATORS: dict[str, Callable[..., keras.Model]] = {"tutorial": tutorial_discriminator,
                                                          "patchgan": patchgan_discriminator}
GENERATORS_3D: dict[str, Callable[..., keras.Model]] = {
    "resnet6_3d": partial(resnet_generator_3d, n_blocks=6),
    "resnet9_3d": partial(resnet_generator_3d, n_blocks=9),
}
DISCRIMINATORS_3D: dict[str, Callable[..., keras.Model]] = {"patchgan3d": patchgan_discriminator_3d}


def _lookup(registry: dict, kind: str, name: str) -> Callable[..., keras.Model]:
    if name not in registry:
        raise UserError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(registry))}")
    return registry[name]


def build_generator(architecture: str, input_shape: tuple[int | None, ...], filters: int = 64,
                    **kwargs) -> keras.Model:
    """A generator of the registered ``architecture``: (H, W, C) for a 2D one, (D, H, W, C) for a 3D one."""
    registry = {**GENERATORS, **GENERATORS_3D}
    return _lookup(registry, "generator", architecture)(input_shape, filters=filters, **kwargs)


def build_discriminator(architecture: str, input_shape: tuple[int | None, ...], filters: int = 64,
                        **kwargs) -> keras.Model:
    """A discriminator of the registered ``architecture``: (H, W, C) for a 2D one, (D, H, W, C) for a 3D one."""
    registry = {**DISCRIMINATORS, **DISCRIMINATORS_3D}
    return _lookup(registry, "discriminator", architecture)(input_shape, filters=filters, **kwargs)
