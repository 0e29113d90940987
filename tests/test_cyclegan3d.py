"""The 3D CycleGAN: whole NIfTI volumes trained on patches, translated with a sliding window, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import nibabel as nib
import numpy as np
import pytest

from conftest import exit_code, reoriented

from cyclegan_mri.cli import evaluate, train, translate
from cyclegan_mri.cli.train import parse_train_args, train_options
from cyclegan_mri.specs import SPECS
from cyclegan_mri.data.phantoms import head_phantom, write_volume_pairs

TINY = ["--model", "cyclegan3d", "--patch", "16", "16", "16", "--filters", "2", "--generator", "resnet6_3d",
        "--batch", "1", "--pool-size", "0", "--patches-per-epoch", "1", "--verbose", "0", "--seed", "0"]


@pytest.fixture(scope="module")
def volumes(tmp_path_factory) -> Path:
    """Three T1/T2 phantom heads to train on, and two more, of another shape, to score."""
    root = tmp_path_factory.mktemp("volumes")
    write_volume_pairs(root / "data", 3, shape=(20, 24, 18), seed=0)
    write_volume_pairs(root / "pairs", 2, shape=(22, 18, 20), seed=50)
    return root


def test_the_defaults_are_the_anchors_and_slice_flags_are_refused():
    options = train_options(parse_train_args(["--model", "cyclegan3d"]))
    assert (options.generator, options.discriminator, options.gan_loss, options.pool_size) == (
        "resnet9_3d", "patchgan3d", "lsgan", 50)
    assert (options.patch, options.batch, options.lambda_cycle, options.lambda_identity) == ((128, 128, 64), 1, 10.0,
                                                                                             0.5)
    assert (options.lr_schedule, options.learning_rate, options.beta_1) == ("linear", 2e-4, 0.5)
    assert SPECS["cyclegan3d"].defaults["epochs"] == options.epochs == 200
    cpu = train_options(parse_train_args(["--model", "cyclegan3d", "--preset", "cpu"]))
    assert (cpu.patch, cpu.filters, cpu.generator) == ((32, 32, 32), 8, "resnet6_3d")
    with pytest.raises(Exception, match="--crop"):
        train_options(parse_train_args(["--model", "cyclegan3d", "--crop", "16", "16"]))
    with pytest.raises(Exception, match="--patch is for --model cyclegan3d"):
        train_options(parse_train_args(["--patch", "16", "16", "16"]))


def test_an_identity_generator_gives_back_the_volume_on_its_own_grid(tmp_path):
    """The whole chain (canonical order, window, sliding window, inverse map, voxel order) loses nothing but the
    documented clipping to the 0.5-99.5th percentile window."""
    from cyclegan_mri.data.volume_data import prepare_volume
    from cyclegan_mri.volumetric.inference import translate_image

    inputs = keras.Input((8, 8, 8, 1))
    identity = keras.Model(inputs, keras.layers.Identity()(inputs))
    image = nib.Nifti1Image(head_phantom((21, 17, 13), seed=3, contrast="t1") * 900.0, np.diag([1.2, 1.0, 2.0, 1.0]))
    stored = reoriented(image, ("P", "I", "L"))
    result = translate_image(identity, stored, overlap=0.25)
    window = prepare_volume(stored).scaling
    assert result.shape == stored.shape and np.allclose(result.affine, stored.affine)
    expected = np.clip(stored.get_fdata(), window.lo, window.hi)
    np.testing.assert_allclose(result.get_fdata(), expected, rtol=0, atol=1e-4 * (window.hi - window.lo))


def test_train_resume_translate_and_score_volumes(volumes, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", str(volumes / "data"), "--out", str(out), *TINY]
    assert train.main([*argv, "--epochs", "1"]) == 0
    assert train.main([*argv, "--epochs", "2"]) == 0
    assert "resuming from epoch 1" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "generators").iterdir()) == ["t1_to_t2.keras", "t2_to_t1.keras"]
    assert len(list((out / "samples").glob("*.png"))) == 2
    assert json.loads((out / "run.json").read_text())["patch"] == [16, 16, 16]

    # A volume of another shape and voxel order comes back on its own grid.
    source = reoriented(nib.load(volumes / "pairs" / "t1" / "case0.nii.gz"), ("S", "P", "R"))
    nib.save(source, tmp_path / "spr.nii.gz")
    assert translate.main(["--out", str(out), "--input", str(tmp_path / "spr.nii.gz"),
                           "--output", str(tmp_path / "t2.nii.gz"), "--overlap", "0.25"]) == 0
    result = nib.load(tmp_path / "t2.nii.gz")
    assert result.shape == source.shape == (20, 18, 22) and np.allclose(result.affine, source.affine)
    assert result.get_data_dtype() == np.float32 and np.isfinite(result.get_fdata()).all()

    assert evaluate.main(["--out", str(out), "--pairs", str(volumes / "pairs"), "--quiet"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert list(results) == ["t1_to_t2", "t2_to_t1"]
    forward = results["t1_to_t2"]
    assert forward["held_out"] is True and len(forward["per_image"]) == 2
    assert np.isfinite(forward["psnr"]) and -1 <= forward["ssim"] <= 1 and "identity" in forward["baselines"]
    assert (out / "translations" / "t2_to_t1" / "case1.nii.gz").exists()

    # Scored on its own training volumes, the run says so.
    assert evaluate.main(["--out", str(out), "--pairs", str(volumes / "data"), "--quiet", "--no-translations"]) == 0
    assert json.loads((out / "evaluation.json").read_text())["t1_to_t2"]["held_out"] is False

    # A 3D run translates volumes as volumes: no --plane, no PNG.
    bad = ["--out", str(out), "--output", str(tmp_path / "x.nii.gz")]
    assert exit_code(translate.main, [*bad, "--input", str(tmp_path / "spr.nii.gz"), "--plane", "axial"]) == 2
    (tmp_path / "slice.png").write_bytes(b"\x89PNG")
    assert exit_code(translate.main, [*bad[:2], "--input", str(tmp_path / "slice.png"),
                                      "--output", str(tmp_path / "x.png")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "--plane" in errors[0] and "as volumes, not images" in errors[1]
    assert not (tmp_path / "x.nii.gz").exists() and not (tmp_path / "x.png").exists()


def four_d(root: Path) -> None:
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8, 2), np.float32), np.eye(4)), root / "t1" / "case0.nii.gz")


def constant(root: Path) -> None:
    nib.save(nib.Nifti1Image(np.full((20, 24, 18), 7, np.float32), np.eye(4)), root / "t2" / "case1.nii.gz")


def no_volumes(root: Path) -> None:
    for path in (root / "t2").iterdir():
        path.unlink()


@pytest.mark.parametrize("spoil, flags, message", [
    (four_d, [], "4D data"),
    (constant, [], "the volume is empty (every voxel is 7)"),
    (no_volumes, [], "no .nii or .nii.gz volumes in"),
    (lambda root: None, ["--patch", "32", "32", "32", "--no-pad-volumes"], "is larger than every T1 volume"),
], ids=["4d volume", "constant volume", "folder without volumes", "patch larger than every volume"])
def test_bad_volumes_are_one_line_and_write_nothing(spoil, flags, message, tmp_path, capsys):
    data = tmp_path / "data"
    write_volume_pairs(data, 2, shape=(20, 24, 18))
    spoil(data)
    argv = ["--data", str(data), "--out", str(tmp_path / "run"), *TINY, "--epochs", "1", *flags]
    assert exit_code(train.main, argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and "Traceback" not in error
    assert not (tmp_path / "run").exists()

