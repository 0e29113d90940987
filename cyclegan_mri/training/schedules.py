"""Learning-rate schedules, as Keras schedules of the optimizer's step (so a resume keeps its place)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class HoldThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The CycleGAN paper's schedule: ``rate`` for ``hold_steps``, then linearly down to zero at ``total_steps``."""

    def __init__(self, rate: float, hold_steps: int, total_steps: int):
        self.rate, self.hold_steps, self.total_steps = rate, hold_steps, total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        remaining = (self.total_steps - step) / max(self.total_steps - self.hold_steps, 1)
        return self.rate * tf.clip_by_value(remaining, 0.0, 1.0)

    def get_config(self):
        return {"rate": self.rate, "hold_steps": self.hold_steps, "total_steps": self.total_steps}


def learning_rate(kind: str, rate: float, epochs: int, steps_per_epoch: int):
    """``--lr-schedule``: constant (the tutorial), or held for half of ``epochs`` and then decayed linearly."""
    if kind == "constant":
        return rate
    total = epochs * steps_per_epoch
    return HoldThenLinearDecay(rate, hold_steps=(epochs // 2) * steps_per_epoch, total_steps=total)
