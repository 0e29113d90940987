"""iVAN's invertible network: exact inverse, Glow's LU 1x1 convolution, variable augmentation, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.networks.invertible import (DenseBlock, InvertibleBlock, InvertibleConv1x1, InvertibleNetwork,
                                              MeanOfCopies, RepeatChannels, invertible_fuser, invertible_translator)

GROWTH = 4
SIZES = [(7, 9), (13, 11)]


def randomize(layer: keras.layers.Layer, std: float = 0.1, seed: int = 0) -> None:
    """Every trainable weight from N(0, std): the zero-initialised last convolutions would make couplings trivial."""
    rng = np.random.default_rng(seed)
    for weight in layer.trainable_weights:
        weight.assign(rng.normal(0.0, std, weight.shape).astype(np.float32))


def images(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def random_network(channels: int, blocks: int, seed: int = 0) -> InvertibleNetwork:
    network = InvertibleNetwork(channels, blocks=blocks, growth=GROWTH)
    network.build((None, None, None, channels))
    randomize(network, seed=seed)
    return network


def as_matrix(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Each pixel's channel vector multiplied by ``kernel``: the 1x1 convolution's convention."""
    return np.einsum("ij,...j->...i", kernel, x)


# --- exact inverse -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels, blocks", [(2, 8), (4, 3)])
def test_reverse_undoes_forward_and_forward_undoes_reverse(channels, blocks):
    network = random_network(channels, blocks)
    for size in SIZES:
        x = images((2, *size, channels))
        y = np.asarray(network(x))
        assert y.shape == x.shape and y.dtype == np.float32
        assert np.abs(y - x).max() > 0.5  # the random weights make a map far from the identity
        np.testing.assert_allclose(network(y, reverse=True), x, atol=1e-5)
        back = np.asarray(network(x, reverse=True))
        assert np.abs(back - x).max() > 0.5
        np.testing.assert_allclose(network(back), x, atol=1e-5)


@pytest.mark.parametrize("channels", [2, 3])
def test_block_inverts_with_even_and_odd_splits(channels):
    block = InvertibleBlock(channels, growth=GROWTH)
    block.build((None, None, None, channels))
    randomize(block, seed=channels)
    x = images((1, 7, 9, channels), seed=1)
    np.testing.assert_allclose(block(block(x), reverse=True), x, atol=1e-5)
    np.testing.assert_allclose(block(block(x, reverse=True)), x, atol=1e-5)


def test_block_is_conv_then_affine_coupling():
    block = InvertibleBlock(4, growth=GROWTH, clamp=0.8)
    block.build((None, None, None, 4))
    randomize(block, seed=2)
    x = images((1, 5, 6, 4), seed=2)
    mixed = as_matrix(x, np.asarray(block.conv.kernel(), np.float64)).astype(np.float32)
    x1, x2 = mixed[..., :2], mixed[..., 2:]
    y1 = x1 + np.asarray(block.f(x2))
    s = 0.8 * (2 / (1 + np.exp(-np.asarray(block.h(y1)))) - 1)
    y2 = x2 * np.exp(s) + np.asarray(block.g(y1))
    np.testing.assert_allclose(block(x), np.concatenate([y1, y2], axis=-1), atol=1e-5)


@pytest.mark.parametrize("channels, split", [(2, 1), (3, 1), (4, 2)])
def test_coupling_splits_first_half_rounded_down(channels, split):
    block = InvertibleBlock(channels, growth=GROWTH)
    assert (block.f.out_channels, block.g.out_channels, block.h.out_channels) == (split, channels - split,
                                                                                  channels - split)


def test_a_block_needs_two_channels():
    with pytest.raises(ValueError, match="at least 2 channels"):
        InvertibleBlock(1)


# --- the LU 1x1 convolution ----------------------------------------------------------------------------------


def random_conv(channels: int = 5, seed: int = 3) -> InvertibleConv1x1:
    conv = InvertibleConv1x1(seed=seed)
    conv.build((None, None, None, channels))
    randomize(conv, std=0.3, seed=seed)
    return conv


def test_conv_log_determinant_is_that_of_its_kernel():
    conv = random_conv()
    conv.log_s.assign(conv.log_s + 0.2)  # a determinant well away from the orthogonal start's 1
    kernel = np.asarray(conv.kernel(), np.float64)
    np.testing.assert_allclose(float(conv.log_determinant()), np.log(abs(np.linalg.det(kernel))), atol=1e-5)
    assert abs(float(conv.log_determinant())) > 0.5


def test_conv_kernel_is_permutation_times_unit_lower_times_upper():
    conv = random_conv()
    kernel = np.asarray(conv.kernel(), np.float64)
    permutation = np.asarray(conv.permutation)
    lower = np.tril(np.asarray(conv.lower), -1) + np.eye(5)
    upper = np.triu(np.asarray(conv.upper), 1) + np.diag(np.asarray(conv.sign_s) * np.exp(np.asarray(conv.log_s)))
    np.testing.assert_allclose(kernel, permutation @ lower @ upper, atol=1e-5)
    assert sorted(permutation.sum(axis=0)) == [1] * 5 and set(np.unique(permutation)) <= {0.0, 1.0}
    assert {w.name for w in conv.trainable_weights} == {"lower", "upper", "log_s"}
    assert {w.name for w in conv.non_trainable_weights} == {"permutation", "sign_s"}


