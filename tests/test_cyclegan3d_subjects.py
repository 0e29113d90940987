"""The 3D CycleGAN on subjects' volumes (BraTS case folders, IXI): split by subject as the 2D models split them, and
scored per held-out subject on whole volumes, inside the brain too, beside the baselines."""

from __future__ import annotations

import dataclasses
import json
import shutil

import nibabel as nib
import numpy as np
import pytest
from conftest import exit_code, subject_volumes, write_head

from cyclegan_mri.cli import evaluate, train
from cyclegan_mri.data.phantoms import write_volume_pairs
from cyclegan_mri.data.protocol import fingerprint
from cyclegan_mri.data.subjects import Subject, find_subjects
from cyclegan_mri.data.volume_data import VolumeData, load_volume
from cyclegan_mri.domains import TUTORIAL
from cyclegan_mri.errors import UserError
from cyclegan_mri.record import TrainOptions

# Zero padding: the subjects' split and scoring do not depend on it, and the generator's step traces in about three
# quarters of the time it takes with the default edge replication (which test_cyclegan3d.py trains end to end).
TINY = ["--model", "cyclegan3d", "--patch", "16", "16", "16", "--filters", "2", "--generator", "resnet6_3d",
        "--padding", "zero", "--batch", "1", "--pool-size", "0", "--epochs", "1", "--patches-per-epoch", "1",
        "--verbose", "0", "--seed", "0"]
BASELINES = {"identity", "histogram_matching", "lookup_table", "quantile_map"}


def options(data, **kwargs) -> TrainOptions:
    return TrainOptions(data=str(data), model="cyclegan3d", patch=(16, 16, 16), **kwargs)


def trained_sides(subject: Subject, selection: set[str]) -> set[int]:
    """The domains of which a run trained on this subject's volume (by content)."""
    return {side for side, path in subject.files.items() if fingerprint(load_volume(path).data) in selection}


def test_held_out_and_test_subjects_are_never_trained_on_and_the_domains_come_from_disjoint_subjects(tmp_path):
    root = subject_volumes(tmp_path / "data", subjects=6)
    for contrast in ("t1", "t2"):
        write_head(root / "test" / "Brats18_T_0" / f"Brats18_T_0_{contrast}.nii.gz", 20, contrast)
    run = options(root, holdout_cases=2)
    data = VolumeData.load(run)
    selection = VolumeData.selection(run)
    assert selection == {fingerprint(v.data) for v in data.a + data.b}
    assert len(data.held_out) == 2 and data.decided()["held_out"] == data.held_out
    subjects = find_subjects(root, TUTORIAL)
    sides = {s.name: trained_sides(s, selection) for s in subjects}
    assert sides["Brats18_T_0"] == set() and all(sides[name] == set() for name in data.held_out)
    training = [s.name for s in subjects if s.name not in data.held_out and not s.test]
    assert all(len(sides[name]) == 1 for name in training)  # no subject on both sides
    assert {0} in sides.values() and {1} in sides.values()

    both = dataclasses.replace(run, same_subjects=True)
    selection = VolumeData.selection(both)
    assert all(trained_sides(s, selection) == ({0, 1} if s.name in training else set()) for s in subjects)


def test_domain_folders_still_give_every_training_volume_and_refuse_the_subject_flags(tmp_path):
    write_volume_pairs(tmp_path / "data", 2, shape=(20, 24, 18))
    data = VolumeData.load(options(tmp_path / "data"))
    assert [v.name for v in data.a] == [v.name for v in data.b] == ["case0.nii.gz", "case1.nii.gz"]
    assert data.held_out is None and "held_out" not in data.decided()
    for flags in (dict(holdout_cases=1), dict(same_subjects=True)):
        with pytest.raises(UserError, match="for a --data folder read by subject") as error:
            VolumeData.load(options(tmp_path / "data", **flags))
        assert "\n" not in str(error.value)


