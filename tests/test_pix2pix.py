"""pix2pix: the networks of Isola et al., paired data, and a run scored by evaluate.py like any other."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import TINY_FILTERS, TINY_SIZE, png_bytes, phantom


def trainable_count(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_unet_has_the_reference_layout_and_parameter_count():
    from cyclegan_mri.networks import build_generator

    model = build_generator("unet", (256, 256, 3), 64, norm="batch")
    # Counted from the layout: 8 stride-2 4x4 convolutions down (widths 64..512), 8 transposed ones up, each
    # up block fed its encoder twin concatenated; no conv bias before batch norm; batch norm has scale and offset.
    widths = [64, 128, 256, 512, 512, 512, 512, 512]
    expected = 3 * 64 * 16 + 64  # outermost down convolution, no norm after it: it keeps its bias
    for i in range(1, 8):
        expected += widths[i - 1] * widths[i] * 16
        expected += widths[i] if i == 7 else 2 * widths[i]  # innermost: bias, no norm
    for i in range(7, 0, -1):
        inputs = widths[i] if i == 7 else 2 * widths[i]
        expected += inputs * widths[i - 1] * 16 + 2 * widths[i - 1]
    expected += 2 * 64 * 3 * 16 + 3  # outermost transposed convolution and its bias
    assert trainable_count(model) == expected
    assert model.output_shape == (None, 256, 256, 3)
    dropouts = [layer.name for layer in model.layers if "dropout" in layer.name]
    assert len(dropouts) == 3 and all(layer.rate == 0.5 for layer in model.layers if "dropout" in layer.name)


def test_conditional_patchgan_matches_the_pix2pix_discriminator():
    from cyclegan_mri.networks import build_discriminator

    # pix2pix's 70x70 PatchGAN on 3-channel input and output concatenated: 2,768,705 parameters.
    model = build_discriminator("patchgan", (256, 256, 6), 64, norm="batch")
    assert trainable_count(model) == 2_768_705
    assert model.output_shape == (None, 32, 32, 1)


def test_pix2pix_model_judges_source_and_image_together():
    from cyclegan_mri.models.pix2pix import Pix2Pix

    model = Pix2Pix((32, 32, 1), filters=4, direction="t2_to_t1", norm="instance")
    assert model.discriminator.input_shape == (None, 32, 32, 2)
    assert list(model.translators()) == ["t2_to_t1"]
    x, y = np.full((1, 32, 32, 1), 0.5, np.float32), np.full((1, 32, 32, 1), -0.5, np.float32)
    source, target = model.source_and_target(x, y)
    assert source is y and target is x


@pytest.mark.parametrize("size", [(37, 29), (40, 33)])
def test_odd_sizes_are_padded_and_cropped_back_never_distorted(size):
    from cyclegan_mri.networks import build_generator

    small = build_generator("unet", (*size, 1), 4, depth=3, norm="instance")
    padded_size = tuple(-(-s // 8) * 8 for s in size)
    big = build_generator("unet", (*padded_size, 1), 4, depth=3, norm="instance")
    big.set_weights(small.get_weights())
    image = np.random.default_rng(0).uniform(-1, 1, (1, *size, 1)).astype(np.float32)
    pad = [(0, 0), (0, padded_size[0] - size[0]), (0, padded_size[1] - size[1]), (0, 0)]
    expected = np.asarray(big(np.pad(image, pad, mode="reflect")))[:, :size[0], :size[1]]
    actual = np.asarray(small(image))
    assert actual.shape == image.shape
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_paired_batches_keep_each_pair_together_through_shuffling_and_augmentation():
    from cyclegan_mri.data.pipeline import paired_dataset

    x = np.stack([np.full((12, 10, 1), i / 10, np.float32) for i in range(7)])
    x[:, 3:6, 2:4] = 0.9  # something for flips and shifts to move
    for xb, yb in paired_dataset(x, x.copy(), 3, seed=1, augmented=True):
        np.testing.assert_array_equal(np.asarray(xb), np.asarray(yb))
    seen = np.concatenate([np.asarray(xb) for xb, _ in paired_dataset(x, -x, 3, seed=2)])
    pairs = [(np.asarray(xb), np.asarray(yb)) for xb, yb in paired_dataset(x, -x, 3, seed=2)]
    assert len(seen) == 7 and [len(xb) for xb, _ in pairs] == [3, 3, 1]
    for xb, yb in pairs:
        np.testing.assert_array_equal(xb, -yb)


def test_pix2pix_defaults_and_cyclegan_refuses_pix2pix_flags(capsys):
    from cyclegan_mri.cli import train
    from cyclegan_mri.cli.common import run_main
    from cyclegan_mri.cli.train import parse_train_args, train_options

    options = train_options(parse_train_args(["--model", "pix2pix"]))
    assert (options.generator, options.discriminator, options.epochs, options.norm) == ("unet", "patchgan", 200,
                                                                                        "batch")
    assert train_options(parse_train_args(["--model", "pix2pix", "--epochs", "5"])).epochs == 5
    assert train_options(parse_train_args([])).generator == "tutorial"

    assert run_main(train.main, ["--direction", "t2_to_t1", "--out", "unused"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--direction is for --model pix2pix" in error


def test_preset_cpu_sets_its_defaults_and_explicit_flags_win():
    from cyclegan_mri.cli.train import parse_train_args, train_options
    from cyclegan_mri.specs import SLICES_CPU

    options = train_options(parse_train_args(["--preset", "cpu"]))
    for name, value in SLICES_CPU.items():
        assert getattr(options, name) == (tuple(value) if name == "image_size" else value)
    assert train_options(parse_train_args(["--preset", "cpu", "--filters", "8"])).filters == 8


def test_a_preset_leaves_out_what_the_chosen_model_does_not_take():
    from cyclegan_mri.record import TrainOptions
    from cyclegan_mri.cli.train import parse_train_args, train_options
    from cyclegan_mri.specs import SLICES_CPU

    assert SLICES_CPU["lambda_structure"] > 0
    options = train_options(parse_train_args(["--preset", "cpu", "--model", "pix2pix"]))
    assert options.lambda_structure == TrainOptions().lambda_structure and options.filters == 16


def test_every_generator_accepts_the_datasets_native_size():
    from cyclegan_mri.cli.train import parse_train_args, train_options

    for generator in ("tutorial", "resnet6", "unet"):
        options = train_options(parse_train_args(["--generator", generator, "--image-size", "217", "181"]))
        assert options.image_size == (217, 181)


def test_one_epoch_on_the_training_pairs_is_scored_by_evaluate(archive, tmp_path, capsys):
    from cyclegan_mri.cli import evaluate, train

    out = tmp_path / "run"
    assert train.main(["--model", "pix2pix", "--data", str(archive), "--out", str(out), "--holdout",
                       "--image-size", *map(str, TINY_SIZE), "--filters", str(TINY_FILTERS), "--epochs", "1",
                       "--seed", "0", "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    assert "aligned T1/T2 pairs: 34" in printed
    assert sorted(p.name for p in (out / "generators").iterdir()) == ["t1_to_t2.keras"]
    assert (out / "samples" / "image_at_epoch_0001.png").is_file()
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,disc_loss,gen_gan_loss,gen_loss,l1_loss") and len(history) == 2

    assert evaluate.main(["--out", str(out), "--quiet", "--no-translations"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert list(results) == ["t1_to_t2"]
    assert len(results["t1_to_t2"]["per_image"]) == 9
    assert results["t1_to_t2"]["baselines"]["lookup_table"]["psnr"] > 25
    assert np.isfinite(results["t1_to_t2"]["psnr"])


def test_a_folder_of_aligned_pairs_trains_the_reverse_direction(tmp_path, capsys):
    from cyclegan_mri.cli import train

    for domain, offset in (("t1", 0), ("t2", 50)):
        folder = tmp_path / "pairs" / domain
        folder.mkdir(parents=True)
        for i in range(5):
            (folder / f"slice{i}.png").write_bytes(png_bytes(phantom(i + offset)))
    (tmp_path / "pairs" / "t1" / "unmatched.png").write_bytes(png_bytes(phantom(99)))
    out = tmp_path / "run"
    assert train.main(["--model", "pix2pix", "--pairs", str(tmp_path / "pairs"), "--direction", "t2_to_t1",
                       "--out", str(out), "--image-size", *map(str, TINY_SIZE), "--filters", str(TINY_FILTERS),
                       "--norm", "instance", "--epochs", "1", "--batch", "2", "--verbose", "0"]) == 0
    assert "aligned T1/T2 pairs: 5" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "generators").iterdir()) == ["t2_to_t1.keras"]
    assert json.loads((out / "run.json").read_text())["direction"] == "t2_to_t1"

    from cyclegan_mri.data.dataset import load_paired
    from cyclegan_mri.errors import UserError

    with pytest.raises(UserError, match="keep your own test pairs out of DIR"):
        load_paired("unused", TINY_SIZE, holdout=True, pairs=tmp_path / "pairs")
