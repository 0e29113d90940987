"""Learning-rate schedules, decided epoch by epoch from the run's own history.

The rate of an epoch depends on the epoch's number, never on how many
optimizer steps were taken: an epoch cut short by Ctrl-C is repeated at its own
rate, and a resume continues the schedule where the checkpoint left it.

``--lr-schedule linear`` is the CycleGAN paper's: the rate is held for the
first half of ``--epochs``, then falls linearly, one value per epoch, as in the
reference implementation (epoch ``n`` of ``N``, with the decay after epoch
``S = N // 2``, runs at ``rate * (N - n + 1) / (N - S + 1)``; the last epoch at
``rate / (N - S + 1)``). Raising (or lowering) ``--epochs`` on a resumed run
never makes the rate jump up: while the rate is still held, the decay simply
starts at half of the new total; once it has begun, it goes on from the rate of
the last finished epoch down to the new last epoch, at the same kind of
linear step. The plan (``S``, the rate factor up to ``S``, and ``N``) lives in
the checkpoint, beside the weights it produced.

``--lr-schedule step`` is iVAN's: the rate is halved after every
``--lr-step-epochs`` epochs (epoch ``n`` runs at ``rate / 2 ** ((n - 1) // step)``).

``--lr-warmup W`` multiplies any of them by ``min(1, n / W)``: the first epoch
runs at 1/W of the rate, epoch W and later at all of it.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

SCHEDULES = ("constant", "linear", "step")


class LinearDecayPlan(tf.Module):
    """The state of ``--lr-schedule linear``: hold a factor up to epoch ``start``, then decay to zero after ``end``.

    ``factor(n) = held`` for ``n <= start``, else ``held * (end - n + 1) / (end - start + 1)``
    (epochs counted from 1). A fresh plan for ``N`` epochs is ``start = N // 2``, ``held = 1``.
    """

    def __init__(self, name: str = "lr_plan"):
        super().__init__(name=name)
        self.start = tf.Variable(-1, dtype=tf.int64, trainable=False, name="start")  # -1: not planned yet
        self.held = tf.Variable(1.0, dtype=tf.float64, trainable=False, name="held")
        self.end = tf.Variable(0, dtype=tf.int64, trainable=False, name="end")

    @property
    def planned(self) -> bool:
        return int(self.start.numpy()) >= 0

    def factor(self, epoch: int) -> float:
        """The rate factor of ``epoch`` (counted from 1)."""
        start, held, end = int(self.start.numpy()), float(self.held.numpy()), int(self.end.numpy())
        if epoch <= start:
            return held
        return held * max(end - epoch + 1, 0) / (end - start + 1)

    def plan(self, epochs: int, finished: int) -> None:
        """Plan for a total of ``epochs`` after ``finished`` epochs, keeping the rates already used."""
        if self.planned and int(self.end.numpy()) == epochs:
            return
        if not self.planned:
            start, held = epochs // 2, 1.0
        elif finished >= epochs:
            return  # nothing left to train: keep the plan that was followed
        elif float(self.held.numpy()) == 1.0 and finished <= int(self.start.numpy()):
            # Still holding the full rate: the decay starts at half of the new total (or now, if that is past).
            start, held = max(epochs // 2, finished), 1.0
        else:
            # Decaying: go on from the rate of the last finished epoch.
            start, held = finished, self.factor(finished)
        self.start.assign(start)
        self.held.assign(held)
        self.end.assign(epochs)


def rate_of_epoch(kind: str, rate: float, plan: LinearDecayPlan, step_epochs: int = 50,
                  warmup: int = 0) -> Callable[[int], float]:
    """The learning rate of each epoch (counted from 1) for ``--lr-schedule``, times ``min(1, epoch / warmup)``
    with a ``warmup`` of that many epochs."""
    if kind == "constant":
        scheduled = lambda epoch: rate  # noqa: E731
    elif kind == "linear":
        scheduled = lambda epoch: rate * plan.factor(epoch)  # noqa: E731
    elif kind == "step":
        scheduled = lambda epoch: rate * 0.5 ** ((epoch - 1) // step_epochs)  # noqa: E731
    else:
        raise ValueError(f"unknown learning-rate schedule {kind!r}; choose one of: {', '.join(SCHEDULES)}")
    if warmup <= 0:
        return scheduled
    return lambda epoch: scheduled(epoch) * min(1.0, epoch / warmup)


class EpochLearningRate(keras.callbacks.Callback):
    """Sets every optimizer's learning rate at the start of each epoch, and logs it with the epoch's losses."""

    def __init__(self, rate_of_epoch: Callable[[int], float]):
        super().__init__()
        self.rate_of_epoch = rate_of_epoch
        self.rate = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.rate = float(self.rate_of_epoch(epoch + 1))
        self.model.set_learning_rate(self.rate)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.rate
