"""--crop: train on random windows of the slices, translate whole slices with the same weights."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.cli import evaluate, train
from cyclegan_mri.data.pipeline import paired_dataset, unpaired_dataset
from cyclegan_mri.errors import UserError
from cyclegan_mri.translation.inference import translate_slices
from cyclegan_mri.models.cyclegan import CycleGAN
from cyclegan_mri.networks import build_generator
from cyclegan_mri.networks.layers import CropLike, PadToMultiple
from cyclegan_mri.cli.train import parse_train_args, train_options
from cyclegan_mri.training.trainer import float32_copy
from conftest import phantom, png_bytes


def numbered(count: int, shape=(12, 10)) -> np.ndarray:
    """``count`` images whose every pixel value is unique across the set: a window tells where it came from."""
    size = shape[0] * shape[1]
    return np.arange(count * size, dtype=np.float32).reshape(count, *shape, 1)


def where(window: np.ndarray, images: np.ndarray) -> tuple[int, int, int]:
    """(image, row, column) of a window's top-left pixel in ``numbered`` images."""
    index = np.argwhere(images == window[0, 0, 0])
    assert len(index) == 1
    return tuple(int(v) for v in index[0][:3])


# The input pipeline


def test_crops_are_windows_of_the_slices_at_places_the_seed_decides():
    x, y = numbered(5), numbered(6) + 10_000
    batches = list(unpaired_dataset(x, y, batch_size=2, seed=4, crop=(6, 4), epochs=2))
    again = list(unpaired_dataset(x, y, batch_size=2, seed=4, crop=(6, 4), epochs=2))
    places = []
    for (bx, by), (ax, ay) in zip(batches, again):
        assert bx.shape[1:] == by.shape[1:] == (6, 4, 1)
        np.testing.assert_array_equal(bx, ax)
        np.testing.assert_array_equal(by, ay)
        for window, images in ((w, x) for w in bx.numpy()):
            i, r, c = where(window, images)
            np.testing.assert_array_equal(window, images[i, r:r + 6, c:c + 4])
            places.append((r, c))
    assert len(set(places)) > 1  # not one fixed window


def test_an_aligned_pair_is_cropped_at_one_place():
    x = numbered(4)
    for bx, by in paired_dataset(x, x + 0.5, batch_size=2, seed=1, crop=(5, 7), augmented=True, epochs=3):
        assert bx.shape[1:] == (5, 7, 1)
        # The shift's background fill (-1) lies in the same places of both images: the same shift and window.
        np.testing.assert_array_equal(by.numpy(), np.where(bx.numpy() == -1, -1, bx.numpy() + 0.5))


def test_without_crop_the_data_is_what_it_was():
    x, y = numbered(5), numbered(6)
    plain = list(unpaired_dataset(x, y, batch_size=2, seed=3, augmented=True))
    explicit = list(unpaired_dataset(x, y, batch_size=2, seed=3, augmented=True, crop=None))
    for (a, b), (c, d) in zip(plain, explicit):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
        assert a.shape[1:] == (12, 10, 1)


# Networks of any size


def test_padding_to_a_multiple_follows_each_batch_and_is_undone_exactly():
    pad = PadToMultiple(4)
    for shape in ((1, 9, 6, 2), (2, 8, 8, 1), (1, 13, 5, 1)):
        x = tf.random.uniform(shape)
        padded = pad(x).numpy()
        rows, columns = -shape[1] % 4, -shape[2] % 4
        np.testing.assert_array_equal(padded, np.pad(x, [(0, 0), (0, rows), (0, columns), (0, 0)], mode="reflect"))
        np.testing.assert_array_equal(CropLike()([padded, x]).numpy(), x.numpy())
    assert pad.compute_output_shape((None, 9, None, 1)) == (None, 12, None, 1)
    assert PadToMultiple.from_config(pad.get_config()).step == 4


@pytest.mark.parametrize("architecture, settings", [("tutorial", {}), ("resnet6", {}), ("unet", {"depth": 3}),
                                                     ("contrast", {})])
