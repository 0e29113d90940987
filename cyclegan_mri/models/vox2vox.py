"""Vox2Vox (Cirillo, Abramian and Eklund, BrainLes 2020): 3D brain-tumour segmentation as a conditional GAN.

A 3D U-Net generator G maps a multi-contrast patch (D, H, W, C) to class
probabilities (D, H, W, K); a 3D PatchGAN D judges (image, segmentation)
pairs, the one-hot truth against G's probabilities. G minimises
``lambda_dice`` (alpha, 5) times the generalized Dice loss with per-class
weights plus the least-squares adversarial loss; D minimises half the sum of
its least-squares terms. Adam 2e-4, beta_1 0.5, as the official code.

Whole volumes are segmented by sliding G's patch window over them and
blending the probabilities (``segmentation.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.domains import SEGMENTATION
from cyclegan_mri.errors import UserError
from cyclegan_mri.models import losses
from cyclegan_mri.models.base import ConditionalGAN
from cyclegan_mri.models.cyclegan3d import axial_view
from cyclegan_mri.networks.vox2vox import smallest_multiple, vox2vox_discriminator, vox2vox_generator

LOSS_NAMES = ("gen_loss", "dice_loss", "gen_gan_loss", "disc_loss")
#: The key (and exported file name, ``generators/segmenter.keras``) of the segmentation network.
SEGMENTER = "segmenter"
# Label colours of the sample grid, by class index: background black, then BraTS' usual red, green, yellow.
LABEL_COLOURS = np.array([[0, 0, 0], [1, 0.2, 0.2], [0.2, 0.8, 0.2], [1, 0.9, 0.1], [0.2, 0.5, 1],
                          [0.9, 0.3, 0.9], [0.2, 0.9, 0.9], [1, 0.6, 0.2]], np.float32)


def label_colours(classes: np.ndarray) -> np.ndarray:
    """A (H, W) class-index map as an RGB image in [-1, 1], as the sample grid draws colour."""
    colours = LABEL_COLOURS[np.asarray(classes) % len(LABEL_COLOURS)]
    return colours * 2.0 - 1.0


class Vox2Vox(ConditionalGAN):
    """A 3D U-Net segmenter and a 3D pair discriminator over (D, H, W, C) patches; see the module doc."""

    def __init__(self, patch: Sequence[int], channels: int = 4, classes: int = 4, filters: int = 64,
                 dropout: float = 0.2, lambda_dice: float = 5.0, class_weights: Sequence[float] | None = None,
                 generator: str = "vox2vox", discriminator: str = "vox2vox", gan_loss: str = "lsgan",
                 contrasts: Sequence[str] | None = None, **kwargs):
        super().__init__(**kwargs)
        if generator != "vox2vox" or discriminator != "vox2vox":
            raise UserError("--model vox2vox has its own networks: --generator vox2vox --discriminator vox2vox")
        multiple = smallest_multiple()
        if any(p % multiple for p in patch):
            raise UserError(f"--patch {' '.join(map(str, patch))}: the Vox2Vox U-Net halves the patch 4 times, so "
                            f"each size must be a multiple of {multiple}")
        weights = [1.0] * classes if class_weights is None else [float(w) for w in class_weights]
        if len(weights) != classes:
            raise UserError(f"{len(weights)} class weights for {classes} classes")
        self.domains = SEGMENTATION
        self.patch = tuple(int(p) for p in patch)
        self.image_shape = (*self.patch, channels)
        self.n_classes = classes
        self.lambda_dice = lambda_dice
        self.gan_loss = gan_loss
        self.contrasts = tuple(contrasts) if contrasts else tuple(f"channel {c}" for c in range(channels))
        self.class_weights = tf.constant(weights, tf.float32)
        self.generator = vox2vox_generator(self.image_shape, classes, filters, dropout=dropout)
        self.discriminator = vox2vox_discriminator(self.image_shape, classes, filters, dropout=dropout)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}

    def translators(self) -> Mapping[str, keras.Model]:
        return {SEGMENTER: self.generator}

    def compute_losses(self, image: tf.Tensor, target: tf.Tensor) -> dict:
        probabilities = self.generator(image, training=True)
        real_scores = self.discriminator([image, target], training=True)
        fake_scores = self.discriminator([image, probabilities], training=True)
        dice = losses.generalized_dice(target, probabilities, self.class_weights)
        gan = losses.generator_adversarial(fake_scores, self.gan_loss)
        return {"gen_loss": self.lambda_dice * dice + gan, "dice_loss": dice, "gen_gan_loss": gan,
                "disc_loss": losses.discriminator_adversarial(real_scores, fake_scores, self.gan_loss)}

    def train_step(self, data):
        image, target = data
        return self.descend(lambda: self.compute_losses(image, target), self.updates())

    def sample_panels(self, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Each contrast's middle axial slice (z-scores of +-3 at the ends of the gray scale, background black),
        the truth and the prediction in colour."""
        image = np.asarray(x[0])
        predicted = np.argmax(np.asarray(self.generator(tf.constant(x[:1]), training=False))[0], axis=-1)
        background = axial_view(np.all(image == 0, axis=-1, keepdims=True))
        panels = [(name.upper(), np.where(background, -1.0, np.clip(axial_view(image[..., c:c + 1]) / 3.0, -1.0, 1.0)))
                  for c, name in enumerate(self.contrasts)]
        truth = np.argmax(np.asarray(y[0]), axis=-1)
        return panels + [("Truth", label_colours(axial_view(truth[..., None])[..., 0])),
                         ("Predicted", label_colours(axial_view(predicted[..., None])[..., 0]))]
