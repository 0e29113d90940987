"""Vox2Vox as a model of the package: its loss, its flags, and train -> resume -> segment -> evaluate."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from conftest import exit_code, reoriented

from cyclegan_mri.cli import evaluate, segment, train, translate
from cyclegan_mri.errors import UserError
from cyclegan_mri.models import losses
from cyclegan_mri.cli.train import parse_train_args, train_options
from cyclegan_mri.specs import SPECS
from cyclegan_mri.data.phantoms import write_brats_cases

TINY = ["--model", "vox2vox", "--patch", "32", "32", "32", "--filters", "2", "--batch", "2", "--verbose", "0",
        "--seed", "0", "--holdout-cases", "1"]


def anchor_dice(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    """The official code's generalized Dice loss, written out in numpy."""
    num = np.sum(w * np.sum(y * p, axis=(0, 1, 2, 3)))
    den = np.sum(w * np.sum(y + p, axis=(0, 1, 2, 3))) + 1e-5
    return float(1 - 2 * num / den)


def test_the_generalized_dice_loss_is_the_official_one():
    rng = np.random.default_rng(0)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (2, 6, 5, 4))]
    p = rng.random((2, 6, 5, 4, 4)).astype(np.float32)
    p /= p.sum(-1, keepdims=True)
    w = np.array([0.1, 0.5, 0.2, 0.2], np.float32)
    assert float(losses.generalized_dice(y, p, w)) == pytest.approx(anchor_dice(y, p, w), rel=1e-5)
    assert float(losses.generalized_dice(y, y, w)) == pytest.approx(0.0, abs=1e-6)


def test_the_defaults_are_the_official_code_and_other_models_flags_are_refused():
    options = train_options(parse_train_args(["--model", "vox2vox"]))
    assert (options.patch, options.batch, options.epochs) == ((128, 128, 128), 4, 200)
    assert (options.lambda_dice, options.dropout, options.learning_rate, options.beta_1) == (5.0, 0.2, 2e-4, 0.5)
    assert (options.gan_loss, options.generator, options.filters) == ("lsgan", "vox2vox", 64)
    assert options.contrasts is None and SPECS["vox2vox"].defaults["patch"] == [128, 128, 128]
    picked = train_options(parse_train_args(["--model", "vox2vox", "--channels", "flair", "t1c"]))
    assert picked.contrasts == ("flair", "t1ce")
    for flags, message in ((["--spacing", "1", "1", "1"], "--spacing does not apply to --model vox2vox"),
                           (["--holdout"], "--holdout does not apply"),
                           (["--lambda-cycle", "3"], "--lambda-cycle does not apply")):
        with pytest.raises(UserError, match=message):
            train_options(parse_train_args(["--model", "vox2vox", *flags]))
    with pytest.raises(UserError, match="--classes is for --model vox2vox"):
        train_options(parse_train_args(["--classes", "0", "1"]))
    with pytest.raises(UserError, match="contrast names are for --model vox2vox"):
        train_options(parse_train_args(["--channels", "t1"]))
    assert train_options(parse_train_args(["--channels", "3"])).channels == 3


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("brats")
    write_brats_cases(root / "data", 3, shape=(28, 32, 24), seed=0)
    return root


