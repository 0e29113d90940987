"""Structure-consistency losses and the intensity-first generator: same anatomy, new contrast."""

import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.models.structure import STRUCTURE_LOSSES, mind_descriptor
from cyclegan_mri.networks import build_generator


def phantom(size: int = 48, seed: int = 0) -> np.ndarray:
    """Two images of a blob 'anatomy' of three tissues, as (N, H, W, 1) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = []
    for _ in range(2):
        cy, cx = rng.uniform(size * 0.35, size * 0.65, 2)
        r = np.hypot(yy - cy, xx - cx)
        image = np.where(r < size * 0.4, 0.2, -1.0)
        image = np.where(r < size * 0.25, 0.8, image)
        image = np.where(r < size * 0.1, -0.4, image)
        images.append(image)
    return np.stack(images)[..., None].astype(np.float32)


def remap(images: np.ndarray) -> np.ndarray:
    """A non-monotonic change of contrast, as from T1 to T2: each tissue gets another intensity."""
    table = {-1.0: -1.0, 0.2: 0.5, 0.8: -0.2, -0.4: 0.9}
    out = np.copy(images)
    for old, new in table.items():
        out[np.isclose(images, old)] = new
    return out


@pytest.mark.parametrize("name", sorted(STRUCTURE_LOSSES))
def test_a_new_contrast_of_the_same_anatomy_costs_nothing(name):
    images = phantom()
    loss = STRUCTURE_LOSSES[name]
    assert float(loss(images, images)) == pytest.approx(0.0, abs=1e-5)
    assert float(loss(images, 0.5 * images + 0.3)) == pytest.approx(0.0, abs=1e-4)
    assert float(loss(images, -images)) == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("name", sorted(STRUCTURE_LOSSES))
def test_moved_anatomy_costs_more_than_a_new_contrast(name):
    images = phantom()
    loss = STRUCTURE_LOSSES[name]
    new_contrast = float(loss(images, remap(images)))
    moved = float(loss(images, np.roll(remap(images), 5, axis=2)))
    other_anatomy = float(loss(images, remap(phantom(seed=1))))
    assert moved > 3 * new_contrast and other_anatomy > 3 * new_contrast
    assert moved > 0.05


def test_mind_of_a_blank_image_is_defined():
    descriptor = mind_descriptor(np.zeros((1, 16, 16, 1), np.float32))
    assert np.all(np.isfinite(descriptor)) and np.allclose(descriptor, 1.0)


@pytest.mark.parametrize("name", sorted(STRUCTURE_LOSSES))
def test_structure_losses_give_gradients_to_the_translation(name):
    images = tf.constant(phantom())
    translated = tf.Variable(remap(phantom()) + np.random.default_rng(0).normal(0, 0.1, images.shape).astype("f4"))
    with tf.GradientTape() as tape:
        loss = STRUCTURE_LOSSES[name](images, translated)
    gradient = tape.gradient(loss, translated)
    assert np.all(np.isfinite(gradient)) and float(tf.reduce_max(tf.abs(gradient))) > 0


def test_the_contrast_generator_starts_as_a_per_pixel_intensity_map():
    generator = build_generator("contrast", (37, 29, 1), filters=4)
    images = tf.constant(phantom(48)[:, :37, :29])
    out = np.asarray(generator(images))
    assert out.shape == (2, 37, 29, 1)
    # Equal intensities map to equal outputs wherever they are, until the context branch has learned.
    values = images.numpy().ravel()
    for value in np.unique(values):
        assert np.ptp(out.ravel()[values == value]) < 1e-5


def test_the_contrast_generators_context_is_local():
    generator = build_generator("contrast", (64, 64, 1), filters=4)
    context_out = generator.get_layer("context_out")
    context_out.set_weights([np.ones_like(w) * 0.1 for w in context_out.get_weights()])
    image = np.zeros((1, 64, 64, 1), np.float32)
    poked = image.copy()
    poked[0, 32, 32] = 1.0
    change = np.abs(np.asarray(generator(poked)) - np.asarray(generator(image)))[0, ..., 0]
    # Dilations 1, 2, 4, 8 reach 15 pixels from a pixel, and no further.
    assert change[32, 32 + 15] > 0 and change[32 + 8, 32 + 8] > 0
    assert change[32, 32 + 16:].max() == 0 and change[:32 - 15, :].max() == 0


@pytest.mark.parametrize("name", sorted(STRUCTURE_LOSSES))
def test_a_cyclegan_trains_with_a_structure_loss_at_the_native_odd_size(small_dataset, tmp_path, name):
    import csv

    from cyclegan_mri.cli import train

    out = tmp_path / "run"
    assert train.main(["--data", str(small_dataset), "--out", str(out), "--image-size", "17", "13", "--filters", "2",
                       "--batch", "2", "--seed", "0", "--verbose", "0", "--epochs", "1", "--generator", "contrast",
                       "--lambda-structure", "2", "--structure", name]) == 0
    with (out / "history.csv").open() as stream:
        (row,) = list(csv.DictReader(stream))
    assert 0 < float(row["structure_loss"]) < 2 * (2 if name == "gradient" else 1)


def test_the_structure_loss_is_refused_for_pix2pix(small_dataset, tmp_path):
    from cyclegan_mri.errors import UserError
    from cyclegan_mri.cli.train import parse_train_args, train_options

    with pytest.raises(UserError, match="--lambda-structure"):
        train_options(parse_train_args(["--model", "pix2pix", "--lambda-structure", "1"]))