def test_conv_multiplies_each_pixel_and_reverse_undoes_it():
    conv = random_conv()
    x = images((2, 7, 9, 5), seed=4)
    y = np.asarray(conv(x))
    np.testing.assert_allclose(y, as_matrix(x, np.asarray(conv.kernel(), np.float64)), atol=1e-5)
    np.testing.assert_allclose(conv(y, reverse=True), x, atol=1e-5)
    np.testing.assert_allclose(conv(conv(x, reverse=True)), x, atol=1e-5)


def test_conv_log_determinant_times_pixels_is_the_image_jacobian():
    conv = random_conv(channels=3)
    x = tf.constant(images((1, 2, 3, 3), seed=5))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = conv(x)
    jacobian = tf.reshape(tape.jacobian(y, x), (18, 18)).numpy().astype(np.float64)
    np.testing.assert_allclose(np.linalg.slogdet(jacobian)[1], 6 * float(conv.log_determinant()), atol=1e-4)


def test_conv_starts_orthogonal_and_reproducible():
    conv = InvertibleConv1x1(seed=7)
    conv.build((None, None, None, 6))
    kernel = np.asarray(conv.kernel())
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(6), atol=1e-5)
    np.testing.assert_allclose(float(conv.log_determinant()), 0.0, atol=1e-5)
    again = InvertibleConv1x1(seed=7)
    again.build((None, None, None, 6))
    np.testing.assert_array_equal(again.kernel(), kernel)

    def unseeded() -> np.ndarray:
        keras.utils.set_random_seed(11)
        layer = InvertibleConv1x1()
        layer.build((None, None, None, 6))
        return np.asarray(layer.kernel())

    np.testing.assert_array_equal(unseeded(), unseeded())
    assert not np.allclose(unseeded(), kernel)


# --- a fresh network -----------------------------------------------------------------------------------------


def test_fresh_network_is_the_product_of_its_1x1_kernels():
    network = InvertibleNetwork(4, blocks=3, growth=GROWTH)
    network.build((None, None, None, 4))
    rng = np.random.default_rng(6)
    for block in network.blocks:
        # Everything but the last convolutions of F, G and H, which stay at zero: each coupling stays the identity.
        randomize(block.conv, std=0.3, seed=int(rng.integers(1 << 30)))
        for dense in (block.f, block.g, block.h):
            assert not any(np.asarray(w).any() for w in dense.convs[-1].weights)
            for conv in dense.convs[:-1]:
                randomize(conv, seed=int(rng.integers(1 << 30)))
    product = np.eye(4)
    for block in network.blocks:
        product = np.asarray(block.conv.kernel(), np.float64) @ product
    x = images((2, 7, 9, 4), seed=6)
    np.testing.assert_allclose(network(x), as_matrix(x, product), atol=1e-5)
    np.testing.assert_allclose(network(x, reverse=True), as_matrix(x, np.linalg.inv(product)), atol=1e-5)
    np.testing.assert_allclose(float(network.log_determinant()), np.log(abs(np.linalg.det(product))), atol=1e-5)


def test_dense_block_wiring_and_initialisation():
    block = DenseBlock(3, growth=32)
    block.build((None, None, None, 32))
    assert [conv.kernel.shape for conv in block.convs] == [(3, 3, 32 + 32 * i, 32) for i in range(4)] + [
        (3, 3, 32 * 5, 3)]
    assert all(conv.padding == "same" and conv.use_bias for conv in block.convs)
    # Xavier normal times 0.1: std 0.1 * sqrt(2 / (fan_in + fan_out)).
    first = np.asarray(block.convs[0].kernel)
    assert first.std() == pytest.approx(0.1 * np.sqrt(2 / (9 * 32 + 9 * 32)), rel=0.05)
    assert not np.asarray(block.convs[-1].kernel).any() and not np.asarray(block.convs[-1].bias).any()
    x = images((1, 7, 9, 32))
    assert not np.asarray(block(x)).any() and block(x).shape == (1, 7, 9, 3)


def test_network_builds_on_any_size_and_takes_odd_ones():
    inputs = keras.Input((None, None, 2))
    network = InvertibleNetwork(2, blocks=2, growth=GROWTH)
    model = keras.Model(inputs, network(inputs))
    assert network.built and model.output_shape == (None, None, None, 2)
    randomize(network)
    for size in SIZES:
        x = images((1, *size, 2))
        np.testing.assert_allclose(model(x), network(x), atol=1e-6)


def test_network_log_determinant_sums_its_convolutions():
    network = random_network(2, 3)
    expected = sum(float(block.conv.log_determinant()) for block in network.blocks)
    assert float(network.log_determinant()) == pytest.approx(expected, abs=1e-6)


# --- precision ------------------------------------------------------------------------------------------------


