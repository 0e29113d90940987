"""Generators and discriminators, chosen by name.

A new architecture is a builder function registered here; models, training and
the command line pick it up by its name.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.tutorial import tutorial_discriminator, tutorial_generator

GENERATORS: dict[str, Callable[..., keras.Model]] = {"tutorial": tutorial_generator}
DISCRIMINATORS: dict[str, Callable[..., keras.Model]] = {"tutorial": tutorial_discriminator}


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
