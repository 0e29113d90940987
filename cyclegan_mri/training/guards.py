"""Callbacks that stop a run safely: on Ctrl-C/SIGTERM, on a loss that is no longer finite, and at the end of a
budget of time."""

from __future__ import annotations

import math
import signal
import statistics
import time
from collections.abc import Callable

import keras
import tensorflow as tf

from cyclegan_mri.errors import TrainingStopped, UserError


class GracefulStop(keras.callbacks.Callback):
    """Turns SIGINT and SIGTERM into: finish the current step, save a checkpoint, stop.

    The checkpoint keeps the weights and optimizer state reached so far and the
    count of *finished* epochs, so a resumed run repeats the interrupted epoch's
    data from these weights and writes one sample grid and one history row per
    finished epoch. Stopping raises (rather than ``stop_training``) so that the
    interrupted epoch never reaches the callbacks that write its outputs.
    """

    def __init__(self, save):
        super().__init__()
        self.save = save
        self.signal_name: str | None = None
        self._previous: dict = {}
        self._epoch = 0

    def _handle(self, signum, frame):
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
            print(f"\n{self.signal_name}: stopping after this step and saving a checkpoint...", flush=True)

    def on_train_begin(self, logs=None):
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass

    def on_train_end(self, logs=None):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.signal_name is None:
            return
        path = self.save()
        self.on_train_end()
        raise TrainingStopped(f"{self.signal_name} during epoch {self._epoch + 1}, step {batch + 1}: saved {path} "
                              f"(epoch {self._epoch} finished); run the same command to resume")


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops at the first step whose losses are NaN or infinite, before anything of that epoch is saved."""

    def __init__(self, latest_checkpoint):
        super().__init__()
        self.latest_checkpoint = latest_checkpoint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = [name for name, value in (logs or {}).items() if not math.isfinite(float(value))]
        if bad:
            kept = self.latest_checkpoint() or "none yet"
            raise UserError(f"{', '.join(bad)} became {float(logs[bad[0]])} at epoch {self._epoch + 1}, "
                            f"step {batch + 1}; the newest checkpoint ({kept}) is the last good state. "
                            "Try a lower --learning-rate, or --precision float32")


class CpuBudget(keras.callbacks.Callback):
    """Ends training once this process has spent ``minutes`` of CPU time (all its threads) in training steps,
    counting ``spent`` minutes from earlier sessions of the run; ``steps`` counts this session's steps.

    CPU time, not wall time, so that a budget buys the same work on a shared machine and with one core or two;
    a benchmark of CPU models states what it spent. It is checked after every step, so the epoch in progress
    ends early and is checkpointed as it stands. What runs between an epoch's last step and the next epoch
    (checkpoints, sample grids, scoring callbacks) is not counted.
    """

    def __init__(self, minutes: float, spent: float = 0.0):
        super().__init__()
        self.budget = minutes * 60
        self.spent = spent * 60
        self.steps = 0
        self._last = time.process_time()

    @property
    def spent_minutes(self) -> float:
        return self.spent / 60

    def on_epoch_begin(self, epoch, logs=None):
        self._last = time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        now = time.process_time()
        self.spent += now - self._last
        self._last = now
        self.steps += 1
        if self.spent >= self.budget:
            self.model.stop_training = True


class MinutesBudget(keras.callbacks.Callback):
    """``--minutes``: ends training at the first step past a budget of wall-clock time, counted across resumes,
    and plans the learning rate over the budget.

    ``spent`` (seconds, a checkpointed variable) holds the time of the finished epochs of earlier sessions; each
    epoch adds the time since the previous one ended (its steps and outputs, and the saving of the previous
    epoch's checkpoint). An epoch cut short by the budget is kept as it stands. ``replan(total, finished)`` is called
    after each epoch with the epochs the budget holds at the measured pace (the median epoch of this session,
    the first one left out once there are others: it carries the tracing), so that a linear schedule reaches
    zero when the budget ends; a resume plans first from the pace of the ``finished`` epochs before it. A budget
    shorter than one epoch, judged from the first steps of a new run, is refused in one line before any
    checkpoint is written.
    """

    def __init__(self, minutes: float, spent: tf.Variable, steps_per_epoch: int,
                 replan: Callable[[int, int], None] | None = None, finished: int = 0):
        super().__init__()
        self.budget = minutes * 60
        self.spent = spent
        self.steps_per_epoch = steps_per_epoch
        self.replan = replan
        self.finished = finished
        self.durations: list[float] = []
        self.planned_epochs: int | None = None
        self._mark = self._first_step = time.monotonic()

    def on_train_begin(self, logs=None):
        self._mark = time.monotonic()
        spent = float(self.spent.numpy())
        if self.replan is not None and self.finished and spent > 0:
            self.planned_epochs = self.finished + max(math.ceil((self.budget - spent) / (spent / self.finished)), 0)
            self.replan(self.planned_epochs, self.finished)

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        first_epoch = not self.finished and not self.durations
        if batch == 0:
            self._first_step = now
        elif first_epoch and batch == min(3, self.steps_per_epoch - 1):
            self._refuse_if_shorter((now - self._first_step) / batch * self.steps_per_epoch)
        if float(self.spent.numpy()) + now - self._mark >= self.budget:
            if first_epoch and batch + 1 < self.steps_per_epoch:
                self._refuse_if_shorter((now - self._mark) / (batch + 1) * self.steps_per_epoch)
            self.model.stop_training = True

    def _refuse_if_shorter(self, per_epoch: float) -> None:
        if per_epoch > self.budget:
            raise UserError(f"--minutes {self.budget / 60:g} is shorter than one epoch, which takes about "
                            f"{per_epoch / 60:.1f} minutes here ({self.steps_per_epoch} steps); give a longer "
                            "budget, or make epochs cheaper (--crop, a smaller --batch or --preset cpu)")

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        self.durations.append(now - self._mark)
        self.spent.assign_add(now - self._mark)
        self._mark = now
        left = self.budget - float(self.spent.numpy())
        if left <= 0:
            self.model.stop_training = True
        pace = statistics.median(self.durations[1:] or self.durations)
        # A last epoch that the budget cuts short is planned too, so that it trains at the smallest rate, not at 0.
        self.planned_epochs = epoch + 1 + max(math.ceil(left / pace), 0)
        if self.replan is not None:
            self.replan(self.planned_epochs, epoch + 1)
        if len(self.durations) == 1 and self.params.get("verbose", 1):
            print(f"--minutes {self.budget / 60:g}: {left / 60:.1f} minutes left, about "
                  f"{self.planned_epochs - epoch - 1} more epochs at {pace:.1f} s an epoch", flush=True)
