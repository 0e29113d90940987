"""Generators and discriminators, chosen by name.

A new architecture is a builder function registered here; models, training and
the command line pick it up by its name.

Generators: "tutorial" (the TensorFlow tutorial's, concatenating blocks),
"resnet6" and "resnet9" (the CycleGAN paper's ResNet with 6 or 9 additive
residual blocks), "unet" (the pix2pix U-Net) and "contrast" (a per-pixel
intensity map with a small-context correction). Discriminators: "tutorial"
(the tutorial's PatchGAN) and "patchgan" (pix2pix's 70x70 PatchGAN, batch or
instance normalisation).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.contrast import contrast_generator
from cyclegan_mri.networks.patchgan import patchgan_discriminator
from cyclegan_mri.networks.resnet import resnet_generator
from cyclegan_mri.networks.tutorial import tutorial_discriminator, tutorial_generator
from cyclegan_mri.networks.unet import unet_generator

GENERATORS: dict[str, Callable[..., keras.Model]] = {
    "tutorial": tutorial_generator,
    "resnet6": partial(resnet_generator, n_blocks=6),
    "resnet9": partial(resnet_generator, n_blocks=9),
    "unet": unet_generator,
    "contrast": contrast_generator,
}
DISCRIMINATORS: dict[str, Callable[..., keras.Model]] = {"tutorial": tutorial_discriminator,
                                                          "patchgan": patchgan_discriminator}


def _lookup(registry: dict, kind: str, name: str) -> Callable[..., keras.Model]:
    if name not in registry:
        raise UserError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(registry))}")
    return registry[name]


def build_generator(architecture: str, input_shape: tuple[int, int, int], filters: int = 64,
                    **kwargs) -> keras.Model:
    """A generator of the registered ``architecture``."""
    return _lookup(GENERATORS, "generator", architecture)(input_shape, filters=filters, **kwargs)


def build_discriminator(architecture: str, input_shape: tuple[int, int, int], filters: int = 64,
                        **kwargs) -> keras.Model:
    """A discriminator of the registered ``architecture``."""
    return _lookup(DISCRIMINATORS, "discriminator", architecture)(input_shape, filters=filters, **kwargs)
