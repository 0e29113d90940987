"""A run survives being killed, interrupted or poisoned with NaN, and refuses checkpoints that do not fit."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf

from cyclegan_mri.cli import train
from cyclegan_mri.errors import UserError
from cyclegan_mri.models import losses
from conftest import ROOT

TINY = ["--image-size", "16", "16", "--filters", "2", "--batch", "2", "--seed", "5", "--verbose", "0"]


def args_for(data: Path, out: Path, epochs: int) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--epochs", str(epochs), *TINY]


def history_epochs(out: Path) -> list[int]:
    with (out / "history.csv").open() as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


def sample_epochs(out: Path) -> list[int]:
    return sorted(int(p.stem.rsplit("_", 1)[1]) for p in (out / "samples").glob("image_at_epoch_*.png"))


def assert_complete_run(out: Path, epochs: int) -> None:
    """Exactly one history row and one sample grid per finished epoch, and no temporary leftovers."""
    assert history_epochs(out) == list(range(1, epochs + 1))
    assert sample_epochs(out) == list(range(1, epochs + 1))
    assert tf.train.latest_checkpoint(str(out / "checkpoints"))
    assert not list(out.rglob("*_temp*")) and not list(out.rglob(".*.tmp"))
    assert (out / "generators" / "t1_to_t2.keras").exists()


def start(mode: str, data: Path, out: Path, marker: Path, epochs: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "kill_target.py"), mode, str(marker), "--",
                             *args_for(data, out, epochs)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_for(condition, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["checkpoint", "sample", "step"])
def test_sigkill_at_any_point_then_the_same_command_resumes_cleanly(mode, small_dataset, tmp_path):
    out, marker = tmp_path / "run", tmp_path / "paused"
    process = start("none" if mode == "step" else mode, small_dataset, out, marker, epochs=4)
    try:
        if mode == "step":
            # Killed in the middle of epoch 2's steps, after epoch 1 is complete.
            wait_for(lambda: (out / "checkpoints" / "ckpt-1.index").exists(), process)
            time.sleep(0.3)
        else:
            wait_for(marker.exists, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert train.main(args_for(small_dataset, out, 3)) == 0
    assert_complete_run(out, 3)


def test_sigint_saves_a_checkpoint_and_says_how_to_resume_at_the_interrupted_epochs_own_rate(
        small_dataset, tmp_path):
    out = tmp_path / "run"
    linear = ["--lr-schedule", "linear", "--learning-rate", "0.0002"]
    process = subprocess.Popen([sys.executable, "train.py", *args_for(small_dataset, out, 50), *linear], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (out / "checkpoints" / "ckpt-2.index").exists(), process)
        process.send_signal(signal.SIGINT)
        err = process.communicate(timeout=120)[1]
    finally:
        process.kill()
    assert process.returncode == 130
    last = err.strip().splitlines()[-1]
    assert last.startswith("stopped: SIGINT during epoch") and "run the same command to resume" in last
    finished = history_epochs(out)
    assert finished == list(range(1, len(finished) + 1)) and len(finished) >= 2
    assert train.main([*args_for(small_dataset, out, len(finished) + 1), *linear]) == 0
    assert_complete_run(out, len(finished) + 1)
    # The steps of the interrupted epoch never count: the finished epochs held the rate (50 were planned), and
    # with --epochs lowered to one more, the decay starts now: that epoch, repeated whole, runs at half the rate.
    with (out / "history.csv").open() as stream:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(stream)]
    assert rates == pytest.approx([2e-4] * len(finished) + [1e-4])


def test_a_loss_that_becomes_nan_stops_training_and_keeps_the_last_good_checkpoint(
        small_dataset, tmp_path, monkeypatch):
    calls = tf.Variable(0)
    real = losses.generator_adversarial

    def poisoned(*args, **kwargs):
        # Two calls a step, three steps an epoch: NaN from the first step of epoch 2.
        calls.assign_add(1)
        return tf.where(calls > 6, float("nan"), real(*args, **kwargs))

    monkeypatch.setattr(losses, "generator_adversarial", poisoned)
    out = tmp_path / "run"
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(UserError, match=r"nan at epoch 2, step 1; the newest checkpoint \(.*ckpt-1\)"):
        train.main(args_for(small_dataset, out, 3))
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C works again after a failed run
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-1")
    assert history_epochs(out) == [1] and sample_epochs(out) == [1]


def test_a_checkpoint_of_another_width_is_refused_even_without_run_settings(small_dataset, tmp_path):
    out = tmp_path / "run"
    assert train.main(args_for(small_dataset, out, 1)) == 0
    (out / "run.json").unlink()  # e.g. a checkpoints folder copied from elsewhere
    with pytest.raises(UserError, match="does not fit the model"):
        train.main([*args_for(small_dataset, out, 2), "--filters", "4"])
    assert history_epochs(out) == [1]
