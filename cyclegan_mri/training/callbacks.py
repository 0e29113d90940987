"""Per-epoch outputs of a run, as Keras callbacks.

``fit`` calls them in list order at the end of each epoch; the trainer puts the
checkpoint last, so a checkpoint of epoch N exists only once the sample grid,
history row and TensorBoard summaries of epoch N do. On resume, anything newer
than the checkpoint is dropped (``trim_outputs``), which leaves one row, one
grid and one point per curve per epoch.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.visualize import save_sample_grid


class SampleGrid(keras.callbacks.Callback):
    """Draws the model's translation of one fixed slice of each domain after every epoch."""

    def __init__(self, run: RunDir, x: np.ndarray, y: np.ndarray):
        super().__init__()
        self.run, self.x, self.y = run, x[:1], y[:1]

    def on_epoch_end(self, epoch, logs=None):
        save_sample_grid(self.run.sample(epoch + 1), self.model.sample_panels(self.x, self.y),
                         title=f"Epoch {epoch + 1}")


class HistoryCSV(keras.callbacks.Callback):
    """Appends the epoch's mean losses and its duration to ``history.csv`` (epochs counted from 1)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        row = {"epoch": epoch + 1, **logs, "seconds": round(time.perf_counter() - self._started, 3)}
        rows = read_history(self.path) + [row]
        # Columns appear and go between versions and settings: keep every one any row has, blank where absent.
        columns = list(dict.fromkeys(key for r in rows for key in r))
        write_history(self.path, [{key: r.get(key, "") for key in columns} for r in rows])


class ProjectedTime(keras.callbacks.Callback):
    """After the first epoch of a start, prints how long the epochs left to ``--epochs`` will take.

    The first steps of a start include tracing, so the epoch's time is estimated
    from its later steps. On a CPU, a run projected to take hours is pointed at
    ``--preset cpu``.
    """

    HINT_AFTER_SECONDS = 3600

    def __init__(self, epochs: int, on_cpu: bool, preset: str | None = None):
        super().__init__()
        self.epochs, self.on_cpu, self.preset = epochs, on_cpu, preset
        self._shown = False
        self._epoch_started = self._first_step_done = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self._first_step_done = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._shown:
            return
        self._shown = True
        now = time.perf_counter()
        steps = (self.params or {}).get("steps") or 1
        per_epoch = (now - self._first_step_done) * steps / (steps - 1) if steps > 1 else now - self._epoch_started
        if text := self.message(epoch + 1, now - self._epoch_started, per_epoch):
            print(text, flush=True)

    def message(self, epoch: int, took: float, per_epoch: float) -> str:
        """What is printed after epoch ``epoch`` (counted from 1) took ``took`` s, at ``per_epoch`` s from now on
        (nothing when no epoch is left)."""
        left = self.epochs - epoch
        if left <= 0:
            return ""
        text = (f"epoch {epoch} of {self.epochs} took {format_duration(took)}; at about "
                f"{format_duration(per_epoch)} per epoch, the {left} epoch{'s' * (left != 1)} left take about "
                f"{format_duration(left * per_epoch)}")
        if self.on_cpu and self.preset != "cpu" and left * per_epoch > self.HINT_AFTER_SECONDS:
            text += ("\nno GPU found: `--preset cpu` trains a model sized for a CPU (a narrower ResNet generator, "
                     "200 epochs, about an hour on 2 cores; see the README), or stop here and use a GPU")
        return text


def format_duration(seconds: float) -> str:
    """``45 s``, ``2.5 min``, ``12 min``, ``3.4 h`` or ``2.1 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        minutes = seconds / 60
        return f"{minutes:.1f} min" if minutes < 10 else f"{minutes:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves networks, optimizers and the epoch counter after every epoch (the newest few are kept)."""

    def __init__(self, save: Callable[[], str], epoch: tf.Variable):
        super().__init__()
        self.save, self.epoch = save, epoch

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.assign(epoch + 1)
        self.save()


def read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def write_history(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_atomic(path, buffer.getvalue())


def trim_event_files(folder: Path, epoch: int) -> None:
    """Drop the TensorBoard summaries of epochs after ``epoch`` from the event files under ``folder``.

    Keras writes an epoch's summaries at step ``epoch - 1``. A record cut short by a
    kill is dropped too. Files with nothing to drop are left untouched.
    """
    for path in sorted(folder.rglob("events.out.tfevents.*")) if folder.is_dir() else []:
        records, damaged = [], False
        try:
            for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
                records.append(record)
        except tf.errors.DataLossError:
            damaged = True
        kept = [r for r in records if _before(tf.compat.v1.Event.FromString(r), epoch)]
        if len(kept) == len(records) and not damaged:
            continue
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        try:
            with tf.io.TFRecordWriter(temporary) as writer:
                for record in kept:
                    writer.write(record)
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)


def _before(event, epoch: int) -> bool:
    """Whether a TensorBoard event belongs to the first ``epoch`` epochs (or to none: file version, graph)."""
    return not event.HasField("summary") or event.step < epoch


def trim_outputs(run: RunDir, epoch: int) -> None:
    """Remove history rows, sample grids and TensorBoard summaries of epochs after ``epoch`` (the newest
    checkpoint), and the temporary files of writes that a killed process never renamed into place."""
    for folder in (run.root, run.samples, run.generators):
        if folder.is_dir():
            for stale in [*folder.glob(".*.tmp"), *folder.glob(".*.partial.keras")]:
                stale.unlink(missing_ok=True)
    rows = read_history(run.history)
    kept = [r for r in rows if int(r["epoch"]) <= epoch]
    if len(kept) != len(rows) or (rows and epoch == 0):
        write_history(run.history, kept)
    for number, path in run.sample_frames():
        if number > epoch:
            path.unlink()
    trim_event_files(run.logs, epoch)
