"""The Vox2Vox networks: the official sizes layer by layer, probabilities, score maps, dropout, sizes refused."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import conv_parameters, norm_parameters

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.layers import LeakyReLU
from cyclegan_mri.networks.vox2vox import (LEAKY_SLOPE, smallest_multiple, vox2vox_discriminator,
                                           vox2vox_generator)

# Small networks, cheap enough to run on two CPU cores.
SMALL = dict(classes=3, filters=2)


def volumes(shape, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)


def segmentations(shape, classes: int, batch: int = 2, seed: int = 1) -> np.ndarray:
    labels = np.random.default_rng(seed).integers(0, classes, (batch, *shape))
    return np.eye(classes, dtype=np.float32)[labels]


# Sizes, layer by layer, derived from the architecture's description (not read from the networks)


def generator_params(channels: int, classes: int, f: int, depth: int, blocks: int, k: int) -> dict[str, int]:
    """Parameters of every generator layer that has some, by name; every other layer has none."""
    expected, skips, c = {}, {}, channels
    for step in range(1, depth):  # encoder: widths f, 2f, 4f; no norm in step 1
        width = f * 2 ** (step - 1)
        expected[f"encoder{step}_conv"] = conv_parameters(k, c, width)
        if step > 1:
            expected[f"encoder{step}_norm"] = norm_parameters(width)
        c = skips[step] = width
    width = f * 2 ** (depth - 1)  # 8f
    expected["bottleneck_conv"] = conv_parameters(k, c, width)
    expected["bottleneck_norm"] = norm_parameters(width)
    c = width
    for block in range(1, blocks + 1):
        expected[f"bottleneck{block}_conv"] = conv_parameters(k, c, width)
        expected[f"bottleneck{block}_norm"] = norm_parameters(width)
        c = 2 * width  # [LeakyReLU(norm(y)), y]
    for step in range(depth - 1, 0, -1):  # decoder: widths 4f, 2f, f, each concatenated with its encoder step
        width = f * 2 ** (step - 1)
        expected[f"decoder{step}_deconv"] = conv_parameters(k, c, width)
        expected[f"decoder{step}_norm"] = norm_parameters(width)
        c = width + skips[step]
    expected["classifier"] = conv_parameters(k, c, classes)
    return expected


def discriminator_params(channels: int, classes: int, f: int, depth: int, k: int) -> dict[str, int]:
    expected, c = {}, channels + classes  # image and segmentation concatenated
    for step in range(1, depth + 1):
        width = f * 2 ** (step - 1)
        expected[f"encoder{step}_conv"] = conv_parameters(k, c, width)
        if step > 1:
            expected[f"encoder{step}_norm"] = norm_parameters(width)
        c = width
    expected["penultimate_conv"] = conv_parameters(k, c, f * 2 ** depth)
    expected["penultimate_norm"] = norm_parameters(f * 2 ** depth)
    expected["scores_conv"] = conv_parameters(k, f * 2 ** depth, 1)
    return expected


def params_by_layer(model: keras.Model) -> dict[str, int]:
    return {layer.name: layer.count_params() for layer in model.layers if layer.count_params()}


def test_the_official_generator_has_its_layers_sizes_at_128_cubed():
    # Built only: a forward pass at this size would take minutes on two cores.
    model = vox2vox_generator((128, 128, 128, 4), classes=4)
    expected = generator_params(4, 4, 64, depth=4, blocks=4, k=4)
    assert params_by_layer(model) == expected
    # By hand: bottleneck block 1 sees 512 channels, blocks 2-4 see 1024; decoder3 1024, decoder2 512, decoder1 256
    # channels; the classifier 128.
    assert expected["bottleneck1_conv"] == 64 * 512 * 512 + 512
    assert expected["bottleneck4_conv"] == 64 * 1024 * 512 + 512
    assert expected["classifier"] == 64 * 128 * 4 + 4
    assert sum(expected.values()) == model.count_params() == 150_530_052
    assert model.output_shape == (None, 128, 128, 128, 4)
    assert model.input_shape == (None, 128, 128, 128, 4)


def test_the_official_discriminator_has_its_layers_sizes_and_a_14_cubed_map_at_128_cubed():
    model = vox2vox_discriminator((128, 128, 128, 4), classes=4)
    expected = discriminator_params(4, 4, 64, depth=3, k=4)
    assert params_by_layer(model) == expected
    assert sum(expected.values()) == model.count_params() == 11_078_337
    # 128 -> 64 -> 32 -> 16 (three stride-2 steps); padded to 18, a valid 4^3 convolution: 15; padded to 17: 14.
    assert model.output_shape == (None, 14, 14, 14, 1)
    assert [tuple(shape) for shape in model.input_shape] == [(None, 128, 128, 128, 4)] * 2
    assert [tensor.name for tensor in model.inputs] == ["image", "segmentation"]


def test_every_activation_is_a_leaky_relu_of_slope_0_3():
    assert LEAKY_SLOPE == 0.3
    for model in (vox2vox_generator((16, 16, 16, 2), **SMALL), vox2vox_discriminator((32, 32, 32, 2), **SMALL)):
        activations = [layer for layer in model.layers if isinstance(layer, LeakyReLU)]
        assert activations and all(layer.negative_slope == LEAKY_SLOPE for layer in activations)
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv3D)]
        assert all(isinstance(layer.kernel_initializer, keras.initializers.HeNormal) for layer in convs)


# Small networks, run


def test_generator_gives_float32_probabilities_over_the_classes():
    model = vox2vox_generator((16, 16, 16, 2), **SMALL)
    probabilities = model(volumes((16, 16, 16, 2)), training=False)
    assert probabilities.shape == (2, 16, 16, 16, 3)
    assert probabilities.dtype == "float32"
    assert np.all(np.asarray(probabilities) >= 0)
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1, atol=1e-5)


def test_generator_gives_float32_probabilities_under_mixed_precision(mixed_bfloat16):
    model = vox2vox_generator((16, 16, 16, 2), **SMALL)
    assert model.get_layer("classifier").compute_dtype == "bfloat16"
    probabilities = model(volumes((16, 16, 16, 2)), training=False)
    assert probabilities.dtype == "float32"
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1, atol=1e-5)


def test_bottleneck_blocks_put_the_activated_features_first_and_decoders_the_skip_last():
    # 32^3: a 2^3 bottleneck (at 16^3 its single voxel is normalised to zero).
    model = vox2vox_generator((32, 32, 32, 2), **SMALL)
    width = 2 * 2 ** 3
    probe = keras.Model(model.input, [model.get_layer("bottleneck2_conv").output,
                                      model.get_layer("bottleneck2_concat").output,
                                      model.get_layer("encoder2_dropout").output,
                                      model.get_layer("decoder2_concat").output])
    y, block, skip, decoded = (np.asarray(t) for t in probe(volumes((32, 32, 32, 2), batch=1), training=False))
    assert block.shape[-1] == 2 * width and np.any(y < 0)
    np.testing.assert_array_equal(block[..., width:], y)
    normalised = np.asarray(model.get_layer("bottleneck2_norm")(y))
    np.testing.assert_allclose(block[..., :width], np.maximum(normalised, LEAKY_SLOPE * normalised), rtol=1e-6)
    assert not np.allclose(block[..., :width], y)
    np.testing.assert_array_equal(decoded[..., -skip.shape[-1]:], skip)


def test_a_generator_for_any_size_takes_several_multiples_of_16():
    model = vox2vox_generator((None, None, None, 2), **SMALL)
    assert model(volumes((32, 16, 16, 2), batch=1)).shape == (1, 32, 16, 16, 3)
    assert model(volumes((16, 16, 16, 2), batch=1)).shape == (1, 16, 16, 16, 3)


@pytest.mark.parametrize("size, depth, kernel_size, expected", [
    (32, 3, 4, 2),  # 4 after the steps, 6 padded -> 3, 5 padded -> 2
    (16, 2, 4, 2),
    (16, 2, 3, 4),  # a 3^3 kernel after a padding of 1 keeps the size
    (32, 2, 5, 4),  # 8 -> 10 -> 6 -> 8 -> 4
])
def test_discriminator_gives_a_float32_score_map_of_the_derived_size(size, depth, kernel_size, expected):
    model = vox2vox_discriminator((size, size, size, 2), depth=depth, kernel_size=kernel_size, **SMALL)
    assert model.output_shape == (None, expected, expected, expected, 1)
    scores = model([volumes((size, size, size, 2)), segmentations((size, size, size), 3)], training=False)
    assert scores.shape == (2, expected, expected, expected, 1)
    assert scores.dtype == "float32"
    assert np.any(np.asarray(scores) < 0)  # raw scores: no sigmoid


def test_discriminator_gives_float32_scores_under_mixed_precision(mixed_bfloat16):
    model = vox2vox_discriminator((32, 32, 32, 2), **SMALL)
    scores = model([volumes((32, 32, 32, 2)), segmentations((32, 32, 32), 3)], training=False)
    assert scores.dtype == "float32" and scores.shape == (2, 2, 2, 2, 1)


def test_dropout_is_active_only_in_training():
    generator = vox2vox_generator((16, 16, 16, 2), dropout=0.5, **SMALL)
    x = volumes((16, 16, 16, 2))
    assert not np.allclose(generator(x, training=True), generator(x, training=True))
    np.testing.assert_array_equal(generator(x, training=False), generator(x, training=False))
    discriminator = vox2vox_discriminator((32, 32, 32, 2), dropout=0.5, **SMALL)
    pair = [volumes((32, 32, 32, 2)), segmentations((32, 32, 32), 3)]
    assert not np.allclose(discriminator(pair, training=True), discriminator(pair, training=True))
    np.testing.assert_array_equal(discriminator(pair, training=False), discriminator(pair, training=False))


def test_saved_networks_load_back_and_give_the_same_outputs(tmp_path):
    generator = vox2vox_generator((16, 16, 16, 2), **SMALL)
    discriminator = vox2vox_discriminator((32, 32, 32, 2), **SMALL)
    x = volumes((16, 16, 16, 2))
    pair = [volumes((32, 32, 32, 2)), segmentations((32, 32, 32), 3)]
    for model, inputs in ((generator, x), (discriminator, pair)):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)  # no custom_objects: the package's layers are registered
        np.testing.assert_allclose(loaded(inputs, training=False), model(inputs, training=False), rtol=1e-6,
                                   atol=1e-6)
        assert params_by_layer(loaded) == params_by_layer(model)


# Sizes and settings refused


def test_smallest_multiple_is_two_to_the_depth():
    assert smallest_multiple() == 16
    assert smallest_multiple(3) == 8


@pytest.mark.parametrize("shape", [(24, 16, 16, 1), (16, 16, 24, 1), (None, 8, 16, 1)])
def test_generator_refuses_sizes_that_are_not_multiples_of_16_in_one_line(shape):
    with pytest.raises(UserError, match="multiples of 16") as error:
        vox2vox_generator(shape, **SMALL)
    bad = next(n for n in shape[:3] if n is not None and n % 16)
    assert f"got {bad}" in str(error.value) and "\n" not in str(error.value)


def test_discriminator_refuses_sizes_that_are_not_multiples_of_8_or_that_leave_no_map():
    with pytest.raises(UserError, match="multiples of 8"):
        vox2vox_discriminator((20, 32, 32, 1), **SMALL)
    with pytest.raises(UserError, match="score map would be empty"):
        vox2vox_discriminator((16, 16, 16, 1), **SMALL)  # 2 after the steps -> 1 -> 0


@pytest.mark.parametrize("build", [vox2vox_generator, vox2vox_discriminator])
@pytest.mark.parametrize("shape, settings, message", [
    ((32, 32, 1), {}, "shape \\(D, H, W, C\\)"),
    ((32, 32, 32, 32, 1), {}, "shape \\(D, H, W, C\\)"),
    ((32, 32, 32, 1), {"classes": 1}, "at least 2 classes"),
    ((32, 32, 32, 1), {"filters": 0}, "at least 1 filter"),
    ((32, 32, 32, 1), {"dropout": 1.0}, "dropout must be in"),
    ((32, 32, 32, 1), {"depth": 0}, "at least 1 downsampling"),
])
def test_bad_settings_are_refused_in_one_line(build, shape, settings, message):
    with pytest.raises(UserError, match=message):
        build(shape, **{**SMALL, **settings})
