"""The CycleGAN paper's improvements over the tutorial, each behind a flag, off by default."""

import csv
import math

import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.cli import train
from cyclegan_mri.data.pipeline import augment
from cyclegan_mri.errors import UserError
from cyclegan_mri.models import losses
from cyclegan_mri.models.image_pool import ImagePool
from cyclegan_mri.record import load_run_options
from cyclegan_mri.training.trainer import open_session

TINY = ["--image-size", "16", "16", "--filters", "2", "--batch", "2", "--seed", "2", "--verbose", "0"]


def test_least_squares_losses_are_zero_when_the_scores_hit_their_targets():
    ones, zeros = tf.ones((2, 3, 3, 1)), tf.zeros((2, 3, 3, 1))
    assert float(losses.generator_adversarial(ones, "lsgan")) == 0.0
    assert float(losses.discriminator_adversarial(ones, zeros, "lsgan")) == 0.0
    assert float(losses.discriminator_adversarial(zeros, ones, "lsgan")) == pytest.approx(1.0)
    assert float(losses.generator_adversarial(zeros, "bce")) == pytest.approx(math.log(2))


@pytest.mark.parametrize("mode", ["bce", "lsgan"])
def test_generators_and_discriminators_use_the_same_adversarial_loss(mode):
    from cyclegan_mri.models.cyclegan import CycleGAN

    model = CycleGAN((16, 16, 1), filters=2, gan_loss=mode)
    x, y = tf.random.uniform((2, 16, 16, 1), -1, 1, seed=0), tf.random.uniform((2, 16, 16, 1), -1, 1, seed=1)
    out = model.forward(x, y)
    result = model.compute_losses(x, y, out)
    cycle = result["cycle_loss"]
    identity_g = model.lambda_identity * losses.mean_absolute_error(y, out["same_y"])
    expected_g = losses.GAN_LOSSES[mode](out["disc_fake_y"], 1.0) + cycle + identity_g
    np.testing.assert_allclose(float(result["gen_t1_to_t2_loss"]), float(expected_g), rtol=1e-6)
    expected_d = 0.5 * (losses.GAN_LOSSES[mode](out["disc_real_x"], 1.0)
                        + losses.GAN_LOSSES[mode](out["disc_pooled_x"], 0.0))
    np.testing.assert_allclose(float(result["disc_t1_loss"]), float(expected_d), rtol=1e-6)


def test_image_pool_fills_first_then_returns_new_or_stored_images():
    pool = ImagePool(3, (2, 2, 1))
    first = tf.reshape(tf.range(12, dtype=tf.float32), (3, 2, 2, 1))
    np.testing.assert_array_equal(pool.query(first), first)  # filling: every fake is used as is
    assert int(pool.count) == 3
    later = 100 + first
    out = pool.query(later).numpy()
    known = [img for img in np.concatenate([first.numpy(), later.numpy()])]
    assert all(any(np.array_equal(o, k) for k in known) for o in out)
    assert int(pool.count) == 3


def test_a_full_pool_returns_a_stored_image_half_of_the_time_and_keeps_the_new_one_in_its_place():
    tf.random.set_seed(0)
    pool = ImagePool(4, (1, 1, 1))
    pool.query(tf.reshape(tf.range(4, dtype=tf.float32), (4, 1, 1, 1)))
    stored_returns = 0
    for i in range(200):
        new = tf.fill((1, 1, 1, 1), 1000.0 + i)
        before = set(pool.images.numpy().ravel())
        (returned,) = pool.query(new).numpy().ravel()
        after = set(pool.images.numpy().ravel())
        if returned != 1000.0 + i:
            stored_returns += 1
            assert returned in before and returned not in after and 1000.0 + i in after
        else:
            assert after == before
    # Binomial(200, 1/2): outside 50-150 once in about 10**12 runs; a pool that never (or always) swaps fails.
    assert 50 < stored_returns < 150


def test_augmentation_flips_and_shifts_with_background_fill_as_its_seed_says():
    image = tf.constant(np.linspace(-1, 1, 16 * 12).reshape(16, 12, 1), tf.float32)
    outputs = [augment(image, tf.constant([7, i], tf.int64), max_shift=3).numpy() for i in range(8)]
    assert all(o.shape == (16, 12, 1) for o in outputs)
    assert any(not np.array_equal(o, image.numpy()) for o in outputs)
    assert all(o.min() >= -1.0 and o.max() <= 1.0 for o in outputs)
    again = [augment(image, tf.constant([7, i], tf.int64), max_shift=3).numpy() for i in range(8)]
    assert all(np.array_equal(a, b) for a, b in zip(outputs, again))


def test_a_run_with_every_option_trains_and_resumes_with_its_pool_and_learning_rate(small_dataset, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(small_dataset), "--out", str(out), *TINY, "--gan-loss", "lsgan", "--pool-size", "4",
            "--lr-schedule", "linear", "--augment"]
    assert train.main([*args, "--epochs", "1"]) == 0
    reader = tf.train.load_checkpoint(str(out / "checkpoints"))
    saved = {name: reader.get_tensor(f"{name}/images/.ATTRIBUTES/VARIABLE_VALUE") for name in ("pool_x", "pool_y")}
    resumed = open_session(load_run_options(out))
    for name, pool in resumed.model.pools.items():
        assert int(pool.count) == 4, name  # 3 steps of 2 fakes filled it
        assert np.abs(saved[name]).sum() > 0, name
        np.testing.assert_array_equal(pool.images.numpy(), saved[name])
    assert train.main([*args, "--epochs", "2"]) == 0
    with (out / "history.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(math.isfinite(float(v)) for r in rows for v in r.values())
    # Planned for 1 epoch, the run decays in it: (1 - 1 + 1) / (1 - 0 + 1) of the rate. Raised to 2 epochs, the
    # decay goes on from there to zero after epoch 2, never back up: half of that for epoch 2.
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx([1e-4, 5e-5])


def test_the_pool_is_refused_under_tf_distribute(small_dataset, tmp_path):
    with pytest.raises(UserError, match="--pool-size"):
        train.main(["--data", str(small_dataset), "--out", str(tmp_path / "r"), *TINY, "--pool-size", "4",
                    "--strategy", "mirrored", "--epochs", "1"])
