"""The three entry points as users run them."""

import json
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from cyclegan_mri.cli import evaluate, make_gif
from conftest import ROOT, phantom, png_bytes


@pytest.mark.parametrize("script,flags", [
    ("train.py", ["--data", "--out", "--epochs", "--batch", "--image-size", "--filters", "--holdout",
                  "--dry-run", "--seed", "--learning-rate", "--lambda-cycle", "--lambda-identity"]),
    ("evaluate.py", ["--out", "--data", "--all-pairs", "--pairs"]),
    ("make_gif.py", ["--out", "--every", "--duration"]),
    ("fuse.py", ["--out", "--t1", "--t2", "--output"]),
])
def test_help_explains_every_flag(script, flags):
    result = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    for flag in flags:
        assert flag in result.stdout


def test_bad_flag_values_are_refused_by_the_parser():
    result = subprocess.run([sys.executable, "train.py", "--image-size", "5", "32"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "at least 8 pixels" in result.stderr


def test_make_gif_takes_every_kth_grid_and_the_last(tiny_run):
    assert make_gif.main(["--out", str(tiny_run.out), "--every", "3"]) == 0
    frames = iio.imread(tiny_run.out / "training.gif", index=None)
    assert frames.shape[0] == 2  # epoch 1 (every 3rd from the first) and the last, epoch 2


def test_make_gif_without_grids_says_so_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "make_gif.py", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no sample grids" in result.stderr


def test_a_healthy_cpu_run_prints_no_error_line_and_projects_its_time(archive, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLED_DEVICE_TYPES")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "0"  # every C++ log line shown: an error cannot pass by being hidden
    result = subprocess.run([sys.executable, "train.py", "--data", str(archive), "--out", str(tmp_path / "run"),
                             "--image-size", "32", "32", "--filters", "4", "--epochs", "2", "--verbose", "2",
                             "--seed", "0"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("E0000") or "remapper failed" in line or "Traceback" in line]
    assert errors == []
    assert "epoch 1 of 2 took" in result.stdout and "the 1 epoch left take about" in result.stdout


def test_evaluate_says_when_the_run_trained_on_the_test_pairs(tiny_run, archive, capsys):
    assert evaluate.main(["--out", str(tiny_run.out), "--data", str(archive), "--quiet"]) == 0
    assert "NOT held out: the run trained on images of 9 of these 9 pairs" in capsys.readouterr().out
    results = json.loads((tiny_run.out / "evaluation.json").read_text())
    for direction in results.values():
        assert direction["held_out"] is False
        assert all(row["seen_in_training"] for row in direction["per_image"])


def test_evaluate_calls_the_scores_of_a_holdout_run_held_out(archive, tmp_path, capsys):
    from cyclegan_mri.cli import train

    out = tmp_path / "run"
    assert train.main(["--data", str(archive), "--out", str(out), "--holdout", "--image-size", "16", "16",
                       "--filters", "2", "--epochs", "1", "--verbose", "0", "--seed", "1"]) == 0
    assert evaluate.main(["--out", str(out), "--quiet", "--no-translations"]) == 0
    assert "held out: the run never saw any image of these pairs" in capsys.readouterr().out
    results = json.loads((out / "evaluation.json").read_text())
    assert [results[d]["held_out"] for d in ("t1_to_t2", "t2_to_t1")] == [True, True]
    assert evaluate.main(["--out", str(out), "--quiet", "--no-translations", "--all-pairs"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert results["t1_to_t2"]["held_out"] is False
    assert sum(not row["seen_in_training"] for row in results["t1_to_t2"]["per_image"]) == 9


def test_evaluate_scores_both_directions_on_the_test_pairs_and_writes_translations(tiny_run, archive):
    assert evaluate.main(["--out", str(tiny_run.out), "--data", str(archive), "--quiet"]) == 0
    results = json.loads((tiny_run.out / "evaluation.json").read_text())
    assert set(results) == {"t1_to_t2", "t2_to_t1"}
    for direction in results.values():
        assert len(direction["per_image"]) == 9
        assert {"psnr", "ssim", "nmse"} <= set(direction)
        assert direction["psnr"] == pytest.approx(np.mean([r["psnr"] for r in direction["per_image"]]))
        assert set(direction["baselines"]) == {"identity", "histogram_matching", "lookup_table"}
    written = tiny_run.out / "translations"
    assert len(list((written / "t1_to_t2").glob("*.png"))) == 43
    assert len(list((written / "t2_to_t1").glob("*.png"))) == 46
    assert iio.imread(written / "t1_to_t2" / "Image #12.png").shape == (217, 181)


def test_evaluate_scores_a_users_own_pairs_at_their_own_size(tiny_run, tmp_path):
    for side in ("t1", "t2"):
        (tmp_path / side).mkdir()
        for i, shape in enumerate([(40, 36), (28, 30)]):
            (tmp_path / side / f"slice{i}.png").write_bytes(png_bytes(phantom(i + (side == "t2"), shape)))
    assert evaluate.main(["--out", str(tiny_run.out), "--pairs", str(tmp_path), "--no-translations"]) == 0
    results = json.loads((tiny_run.out / "evaluation.json").read_text())
    assert [r["name"] for r in results["t1_to_t2"]["per_image"]] == ["slice0.png -> slice0.png",
                                                                   "slice1.png -> slice1.png"]