def test_a_network_for_any_size_is_the_fixed_size_network_with_the_same_weights(architecture, settings):
    shape = (21, 18, 1)
    fixed = build_generator(architecture, shape, filters=4, **settings)
    any_size = build_generator(architecture, (None, None, 1), filters=4, **settings)
    any_size.set_weights(fixed.get_weights())
    image = tf.random.uniform((2, *shape), -1, 1)
    np.testing.assert_allclose(any_size(image), fixed(image), rtol=1e-5, atol=1e-6)
    assert any_size(tf.random.uniform((2, 12, 10, 1), -1, 1)).shape == (2, 12, 10, 1)
    # The exported copy is fixed to the slice size again: evaluate.py resizes slices to its input.
    copy = float32_copy(any_size, shape)
    assert copy.input_shape == (None, *shape) and copy.output_shape == (None, *shape)
    np.testing.assert_allclose(copy(image), fixed(image), rtol=1e-5, atol=1e-6)


def test_a_generator_for_any_size_translates_slices_at_the_size_it_is_given():
    generator = build_generator("resnet6", (None, None, 1), filters=2)
    slices = [np.full((30, 26), 100, np.uint8), np.full((20, 18), 50, np.uint8)]
    with pytest.raises(ValueError, match="takes any size"):
        translate_slices(generator, slices)
    results = translate_slices(generator, slices, size=(24, 20))
    assert [r.shape for r in results] == [(30, 26), (20, 18)]


def test_a_u_net_for_any_size_needs_its_depth():
    with pytest.raises(UserError, match="depth"):
        build_generator("unet", (None, None, 1), filters=4)


def test_a_cropped_cyclegan_keeps_crops_in_its_pool_and_translates_whole_slices():
    model = CycleGAN((26, 22, 1), filters=4, generator="unet", discriminator="patchgan", pool_size=3, crop=(16, 12))
    assert model.pools["pool_x"].images.shape == (3, 16, 12, 1)
    # Three halvings of a 12-pixel side leave 1.5 pixels: the U-Net is as deep as its crops allow.
    downsamplings = [layer.name for layer in model.generator_g.layers if layer.name.startswith("down")
                     and layer.name.endswith("_conv")]
    assert downsamplings == ["down0_conv", "down1_conv", "down2_conv"]
    assert model.translate("t1_to_t2", np.zeros((1, 26, 22, 1), np.float32)).shape == (1, 26, 22, 1)


# The command line


def test_a_crop_larger_than_the_slices_is_refused_in_one_line():
    with pytest.raises(UserError, match=r"--crop 30 16 is larger than the 24 20 slices"):
        train_options(parse_train_args(["--image-size", "24", "20", "--crop", "30", "16"]))


def aligned_pairs(root):
    """A folder of 5 aligned T1/T2 pairs (t1/ and t2/, same names), slices of 30x26."""
    for domain, offset in (("t1", 0), ("t2", 50)):
        (root / domain).mkdir(parents=True)
        for i in range(5):
            (root / domain / f"slice{i}.png").write_bytes(png_bytes(phantom(i + offset)))
    return root


@pytest.mark.parametrize("model", ["cyclegan", "cut", "pix2pix"])
def test_every_model_trains_on_crops_and_evaluates_whole_slices(model, small_dataset, tmp_path):
    out, pairs = tmp_path / "run", aligned_pairs(tmp_path / "pairs")
    data = ["--pairs", str(pairs)] if model == "pix2pix" else ["--data", str(small_dataset)]
    args = ["--model", model, *data, "--out", str(out), "--image-size", "24", "20", "--filters", "2",
            "--batch", "2", "--seed", "1", "--verbose", "0"]
    assert train.main([*args, "--crop", "16", "12", "--epochs", "1"]) == 0
    assert json.loads((out / "run.json").read_text())["crop"] == [16, 12]
    for path in (out / "generators").glob("*.keras"):
        assert keras.saving.load_model(path).input_shape == (None, 24, 20, 1)
    assert evaluate.main(["--out", str(out), "--pairs", str(pairs), "--no-translations", "--quiet"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert all(np.isfinite(scores["psnr"]) for scores in results.values())
    # A resume with another crop would restore pools and a U-Net depth of another shape: refused.
    with pytest.raises(UserError, match="crop"):
        train.main([*args, "--crop", "20", "16", "--epochs", "2"])
