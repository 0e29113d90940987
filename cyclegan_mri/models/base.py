"""What every translation model offers the training, checkpoint and evaluation machinery."""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf


class TranslationModel(keras.Model):
    """A ``keras.Model`` whose ``train_step`` trains one or more image translators.

    Subclasses build their networks in ``__init__``, implement ``train_step``
    and ``compile`` (with their optimizers), and fill in the three hooks below;
    the trainer, checkpoints, sample grids and ``evaluate.py`` use only these.
    """

    def translators(self) -> Mapping[str, keras.Model]:
        """The generators to export, by direction (``"t1_to_t2"``, ``"t2_to_t1"``)."""
        raise NotImplementedError

    def trackables(self) -> Mapping[str, object]:
        """Every network and optimizer whose state a checkpoint must hold."""
        raise NotImplementedError

    def optimizers(self) -> Mapping[str, keras.optimizers.Optimizer]:
        """The optimizers by name (to build them before a restore)."""
        raise NotImplementedError

    def build_optimizers(self) -> None:
        """Create every optimizer's slots now, so that a restore fills them instead of deferring."""
        for name, optimizer in self.optimizers().items():
            network = self.trackables()[name.removesuffix("_optimizer")]
            optimizer.build(network.trainable_variables)
        self.built = True

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Every network and optimizer is built before fit(). Keras' own build step under
        # tf.distribute averages the first batch across replicas, which fails for uneven splits
        # and for MultiWorkerMirroredStrategy (keras-team/keras#20585), so it is skipped.
        return

    def sample_panels(self, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(title, image) panels for the per-epoch sample grid of fixed samples x (T1) and y (T2)."""
        raise NotImplementedError

    def translate(self, direction: str, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """Translate model-range images (N, H, W, 1) in one direction, without training behaviour."""
        generator = self.translators()[direction]
        return np.concatenate([
            np.asarray(generator(tf.constant(images[i:i + batch_size]), training=False))
            for i in range(0, len(images), batch_size)])
