"""``train.py --minutes``: a budget of training time instead of a number of epochs.

Time is a fake clock here: every reading of it by the budget advances one second, so a step costs a second and
the figures below are exact on any machine.
"""

from __future__ import annotations

import csv
import itertools
import types
from pathlib import Path

import pytest
import tensorflow as tf

from cyclegan_mri.cli import train
from cyclegan_mri.errors import UserError
from cyclegan_mri.training import guards

# 5 steps an epoch (the small dataset's 5 T1 slices at batch 1).
TINY = ["--image-size", "16", "16", "--filters", "2", "--batch", "1", "--seed", "5", "--verbose", "0"]


@pytest.fixture
def clock(monkeypatch):
    ticks = itertools.count()
    monkeypatch.setattr(guards, "time", types.SimpleNamespace(monotonic=lambda: float(next(ticks))))


def history(out: Path) -> list[dict]:
    with (out / "history.csv").open() as stream:
        return list(csv.DictReader(stream))


def spent_seconds(out: Path) -> float:
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(out / "checkpoints")))
    return float(reader.get_tensor("trained_seconds/.ATTRIBUTES/VARIABLE_VALUE"))


def run(data: Path, out: Path, *flags: str) -> int:
    return train.main(["--data", str(data), "--out", str(out), *TINY, *flags])


def test_training_stops_when_the_budget_is_spent_and_the_linear_rate_reaches_zero_there(small_dataset, tmp_path,
                                                                                         clock, capsys):
    out = tmp_path / "run"
    # 0.55 minutes = 33 ticks; an epoch is its 5 steps and its end (6 ticks), so the budget holds 5 epochs and
    # half of a sixth, which it stops.
    assert run(small_dataset, out, "--minutes", "0.55", "--lr-schedule", "linear") == 0
    rates = [float(row["learning_rate"]) for row in history(out)]
    assert len(rates) == 6 and spent_seconds(out) == pytest.approx(33, abs=1.5)
    # Held for the first half of the planned epochs, then down by equal steps; the epoch cut short is planned
    # too, and trains at the smallest rate rather than at none.
    assert rates[:3] == [2e-4] * 3 and rates[2] > rates[3] > rates[4] > rates[5] > 0
    assert rates[5] == pytest.approx(2e-4 / 4, rel=1e-3)
    assert (out / "generators" / "t1_to_t2.keras").exists()

    # A resume counts the time already spent: the same budget has nothing left to train.
    assert run(small_dataset, out, "--minutes", "0.55", "--lr-schedule", "linear") == 0
    assert len(history(out)) == 6 and "has spent its --minutes 0.55" in capsys.readouterr().out
    # A larger budget trains on from the rate the plan had reached, never back up, and counts all its time.
    assert run(small_dataset, out, "--minutes", "1", "--lr-schedule", "linear") == 0
    rates = [float(row["learning_rate"]) for row in history(out)]
    assert len(rates) > 6 and spent_seconds(out) == pytest.approx(60, abs=6)
    assert all(later <= earlier for earlier, later in itertools.pairwise(rates))


def test_epochs_given_with_a_budget_still_cap_the_run(small_dataset, tmp_path, clock):
    out = tmp_path / "run"
    assert run(small_dataset, out, "--minutes", "10", "--epochs", "2") == 0
    assert [row["epoch"] for row in history(out)] == ["1", "2"]


def test_a_budget_shorter_than_one_epoch_is_refused_before_any_checkpoint(small_dataset, tmp_path, clock):
    out = tmp_path / "run"
    with pytest.raises(UserError, match=r"--minutes 0.05 is shorter than one epoch, which takes about 0.1 minutes"):
        run(small_dataset, out, "--minutes", "0.05")
    assert not tf.train.latest_checkpoint(str(out / "checkpoints"))


@pytest.mark.parametrize("minutes", ["0", "-3"])
def test_a_budget_of_no_time_is_refused_before_anything_is_read(minutes, tmp_path):
    with pytest.raises(UserError, match=f"--minutes {minutes}: a budget of training time must be more than 0"):
        run(tmp_path / "no such data", tmp_path / "run", "--minutes", minutes)
    assert not (tmp_path / "run").exists()
