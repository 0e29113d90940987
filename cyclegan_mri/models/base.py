"""What every translation model offers the training, checkpoint and evaluation machinery."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.domains import Domains
from cyclegan_mri.networks.unet import default_depth


def network_loss_names(domains: Domains) -> dict[str, str]:
    """The logged names of the two-generator models' per-network losses, in the domains' names: G's
    ``gen_t1_to_t2_loss``, F's ``gen_t2_to_t1_loss``, D_X's ``disc_t1_loss`` and D_Y's ``disc_t2_loss``."""
    a, b = (name.lower() for name in domains.names)
    return {"gen_g": f"gen_{domains.forward}_loss", "gen_f": f"gen_{domains.backward}_loss",
            "disc_x": f"disc_{a}_loss", "disc_y": f"disc_{b}_loss"}


def network_input(image_shape: tuple[int, int, int], crop: tuple[int, int] | None,
                  generator: str) -> tuple[tuple, dict]:
    """The input shape the networks are built with, and the generator settings that shape needs.

    Trained on ``crop`` windows (``--crop``), the networks take any size, so that the
    same weights translate whole slices; a U-Net then takes its depth from the crop.
    """
    if crop is None:
        return tuple(image_shape), {}
    return (None, None, image_shape[-1]), ({"depth": default_depth(*crop)} if generator == "unet" else {})


