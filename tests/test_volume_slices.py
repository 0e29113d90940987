"""2D models on NIfTI volumes: the layouts real scans come in, a split by subject (never by slice), floating-point
slices, and scores per held-out subject on the whole slice and inside the brain."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import SUBJECT_LAYOUTS, exit_code, subject_volumes, write_head

from cyclegan_mri.cli import evaluate, train
from cyclegan_mri.data.subjects import find_subjects, held_out_subjects, is_volume_folder, split_subjects
from cyclegan_mri.data.volume_slices import training_slices
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import DataError, UserError
from cyclegan_mri.metrics import masked_score
from cyclegan_mri.record import TrainOptions

@pytest.mark.parametrize("layout", SUBJECT_LAYOUTS)
def test_every_layout_gives_each_subject_its_t1_and_t2_volume(layout, tmp_path):
    root = subject_volumes(tmp_path / "data", layout, subjects=3)
    assert is_volume_folder(root)
    subjects = find_subjects(root, TUTORIAL)
    assert len(subjects) == 3 and all(s.complete and not s.test for s in subjects)
    for s in subjects:
        assert "t1" in s.files[0].name.lower() or s.files[0].parent.name == "t1"
        assert "t2" in s.files[1].name.lower() or s.files[1].parent.name == "t2"


def test_other_contrasts_are_chosen_by_domain_name_and_test_folders_hold_test_subjects(tmp_path):
    root = tmp_path / "data"
    for i in range(2):
        for suffix in ("t1", "t1ce", "flair"):
            write_head(root / f"Brats18_X_{i}" / f"Brats18_X_{i}_{suffix}.nii.gz", i, "t1")
    write_head(root / "test" / "Brats18_Y_0" / "Brats18_Y_0_t1.nii.gz", 5, "t1")
    write_head(root / "test" / "Brats18_Y_0" / "Brats18_Y_0_flair.nii.gz", 5, "t2")
    subjects = find_subjects(root, Domains("T1", "FLAIR"))
    assert [(s.name, s.test) for s in subjects] == [("Brats18_X_0", False), ("Brats18_X_1", False),
                                                   ("Brats18_Y_0", True)]
    assert subjects[0].files[0].name.endswith("_t1.nii.gz") and subjects[0].files[1].name.endswith("_flair.nii.gz")


def test_a_folder_without_either_contrast_is_a_one_line_error(tmp_path):
    write_head(tmp_path / "data" / "a_pd.nii.gz", 0, "t1")
    with pytest.raises(DataError, match="no T1 or T2 volumes"):
        find_subjects(tmp_path / "data", TUTORIAL)


def options(data, **kwargs) -> TrainOptions:
    return TrainOptions(data=str(data), image_size=(24, 20), min_foreground=0.1, **kwargs)


def subjects_of(slices) -> set[str]:
    return {s.name.partition(":")[0] for s in slices}


def test_an_unpaired_model_gets_its_two_domains_from_disjoint_subjects_and_never_a_held_out_one(tmp_path):
    root = subject_volumes(tmp_path / "data", subjects=6)
    held = held_out_subjects(find_subjects(root, TUTORIAL), 2)
    a, b, split = training_slices(options(root, held_out=held))
    assert split.held_out == held and len(held) == 2
    assert subjects_of(a).isdisjoint(subjects_of(b))
    assert subjects_of(a) | subjects_of(b) == {s.name for s in find_subjects(root, TUTORIAL)} - set(held)
    a, b, _ = training_slices(options(root, held_out=held, same_subjects=True))
    assert subjects_of(a) == subjects_of(b) == {s.name for s in find_subjects(root, TUTORIAL)} - set(held)


def test_a_paired_model_gets_both_contrasts_of_each_slice_and_refuses_contrasts_on_two_grids(tmp_path):
    root = subject_volumes(tmp_path / "data", subjects=3)
    a, b, _ = training_slices(options(root, model="pix2pix"))
    assert [s.name for s in a] == [s.name for s in b] and len(a) > 3
    write_head(root / "Brats18_X_9" / "Brats18_X_9_t1.nii.gz", 9, "t1")
    write_head(root / "Brats18_X_9" / "Brats18_X_9_t2.nii.gz", 9, "t2", shape=(20, 24, 18))
    with pytest.raises(DataError, match="Brats18_X_9_t2.nii.gz: not on the grid of"):
        training_slices(options(root, model="pix2pix"))


def test_slices_stay_floating_point_on_each_volumes_own_window_and_skip_empty_ones(tmp_path):
    root = subject_volumes(tmp_path / "data", subjects=2)
    a, _, _ = training_slices(options(root, same_subjects=True))
    images = np.stack([s.image for s in a])
    assert images.dtype == np.float32 and 0 <= images.min() and images.max() <= 255
    assert np.any(images != np.round(images))  # no 8-bit step
    assert images.max() > 250  # the volume's 99.5th percentile maps to 255, whatever the scanner's scale
    # Axial slices (16 along the phantom's inferior-superior axis) with less than 10 % of head are left out.
    assert 2 * 3 < len(a) < 2 * 16


def test_held_out_subjects_are_a_fixed_draw_and_leave_one_to_train_on(tmp_path):
    subjects = find_subjects(subject_volumes(tmp_path / "data", subjects=4), TUTORIAL)
    assert held_out_subjects(subjects, 2) == held_out_subjects(subjects, 2)
    with pytest.raises(UserError, match="--holdout-cases 4: the data has 4 training subjects"):
        held_out_subjects(subjects, 4)
    split = split_subjects(subjects, False, False, held_out_subjects(subjects, 1))
    assert len(split.test) == 1 and split.test[0].name not in {s.name for s, _ in split.training}


def test_masked_scores_see_only_the_mask():
    target = np.zeros((16, 16))
    target[4:12, 4:12] = 100.0
    prediction = target.copy()
    prediction[0, 0] = 255.0  # an error outside the mask
    mask = target > 0
    inside = masked_score(target, prediction, mask)
    assert inside["psnr"] == float("inf") and inside["nmse"] == 0.0
    prediction[5, 5] = 90.0
    assert masked_score(target, prediction, mask)["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / (100 / 64)))
    with pytest.raises(ValueError, match="empty"):
        masked_score(target, prediction, np.zeros_like(mask))


def test_train_and_evaluate_on_volumes_score_each_held_out_subject_beside_the_baselines(tmp_path, capsys):
    root = subject_volumes(tmp_path / "data", subjects=4)
    out = tmp_path / "run"
    args = ["--data", str(root), "--out", str(out), "--image-size", "24", "20", "--filters", "2", "--batch", "2",
            "--holdout-cases", "1", "--epochs", "1", "--seed", "3", "--verbose", "0"]
    assert train.main(args) == 0
    saved = json.loads((out / "run.json").read_text())
    assert saved["holdout_cases"] == 1 and len(saved["held_out"]) == 1 and saved["plane"] == "axial"

    assert evaluate.main(["--out", str(out), "--no-translations"]) == 0
    printed = capsys.readouterr().out
    assert "held out: the run never saw any slice of these subjects" in printed
    results = json.loads((out / "evaluation.json").read_text())
    for direction in ("t1_to_t2", "t2_to_t1"):
        r = results[direction]
        assert r["data_range"] == 255.0 and r["held_out"] is True
        assert [s["name"] for s in r["per_subject"]] == saved["held_out"]
        assert set(r["baselines"]) == {"identity", "histogram_matching", "lookup_table", "quantile_map"}
        assert r["whole"]["psnr"] is not None and r["brain"]["ssim"] is not None
    assert set(results["subjects"]["trained_on"]) == {s.name for s in find_subjects(root, TUTORIAL)} - set(
        saved["held_out"])
    # Another folder's subjects are all scored; the same heads under other names are recognised by content.
    other = subject_volumes(tmp_path / "other", "ixi", subjects=1, first=10)
    assert evaluate.main(["--out", str(out), "--data", str(other), "--no-translations", "--quiet"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert results["t1_to_t2"]["held_out"] is True and len(results["t1_to_t2"]["per_subject"]) == 1
    trained = sorted(set(results["subjects"]["trained_on"]))[0]
    same = subject_volumes(tmp_path / "same", "ixi", subjects=1, first=int(trained.rsplit("_", 1)[1]))
    assert evaluate.main(["--out", str(out), "--data", str(same), "--no-translations", "--quiet"]) == 0
    assert json.loads((out / "evaluation.json").read_text())["t1_to_t2"]["held_out"] is False
    # A resume with another plane is another run's data: refused.
    assert exit_code(train.main, [*args, "--plane", "coronal"]) == 2


def test_a_run_that_held_no_subject_out_is_not_scored_on_its_own_data(tmp_path, capsys):
    root = subject_volumes(tmp_path / "data", subjects=2)
    out = tmp_path / "run"
    out.mkdir()
    run = options(root, domains=("T1", "T2"), channels=1, holdout_cases=0, held_out=(), out=str(out))
    (out / "run.json").write_text(json.dumps(run.to_json()))
    assert exit_code(evaluate.main, ["--out", str(out)]) == 2
    assert "held no subject out" in capsys.readouterr().err
    assert not (out / "evaluation.json").exists()


def test_the_trained_on_check_and_training_choose_the_same_slices(tmp_path):
    from cyclegan_mri.data.dataset import TrainingData
    from cyclegan_mri.data.protocol import fingerprint

    root = subject_volumes(tmp_path / "data", subjects=3)
    run = dataclasses.replace(options(root, held_out=("Brats18_X_1",)), domains=("T1", "T2"))
    data = TrainingData.load(run)
    assert TrainingData.selection(run) == {fingerprint(s.image) for s in (*data.a, *data.b)}
    assert data.decided()["held_out"] == ("Brats18_X_1",)


def test_the_volume_flags_are_refused_for_a_folder_of_images(small_dataset):
    from cyclegan_mri.data.dataset import TrainingData

    for extra in (dict(holdout_cases=2), dict(plane="coronal"), dict(same_subjects=True)):
        with pytest.raises(UserError, match="for a --data folder of NIfTI volumes"):
            TrainingData.load(TrainOptions(data=str(small_dataset), image_size=(16, 16), **extra))
