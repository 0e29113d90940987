"""Per-epoch outputs of a run, as Keras callbacks.

``fit`` calls them in list order at the end of each epoch; the trainer puts the
checkpoint last, so a checkpoint of epoch N exists only once the sample grid
and history row of epoch N do. On resume, anything newer than the checkpoint
is dropped (``trim_outputs``), which leaves one row and one grid per epoch.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.visualize import save_sample_grid


class SampleGrid(keras.callbacks.Callback):
    """Draws the model's translation of one fixed T1 and one fixed T2 slice after every epoch."""

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
        rows = read_history(self.path)
        if rows and list(rows[0]) != list(row):
            rows = [{key: r.get(key, "") for key in row} for r in rows]
        write_history(self.path, rows + [row])


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


def trim_outputs(run: RunDir, epoch: int) -> None:
    """Remove history rows and sample grids of epochs after ``epoch`` (the newest checkpoint),
    and the temporary files of writes that a killed process never renamed into place."""
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
