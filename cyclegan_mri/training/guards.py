"""Callbacks that stop a run safely: on Ctrl-C/SIGTERM, and on a loss that is no longer finite."""

from __future__ import annotations

import math
import signal
import time

import keras

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


class TimeBudget(keras.callbacks.Callback):
    """Ends training at the first epoch end after ``minutes`` of training (that epoch is kept whole)."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds = minutes * 60
        self.started = time.monotonic()
        self.stopped_at: int | None = None

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self.started >= self.seconds:
            self.model.stop_training = True
            self.stopped_at = epoch + 1


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
