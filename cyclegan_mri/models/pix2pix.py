"""pix2pix (Isola et al. 2017): paired translation in one direction.

A U-Net generator G maps the source contrast to the target; a conditional
PatchGAN D judges (source, image) pairs concatenated on the channel axis, real
target against G's output. G minimises the adversarial loss plus
``lambda_l1`` (100) times the L1 distance to the real target; D's loss is
halved, as in the paper, to slow it against G.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.models import losses
from cyclegan_mri.models.base import ConditionalGAN, network_input
from cyclegan_mri.networks import build_discriminator, build_generator

LOSS_NAMES = ("gen_loss", "gen_gan_loss", "l1_loss", "disc_loss")


class Pix2Pix(ConditionalGAN):
    """One generator and one conditional discriminator, trained on aligned (A, B) pairs in one ``direction``
    (None: A to B)."""

    def __init__(self, image_shape: tuple[int, int, int], filters: int = 64, generator: str = "unet",
                 discriminator: str = "patchgan", direction: str | None = None, norm: str = "batch",
                 lambda_l1: float = 100.0, gan_loss: str = "bce", crop: tuple[int, int] | None = None,
                 domains: Domains = TUTORIAL, **kwargs):
        super().__init__(**kwargs)
        self.domains = domains
        self.direction = direction or domains.forward
        self.source_side = domains.source_side(self.direction)  # a one-line error for an unknown direction
        self.image_shape = tuple(image_shape)
        self.lambda_l1 = lambda_l1
        self.gan_loss = gan_loss
        shape, settings = network_input(image_shape, crop, generator)
        self.generator = build_generator(generator, shape, filters, name="generator",
                                         **_norm(generator, norm), **settings)
        pair_shape = (*shape[:-1], 2 * shape[-1])
        self.discriminator = build_discriminator(discriminator, pair_shape, filters, name="discriminator",
                                                 **_norm(discriminator, norm))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}

    def translators(self) -> Mapping[str, keras.Model]:
        return {self.direction: self.generator}

    def source_and_target(self, a: tf.Tensor, b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return (a, b) if self.source_side == 0 else (b, a)

    def compute_losses(self, source: tf.Tensor, target: tf.Tensor) -> dict:
        fake = self.generator(source, training=True)
        # Separate calls, as in the reference: under batch norm, real and fake pairs each get their own statistics.
        real_scores = self.discriminator(tf.concat([source, target], -1), training=True)
        fake_scores = self.discriminator(tf.concat([source, tf.cast(fake, source.dtype)], -1), training=True)
        gan = losses.generator_adversarial(fake_scores, self.gan_loss)
        l1 = self.lambda_l1 * losses.mean_absolute_error(target, fake)
        return {"gen_loss": gan + l1, "gen_gan_loss": gan, "l1_loss": l1,
                "disc_loss": losses.discriminator_adversarial(real_scores, fake_scores, self.gan_loss)}

    def train_step(self, data):
        source, target = self.source_and_target(*data)
        return self.descend(lambda: self.compute_losses(source, target), self.updates())

    def sample_panels(self, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        source, target = self.source_and_target(x[:1], y[:1])
        names = self.domains.source_and_target(self.direction)
        fake = self.translate(self.direction, source)
        return [(f"Input {names[0]}", source[0]), (f"Predicted {names[1]}", fake[0]), (f"Real {names[1]}", target[0])]


def _norm(architecture: str, norm: str) -> dict:
    # Only the pix2pix networks take a normalisation choice; the others are fixed as published.
    return {"norm": norm} if architecture in ("unet", "patchgan") else {}
