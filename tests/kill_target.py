"""train.py, with a pause at a chosen point so that a test can SIGKILL it there.

    python tests/kill_target.py MODE MARKER -- TRAIN_ARGS...

MODE "checkpoint": the second checkpoint save leaves what a save cut short leaves
(a ckpt-N_temp folder with a partial shard) and then hangs. MODE "sample": the
second sample grid is half-written under its temporary name, then hangs. In both,
MARKER is created when the pause begins. MODE "none" just trains.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402

from cyclegan_mri.cli import train  # noqa: E402
from cyclegan_mri.training import callbacks  # noqa: E402

mode, marker, args = sys.argv[1], Path(sys.argv[2]), sys.argv[4:]


def hang() -> None:
    marker.write_text("paused")
    while True:
        time.sleep(1)


calls = {"save": 0, "sample": 0}
real_save = tf.train.CheckpointManager.save
real_sample = callbacks.save_sample_grid


def paused_save(self, *a, **k):
    calls["save"] += 1
    if mode == "checkpoint" and calls["save"] == 2:
        temp = Path(self.directory) / "ckpt-2_temp"
        temp.mkdir()
        (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 1000)
        hang()
    return real_save(self, *a, **k)


def paused_sample(path, panels, title=None):
    calls["sample"] += 1
    if mode == "sample" and calls["sample"] == 2:
        (path.parent / f".{path.name}.partial.tmp").write_bytes(b"\x89PNG half")
        hang()
    return real_sample(path, panels, title)


tf.train.CheckpointManager.save = paused_save
callbacks.save_sample_grid = paused_sample
raise SystemExit(train.main(args))
