"""What the trainer and the held-out check need of a run's training data, whatever its kind.

Each model's spec names a class that follows ``TrainingSet`` (``ModelSpec.data``):
``TrainingData`` for slices, ``VolumeData`` for volumes, ``SegmentationData`` for
labelled cases. The trainer loads it (``load_training_data``) and asks it for each
epoch's dataset; ``evaluate.py`` asks the same class what a run trained on
(``trained_on``), so that the two can never choose different data.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

import numpy as np

from cyclegan_mri.errors import UserError

if TYPE_CHECKING:
    import tensorflow as tf

    from cyclegan_mri.domains import Domains
    from cyclegan_mri.record import TrainOptions


class TrainingSet(Protocol):
    """A run's training data, read once."""

    domains: Domains
    channels: int

    @classmethod
    def load(cls, options: TrainOptions) -> TrainingSet:
        """Read the data a run of ``options`` trains on."""

    @classmethod
    def selection(cls, options: TrainOptions) -> set[str]:
        """What a run of ``options`` trains on, by the choice ``load`` makes: the fingerprints of its images or
        volumes, or the names of its cases. Raises ``UserError`` when the data cannot be read."""

    def describe(self) -> str:
        """Counts and shapes, as ``--dry-run`` prints them."""

    def sample_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The fixed inputs of the per-epoch sample grid, one of each side, with a batch axis."""

    def steps_per_epoch(self, options: TrainOptions) -> int:
        """Steps in one epoch at ``options.batch`` (refusing a batch no epoch could fill)."""

    def dataset(self, options: TrainOptions, first_epoch: int, epochs: int) -> tf.data.Dataset:
        """Epochs ``first_epoch`` to ``first_epoch + epochs - 1``, each as an uninterrupted run draws it."""

    def decided(self) -> dict:
        """The settings the data decided (domains, channels...), for ``run.json``."""


def fingerprint(array: np.ndarray) -> str:
    """A digest of an image's (or prepared volume's) values and shape: equal for the same image under any name."""
    array = np.ascontiguousarray(array)
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()


def load_training_data(options: TrainOptions) -> TrainingSet:
    """The data a run of ``options`` trains on, as its model takes it (``TranslationModel.training_data``)."""
    spec = options.spec
    return spec.model_type().training_data(spec.data_type().load(options), options)


def trained_on(options: TrainOptions | None) -> set[str] | None:
    """What the run of ``options`` trained on (see ``TrainingSet.selection``), or None when that cannot be told: no
    run, or its data has moved or changed since."""
    if options is None:
        return None
    try:
        return options.spec.data_type().selection(options)
    except UserError:
        return None
