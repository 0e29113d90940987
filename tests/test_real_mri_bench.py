"""The real-MRI benchmark: runs trained within a CPU budget on one patient split, scored on held-out subjects, one
report rebuilt from every finished run, and no machine path in it. On small synthetic volumes."""

from __future__ import annotations

import json
import time

import pytest
from conftest import subject_volumes as volumes

from cyclegan_mri.benchmarks import real_mri
from cyclegan_mri.errors import UserError
from cyclegan_mri.training.guards import CpuBudget


class Recorder:
    stop_training = False


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_cpu_budget_stops_after_the_step_that_spends_it_counting_earlier_sessions():
    budget = CpuBudget(minutes=0.5 / 60, spent=0.3 / 60)  # 0.5 s in all, 0.3 s spent before
    budget.set_model(Recorder())
    budget.on_epoch_begin(0)
    budget.on_train_batch_end(0)
    assert not budget.model.stop_training
    burn(0.25)
    budget.on_train_batch_end(1)
    assert budget.model.stop_training and budget.steps == 2 and budget.spent_minutes * 60 >= 0.5


def test_time_outside_the_epochs_is_not_spent():
    budget = CpuBudget(minutes=1.0)
    budget.set_model(Recorder())
    budget.on_epoch_begin(0)
    budget.on_train_batch_end(0)
    burn(0.2)  # a checkpoint or a scoring callback between epochs
    budget.on_epoch_begin(1)
    budget.on_train_batch_end(0)
    assert budget.spent_minutes * 60 < 0.1


def test_the_entries_train_every_model_on_one_split_with_the_slices_own_size(tmp_path):
    table = real_mri.entries()
    assert {"cyclegan", "cut", "fastcut", "pix2pix-t1_to_t2", "pix2pix-t2_to_t1", "ivan", "cyclegan3d",
            "vox2vox"} == set(table)
    flags = table["cyclegan"].train_flags("DATA", 4, 1, tmp_path / "run", (240, 240))
    assert flags[flags.index("--holdout-cases") + 1] == "4" and flags[flags.index("--seed") + 1] == "1"
    assert flags[flags.index("--image-size") + 1:flags.index("--image-size") + 3] == ["240", "240"]
    assert flags[flags.index("--crop") + 1:flags.index("--crop") + 3] == ["128", "128"]
    # Slices no larger than the crop are trained whole; iVAN keeps its preset's crops.
    assert "--crop" not in table["cyclegan"].train_flags("DATA", 4, 1, tmp_path, (96, 100))
    assert "--crop" not in table["ivan"].train_flags("DATA", 4, 1, tmp_path, (240, 240))
    assert "--image-size" not in table["vox2vox"].train_flags("DATA", 4, 1, tmp_path, (240, 240))


def test_the_benchmark_trains_scores_and_reports_runs_over_seeds_and_resumes_without_training_again(tmp_path):
    data = volumes(tmp_path / "data", subjects=5)
    out, reports = tmp_path / "runs", tmp_path / "reports"
    argv = ["--data", str(data), "--models", "cyclegan", "--seeds", "0", "1", "--minutes", "0.01",
            "--holdout-cases", "1", "--curve-every", "0", "--out", str(out), "--reports", str(reports)]
    assert real_mri.main(argv) == 0
    report = json.loads((reports / "real_mri.json").read_text())
    held_out = report["data"]["held_out"]
    assert len(held_out) == 1
    for direction in ("t1_to_t2", "t2_to_t1"):
        row = report["translation"][f"cyclegan {direction}"]
        assert [run["seed"] for run in row["runs"]] == [0, 1]
        assert all(run["held_out"] is True and run["cpu_minutes"] >= 0.01 and run["steps"] >= 1
                   for run in row["runs"])
        assert [s["name"] for s in row["runs"][0]["per_subject"]] == held_out
        assert row["whole"]["ssim"]["min"] <= row["whole"]["ssim"]["mean"] <= row["whole"]["ssim"]["max"]
        assert set(report["baselines"][direction]) == {"identity", "histogram_matching", "lookup_table",
                                                       "quantile_map"}
    text = (reports / "real_mri.md").read_text()
    assert held_out[0] in text and "lookup table" in text and "(real_mri_translations.png)" in text
    assert (reports / "real_mri_translations.png").stat().st_size > 0
    assert str(tmp_path) not in text + (reports / "real_mri.json").read_text()

    history = (out / "cyclegan-seed0" / "history.csv").read_text()
    assert real_mri.main([*argv[:5], "0", *argv[7:]]) == 0  # seed 0 again: its budget is spent, only scored
    assert (out / "cyclegan-seed0" / "history.csv").read_text() == history
    assert json.loads((reports / "real_mri.json").read_text())["translation"]["cyclegan t1_to_t2"]["runs"][1][
        "seed"] == 1  # the report still holds both seeds' runs


def test_a_missing_data_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        real_mri.main(["--data", str(tmp_path / "nowhere"), "--report-only", "--reports", str(tmp_path)])