def test_trained_on_brats_folders_it_scores_each_held_out_subjects_whole_volume_beside_the_baselines(tmp_path,
                                                                                                     capsys):
    root = subject_volumes(tmp_path / "data", subjects=4)
    out = tmp_path / "run"
    argv = ["--data", str(root), "--out", str(out), *TINY]
    assert train.main([*argv, "--holdout-cases", "1"]) == 0
    saved = json.loads((out / "run.json").read_text())
    assert saved["holdout_cases"] == 1 and len(saved["held_out"]) == 1 and saved["same_subjects"] is False
    held = saved["held_out"][0]

    # Another draw of held-out subjects would train on other data: refused, and the run left as it was.
    assert exit_code(train.main, [*argv, "--holdout-cases", "2"]) == 2
    assert "holdout_cases 1 (asked 2)" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text()) == saved

    assert evaluate.main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "held out: the run never saw any volume of these subjects" in printed and "data range 255" in printed
    results = json.loads((out / "evaluation.json").read_text())
    for direction in ("t1_to_t2", "t2_to_t1"):
        r = results[direction]
        assert r["data_range"] == 255.0 and r["held_out"] is True
        assert [(s["name"], s["seen_in_training"]) for s in r["per_subject"]] == [(held, False)]
        assert r["per_subject"][0]["shape"] == [20, 24, 16]
        assert np.isfinite(r["whole"]["psnr"]) and -1 <= r["brain"]["ssim"] <= 1 and r["brain"]["nmse"] >= 0
        assert set(r["baselines"]) == BASELINES
        assert all(b["per_subject"][0]["name"] == held and b["brain"]["psnr"] is not None
                   for b in r["baselines"].values())
        # Identity scores the source itself: the model's row is not a copy of it.
        assert r["baselines"]["identity"]["whole"] != r["whole"]
    assert set(results["subjects"]["trained_on"]) == {f"Brats18_X_{i}" for i in range(4)} - {held}
    written = nib.load(out / "translations" / "t1_to_t2" / f"{held}.nii.gz")
    assert written.shape == (20, 24, 16) and np.isfinite(written.get_fdata()).all()

    # A trained subject's case folder elsewhere is recognised by content, and its scores flagged.
    trained = results["subjects"]["trained_on"][0]
    shutil.copytree(root / trained, tmp_path / "elsewhere" / trained)
    assert evaluate.main(["--out", str(out), "--data", str(tmp_path / "elsewhere"), "--quiet",
                          "--no-translations"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert results["t1_to_t2"]["held_out"] is False and "NOT held out" in capsys.readouterr().out


def test_trained_on_ixi_folders_with_same_subjects_it_takes_both_contrasts_of_every_subject(tmp_path):
    root = subject_volumes(tmp_path / "ixi", "ixi", subjects=3)
    out = tmp_path / "run"
    assert train.main(["--data", str(root), "--out", str(out), *TINY, "--same-subjects"]) == 0
    saved = json.loads((out / "run.json").read_text())
    assert saved["same_subjects"] is True and saved["held_out"] == [] and saved["holdout_cases"] == 0
    selection = VolumeData.selection(TrainOptions.from_json(saved))
    assert all(trained_sides(s, selection) == {0, 1} for s in find_subjects(root, TUTORIAL))


def test_evaluate_takes_an_inference_window_for_subjects_volumes_and_refuses_it_elsewhere(tmp_path, capsys):
    root = subject_volumes(tmp_path / "data", subjects=3)
    out = tmp_path / "run"
    assert train.main(["--data", str(root), "--out", str(out), *TINY, "--holdout-cases", "1"]) == 0
    # The whole (20, 24, 16) volume in one window: scored as with the training patch, on the same subject.
    assert evaluate.main(["--out", str(out), "--quiet", "--no-translations", "--window", "20", "24", "16"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert np.isfinite(results["t1_to_t2"]["whole"]["psnr"]) and len(results["t1_to_t2"]["per_subject"]) == 1
    assert exit_code(evaluate.main, ["--out", str(out), "--window", "5", "5", "5"]) == 2
    assert "--window 5 5 5" in capsys.readouterr().err
    # A 2D run slides no window.
    two_d = tmp_path / "slices"
    assert train.main(["--data", str(root), "--out", str(two_d), "--image-size", "24", "20", "--filters", "2",
                       "--epochs", "1", "--holdout-cases", "1", "--verbose", "0"]) == 0
    assert exit_code(evaluate.main, ["--out", str(two_d), "--window", "16", "16", "16"]) == 2
    assert "--window applies to 3D runs" in capsys.readouterr().err
