"""InstanceNormalization: each image and channel normalised on its own, as the NumPy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.networks.layers import InstanceNormalization


def reference(x: np.ndarray, scale: np.ndarray, offset: np.ndarray, epsilon: float = 1e-5) -> np.ndarray:
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    return scale * (x - mean) / np.sqrt(var + epsilon) + offset


@pytest.fixture
def inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    # Different means and spreads per image and channel, so shared statistics would show.
    return (rng.normal(size=(3, 9, 7, 5)) * rng.uniform(0.5, 4, (3, 1, 1, 5)) + rng.normal(0, 3, (3, 1, 1, 5))
            ).astype(np.float32)


def test_matches_numpy_reference(inputs):
    layer = InstanceNormalization()
    out = np.asarray(layer(inputs))
    expected = reference(inputs, np.asarray(layer.scale), np.asarray(layer.offset))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_each_instance_and_channel_has_zero_mean_unit_variance_before_scale(inputs):
    layer = InstanceNormalization()
    layer.build(inputs.shape)
    layer.scale.assign(np.ones(5, np.float32))
    out = np.asarray(layer(inputs))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1.0, atol=1e-3)


def test_scale_starts_near_one_and_offset_at_zero():
    layer = InstanceNormalization()
    layer.build((None, 4, 4, 256))
    scale = np.asarray(layer.scale)
    assert abs(scale.mean() - 1.0) < 0.01 and 0.01 < scale.std() < 0.03
    assert not np.asarray(layer.offset).any()


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_output_of_an_image_does_not_depend_on_the_rest_of_the_batch(inputs, batch):
    layer = InstanceNormalization()
    alone = np.asarray(layer(inputs[:1]))
    rng = np.random.default_rng(batch)
    others = rng.normal(size=(batch - 1, *inputs.shape[1:])).astype(np.float32) * 10
    together = np.asarray(layer(np.concatenate([inputs[:1], others])))
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-6)


def test_config_round_trips():
    layer = InstanceNormalization(epsilon=1e-3, name="norm")
    clone = InstanceNormalization.from_config(layer.get_config())
    assert clone.epsilon == 1e-3 and clone.name == "norm"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, InstanceNormalization) and restored.epsilon == 1e-3


def bfloat16_statistics(x: tf.Tensor, layer: InstanceNormalization) -> tf.Tensor:
    """What the layer would compute with its statistics in bfloat16: the fault the next test must catch."""
    mean, variance = tf.nn.moments(x, axes=(1, 2), keepdims=True)
    normalized = (x - mean) * tf.math.rsqrt(variance + tf.cast(layer.epsilon, x.dtype))
    return tf.cast(layer.scale, x.dtype) * normalized + tf.cast(layer.offset, x.dtype)


def test_keeps_statistics_in_float32_under_mixed_precision(inputs):
    layer = InstanceNormalization(dtype="mixed_bfloat16")
    # A large offset against a small spread, as deep feature maps have: a bfloat16 mean near 300 is off by up
    # to 1 (its spacing there is 2), which is a whole standard deviation after normalisation.
    x = tf.cast(inputs + 300.0, tf.bfloat16)
    out = layer(x)
    assert out.dtype == tf.bfloat16
    # The reference sees the same bfloat16 inputs, in float64: the only error left is the output's rounding.
    exact = reference(np.asarray(tf.cast(x, tf.float64)), np.asarray(layer.scale), np.asarray(layer.offset))
    tolerance = 2 ** -7 * np.abs(exact) + 1e-3  # one bfloat16 step of the output (its cast may truncate)
    assert np.all(np.abs(np.asarray(tf.cast(out, tf.float64)) - exact) <= tolerance)
    # The same check fails for statistics computed in bfloat16, so it tells the two apart.
    wrong = np.asarray(tf.cast(bfloat16_statistics(x, layer), tf.float64))
    assert np.mean(np.abs(wrong - exact) > tolerance) > 0.5


def test_leaky_relu_is_keras_leaky_relu_and_round_trips():
    from cyclegan_mri.networks.layers import LeakyReLU

    x = np.linspace(-3, 3, 60, dtype=np.float32).reshape(1, 60, 1, 1)  # 0 itself, a kink, left out
    np.testing.assert_allclose(np.asarray(LeakyReLU(0.2)(x)), np.asarray(keras.layers.LeakyReLU(0.2)(x)), atol=1e-7)
    with tf.GradientTape() as tape:
        t = tf.constant(x)
        tape.watch(t)
        y = LeakyReLU(0.2)(t)
    np.testing.assert_allclose(tape.gradient(y, t).numpy().ravel(), np.where(x.ravel() > 0, 1.0, 0.2))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(LeakyReLU(0.3, name="a")))
    assert isinstance(clone, LeakyReLU) and clone.negative_slope == 0.3