def test_network_computes_in_float32_under_mixed_bfloat16(mixed_bfloat16):
    network = InvertibleNetwork(2, blocks=3, growth=GROWTH, dtype="mixed_bfloat16")
    network.build((None, None, None, 2))
    randomize(network)
    assert network.compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in network.weights)
    x = images((2, 7, 9, 2))
    y = network(tf.constant(x, tf.bfloat16))
    assert y.dtype == tf.float32
    y = network(x)
    assert y.dtype == tf.float32
    np.testing.assert_allclose(network(y, reverse=True), x, atol=1e-5)
    translator = invertible_translator(network, (None, None, 1))
    assert translator(x[..., :1]).dtype == tf.float32


# --- variable augmentation -----------------------------------------------------------------------------------


def test_repeat_concatenates_copies_and_mean_averages_them():
    x = images((2, 5, 4, 3))
    repeated = np.asarray(RepeatChannels(3)(x))
    np.testing.assert_array_equal(repeated, np.concatenate([x, x, x], axis=-1))
    wide = images((2, 5, 4, 6), seed=1)
    np.testing.assert_allclose(MeanOfCopies(2)(wide), (wide[..., :3] + wide[..., 3:]) / 2, atol=1e-6)
    np.testing.assert_allclose(MeanOfCopies(3)(RepeatChannels(3)(x)), x, atol=1e-6)
    with pytest.raises(ValueError):
        MeanOfCopies(4)(wide)


# --- translators and the fuser -------------------------------------------------------------------------------


@pytest.fixture
def translators():
    network = random_network(2, 2)
    forward = invertible_translator(network, (None, None, 1), name="t1_to_t2")
    backward = invertible_translator(network, (None, None, 1), reverse=True, name="t2_to_t1")
    return network, forward, backward


def expected_translation(network, x, reverse):
    out = np.asarray(network(np.concatenate([x, x], axis=-1), reverse=reverse))
    return (out[..., :1] + out[..., 1:]) / 2


def test_translators_are_the_network_both_ways_sharing_its_weights(translators):
    network, forward, backward = translators
    x = images((2, 7, 9, 1))
    np.testing.assert_allclose(forward(x), expected_translation(network, x, False), atol=1e-6)
    np.testing.assert_allclose(backward(x), expected_translation(network, x, True), atol=1e-6)
    assert np.abs(np.asarray(forward(x)) - np.asarray(backward(x))).max() > 0.1
    network_weights = {id(w) for w in network.weights}
    assert {id(w) for w in forward.weights} == network_weights == {id(w) for w in backward.weights}
    before = np.asarray(forward(x)), np.asarray(backward(x))
    randomize(network, seed=9)
    after = np.asarray(forward(x)), np.asarray(backward(x))
    assert all(np.abs(a - b).max() > 0.1 for a, b in zip(before, after))


def test_translator_records_reverse_in_its_graph(translators):
    _, forward, backward = translators

    def recorded(model):
        [layer] = [layer for layer in model.get_config()["layers"] if layer["class_name"] == "InvertibleNetwork"]
        return [node["kwargs"].get("reverse", False) for node in layer["inbound_nodes"]]

    assert recorded(forward) == [False] and recorded(backward) == [True]


def test_translators_save_load_and_clone(translators, tmp_path):
    _, forward, backward = translators
    x = images((1, 13, 11, 1), seed=3)
    for model in (forward, backward):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, compile=False)
        np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
        clone = keras.models.clone_model(model, clone_function=lambda layer: layer.__class__.from_config(
            layer.get_config()))
        clone.set_weights(model.get_weights())
        np.testing.assert_allclose(clone(x), model(x), atol=1e-6)


def test_translator_checks_channels():
    with pytest.raises(ValueError, match="cannot take"):
        invertible_translator(InvertibleNetwork(4, blocks=1, growth=GROWTH), (None, None, 1))


def test_fuser_averages_the_network_output_of_both_sources():
    network = random_network(4, 2)
    fuser = invertible_fuser(network, (None, None, 4), channels_per_source=2)
    sources = images((2, 7, 9, 4))
    out = np.asarray(network(sources))
    np.testing.assert_allclose(fuser(sources), (out[..., :2] + out[..., 2:]) / 2, atol=1e-6)
    with pytest.raises(ValueError):
        invertible_fuser(network, (None, None, 2), channels_per_source=1)


# --- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: InvertibleConv1x1(seed=3, name="c"),
    lambda: DenseBlock(2, growth=GROWTH, name="d"),
    lambda: InvertibleBlock(3, growth=GROWTH, clamp=0.5, name="b"),
    lambda: InvertibleNetwork(3, blocks=2, growth=GROWTH, clamp=0.6, name="n"),
    lambda: RepeatChannels(3, name="r"),
    lambda: MeanOfCopies(3, name="m"),
], ids=["conv1x1", "dense", "block", "network", "repeat", "mean"])
def test_config_round_trips(make):
    layer, x = make(), images((1, 5, 6, 3))
    layer.build(x.shape)
    randomize(layer)
    copy = layer.__class__.from_config(layer.get_config())
    assert copy.get_config() == layer.get_config()
    copy.build(x.shape)
    copy.set_weights(layer.get_weights())
    np.testing.assert_allclose(copy(x), layer(x), atol=1e-6)