class TranslationModel(keras.Model):
    """A ``keras.Model`` whose ``train_step`` trains one or more image translators.

    Subclasses build their networks in ``__init__``, implement ``train_step``
    and ``compile`` (with their optimizers), and fill in the hooks below; the
    trainer, checkpoints, sample grids and ``evaluate.py`` use only these. What
    a model is (its kind, the data it trains on, its settings) its
    ``cyclegan_mri.specs.ModelSpec`` says, not the class.
    Losses go in ``self.trackers`` (name -> ``keras.metrics.Mean``) through
    ``_record``, so every model logs epoch means the same way.
    """

    #: The two domains (set by each model's ``__init__``): they name the translators and the logs.
    domains: Domains

    @classmethod
    def from_options(cls, options) -> "TranslationModel":
        """The model a run's ``TrainOptions`` describe: built with the keyword arguments its spec maps from the
        run's settings (``ModelSpec.arguments``); what kind of model it is, its spec says."""
        return cls(**options.spec.constructor_arguments(options))

    @classmethod
    def training_data(cls, data, options):
        """The data as the model of ``options`` trains on it: by default, ``data`` as it was read."""
        return data

    @staticmethod
    def adam(learning_rate, beta_1: float, loss_scale: bool) -> keras.optimizers.Optimizer:
        """One network's Adam optimizer, wrapped for loss scaling when training in float16."""
        optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1)
        return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scale else optimizer

    @property
    def metrics(self):
        # Listed so that fit() resets them every epoch: the logs are epoch means.
        return list(self.trackers.values())

    def translators(self) -> Mapping[str, keras.Model]:
        """The generators to export, by direction (``domains.forward``, ``domains.backward``: ``"t1_to_t2"``...)."""
        raise NotImplementedError

    def networks(self) -> Mapping[str, keras.Model]:
        """Every network, by name; ``optimizers()`` names each one's optimizer ``<name>_optimizer``."""
        raise NotImplementedError

    def optimizers(self) -> Mapping[str, keras.optimizers.Optimizer]:
        """The optimizers as training uses them (wrapped for loss scaling under float16), by name."""
        raise NotImplementedError

    def prepare(self, data) -> list[str]:
        """Fit what the model takes from its training ``data`` before the first step (a resumed run's checkpoint
        then restores the same); lines saying what, for the training log. By default nothing."""
        return []

    def buffers(self) -> Mapping[str, tf.Module]:
        """Training state besides networks and optimizers (a pool of past fakes, say), by name."""
        return {}

    def trackables(self) -> Mapping[str, object]:
        """Everything a checkpoint must hold, by name, the same whatever the precision.

        Optimizers appear as their Adam even when wrapped for float16 loss scaling:
        the wrapper's variables would change the checkpoint's object tree, so that a
        run could not resume under another precision (on other hardware). The loss
        scale itself is kept apart, in ``loss_scales()``.
        """
        optimizers = {name: unwrapped(optimizer) for name, optimizer in self.optimizers().items()}
        return {**self.networks(), **optimizers, **self.buffers()}

    def loss_scales(self) -> Mapping[str, keras.optimizers.Optimizer]:
        """The float16 loss-scale wrappers, by name (none under float32 or bfloat16): optional checkpoint state."""
        return {f"{name}_loss_scale": optimizer for name, optimizer in self.optimizers().items()
                if optimizer is not unwrapped(optimizer)}

    def build_optimizers(self) -> None:
        """Create every optimizer's slots now, so that a restore fills them instead of deferring."""
        networks = self.networks()
        for name, optimizer in self.optimizers().items():
            optimizer.build(networks[name.removesuffix("_optimizer")].trainable_variables)
        self.built = True

    def set_learning_rate(self, rate: float) -> None:
        """Give every optimizer the learning rate ``rate`` (set at each epoch's start by the schedule)."""
        for optimizer in self.optimizers().values():
            optimizer.learning_rate = rate

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Every network and optimizer is built before fit(). Keras' own build step under
        # tf.distribute averages the first batch across replicas, which fails for uneven splits
        # and for MultiWorkerMirroredStrategy (keras-team/keras#20585), so it is skipped.
        return

    def descend(self, compute_losses: Callable[[], Mapping[str, tf.Tensor]],
                updates: Sequence[tuple[str, keras.Model, keras.optimizers.Optimizer]]) -> dict:
        """One optimisation step: each (loss name, network, optimizer) descends that loss; returns the logs.

        One persistent tape records the shared forward pass once for every network's gradients.
        """
        with tf.GradientTape(persistent=True) as tape:
            step_losses = compute_losses()
            # Per update, not per loss: two networks descending one loss (a generator and its heads) each
            # have their own float16 loss scale.
            scaled = [optimizer.scale_loss(step_losses[name]) for name, _, optimizer in updates]
        for (name, network, optimizer), loss in zip(updates, scaled):
            gradients = tape.gradient(loss, network.trainable_variables)
            optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        del tape
        return self._record(step_losses)

    def _record(self, step_losses: Mapping[str, tf.Tensor]) -> dict:
        context = tf.distribute.get_replica_context()
        for name, value in step_losses.items():
            if context is not None and context.num_replicas_in_sync > 1:
                # Each replica holds its share of the global mean; log the whole.
                value = context.all_reduce(tf.distribute.ReduceOp.SUM, value)
            self.trackers[name].update_state(value)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        strategy = tf.distribute.get_strategy()
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode():
            # Keras reduces logs across workers with a mean over axis 0, which a scalar lacks.
            results = {name: tf.reshape(value, (1,)) for name, value in results.items()}
        return results

    def sample_panels(self, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(title, image) panels for the per-epoch sample grid of fixed samples x (domain A) and y (domain B)."""
        raise NotImplementedError

    def translate(self, direction: str, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """Translate model-range images (N, H, W, C) in one direction, without training behaviour."""
        generator = self.translators()[direction]
        return np.concatenate([
            np.asarray(generator(tf.constant(images[i:i + batch_size]), training=False))
            for i in range(0, len(images), batch_size)])


class ConditionalGAN(TranslationModel):
    """A model of one generator and one discriminator that judges (input, output) pairs (pix2pix, Vox2Vox):
    their optimizers, call and ``networks``; subclasses set ``self.generator`` and ``self.discriminator``."""

    generator: keras.Model
    discriminator: keras.Model

    def compile(self, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 2e-4,
                beta_1: float = 0.5, loss_scale: bool = False, **kwargs):
        """Two Adam optimizers, one per network; ``loss_scale`` wraps them for float16 training."""
        super().compile(**kwargs)
        self.generator_optimizer = self.adam(learning_rate, beta_1, loss_scale)
        self.discriminator_optimizer = self.adam(learning_rate, beta_1, loss_scale)

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def optimizers(self) -> Mapping[str, keras.optimizers.Optimizer]:
        return {"generator_optimizer": self.generator_optimizer,
                "discriminator_optimizer": self.discriminator_optimizer}

    def networks(self) -> Mapping[str, keras.Model]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def updates(self) -> list[tuple[str, keras.Model, keras.optimizers.Optimizer]]:
        """What ``descend`` updates: the generator by ``gen_loss``, the discriminator by ``disc_loss``."""
        return [("gen_loss", self.generator, self.generator_optimizer),
                ("disc_loss", self.discriminator, self.discriminator_optimizer)]


def unwrapped(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer itself, out of a ``LossScaleOptimizer`` if it is wrapped in one."""
    return getattr(optimizer, "inner_optimizer", optimizer)
