"""CycleGAN (Zhu et al. 2017) between two domains, as the tutorial trains it for T1 <-> T2.

G translates domain A (X; T1 in the tutorial) to domain B (Y; T2) and F
translates back; D_X judges A images and D_Y judges B images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.data.images import to_intensity
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.models import losses
from cyclegan_mri.models.base import TranslationModel, network_input, network_loss_names
from cyclegan_mri.models.image_pool import ImagePool
from cyclegan_mri.models.structure import STRUCTURE_LOSSES
from cyclegan_mri.networks import build_discriminator, build_generator
from cyclegan_mri.networks.intensity import intensity_table, over_intensity_map
from cyclegan_mri.translation.baselines import QuantileMap

# The CycleGAN's networks act on each image on its own, as in the paper's reference: instance
# normalisation (never batch statistics, which would mix the real, fake and pooled images that one
# call judges together) and no dropout in the U-Net (the reference turns it off for CycleGANs).
GENERATOR_SETTINGS = {"unet": dict(norm="instance", dropout=0.0)}
DISCRIMINATOR_SETTINGS = {"patchgan": dict(norm="instance")}


class CycleGAN(TranslationModel):
    """Two generators and two PatchGAN discriminators trained with adversarial, cycle and identity losses.

    ``lambda_structure`` > 0 adds a structure-consistency loss (``structure``: "mind" or "gradient", see
    ``models/structure.py``) between each real image and its translation. ``generator_options`` are passed to
    the generator builder (a 3D generator's ``padding``, say).
    """

    def __init__(self, image_shape: tuple[int, int, int], filters: int = 64, generator: str = "tutorial",
                 discriminator: str = "tutorial", lambda_cycle: float = 10.0, lambda_identity: float = 0.5,
                 gan_loss: str = "bce", pool_size: int = 0, lambda_structure: float = 0.0,
                 structure: str = "mind", crop: tuple[int, int] | None = None, domains: Domains = TUTORIAL,
                 generator_options: dict | None = None, intensity_map: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.domains = domains
        self.loss_names = network_loss_names(domains)
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity
        self.gan_loss = gan_loss
        self.lambda_structure = lambda_structure
        self.structure_loss = STRUCTURE_LOSSES[structure]
        # One pool of past fakes per discriminator; none (the tutorial) when pool_size is 0.
        trained_shape = self.image_shape if crop is None else (*crop, image_shape[-1])
        self.pools = {name: ImagePool(pool_size, trained_shape, name=name) for name in ("pool_x", "pool_y")
                      } if pool_size else {}
        shape, settings = network_input(image_shape, crop, generator)
        settings = {**GENERATOR_SETTINGS.get(generator, {}), **settings, **(generator_options or {})}
        self.generator_g = build_generator(generator, shape, filters, name="generator_g", **settings)
        self.generator_f = build_generator(generator, shape, filters, name="generator_f", **settings)
        self.intensity_map = intensity_map
        if intensity_map != "none":
            self.generator_g = over_intensity_map(self.generator_g)
            self.generator_f = over_intensity_map(self.generator_f)
        self.discriminator_x = build_discriminator(discriminator, shape, filters, name="discriminator_x",
                                                   **DISCRIMINATOR_SETTINGS.get(discriminator, {}))
        self.discriminator_y = build_discriminator(discriminator, shape, filters, name="discriminator_y",
                                                   **DISCRIMINATOR_SETTINGS.get(discriminator, {}))
        # The structure term is logged only when it is used, so the tutorial's history keeps its columns.
        names = (*self.loss_names.values(), "cycle_loss", "identity_loss",
                 *(("structure_loss",) if lambda_structure else ()))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def compile(self, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 2e-4,
                beta_1: float = 0.5, loss_scale: bool = False, **kwargs):
        """Four Adam optimizers, one per network; ``loss_scale`` wraps them for float16 training."""
        super().compile(**kwargs)
        self.generator_g_optimizer = self.adam(learning_rate, beta_1, loss_scale)
        self.generator_f_optimizer = self.adam(learning_rate, beta_1, loss_scale)
        self.discriminator_x_optimizer = self.adam(learning_rate, beta_1, loss_scale)
        self.discriminator_y_optimizer = self.adam(learning_rate, beta_1, loss_scale)

    def prepare(self, data) -> list[str]:
        """With an ``intensity_map``, fit each generator's table: a ``QuantileMap`` from its source domain's
        training slices onto the other domain's (histograms and depth profiles only, never a pair)."""
        return fit_intensity_maps(self, data.x, data.y)

    def call(self, x, training=False):
        return self.generator_g(x, training=training)

    def translators(self) -> Mapping[str, keras.Model]:
        return {self.domains.forward: self.generator_g, self.domains.backward: self.generator_f}

    def optimizers(self) -> Mapping[str, keras.optimizers.Optimizer]:
        return {"generator_g_optimizer": self.generator_g_optimizer,
                "generator_f_optimizer": self.generator_f_optimizer,
                "discriminator_x_optimizer": self.discriminator_x_optimizer,
                "discriminator_y_optimizer": self.discriminator_y_optimizer}

    def networks(self) -> Mapping[str, keras.Model]:
        return {"generator_g": self.generator_g, "generator_f": self.generator_f,
                "discriminator_x": self.discriminator_x, "discriminator_y": self.discriminator_y}

    def buffers(self) -> Mapping[str, tf.Module]:
        return dict(self.pools)

    def forward(self, real_x: tf.Tensor, real_y: tf.Tensor) -> dict[str, tf.Tensor]:
        """Every image and logit one step needs, with each network called as few times as possible.

        Instance normalisation makes every network act on each image on its
        own, so stacking the inputs of calls to the same network along the
        batch axis computes exactly what separate calls would: G(x) and G(y)
        are one call, F(y) and F(x) another, and each discriminator sees its
        real and fake batch in one call.
        """
        n_x, n_y = tf.shape(real_x)[0], tf.shape(real_y)[0]
        fake_y, same_y = tf.split(self.generator_g(tf.concat([real_x, real_y], 0), training=True), [n_x, n_y])
        fake_x, same_x = tf.split(self.generator_f(tf.concat([real_y, real_x], 0), training=True), [n_y, n_x])
        cycled_x = self.generator_f(fake_y, training=True)
        cycled_y = self.generator_g(fake_x, training=True)
        disc_real_x, disc_fake_x, disc_pooled_x = self._judge(self.discriminator_x, real_x, fake_x, "pool_x")
        disc_real_y, disc_fake_y, disc_pooled_y = self._judge(self.discriminator_y, real_y, fake_y, "pool_y")
        return dict(fake_x=fake_x, fake_y=fake_y, same_x=same_x, same_y=same_y, cycled_x=cycled_x,
                    cycled_y=cycled_y, disc_real_x=disc_real_x, disc_fake_x=disc_fake_x,
                    disc_real_y=disc_real_y, disc_fake_y=disc_fake_y,
                    disc_pooled_x=disc_pooled_x, disc_pooled_y=disc_pooled_y)

    def _judge(self, discriminator: keras.Model, real: tf.Tensor, fake: tf.Tensor, pool: str):
        """Scores of real, fake (for the generator) and pooled fakes (for the discriminator), in one call."""
        parts = [real, fake] + ([self.pools[pool].query(fake)] if self.pools else [])
        scores = tf.split(discriminator(tf.concat(parts, 0), training=True), [tf.shape(p)[0] for p in parts])
        return scores[0], scores[1], scores[-1]

    def compute_losses(self, real_x: tf.Tensor, real_y: tf.Tensor, out: Mapping[str, tf.Tensor]) -> dict:
        """The tutorial's losses from the outputs of ``forward``."""
        cycle = self.lambda_cycle * (losses.mean_absolute_error(real_x, out["cycled_x"])
                                     + losses.mean_absolute_error(real_y, out["cycled_y"]))
        identity_g = self.lambda_identity * losses.mean_absolute_error(real_y, out["same_y"])
        identity_f = self.lambda_identity * losses.mean_absolute_error(real_x, out["same_x"])
        structure_g = structure_f = 0.0
        if self.lambda_structure:
            structure_g = self.lambda_structure * self.structure_loss(real_x, out["fake_y"])
            structure_f = self.lambda_structure * self.structure_loss(real_y, out["fake_x"])
        names = self.loss_names
        step = {
            names["gen_g"]: (losses.generator_adversarial(out["disc_fake_y"], self.gan_loss) + cycle + identity_g
                             + structure_g),
            names["gen_f"]: (losses.generator_adversarial(out["disc_fake_x"], self.gan_loss) + cycle + identity_f
                             + structure_f),
            names["disc_x"]: losses.discriminator_adversarial(out["disc_real_x"], out["disc_pooled_x"],
                                                              self.gan_loss),
            names["disc_y"]: losses.discriminator_adversarial(out["disc_real_y"], out["disc_pooled_y"],
                                                              self.gan_loss),
            "cycle_loss": cycle,
            "identity_loss": identity_g + identity_f,
        }
        if self.lambda_structure:
            step["structure_loss"] = structure_g + structure_f
        return step

    def train_step(self, data):
        real_x, real_y = data
        names = self.loss_names
        pairs = [(names["gen_g"], self.generator_g, self.generator_g_optimizer),
                 (names["gen_f"], self.generator_f, self.generator_f_optimizer),
                 (names["disc_x"], self.discriminator_x, self.discriminator_x_optimizer),
                 (names["disc_y"], self.discriminator_y, self.discriminator_y_optimizer)]
        return self.descend(lambda: self.compute_losses(real_x, real_y, self.forward(real_x, real_y)), pairs)

    def sample_panels(self, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        fake_y = self.translate(self.domains.forward, x[:1])
        fake_x = self.translate(self.domains.backward, y[:1])
        a, b = self.domains.names
        return [(f"Input {a}", x[0]), (f"Predicted {b}", fake_y[0]),
                (f"Input {b}", y[0]), (f"Predicted {a}", fake_x[0])]


# Slices a quantile map is fitted on, at most, evenly spread over the training set: its histograms and depth
# profiles settle long before.
MAP_SLICES = 400


def fit_intensity_maps(model: TranslationModel, images_a: Sequence[np.ndarray], images_b: Sequence[np.ndarray]
                       ) -> list[str]:
    """With the ``intensity_map`` of ``model`` (a CycleGAN or CUT, 2D or 3D: ``generator_g`` A -> B,
    ``generator_f`` back), fit each generator's table: a ``QuantileMap`` from its source domain's training images
    onto the other's (histograms and depth profiles only, never a pair); what was chosen, one line per direction.

    ``images_a`` and ``images_b`` are 2D images in the model's range, (H, W) or (H, W, 1), of any sizes: a slice
    model's training slices, or the axial planes of a 3D model's volumes.
    """
    if model.intensity_map == "none":
        return []
    lines = []
    for generator, direction, source, target in ((model.generator_g, model.domains.forward, images_a, images_b),
                                                 (model.generator_f, model.domains.backward, images_b, images_a)):
        fitted = QuantileMap(_spread(source), _spread(target), model.intensity_map)
        intensity_table(generator).set_table(fitted.table / 127.5 - 1.0)
        scores = ", ".join(f"{name} {value:.2f}" for name, value in fitted.correlations.items())
        chosen = f" (depth-profile correlation {scores})" if scores else ""
        lines.append(f"{direction}: starts from the {fitted.polarity} quantile map{chosen}")
    return lines


def _spread(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Up to ``MAP_SLICES`` of the model-range ``images``, evenly spread, on the 0-255 scale."""
    keep = np.unique(np.linspace(0, len(images) - 1, min(MAP_SLICES, len(images))).astype(int))
    return [to_intensity(images[i]) for i in keep]
