"""The default train step computes what the tutorial's loop computes.

Two float32 computations of the same step differ in rounding (the default path
batches calls and sums in another order). Free-running GAN training with Adam
amplifies that rounding: Adam's first steps move every weight by about the
learning rate whatever the gradient's size, so a rounding-level gradient
(the conv biases in front of instance normalisation have an exactly zero true
gradient) becomes a full step, and after 4-5 steps of two equivalent float32
loops the losses differ by 1e-4 to 1e-3. So every one of the 5 steps below
starts both loops from the same state (weights and optimizer slots) and
checks that they then agree.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import trained_weights, weight_difference
from cyclegan_mri.benchmarks.plain_loop import make_plain_step
from cyclegan_mri.record import TrainOptions
from cyclegan_mri.training.trainer import build_model

SIZE = (24, 20)
NETWORKS = ("generator_g", "generator_f", "discriminator_x", "discriminator_y")


def tiny_model():
    keras.utils.set_random_seed(7)
    return build_model(TrainOptions(image_size=SIZE, filters=4), "float32", False)


def batches():
    rng = np.random.default_rng(0)
    # Four full steps and one with the 3-against-4 shape of the tutorial's last step.
    for n_x in (4, 4, 4, 4, 3):
        yield (tf.constant(rng.uniform(-1, 1, (n_x, *SIZE, 1)), tf.float32),
               tf.constant(rng.uniform(-1, 1, (4, *SIZE, 1)), tf.float32))


def copy_state(source, target) -> None:
    """Give ``target`` the weights and optimizer slots of ``source``."""
    for name, item in source.trackables().items():
        for u, v in zip(item.variables, target.trackables()[name].variables):
            v.assign(u)


def test_models_built_with_the_same_seed_start_from_the_same_weights():
    a, b = tiny_model(), tiny_model()
    for network in NETWORKS:
        np.testing.assert_array_equal(trained_weights(a, network), trained_weights(b, network))


def test_five_float32_steps_of_the_default_path_match_the_tutorials_loop():
    plain_model, fast_model = tiny_model(), tiny_model()
    # Traced once each for any batch size, as fit() traces the default path: the last step's 3 images run the
    # same graphs as the 4 of the others.
    batch = tf.TensorSpec((None, *SIZE, 1), tf.float32)
    plain_step = make_plain_step(plain_model).get_concrete_function(batch, batch)
    fast_step = tf.function(fast_model.train_step).get_concrete_function((batch, batch))
    for step, (x, y) in enumerate(batches()):
        copy_state(plain_model, fast_model)
        expected = {k: float(v) for k, v in plain_step(x, y).items()}
        fast_model.reset_metrics()  # train_step returns running means; one step at a time here
        got = {k: float(v) for k, v in fast_step((x, y)).items()}
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-4), (step, name)
        for network in NETWORKS:
            assert weight_difference(fast_model, plain_model, network) <= 1e-5, (step, network)