def test_train_resume_segment_and_evaluate(cases, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", str(cases / "data"), "--out", str(out), *TINY]
    assert train.main([*argv, "--epochs", "2"]) == 0
    assert train.main([*argv, "--epochs", "3"]) == 0
    assert "resuming from epoch 2" in capsys.readouterr().out
    saved = json.loads((out / "run.json").read_text())
    assert saved["classes"] == [0, 1, 2, 4] and saved["contrasts"] == ["t1", "t1ce", "t2", "flair"]
    assert len(saved["class_weights"]) == 4 and sum(saved["class_weights"]) == pytest.approx(1.0)
    assert len(saved["held_out"]) == 1
    assert (out / "generators" / "segmenter.keras").is_file() and len(list((out / "samples").glob("*.png"))) == 3

    # A case stored in another voxel order is segmented onto its own grid, in the dataset's label values.
    case = tmp_path / "case"
    case.mkdir()
    for path in (cases / "data" / "Phantom20_Case_002").iterdir():
        if not path.name.endswith("_seg.nii.gz"):
            nib.save(reoriented(nib.load(path), ("S", "P", "R")), case / path.name)
    assert segment.main(["--out", str(out), "--input", str(case), "--output", str(tmp_path / "seg.nii.gz")]) == 0
    result = nib.load(tmp_path / "seg.nii.gz")
    reference = nib.load(next(case.glob("*_t1.nii.gz")))
    assert result.shape == reference.shape == (24, 32, 28) and np.allclose(result.affine, reference.affine)
    assert result.get_data_dtype() == np.uint8 and set(np.unique(np.asarray(result.dataobj))) <= {0, 1, 2, 4}

    # A folder of cases gives a folder of <case>.nii.gz.
    assert segment.main(["--out", str(out), "--input", str(cases / "data"), "--output", str(tmp_path / "all")]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        f"Phantom20_Case_00{i}.nii.gz" for i in (1, 2, 3)]
    # --largest-component keeps one connected tumour region, a subset of the raw segmentation.
    assert segment.main(["--out", str(out), "--input", str(case), "--output", str(tmp_path / "one.nii.gz"),
                         "--largest-component"]) == 0
    raw, one = (np.asarray(nib.load(tmp_path / name).dataobj) for name in ("seg.nii.gz", "one.nii.gz"))
    assert ndimage.label(one > 0, structure=np.ones((3, 3, 3)))[1] <= 1
    np.testing.assert_array_equal(one[one > 0], raw[one > 0])

    assert evaluate.main(["--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "evaluation.json").read_text())["segmentation"]
    assert [row["name"] for row in results["per_case"]] == saved["held_out"] and results["held_out"] is True
    assert list(results["mean"]) == ["WT", "TC", "ET"]
    assert list(results["largest_component"]["mean"]) == ["WT", "TC", "ET"]
    for scores in results["mean"].values():
        assert 0 <= scores["dice"] <= 1 and scores["hd95"] >= 0
    assert evaluate.main(["--out", str(out), "--all-pairs", "--quiet", "--no-translations"]) == 0
    results = json.loads((out / "evaluation.json").read_text())["segmentation"]
    assert len(results["per_case"]) == 3 and results["held_out"] is False

    # Not a translation run, and a translation run is not a segmenter.
    assert exit_code(translate.main, ["--out", str(out), "--input", str(case), "--output", str(tmp_path / "x")]) == 2
    assert "use segment.py" in capsys.readouterr().err


def test_segment_refuses_runs_that_do_not_segment_and_incomplete_cases(cases, tmp_path, capsys):
    other = tmp_path / "cyclegan"
    other.mkdir()
    (other / "run.json").write_text(json.dumps({"model": "cyclegan3d", "patch": [16, 16, 16]}))
    assert exit_code(segment.main, ["--out", str(other), "--input", str(cases / "data"),
                                    "--output", str(tmp_path / "seg")]) == 2
    assert "segment.py needs a segmentation run" in capsys.readouterr().err
    assert not (tmp_path / "seg").exists()


@pytest.mark.parametrize("flags, message", [
    (["--classes", "0", "1", "2"], "label values 4 are outside"),
    (["--channels", "t1", "adc"], "--channels adc: not a BraTS contrast"),
    (["--patch", "24", "24", "24"], "must be a multiple of 16"),
    (["--holdout-cases", "3"], "would leave no training case"),
], ids=["unknown labels", "unknown contrast", "patch size", "everything held out"])
def test_bad_training_input_is_one_line_and_leaves_no_run(flags, message, cases, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", str(cases / "data"), "--out", str(out), *TINY, "--epochs", "1"]
    assert exit_code(train.main, [*argv, *flags]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]
    assert not out.exists()
