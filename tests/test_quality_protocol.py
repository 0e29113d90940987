"""The quality protocol (cyclegan_mri.benchmarks, run by bench/quality.py): a held-out run scored against the
baselines, written as a report."""

import json
import subprocess
import sys

from conftest import ROOT


def test_quality_protocol_writes_scores_baselines_and_figures(archive, tmp_path):
    reports = tmp_path / "reports"
    result = subprocess.run(
        [sys.executable, "bench/quality.py", "--out", str(tmp_path / "run"), "--reports", str(reports),
         "--minutes", "5", "--epochs", "1", "--data", str(archive), "--image-size", "16", "16", "--filters", "2",
         "--verbose", "0", "--pix2pix-minutes", "5", "--pix2pix-flags=--image-size 16 16 --filters 2 --epochs 1",
         "--curve-every", "0.0001", "--crop", "12", "12"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads((reports / "quality.json").read_text())
    assert results.pop("command").startswith("python bench/quality.py --out ")
    for direction in ("t1_to_t2", "t2_to_t1"):
        assert len(results[direction]["per_image"]) == 9
        assert set(results[direction]["baselines"]) == {"identity", "histogram_matching", "lookup_table"}
        assert 0 < results[direction]["own_lookup_table"]["psnr"] < 60
        assert len(results[direction]["pix2pix"]["per_image"]) == 9 and results[direction]["pix2pix"]["epochs"] == 1
        assert "--holdout" in results[direction]["pix2pix"]["flags"]
        assert (tmp_path / f"run-pix2pix-{direction}" / "generators" / f"{direction}.keras").exists()
        assert (reports / f"quality_{direction}.png").stat().st_size > 0
    report = (reports / "quality.md").read_text()
    # The budget is train.py's --minutes, which --epochs caps.
    assert json.loads((tmp_path / "run" / "run.json").read_text())["minutes"] == 5
    assert "Trained 1 epoch in" in report and "lookup_table | 25.35" in report
    assert "| model's own lookup table (unpaired) |" in report and "| pix2pix (paired) |" in report and "trained on the 34 training pairs for 1 epoch in" in report
    assert (tmp_path / "run" / "generators" / "t1_to_t2.keras").exists()
    # The time-to-quality curve scored the generators at the end of the one epoch, as trained (on crops: the
    # live generators take any size, and were given the run's).
    for direction in ("t1_to_t2", "t2_to_t1"):
        (point,) = results[direction]["curve"]
        assert point["epoch"] == 1 and point["minutes"] > 0
        assert abs(point["psnr"] - results[direction]["psnr"]) < 1.0
    assert "## Time to quality" in report and (reports / "quality_curve.png").stat().st_size > 0


def test_ablation_scores_each_variant_under_the_same_budget(archive, tmp_path):
    reports = tmp_path / "reports"
    result = subprocess.run(
        [sys.executable, "bench/ablation.py", "--out", str(tmp_path / "runs"), "--reports", str(reports),
         "--minutes", "5", "--epochs", "1", "--only", "no augmentation", "--data", str(archive),
         "--image-size", "16", "16", "--filters", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((reports / "ablation.json").read_text())
    assert rows.pop("command").startswith("python bench/ablation.py --out ")
    assert list(rows) == ["no augmentation"]
    row = rows["no augmentation"]
    assert row["epochs"] == 1 and "--no-augment" in row["flags"] and "--pool-size" in row["flags"]
    assert 0 < row["t1_to_t2"]["ssim"] <= 1 and row["t2_to_t1"]["psnr"] > 0
    run = json.loads((tmp_path / "runs" / "variant4" / "run.json").read_text())
    assert run["augment"] is False and run["generator"] == "unet" and run["holdout"] is True
    assert "| no augmentation | 1 |" in (reports / "ablation.md").read_text()


def test_the_seed_report_gives_each_scores_mean_and_range_and_whether_a_variant_lies_within_it():
    from cyclegan_mri.benchmarks.seeds import report, summary

    def scores(psnr: list[float], ssim: list[float]) -> dict:
        return {"psnr": summary(psnr), "ssim": summary(ssim)}

    results = {
        "float32": {"epochs": "40", "minutes": summary([10.0, 12.0]),
                    "t1_to_t2": scores([15.0, 17.0], [0.40, 0.50]), "t2_to_t1": scores([19.0, 20.0], [0.5, 0.6])},
        "bfloat16": {"epochs": "40", "minutes": summary([6.0, 7.0]),
                     "t1_to_t2": scores([16.0, 16.2], [0.55, 0.65]), "t2_to_t1": scores([18.0, 18.5], [0.5, 0.6])},
    }
    text = report(results, [0, 1], "python bench/seeds.py")
    assert "| float32 | 40 | 11.0 | 16.00 [15.00, 17.00] | 0.450 [0.400, 0.500] |" in text
    assert ("- `bfloat16`: T1 -> T2 PSNR yes, T1 -> T2 SSIM no, T2 -> T1 PSNR no, T2 -> T1 SSIM yes") in text
    assert "| bfloat16 | 1 | 16.20 / 0.650 | 18.50 / 0.600 |" in text


def test_time_to_quality_milestones_are_the_first_minutes_a_score_was_reached():
    from cyclegan_mri.benchmarks.quality import milestones

    baselines = {"identity": {"psnr": 10.0, "ssim": 0.0}, "lookup_table": {"psnr": 20.0, "ssim": 0.8}}
    curve = [{"minutes": 2.0, "psnr": 12.0, "ssim": 0.3}, {"minutes": 4.0, "psnr": 16.0, "ssim": 0.5},
             {"minutes": 6.0, "psnr": 21.0, "ssim": 0.7}, {"minutes": 8.0, "psnr": 20.5, "ssim": 0.85}]
    assert milestones({"curve": curve, "baselines": baselines}) == {
        "identity_plus_5db": 4.0, "lookup_table_psnr": 6.0, "lookup_table": 8.0, "best_psnr": 6.0}
    assert milestones({"curve": curve[:2], "baselines": baselines})["lookup_table"] is None


def test_over_seeds_the_report_shows_each_scores_mean_range_and_every_seeds_milestones():
    from cyclegan_mri.benchmarks.quality import over_seeds, seeds_markdown

    baselines = {"identity": {"psnr": 10.0, "ssim": 0.0}, "lookup_table": {"psnr": 20.0, "ssim": 0.8}}

    def run(psnr: float, ssim: float, reached: float | None) -> dict:
        direction = {"psnr": psnr, "ssim": ssim, "nmse": 0.1, "epochs": 5, "minutes": 3.0, "baselines": baselines,
                     "curve": [{"epoch": 5, "minutes": 3.0, "psnr": psnr, "ssim": ssim}],
                     "minutes_to": {"identity_plus_5db": reached, "lookup_table_psnr": None,
                                    "lookup_table": None, "best_psnr": 3.0}}
        return {"t1_to_t2": direction, "t2_to_t1": {**direction, "psnr": psnr + 4}}

    merged = over_seeds({0: run(15.0, 0.4, 3.0), 1: run(17.0, 0.6, None), 2: run(16.0, 0.5, 3.0)})
    forward = merged["t1_to_t2"]
    assert forward["psnr"] == 16.0 and forward["ssim"] == 0.5
    assert (forward["spread"]["psnr"]["min"], forward["spread"]["psnr"]["max"]) == (15.0, 17.0)
    assert forward["spread"]["psnr"]["std"] == 1.0
    assert forward["minutes_to_per_seed"]["identity_plus_5db"] == [3.0, None, 3.0]
    assert set(forward["seeds"]) == {"0", "1", "2"} and merged["t2_to_t1"]["psnr"] == 20.0
    text = seeds_markdown(merged, [0, 1, 2])
    assert "| T1 -> T2 | 16.00 [15.00, 17.00] | 0.500 [0.400, 0.600] | 0.1000 [0.1000, 0.1000] | 3.0, -, 3.0 |" in text
    assert "| 1 | 5 | 3.0 | 17.00 / 0.600 | 21.00 / 0.600 |" in text


def test_train_py_flags_pass_through_even_where_they_begin_like_the_protocols_own():
    from cyclegan_mri.benchmarks.quality import build_parser

    args, train_flags = build_parser().parse_known_args(["--seed", "3", "--minutes", "5"])
    assert train_flags == ["--seed", "3"] and args.seeds is None and args.minutes == 5


def test_the_protocol_budget_is_train_py_minutes_and_infinity_leaves_it_to_the_epochs():
    import math

    import pytest

    from cyclegan_mri.benchmarks.quality import budgeted
    from cyclegan_mri.errors import UserError

    assert budgeted(["--seed", "3"], 30) == ["--seed", "3", "--holdout", "--minutes", "30"]
    assert budgeted(["--holdout"], 0.5) == ["--holdout", "--minutes", "0.5"]
    assert budgeted(["--epochs", "40"], math.inf) == ["--epochs", "40", "--holdout"]
    with pytest.raises(UserError, match="more than 0 minutes"):
        budgeted([], 0)


def test_a_generator_that_maps_each_intensity_alone_is_its_own_lookup_table(tmp_path):
    import keras
    import numpy as np

    from cyclegan_mri.benchmarks.quality import own_lookup_table_scores
    from cyclegan_mri.data.sources import Slice
    from cyclegan_mri.translation.evaluation import Source
    from cyclegan_mri.translation.inference import translate_slices
    from cyclegan_mri.metrics import summarize
    from cyclegan_mri.rundir import RunDir

    inputs = keras.Input((16, 16, 1))
    invert = keras.layers.Conv2D(1, 1, kernel_initializer=keras.initializers.Constant(-0.9))
    run = RunDir.at(tmp_path / "run")
    run.generators.mkdir(parents=True)
    keras.Model(inputs, invert(inputs)).save(run.generator("t1_to_t2"))
    rng = np.random.default_rng(0)
    t1 = [Slice(f"t1_{i}", rng.integers(0, 256, (16, 16), dtype=np.uint8)) for i in range(6)]
    t2 = [Slice(f"t2_{i}", rng.integers(0, 256, (16, 16), dtype=np.uint8)) for i in range(6)]
    source = Source(t1, t2, [(t1[0], t2[0]), (t1[1], t2[1])], "test")
    (scores,) = own_lookup_table_scores(run, source).values()
    # Fitted on the four other T1 slices only, yet it reproduces the map on the two scored ones.
    generator = keras.saving.load_model(run.generator("t1_to_t2"))
    direct = summarize(["a", "b"], [t2[0].image, t2[1].image], translate_slices(generator, [t1[0].image, t1[1].image]))
    assert abs(scores["psnr"] - direct["psnr"]) < 0.05 and abs(scores["ssim"] - direct["ssim"]) < 0.01
