"""The CycleGAN paper's generators: ResNet (6 or 9 additive blocks) and pix2pix U-Net, chosen by name."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks import GENERATORS, build_generator
from cyclegan_mri.networks.layers import ReflectionPadding2D
from cyclegan_mri.networks.resnet import resnet_generator
from cyclegan_mri.networks.unet import default_depth, unet_generator


def images(shape, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)


def layers_of(model: keras.Model, kind: type) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind)]


# Every registered generator


@pytest.mark.parametrize("name", ["resnet6", "resnet9", "unet"])
def test_paper_generators_are_registered(name):
    assert name in GENERATORS and "tutorial" in GENERATORS


@pytest.mark.parametrize("shape", [(24, 20, 1), (220, 184, 1)])
@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_every_generator_keeps_the_image_shape_and_stays_in_tanh_range(name, shape):
    generator = build_generator(name, shape, filters=2)
    y = np.asarray(generator(images(shape), training=False))
    assert generator.output_shape == (None, *shape)
    assert y.shape == (2, *shape) and y.dtype == np.float32
    assert y.min() >= -1.0 and y.max() <= 1.0 and y.std() > 0


@pytest.mark.parametrize("name", ["resnet9", "unet"])
def test_build_generator_passes_options_through_the_registry(name):
    generator = build_generator(name, (16, 12, 1), filters=4, name="generator_g")
    assert generator.name == "generator_g"
    assert generator(images((16, 12, 1)), training=False).shape == (2, 16, 12, 1)


# ResNet


def residual_block_params(filters: int) -> int:
    width = 4 * filters
    conv = 3 * 3 * width * width + width  # 3x3 kernel 4f -> 4f, plus bias
    norm = 2 * width  # InstanceNormalization: scale and offset per channel
    return 2 * conv + 2 * norm


def test_resnet_blocks_add_so_the_bottleneck_stays_at_4f_channels():
    generator = build_generator("resnet9", (16, 12, 1), filters=4)
    adds = layers_of(generator, keras.layers.Add)
    assert len(adds) == 9
    assert [add.output.shape[1:] for add in adds] == [(4, 3, 16)] * 9  # 4f = 16 channels at 1/4 resolution


def test_resnet9_has_exactly_three_blocks_more_than_resnet6():
    resnet6 = build_generator("resnet6", (16, 12, 1), filters=4)
    resnet9 = build_generator("resnet9", (16, 12, 1), filters=4)
    assert residual_block_params(4) == 4704
    assert resnet9.count_params() - resnet6.count_params() == 3 * residual_block_params(4)
    assert len(layers_of(resnet6, keras.layers.Add)) == 6


def test_resnet_pads_by_reflection_by_default_and_by_zeros_on_request():
    reflect = resnet_generator((16, 12, 1), filters=4, n_blocks=2)
    zero = resnet_generator((16, 12, 1), filters=4, n_blocks=2, padding="zero")
    # The two 7x7 convolutions and the two in each block.
    assert len(layers_of(reflect, ReflectionPadding2D)) == 2 + 2 * 2
    assert layers_of(zero, ReflectionPadding2D) == []
    assert zero.count_params() == reflect.count_params()
    assert zero(images((16, 12, 1)), training=False).shape == (2, 16, 12, 1)


def test_resnet_output_is_not_normalised():
    generator = build_generator("resnet6", (16, 12, 1), filters=4)
    assert generator.get_layer("out_conv").output.shape[-1] == 1
    assert "out_norm" not in [layer.name for layer in generator.layers]


@pytest.mark.parametrize("architecture", ["tutorial", "resnet6", "unet"])
def test_every_generator_keeps_sizes_that_its_strides_do_not_divide(architecture):
    generator = build_generator(architecture, (30, 21, 1), filters=4)
    image = tf.random.uniform((2, 30, 21, 1), -1, 1)
    assert generator(image).shape == (2, 30, 21, 1)
    # The padding mirrors the image: the bottom rows see what they would see inside it, not zeros.
    assert "pad" in [layer.name for layer in generator.layers]


def test_generators_add_no_padding_where_the_size_fits():
    generator = build_generator("tutorial", (32, 24, 1), filters=4)
    assert not {"pad", "crop"} & {layer.name for layer in generator.layers}


# Reflection padding


def test_reflection_padding_matches_numpy_and_round_trips_through_its_config():
    x = images((5, 4, 3), batch=2)
    layer = ReflectionPadding2D(2)
    y = np.asarray(layer(x))
    np.testing.assert_array_equal(y, np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect"))
    assert layer.compute_output_shape((None, 5, 4, 3)) == (None, 9, 8, 3)
    clone = ReflectionPadding2D.from_config(layer.get_config())
    assert clone.get_config()["padding"] == 2
    np.testing.assert_array_equal(np.asarray(clone(x)), y)


def test_reflection_padding_can_pad_only_the_bottom_and_right():
    x = images((5, 4, 1), batch=1)
    layer = ReflectionPadding2D(((0, 3), (0, 1)))
    np.testing.assert_array_equal(np.asarray(layer(x)), np.pad(x, [(0, 0), (0, 3), (0, 1), (0, 0)], mode="reflect"))
    # A saved config holds lists, not tuples.
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(layer(x)))


@pytest.mark.parametrize("name, shape", [("resnet6", (16, 12, 1)), ("unet", (30, 22, 1))])
def test_saved_generator_loads_back_and_gives_the_same_output(name, shape, tmp_path):
    generator = build_generator(name, shape, filters=4)
    generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    x = images(shape)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), np.asarray(generator(x, training=False)),
                               rtol=1e-6, atol=1e-6)


# U-Net


def test_unet_default_depth_halves_the_smaller_side_down_to_at_least_one_pixel():
    assert default_depth(220, 184) == 7
    assert default_depth(30, 22) == 4
    assert default_depth(256, 256) == 8
    assert default_depth(1024, 1024) == 8
    generator = build_generator("unet", (256, 256, 1), filters=2)
    assert generator.get_layer("down7_conv").output.shape[1:3] == (1, 1)  # pix2pix's unet_256 bottleneck


def test_unet_concatenates_each_decoder_output_with_its_encoder_twin():
    generator = build_generator("unet", (30, 22, 1), filters=4)  # depth 4
    concats = layers_of(generator, keras.layers.Concatenate)
    assert len(concats) == 4 - 1  # every downsampling but the outermost has a skip
    # Deepest first: 4f + 4f at 1/8 of the padded 32x32, then 2f + 2f, then f + f.
    assert [concat.output.shape[1:] for concat in concats] == [(4, 4, 32), (8, 8, 16), (16, 16, 8)]


def test_unet_widths_double_up_to_8f():
    generator = unet_generator((64, 64, 1), filters=2, depth=6)
    widths = [generator.get_layer(f"down{i}_conv").output.shape[-1] for i in range(6)]
    assert widths == [2, 4, 8, 16, 16, 16]


def test_unet_odd_sizes_come_back_exactly_and_undistorted():
    odd = unet_generator((30, 22, 1), filters=4, depth=4)
    even = unet_generator((32, 32, 1), filters=4, depth=4)
    even.set_weights(odd.get_weights())
    x = images((30, 22, 1))
    y = np.asarray(odd(x, training=False))
    assert y.shape == (2, 30, 22, 1)
    # The same as mirroring at the bottom/right by hand and cutting the result back: no resizing, no shift.
    padded = np.pad(x, [(0, 0), (0, 2), (0, 10), (0, 0)], mode="reflect")
    np.testing.assert_allclose(y, np.asarray(even(padded, training=False))[:, :30, :22], rtol=1e-5, atol=1e-6)


def test_unet_dropout_is_active_only_when_training():
    generator = build_generator("unet", (30, 22, 1), filters=4)
    assert len(layers_of(generator, keras.layers.Dropout)) == 3
    x = images((30, 22, 1))
    np.testing.assert_array_equal(np.asarray(generator(x, training=False)), np.asarray(generator(x, training=False)))
    assert not np.allclose(np.asarray(generator(x, training=True)), np.asarray(generator(x, training=True)))


def test_unet_without_dropout_is_deterministic_when_training():
    generator = build_generator("unet", (30, 22, 1), filters=4, dropout=0.0)
    assert layers_of(generator, keras.layers.Dropout) == []
    x = images((30, 22, 1))
    np.testing.assert_array_equal(np.asarray(generator(x, training=True)), np.asarray(generator(x, training=True)))


def test_unet_batch_norm_replaces_instance_norm():
    generator = build_generator("unet", (30, 22, 1), filters=4, norm="batch")
    assert len(layers_of(generator, keras.layers.BatchNormalization)) == 2 + 3  # down1..2, up1..3
    assert generator(images((30, 22, 1)), training=True).shape == (2, 30, 22, 1)


def test_unet_rejects_a_depth_that_reflection_cannot_pad_to():
    with pytest.raises(UserError, match="too deep"):
        unet_generator((30, 22, 1), filters=4, depth=6)  # 22 -> 64 needs 42 mirrored columns
