"""A run end to end at tiny size: one epoch, its outputs, and a resume that continues counting."""

import csv

import numpy as np
import pytest

from cyclegan_mri.cli import train
from cyclegan_mri.errors import UserError
from cyclegan_mri.record import load_run_options
from cyclegan_mri.training.trainer import open_session


def test_first_epoch_writes_a_checkpoint_a_sample_grid_and_a_history_row(tiny_run):
    first = tiny_run.after_first_epoch
    assert "ckpt-1.index" in first["checkpoints"] and "checkpoint" in first["checkpoints"]
    assert first["samples"] == ["image_at_epoch_0001.png"]
    rows = list(csv.DictReader(first["history"].splitlines()))
    assert [r["epoch"] for r in rows] == ["1"]
    assert {"gen_t1_to_t2_loss", "gen_t2_to_t1_loss", "disc_t1_loss", "disc_t2_loss", "cycle_loss"} <= set(rows[0])
    assert all(np.isfinite(float(v)) for v in rows[0].values())


def test_resume_continues_to_the_total_epoch_count(tiny_run):
    out = tiny_run.out
    with (out / "history.csv").open() as stream:
        assert [r["epoch"] for r in csv.DictReader(stream)] == ["1", "2"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "image_at_epoch_0001.png", "image_at_epoch_0002.png"]
    assert (out / "checkpoints" / "ckpt-2.index").exists()
    assert any((out / "logs").rglob("events.out.tfevents.*"))
    assert (out / "generators" / "t1_to_t2.keras").exists() and (out / "generators" / "t2_to_t1.keras").exists()


def test_a_resumed_run_restores_every_optimizers_state(tiny_run):
    session = open_session(load_run_options(tiny_run.out))
    assert session.initial_epoch == 2
    steps = 2 * session.steps_per_epoch()
    for name, optimizer in session.model.optimizers().items():
        assert int(optimizer.iterations.numpy()) == steps, name
        moments = [v for v in optimizer.variables if "momentum" in v.path or "velocity" in v.path]
        assert moments and any(np.abs(np.asarray(v)).sum() > 0 for v in moments), name


def test_running_again_at_the_reached_epoch_trains_nothing(tiny_run, capsys):
    assert train.main([*tiny_run.args, "--epochs", "2"]) == 0
    with (tiny_run.out / "history.csv").open() as stream:
        assert len(list(csv.DictReader(stream))) == 2


def test_resuming_with_another_width_is_refused_naming_the_difference(tiny_run):
    with pytest.raises(UserError, match="filters 4 .asked 8."):
        train.main([*tiny_run.args, "--filters", "8", "--epochs", "3"])  # the last --filters wins


def test_dry_run_prints_counts_shapes_and_parameters_and_writes_nothing(archive, tmp_path, capsys):
    out = tmp_path / "dry"
    assert train.main(["--data", str(archive), "--out", str(out), "--dry-run", "--image-size", "16", "16",
                       "--filters", "2"]) == 0
    printed = capsys.readouterr().out
    assert "T1: 43 images -> (43, 16, 16, 1)" in printed and "T2: 46 images" in printed
    assert "steps per epoch: 11" in printed
    assert printed.count("parameters") == 4
    assert not out.exists()


def test_after_the_first_epoch_the_time_to_the_last_is_projected_and_a_cpu_is_pointed_at_the_preset():
    from cyclegan_mri.training.callbacks import ProjectedTime

    tutorial_on_cpu = ProjectedTime(800, on_cpu=True).message(1, took=152.0, per_epoch=130.0)
    assert tutorial_on_cpu.startswith("epoch 1 of 800 took 2.5 min; at about 2.2 min per epoch, the 799 epochs "
                                      "left take about 28.9 h")
    assert "--preset cpu" in tutorial_on_cpu
    assert "--preset cpu" not in ProjectedTime(800, on_cpu=False).message(1, 30.0, 2.0)  # a GPU
    assert "--preset cpu" not in ProjectedTime(150, on_cpu=True, preset="cpu").message(1, 30.0, 24.0)
    assert "--preset cpu" not in ProjectedTime(20, on_cpu=True).message(1, 30.0, 24.0)  # 8 minutes: no advice
    assert ProjectedTime(3, on_cpu=True).message(3, 10.0, 10.0) == ""  # nothing left to project
