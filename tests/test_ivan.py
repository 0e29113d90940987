"""iVAN: one invertible network translates both ways (or fuses, and decomposes), trained, resumed, scored and used
through the same entry points as every other model."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, TINY_SIZE, exit_code, png_bytes, phantom

TINY = ["--image-size", *map(str, TINY_SIZE), "--filters", "4", "--blocks", "2", "--batch", "4", "--seed", "2",
        "--verbose", "0", "--precision", "float32"]


def history(out) -> list[dict]:
    with (out / "history.csv").open() as stream:
        return list(csv.DictReader(stream))


def test_defaults_are_the_papers_and_the_rate_halves_every_50_epochs():
    from cyclegan_mri.cli.train import parse_train_args, train_options
    from cyclegan_mri.training.schedules import LinearDecayPlan, rate_of_epoch

    options = train_options(parse_train_args(["--model", "ivan"]))
    assert (options.blocks, options.filters, options.learning_rate, options.beta_1, options.epochs,
            options.batch, options.task, options.lambda_forward) == (8, 32, 1e-4, 0.9, 300, 1, "synthesis", 1.0)
    rate = rate_of_epoch(options.lr_schedule, options.learning_rate, LinearDecayPlan(), options.lr_step_epochs)
    assert [rate(n) for n in (1, 50, 51, 100, 101, 300)] == [1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 1e-4 / 32]


@pytest.mark.parametrize("flags, message", [
    (["--model", "ivan", "--gan-loss", "lsgan"], "--gan-loss does not apply to --model ivan"),
    (["--model", "ivan", "--direction", "t2_to_t1"], "--direction does not apply to --model ivan"),
    (["--model", "ivan", "--generator", "unet"], "--generator does not apply to --model ivan"),
    (["--model", "pix2pix", "--task", "fusion"], "--task is for --model ivan"),
    (["--model", "ivan", "--lr-schedule", "linear", "--lr-step-epochs", "5"], "--lr-step-epochs only applies"),
])
def test_flags_of_other_models_are_refused_in_one_line(flags, message, capsys):
    from cyclegan_mri.cli import train

    assert exit_code(train.main, [*flags, "--out", "unused"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error


def test_the_forward_and_inverse_translators_are_one_network():
    from cyclegan_mri.models.ivan import IVAN

    model = IVAN((16, 12, 1), blocks=2, growth=4)
    forward, inverse = model.translators()["t1_to_t2"], model.translators()["t2_to_t1"]
    rng = np.random.default_rng(0)
    for weight in model.generator.trainable_weights:
        weight.assign(rng.normal(0, 0.1, weight.shape).astype(np.float32))
    x = rng.uniform(-1, 1, (2, 16, 12, 1)).astype(np.float32)
    # The inverse undoes the forward exactly when it is given the whole two-channel output...
    output = model.invertible(tf.concat([x, x], -1))
    np.testing.assert_allclose(np.asarray(model.invertible(output, reverse=True)), np.concatenate([x, x], -1),
                               atol=1e-5)
    # ...and the translators read the mean of the two channels, the inverse from one slice in both.
    np.testing.assert_allclose(np.asarray(forward(x)), np.asarray(output).mean(-1, keepdims=True), atol=1e-6)
    y = np.asarray(forward(x))
    expected = np.asarray(model.invertible(tf.concat([y, y], -1), reverse=True)).mean(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(inverse(y)), expected, atol=1e-6)
    assert model.generator.count_params() == sum(int(np.prod(w.shape)) for w in model.invertible.weights)


def test_the_loss_is_the_forward_error_the_reconstruction_and_the_inverse_error():
    from cyclegan_mri.models.ivan import IVAN

    model = IVAN((8, 8, 1), blocks=2, growth=4, lambda_forward=2.0, lambda_inverse=3.0)
    rng = np.random.default_rng(1)
    # A fresh network's couplings are the identity and its 1x1 kernels orthogonal: ||f([x, x])|| = sqrt(2) |x| < 1.
    x, y = (rng.uniform(-0.7, 0.7, (2, 8, 8, 1)).astype(np.float32) for _ in range(2))
    xx, yy = np.concatenate([x, x], -1), np.concatenate([y, y], -1)
    losses = {k: float(v) for k, v in model.compute_losses(x, y).items()}
    output = np.asarray(model.invertible(xx))
    assert losses["forward_loss"] == pytest.approx(2.0 * np.mean((output.mean(-1, keepdims=True) - y) ** 2), rel=1e-5)
    inverse = np.asarray(model.invertible(yy, reverse=True))
    assert losses["inverse_loss"] == pytest.approx(3.0 * np.mean((inverse - xx) ** 2), rel=1e-5)
    # The paper's reconstruction term only bites where the output leaves the image range.
    assert np.abs(output).max() < 1 and losses["reconstruction_loss"] < 1e-10
    assert losses["loss"] == pytest.approx(losses["forward_loss"] + losses["reconstruction_loss"]
                                           + losses["inverse_loss"], rel=1e-6)
    with_paper_loss = IVAN((8, 8, 1), blocks=2, growth=4, lambda_inverse=0.0)
    assert float(with_paper_loss.compute_losses(3.0 * x, y)["reconstruction_loss"]) > 1e-3
    assert float(with_paper_loss.compute_losses(x, y)["inverse_loss"]) == 0.0


def test_a_synthesis_run_trains_resumes_as_if_uninterrupted_and_serves_both_directions(archive, tmp_path, capsys):
    from cyclegan_mri.cli import evaluate, fuse, train, translate
    from cyclegan_mri.data.images import decode_image

    common = ["--model", "ivan", "--data", str(archive), "--holdout", *TINY]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert train.main([*common, "--out", str(whole), "--epochs", "2"]) == 0
    assert train.main([*common, "--out", str(resumed), "--epochs", "1"]) == 0
    assert "aligned T1/T2 pairs: 34" in capsys.readouterr().out
    assert train.main([*common, "--out", str(resumed), "--epochs", "2"]) == 0
    assert "resuming from epoch 1" in capsys.readouterr().out
    losses = [[float(row[k]) for k in ("loss", "forward_loss", "reconstruction_loss", "inverse_loss")]
              for row in (history(whole)[1], history(resumed)[1])]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    weights = [tf.train.load_checkpoint(str(out / "checkpoints")) for out in (whole, resumed)]
    for name in weights[0].get_variable_to_shape_map():
        if name.startswith("generator/") and "OPTIMIZER" not in name:
            np.testing.assert_allclose(weights[1].get_tensor(name), weights[0].get_tensor(name), atol=1e-6)
    assert sorted(p.name for p in (resumed / "generators").iterdir()) == ["t1_to_t2.keras", "t2_to_t1.keras"]
    assert history(resumed)[0]["learning_rate"] == "0.0001"

    assert evaluate.main(["--out", str(resumed), "--quiet", "--no-translations"]) == 0
    results = json.loads((resumed / "evaluation.json").read_text())
    assert list(results) == ["t1_to_t2", "t2_to_t1"]
    for direction in results:
        assert len(results[direction]["per_image"]) == 9 and results[direction]["held_out"] is True
        assert np.isfinite(results[direction]["psnr"]) and "lookup_table" in results[direction]["baselines"]

    slice_png = tmp_path / "slice.png"
    slice_png.write_bytes(png_bytes(phantom(4, shape=(33, 27))))
    assert translate.main(["--out", str(resumed), "--input", str(slice_png), "--output", str(tmp_path / "t2.png"),
                           "--direction", "t1_to_t2"]) == 0
    # The inverse loads in a process that never built the model, like any exported generator.
    result = subprocess.run([sys.executable, "translate.py", "--out", str(resumed), "--input", str(slice_png),
                             "--output", str(tmp_path / "t1.png"), "--direction", "t2_to_t1"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]
    assert decode_image((tmp_path / "t1.png").read_bytes(), "t1")[0].shape == (33, 27)
    capsys.readouterr()
    # A synthesis run does not fuse: one line, exit 2.
    assert exit_code(fuse.main, ["--out", str(resumed), "--t1", str(slice_png), "--t2", str(slice_png),
                                 "--output", str(tmp_path / "f.png")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "does not fuse" in error
    assert exit_code(evaluate.main, ["--out", str(resumed), "--fusion"]) == 2


def test_a_fusion_run_fuses_pairs_decomposes_them_and_is_scored_beside_classical_fusions(archive, tmp_path, capsys):
    from cyclegan_mri.cli import evaluate, fuse, train, translate
    from cyclegan_mri.data.images import decode_image

    out = tmp_path / "fusion"
    assert train.main(["--model", "ivan", "--task", "fusion", "--data", str(archive), "--holdout", "--out",
                       str(out), *TINY, "--epochs", "1"]) == 0
    assert sorted(p.name for p in (out / "generators").iterdir()) == ["decomposition.keras", "fusion.keras"]
    assert json.loads((out / "run.json").read_text())["fusion_reference"] == "laplacian"

    t1, t2 = tmp_path / "t1", tmp_path / "t2"
    for folder, offset in ((t1, 0), (t2, 50)):
        folder.mkdir()
        for i in range(2):
            (folder / f"slice{i}.png").write_bytes(png_bytes(phantom(i + offset, shape=(33, 27))))
    (t1 / "only_t1.png").write_bytes(png_bytes(phantom(9, shape=(33, 27))))
    fused = tmp_path / "fused.png"
    assert fuse.main(["--out", str(out), "--t1", str(t1 / "slice0.png"), "--t2", str(t2 / "slice0.png"),
                      "--output", str(fused)]) == 0
    assert decode_image(fused.read_bytes(), "fused")[0].shape == (33, 27)
    assert fuse.main(["--out", str(out), "--t1", str(t1), "--t2", str(t2), "--output", str(tmp_path / "all")]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["slice0.png", "slice1.png"]

    other = tmp_path / "other.png"
    other.write_bytes(png_bytes(phantom(1, shape=(30, 26))))
    capsys.readouterr()
    assert exit_code(fuse.main, ["--out", str(out), "--t1", str(t1 / "slice0.png"), "--t2", str(other),
                                 "--output", str(fused)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "differ in size" in error
    assert exit_code(translate.main, ["--out", str(out), "--input", str(other), "--output", str(fused)]) == 2
    assert "use fuse.py" in capsys.readouterr().err

    assert evaluate.main(["--out", str(out), "--fusion", "--quiet"]) == 0
    scores = json.loads((out / "evaluation.json").read_text())["fusion"]
    assert len(scores["per_image"]) == 9 and scores["held_out"] is True
    assert set(scores["baselines"]) == {"average", "maximum", "laplacian"}
    for method in (scores, *scores["baselines"].values()):
        assert all(np.isfinite(method[key]) for key in ("AG", "SF", "EN", "Q_MI", "Q_ABF"))
    assert set(scores["decomposition"]) == {"decomposition_psnr_T1", "decomposition_psnr_T2",
                                            "decomposition_ssim_T1", "decomposition_ssim_T2"}


def test_the_papers_network_has_the_parameters_its_description_gives():
    from cyclegan_mri.models.ivan import IVAN

    growth = 32

    def dense_block(c_in: int, c_out: int) -> int:
        # Five 3x3 convolutions with bias, each of the first four fed everything before it.
        hidden = sum(9 * (c_in + k * growth) * growth + growth for k in range(4))
        return hidden + 9 * (c_in + 4 * growth) * c_out + c_out

    # Per block: F, G and H on a 1 | 1 split, and the 1x1 convolution's L, U (2x2, masked) and log s.
    per_block = 3 * dense_block(1, 1) + 2 * 4 + 2
    model = IVAN((217, 181, 1))
    trainable = sum(int(np.prod(w.shape)) for w in model.generator.trainable_weights)
    assert trainable == 8 * per_block == 1_385_792