def test_the_report_takes_each_baseline_from_the_first_run_that_scored_it():
    def run(variant, baselines):
        scores = {"whole": {}, "baselines": {name: {"whole": {"psnr": value}} for name, value in baselines.items()}}
        return {"entry": "cyclegan", "variant": variant, "scores": {"t1_to_t2": scores, "subjects": {}}}

    older = run("a", {"identity": 15.0, "lookup_table": 21.0})
    newer = run("b", {"identity": 15.5, "lookup_table": 21.5, "quantile_map": 20.0})
    rows = real_mri.baseline_rows([older, newer])["t1_to_t2"]
    assert {name: row["whole"]["psnr"] for name, row in rows.items()} == {"identity": 15.0, "lookup_table": 21.0,
                                                                           "quantile_map": 20.0}


def test_vox2vox_runs_of_each_budget_are_rows_of_their_own_with_and_without_the_largest_region():
    def scores(wt: float) -> dict:
        return {region: {"dice": wt, "hd95": 10.0} for region in ("WT", "TC", "ET")}

    def run(variant, seed, minutes, wt, largest=None):
        segmentation = {"regions": {"WT": [1, 2, 4], "TC": [1, 4], "ET": [4]}, "mean": scores(wt), "per_case": [],
                        "baselines": {"flair_threshold": {"mean": scores(0.6)}}}
        if largest is not None:
            segmentation["largest_component"] = {"mean": scores(largest), "per_case": []}
        return {"entry": "vox2vox", "variant": variant, "seed": seed, "cpu_minutes": minutes,
                "scores": {"segmentation": segmentation}}

    seg = real_mri.segmentation_rows([run(None, 0, 4, 0.5), run(None, 1, 4, 0.7), run("long", 0, 60, 0.75, 0.78)])
    short, long = seg["rows"]
    assert short["variant"] is None and short["model"]["WT"]["dice"]["mean"] == pytest.approx(0.6)
    assert short["largest_component"] is None  # scored before the row existed
    assert long["seeds"] == [0] and long["largest_component"]["WT"]["dice"]["mean"] == 0.78
    text = "\n".join(real_mri.segmentation_lines(seg))
    assert "| Vox2Vox long, largest region | 1 | 60 | 78.0 |" in text
    assert ("Whole tumour Dice after 60 CPU minutes: 75.0 %, 5.0 points short of 80 %; 78.0 %, largest region, "
            "2.0 points short of 80 %.") in text


def test_3d_runs_are_set_beside_baselines_scored_on_whole_volumes_not_beside_the_slice_scores():
    def scores(psnr: float) -> dict:
        return {"psnr": psnr, "ssim": 0.5, "nmse": 0.1}

    def run(entry: str, model: str, psnr: float, table: float) -> dict:
        direction = {"source": "T1", "target": "T2", "whole": scores(psnr), "brain": scores(psnr - 5),
                     "per_subject": [{"name": "P1", "whole": scores(psnr)}],
                     "baselines": {"lookup_table": {"whole": scores(table), "brain": scores(table - 5),
                                                    "per_subject": [{"name": "P1", "whole": scores(table)}]},
                                   "histogram_matching": {"whole": scores(9.0), "brain": scores(4.0),
                                                          "per_subject": [{"name": "P1", "whole": scores(9.0)}]}}}
        return {"entry": entry, "model": model, "variant": None, "seed": 0, "cpu_minutes": 1.0, "epochs": 1,
                "scores": {"t1_to_t2": direction, "subjects": {}}}

    results = [run("cyclegan", "cyclegan", 20.0, 21.7), run("cyclegan3d", "cyclegan3d", 20.5, 22.8)]
    report = {"translation": real_mri.translation_rows(results), "baselines": real_mri.baseline_rows(results),
              "volume_baselines": real_mri.baseline_rows(results, "volumes")}
    assert report["baselines"]["t1_to_t2"]["lookup_table"]["whole"]["psnr"] == 21.7
    assert report["volume_baselines"]["t1_to_t2"]["lookup_table"]["whole"]["psnr"] == 22.8
    targets = "\n".join(real_mri.targets_lines(report))
    assert "cyclegan T1 -> T2: SSIM 0.500 (worst seed 0.500) vs target 0.85; PSNR 20.00 dB vs lookup table 21.70" in targets
    assert "cyclegan3d T1 -> T2 (whole volumes): SSIM 0.500 (worst seed 0.500) vs target 0.85; PSNR 20.50 dB vs lookup table 22.80" in targets
    volumes = {k: r for k, r in report["translation"].items() if r["kind"] == "volumes"}
    table = "\n".join(real_mri.translation_table(volumes, report["volume_baselines"], "volume"))
    assert "| T1 -> T2 | cyclegan3d | 1 | 1 | 20.50 |" in table and "| T1 -> T2 | lookup table | - | 0 | 22.80 |" in table
    assert "| cyclegan |" not in table and "21.70" not in table
