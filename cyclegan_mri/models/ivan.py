"""iVAN (Wang et al., IEEE JBHI 2023): one invertible network for both directions of synthesis, or for fusion.

The network ``f`` (``networks.invertible``) is a stack of LU 1x1 convolutions and
affine couplings, invertible by construction. Variable augmentation gives it as
many input channels as outputs: a source slice ``x`` enters as two copies
``[x, x]`` and the output is read as the mean of its two channels.

Synthesis: ``mean f([x, x])`` is the target contrast (A to B) and
``mean f^-1([y, y])`` the source (B to A), so that one set of weights serves both
directions. Fusion: ``mean f([a, b])`` is the fused image, trained towards a
classical fusion of the pair (``fusion_rules``), and ``f^-1([F, F])``
decomposes a fused image back into ``[a, b]``.

The loss is ``lambda_forward * MSE(mean f(x~), y) + MSE(f^-1(clip f(x~)), x~)``, the
paper's, plus ``lambda_inverse * MSE(f^-1(y~), x~)``. The paper's second term
is not trivially zero only through the clip to the image range (the exact
inverse of the unclipped output is the input itself): it keeps the output in
range. The third term is this package's: it is what trains the inverse
direction on the real target, which the paper's loss leaves unconstrained (only
the mean of the forward output is fitted, so ``f^-1([y, y])`` need not be near
``x~``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.fusion.rules import fuse_model_range
from cyclegan_mri.models import losses
from cyclegan_mri.models.base import TranslationModel
from cyclegan_mri.networks.invertible import (
    InvertibleNetwork,
    MeanOfCopies,
    RepeatChannels,
    invertible_fuser,
    invertible_translator,
)

LOSS_NAMES = ("loss", "forward_loss", "reconstruction_loss", "inverse_loss")
TASKS = ("synthesis", "fusion")
#: The file names (in ``generators/``) of a fusion run's two exported networks.
FUSION = "fusion"
DECOMPOSITION = "decomposition"
COPIES = 2


class IVAN(TranslationModel):
    """One invertible network trained on aligned (A, B) pairs: A to B forward and B to A by its inverse
    (``task="synthesis"``), or the fusion of A and B forward and its decomposition by the inverse
    (``task="fusion"``, trained on ``(concat(a, b), reference)`` pairs: see ``training_data``)."""

    def __init__(self, image_shape: tuple[int, int, int], task: str = "synthesis", blocks: int = 8, growth: int = 32,
                 lambda_forward: float = 1.0, lambda_inverse: float = 1.0, domains: Domains = TUTORIAL, **kwargs):
        super().__init__(**kwargs)
        if task not in TASKS:
            raise ValueError(f"unknown iVAN task {task!r}; choose one of: {', '.join(TASKS)}")
        self.domains = domains
        self.task = task
        self.image_shape = tuple(image_shape)
        self.lambda_forward = lambda_forward
        self.lambda_inverse = lambda_inverse
        self.channels = int(image_shape[-1])
        width = COPIES * self.channels
        self.invertible = InvertibleNetwork(width, blocks=blocks, growth=growth, name="invertible")
        # float32 like the network: a bfloat16 mean would round the output it is fitted by.
        self.mean_of_copies = MeanOfCopies(COPIES, dtype="float32")
        self.repeat = RepeatChannels(COPIES, dtype="float32")
        # The whole network as a keras.Model over any slice size: what is checkpointed and counted.
        inputs = keras.Input((None, None, width), name="augmented")
        self.generator = keras.Model(inputs, self.invertible(inputs), name="generator")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}
        self._translators: dict[str, keras.Model] | None = None

    @classmethod
    def training_data(cls, data, options):
        """Synthesis trains on the pairs themselves; fusion on (the pair stacked on channels, its reference
        fusion by ``options.fusion_reference``)."""
        if options.task != "fusion":
            return data
        reference = fuse_model_range(options.fusion_reference, data.x, data.y)
        return dataclasses.replace(data, x=np.concatenate([data.x, data.y], axis=-1), y=reference)

    def compile(self, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-4,
                beta_1: float = 0.9, loss_scale: bool = False, **kwargs):
        """One Adam optimizer; ``loss_scale`` wraps it for float16 (the network itself always computes in float32)."""
        super().compile(**kwargs)
        self.generator_optimizer = self.adam(learning_rate, beta_1, loss_scale)

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def networks(self) -> Mapping[str, keras.Model]:
        return {"generator": self.generator}

    def optimizers(self) -> Mapping[str, keras.optimizers.Optimizer]:
        return {"generator_optimizer": self.generator_optimizer}

    def translators(self) -> Mapping[str, keras.Model]:
        """Synthesis: the forward (A to B) and inverse (B to A) translators; fusion: the fuser (A and B stacked
        on channels to one image) and the decomposition (a fused image to A and B stacked). All share the one
        network's weights."""
        if self._translators is None:
            any_size = (None, None, self.channels)
            if self.task == "synthesis":
                self._translators = {
                    self.domains.forward: invertible_translator(self.invertible, any_size, reverse=False,
                                                                copies=COPIES, name=self.domains.forward),
                    self.domains.backward: invertible_translator(self.invertible, any_size, reverse=True,
                                                                 copies=COPIES, name=self.domains.backward)}
            else:
                fused = keras.Input(any_size, name="fused")
                parts = self.invertible(self.repeat(fused), reverse=True)
                self._translators = {
                    FUSION: invertible_fuser(self.invertible, (None, None, COPIES * self.channels), self.channels,
                                             name=FUSION),
                    DECOMPOSITION: keras.Model(fused, parts, name=DECOMPOSITION)}
        return self._translators

    def augmented(self, images: tf.Tensor) -> tf.Tensor:
        """A source or target as the network takes it: two copies of a slice, or a fusion pair as it is."""
        images = tf.cast(images, tf.float32)
        return images if images.shape[-1] == COPIES * self.channels else self.repeat(images)

    def compute_losses(self, source: tf.Tensor, target: tf.Tensor) -> dict:
        x, y = self.augmented(source), self.augmented(target)
        output = self.invertible(x)
        forward = self.lambda_forward * losses.mean_squared_error(self.mean_of_copies(output), target)
        in_range = tf.clip_by_value(output, -1.0, 1.0)
        reconstruction = losses.mean_squared_error(self.invertible(in_range, reverse=True), x)
        total = forward + reconstruction
        results = {"forward_loss": forward, "reconstruction_loss": reconstruction}
        if self.lambda_inverse:
            inverse = self.lambda_inverse * losses.mean_squared_error(self.invertible(y, reverse=True), x)
            total += inverse
        else:
            inverse = tf.zeros(())
        return {"loss": total, **results, "inverse_loss": inverse}

    def train_step(self, data):
        source, target = data
        return self.descend(lambda: self.compute_losses(source, target),
                            [("loss", self.generator, self.generator_optimizer)])

    def sample_panels(self, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        a, b = self.domains.names
        if self.task == "synthesis":
            fake_b = self.translate(self.domains.forward, x[:1])
            fake_a = self.translate(self.domains.backward, y[:1])
            return [(f"Input {a}", x[0]), (f"Predicted {b}", fake_b[0]), (f"Real {b}", y[0]),
                    (f"Input {b}", y[0]), (f"Predicted {a}", fake_a[0]), (f"Real {a}", x[0])]
        c = self.channels
        fused = self.translate(FUSION, x[:1])
        parts = self.translate(DECOMPOSITION, fused)
        return [(a, x[0, ..., :c]), (b, x[0, ..., c:]), ("Fused", fused[0]), ("Reference", y[0]),
                (f"{a} from fused", parts[0, ..., :c]), (f"{b} from fused", parts[0, ..., c:])]
