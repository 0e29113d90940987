"""CUT and FastCUT (Park et al., ECCV 2020): unpaired translation by patchwise contrastive learning.

One generator per direction and no cycle: a patch of the translation must be
recognisable as coming from the same place of the source among other patches
of that source. The generator's own encoder embeds both images; at a few of
its layers, ``nce_patches`` locations are sampled, projected by a small MLP
head per layer and L2-normalised; PatchNCE is the cross-entropy of picking the
same location (at temperature ``nce_temperature``) against the other sampled
locations of the same image. As in the reference implementation the source's
embeddings are targets (no gradient), and the heads learn with the generator.

- ``cut``: lambda_NCE 1, plus the same loss between a target-domain image and
  its (identity) translation, the two averaged.
- ``fastcut``: lambda_NCE 10, no identity term; instead, half of the steps
  flip the input left-right and ask that the translation's features, flipped
  back, still match the source's (flip equivariance).

Both directions are trained, each as its own one-sided model (G: A -> B
judged by D_Y; F: B -> A judged by D_X), so ``evaluate.py`` scores both. An
optional structure loss (``--lambda-structure``) joins the generator losses.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import tensorflow as tf

from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import UserError
from cyclegan_mri.models import losses
from cyclegan_mri.models.base import TranslationModel, network_input, network_loss_names
from cyclegan_mri.models.cyclegan import DISCRIMINATOR_SETTINGS, GENERATOR_SETTINGS, CycleGAN, fit_intensity_maps
from cyclegan_mri.models.structure import STRUCTURE_LOSSES
from cyclegan_mri.networks import build_discriminator, build_generator
from cyclegan_mri.networks.intensity import over_intensity_map

# The encoder layers whose features PatchNCE compares, by generator. For the ResNet these are the
# reference's layers 0, 4, 8, 12 and 16 of its sequential generator: the (padded) input, the two
# downsampling convolutions, and the outputs of the first and fifth residual blocks.
NCE_LAYERS = {
    "resnet6": ("image", "down1_conv", "down2_conv", "block0_add", "block4_add"),
    "resnet9": ("image", "down1_conv", "down2_conv", "block0_add", "block4_add"),
    "tutorial": ("image", "down1_conv", "down2_conv", "block0_concat", "block2_concat"),
    "contrast": ("image", "pixel0_lrelu", "pixel2_lrelu", "context1_lrelu", "context3_lrelu"),
}
VARIANTS = {"cut": dict(lambda_nce=1.0, nce_identity=True, flip_equivariance=False),
            "fastcut": dict(lambda_nce=10.0, nce_identity=False, flip_equivariance=True)}


def projection_heads(channels: list[int], units: int, name: str) -> keras.Model:
    """One two-layer MLP per encoder layer, (N, P, C_l) -> (N, P, units) each; float32 for the contrastive logits."""
    inputs = [keras.Input(shape=(None, c), name=f"layer{i}") for i, c in enumerate(channels)]
    outputs = []
    for i, x in enumerate(inputs):
        x = keras.layers.Dense(units, activation="relu", dtype="float32", name=f"head{i}_dense1")(x)
        outputs.append(keras.layers.Dense(units, dtype="float32", name=f"head{i}_dense2")(x))
    return keras.Model(inputs, outputs, name=name)


def sample_patches(query: list[tf.Tensor], key: list[tf.Tensor], count: int) -> tuple[list, list]:
    """The same ``count`` random locations of each layer's query and key features (and of every image),
    as (N, P, C) float32 each."""
    sampled_query, sampled_key = [], []
    for q, k in zip(query, key):
        shape = tf.shape(q)
        ids = tf.random.shuffle(tf.range(shape[1] * shape[2]))[:count]
        for feature, out in ((q, sampled_query), (k, sampled_key)):
            flat = tf.reshape(tf.cast(feature, tf.float32), (shape[0], shape[1] * shape[2], feature.shape[-1]))
            out.append(tf.gather(flat, ids, axis=1))
    return sampled_query, sampled_key


def patch_nce(query: tf.Tensor, key: tf.Tensor, temperature: float) -> tf.Tensor:
    """PatchNCE per example: cross-entropy of matching each query patch with its own key patch.

    ``query`` and ``key``: (N, P, D), L2-normalised. The other P - 1 key patches of the same image are
    the negatives; the keys are targets, so no gradient flows into them.
    """
    key = tf.stop_gradient(key)
    logits = tf.matmul(query, key, transpose_b=True) / temperature
    labels = tf.broadcast_to(tf.range(tf.shape(logits)[1]), tf.shape(logits)[:2])
    per_patch = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(per_patch, axis=1)


class OneSided:
    """The pieces of one direction: its generator, the encoder view of it, its heads and its discriminator."""

    def __init__(self, generator: keras.Model, heads: keras.Model, discriminator: keras.Model, layers: tuple):
        self.generator, self.heads, self.discriminator = generator, heads, discriminator
        self.encoder = keras.Model(generator.inputs, [generator.get_layer(name).output for name in layers],
                                   name=f"{generator.name}_encoder")


class CUT(TranslationModel):
    """Two one-sided CUT (or FastCUT) models, A -> B and B -> A, trained together."""

    def __init__(self, image_shape: tuple[int, int, int], filters: int = 64, generator: str = "resnet9",
                 discriminator: str = "patchgan", variant: str = "cut", lambda_nce: float | None = None,
                 nce_temperature: float = 0.07, nce_patches: int = 256, head_units: int = 256,
                 gan_loss: str = "lsgan", lambda_structure: float = 0.0, structure: str = "mind",
                 crop: tuple[int, int] | None = None, domains: Domains = TUTORIAL, intensity_map: str = "none",
                 **kwargs):
        super().__init__(**kwargs)
        if generator not in NCE_LAYERS:
            raise UserError(f"--model {variant} takes its features from the generator's encoder, which it knows "
                            f"for {', '.join(sorted(NCE_LAYERS))}; not for --generator {generator}")
        settings = VARIANTS[variant]
        self.variant = variant
        self.image_shape = tuple(image_shape)
        self.domains = domains
        self.loss_names = network_loss_names(domains)
        self.lambda_nce = settings["lambda_nce"] if lambda_nce is None else lambda_nce
        self.nce_identity = settings["nce_identity"]
        self.flip_equivariance = settings["flip_equivariance"]
        self.nce_temperature, self.nce_patches = nce_temperature, nce_patches
        self.gan_loss = gan_loss
        self.lambda_structure = lambda_structure
        self.structure_loss = STRUCTURE_LOSSES[structure]
        self.sides = {}
        self.intensity_map = intensity_map
        shape, settings = network_input(image_shape, crop, generator)
        settings = {**GENERATOR_SETTINGS.get(generator, {}), **settings}
        for key, target in (("g", "y"), ("f", "x")):
            network = build_generator(generator, shape, filters, name=f"generator_{key}", **settings)
            if intensity_map != "none":
                # The same layers (the encoder's among them), plus the table the output starts from.
                network = over_intensity_map(network)
            channels = [int(network.get_layer(name).output.shape[-1]) for name in NCE_LAYERS[generator]]
            heads = projection_heads(channels, head_units, name=f"heads_{key}")
            judge = build_discriminator(discriminator, shape, filters, name=f"discriminator_{target}",
                                        **DISCRIMINATOR_SETTINGS.get(discriminator, {}))
            self.sides[key] = OneSided(network, heads, judge, NCE_LAYERS[generator])
        self.generator_g, self.generator_f = self.sides["g"].generator, self.sides["f"].generator
        self.heads_g, self.heads_f = self.sides["g"].heads, self.sides["f"].heads
        self.discriminator_y, self.discriminator_x = self.sides["g"].discriminator, self.sides["f"].discriminator
        names = (*self.loss_names.values(), "nce_loss", *(("structure_loss",) if lambda_structure else ()))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def compile(self, learning_rate=2e-4, beta_1: float = 0.5, loss_scale: bool = False, **kwargs):
        """Six Adam optimizers: each generator, head set and discriminator; ``loss_scale`` for float16."""
        super().compile(**kwargs)
        self._optimizers = {f"{name}_optimizer": self.adam(learning_rate, beta_1, loss_scale)
                            for name in self.networks()}

    def prepare(self, data) -> list[str]:
        """With an ``intensity_map``, fit each generator's table as ``CycleGAN.prepare`` does."""
        return fit_intensity_maps(self, data.x, data.y)

    def call(self, x, training=False):
        return self.generator_g(x, training=training)

    def translators(self) -> Mapping[str, keras.Model]:
        return {self.domains.forward: self.generator_g, self.domains.backward: self.generator_f}

    def networks(self) -> Mapping[str, keras.Model]:
        return {"generator_g": self.generator_g, "generator_f": self.generator_f, "heads_g": self.heads_g,
                "heads_f": self.heads_f, "discriminator_x": self.discriminator_x,
                "discriminator_y": self.discriminator_y}

    def optimizers(self) -> Mapping[str, keras.optimizers.Optimizer]:
        return self._optimizers

    def nce(self, side: OneSided, source: tf.Tensor, translated: tf.Tensor, flipped: tf.Tensor | None = None):
        """Mean PatchNCE over the layers between ``source`` and its ``translated`` image, per example."""
        query = side.encoder(translated, training=True)
        key = side.encoder(source, training=True)
        if flipped is not None:
            # The translation was made from the flipped source: flip its features back to the source's frame.
            query = [tf.where(flipped, tf.reverse(q, [2]), q) for q in query]
        query, key = sample_patches(query, key, self.nce_patches)
        query = [tf.math.l2_normalize(q, -1) for q in side.heads(query, training=True)]
        key = [tf.math.l2_normalize(k, -1) for k in side.heads(key, training=True)]
        per_layer = [patch_nce(q, k, self.nce_temperature) for q, k in zip(query, key)]
        return tf.add_n(per_layer) / len(per_layer)

    def one_side(self, side: OneSided, source: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
        """Generator and discriminator losses of one direction, ``source`` domain to ``target`` domain."""
        flipped = None
        inputs = source
        if self.flip_equivariance:
            flipped = tf.random.uniform(()) < 0.5
            inputs = tf.where(flipped, tf.reverse(source, [2]), source)
        n = tf.shape(source)[0]
        if self.nce_identity:
            fake, same = tf.split(side.generator(tf.concat([inputs, target], 0), training=True),
                                  [n, tf.shape(target)[0]])
        else:
            fake = side.generator(inputs, training=True)
        real_scores, fake_scores = tf.split(side.discriminator(tf.concat([target, fake], 0), training=True),
                                            [tf.shape(target)[0], n])
        nce = losses.global_mean(self.nce(side, source, fake, flipped))
        if self.nce_identity:
            nce = 0.5 * (nce + losses.global_mean(self.nce(side, target, same)))
        nce = self.lambda_nce * nce
        generator = losses.generator_adversarial(fake_scores, self.gan_loss) + nce
        structure = 0.0
        if self.lambda_structure:
            # Compared in the source's frame: the flip, if any, is undone first.
            unflipped = fake if flipped is None else tf.where(flipped, tf.reverse(fake, [2]), fake)
            structure = self.lambda_structure * self.structure_loss(source, unflipped)
        return {"generator": generator + structure, "nce": nce, "structure": structure,
                "discriminator": losses.discriminator_adversarial(real_scores, fake_scores, self.gan_loss)}

    def compute_losses(self, real_x: tf.Tensor, real_y: tf.Tensor) -> dict[str, tf.Tensor]:
        g = self.one_side(self.sides["g"], real_x, real_y)
        f = self.one_side(self.sides["f"], real_y, real_x)
        names = self.loss_names
        step = {names["gen_g"]: g["generator"], names["gen_f"]: f["generator"], names["disc_y"]: g["discriminator"],
                names["disc_x"]: f["discriminator"], "nce_loss": g["nce"] + f["nce"]}
        if self.lambda_structure:
            step["structure_loss"] = g["structure"] + f["structure"]
        return step

    def train_step(self, data):
        real_x, real_y = data
        o, names = self._optimizers, self.loss_names
        updates = [(names["gen_g"], self.generator_g, o["generator_g_optimizer"]),
                   (names["gen_g"], self.heads_g, o["heads_g_optimizer"]),
                   (names["gen_f"], self.generator_f, o["generator_f_optimizer"]),
                   (names["gen_f"], self.heads_f, o["heads_f_optimizer"]),
                   (names["disc_x"], self.discriminator_x, o["discriminator_x_optimizer"]),
                   (names["disc_y"], self.discriminator_y, o["discriminator_y_optimizer"])]
        return self.descend(lambda: self.compute_losses(real_x, real_y), updates)

    # The same two-direction grid as the CycleGAN's.
    sample_panels = CycleGAN.sample_panels

