"""The 3D CycleGAN networks: sizes layer by layer, shapes of any volume, float32 outputs, exact border padding."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import conv_parameters, norm_parameters

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks import (DISCRIMINATORS, DISCRIMINATORS_3D, GENERATORS, GENERATORS_3D,
                                   build_discriminator, build_generator)
from cyclegan_mri.networks.layers import CropLike, PadToMultiple, Padding3D
from cyclegan_mri.networks.volumetric import resnet_generator_3d


def volumes(shape, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)


def layers_of(model: keras.Model, kind: type) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind)]


# Sizes, layer by layer


def resnet_3d_params(channels: int, f: int, n_blocks: int) -> int:
    c7s1_f = conv_parameters(7, channels, f) + norm_parameters(f)
    d2f = conv_parameters(3, f, 2 * f) + norm_parameters(2 * f)
    d4f = conv_parameters(3, 2 * f, 4 * f) + norm_parameters(4 * f)
    r4f = 2 * (conv_parameters(3, 4 * f, 4 * f) + norm_parameters(4 * f))
    u2f = conv_parameters(3, 4 * f, 2 * f) + norm_parameters(2 * f)  # transposed: the same count as a convolution
    uf = conv_parameters(3, 2 * f, f) + norm_parameters(f)
    c7s1_c = conv_parameters(7, f, channels)  # no norm at the output
    return c7s1_f + d2f + d4f + n_blocks * r4f + u2f + uf + c7s1_c


def patchgan_3d_params(channels: int, f: int, n_layers: int = 3) -> int:
    widths = [f * min(2 ** i, 8) for i in range(n_layers + 1)]  # 64, 128, 256, 512
    c64 = conv_parameters(4, channels, widths[0])  # no norm on the first layer
    normed = sum(conv_parameters(4, c_in, c_out) + norm_parameters(c_out) for c_in, c_out in zip(widths, widths[1:]))
    return c64 + normed + conv_parameters(4, widths[-1], 1)


@pytest.mark.parametrize("name, n_blocks", [("resnet9_3d", 9), ("resnet6_3d", 6)])
def test_generator_has_the_references_layers_at_its_sizes(name, n_blocks):
    # The count does not depend on the volume's size: a network for any size has the same weights.
    generator = build_generator(name, (None, None, None, 1), filters=64)
    assert generator.count_params() == resnet_3d_params(channels=1, f=64, n_blocks=n_blocks)


def test_discriminator_has_the_references_layers_at_its_sizes():
    discriminator = build_discriminator("patchgan3d", (None, None, None, 1), filters=64)
    assert discriminator.count_params() == patchgan_3d_params(channels=1, f=64)


def test_the_3d_networks_are_chosen_by_name_apart_from_the_2d_ones():
    assert set(GENERATORS_3D) == {"resnet6_3d", "resnet9_3d"} and set(DISCRIMINATORS_3D) == {"patchgan3d"}
    # Code and tests that take "every generator" build slices: they see no 3D network.
    assert not set(GENERATORS) & set(GENERATORS_3D) and not set(DISCRIMINATORS) & set(DISCRIMINATORS_3D)


# Generator


@pytest.mark.parametrize("padding", ["replicate", "reflect", "zero"])
def test_odd_sizes_come_back_in_float32_and_in_tanh_range_under_mixed_precision(padding, mixed_bfloat16):
    shape = (9, 13, 6, 1)
    generator = build_generator("resnet6_3d", shape, filters=2, padding=padding)
    assert generator.get_layer("down0_conv").compute_dtype == "bfloat16"
    y = np.asarray(generator(volumes(shape), training=False))
    assert generator.output_shape == (None, *shape)
    assert y.shape == (2, *shape) and y.dtype == np.float32
    assert -1 < y.min() and y.max() < 1 and y.std() > 0


def test_residual_blocks_add_so_the_bottleneck_stays_at_4f_channels():
    generator = resnet_generator_3d((16, 12, 8, 1), filters=2, n_blocks=3)
    adds = layers_of(generator, keras.layers.Add)
    assert [add.output.shape[1:] for add in adds] == [(4, 3, 2, 8)] * 3  # 4f = 8 channels at 1/4 of each axis
    assert generator.get_layer("out_conv").output.shape[-1] == 1


def test_padding_is_replication_by_default_and_zeros_add_no_layer_nor_weight():
    replicate = resnet_generator_3d((8, 8, 8, 1), filters=2, n_blocks=2)
    zero = resnet_generator_3d((8, 8, 8, 1), filters=2, n_blocks=2, padding="zero")
    pads = layers_of(replicate, Padding3D)
    assert len(pads) == 2 + 2 * 2  # the two 7x7x7 convolutions and the two of each block
    assert {pad.mode for pad in pads} == {"replicate"}
    assert layers_of(zero, Padding3D) == [] and zero.count_params() == replicate.count_params()


def test_a_network_for_any_size_takes_two_sizes_and_is_the_fixed_size_network():
    any_size = build_generator("resnet6_3d", (None, None, None, 1), filters=2)
    for shape in ((8, 12, 16, 1), (9, 5, 7, 1)):
        assert any_size(volumes(shape, batch=1)).shape == (1, *shape)
    fixed = build_generator("resnet6_3d", (9, 5, 7, 1), filters=2)
    fixed.set_weights(any_size.get_weights())
    x = volumes((9, 5, 7, 1))
    np.testing.assert_allclose(np.asarray(any_size(x)), np.asarray(fixed(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("padding", ["replicate", "reflect"])
def test_saved_generator_loads_back_and_gives_the_same_output(padding, tmp_path):
    generator = resnet_generator_3d((9, 6, 5, 1), filters=2, n_blocks=1, padding=padding)
    generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    x = volumes((9, 6, 5, 1))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(generator(x)))


@pytest.mark.parametrize("shape", [(3, 16, 16, 1), (16, 16, 2, 1), (None, 3, None, 1)])
def test_volumes_smaller_than_the_two_strides_are_refused_in_one_line(shape):
    with pytest.raises(UserError, match="at least 4x4x4") as error:
        build_generator("resnet9_3d", shape)
    assert "\n" not in str(error.value)


def test_reflection_needs_two_voxels_at_the_bottleneck():
    # 4 stays 4, and 1 voxel at 1/4 cannot be mirrored; 5 is padded to 8, which leaves 2.
    with pytest.raises(UserError, match="at least 5x5x5"):
        resnet_generator_3d((4, 8, 8, 1), filters=2, n_blocks=1, padding="reflect")
    generator = resnet_generator_3d((5, 8, 8, 1), filters=2, n_blocks=1, padding="reflect")
    assert generator(volumes((5, 8, 8, 1))).shape == (2, 5, 8, 8, 1)
    assert resnet_generator_3d((4, 4, 4, 1), filters=2, n_blocks=1)(volumes((4, 4, 4, 1))).shape == (2, 4, 4, 4, 1)


@pytest.mark.parametrize("name", ["resnet9_3d", "patchgan3d"])
def test_slices_are_refused_by_the_3d_networks(name):
    build = build_generator if name in GENERATORS_3D else build_discriminator
    with pytest.raises(UserError, match=r"\(D, H, W, C\)"):
        build(name, (32, 32, 1))


# Discriminator


def test_discriminator_gives_a_float32_logit_map_an_eighth_of_the_volume(mixed_bfloat16):
    discriminator = build_discriminator("patchgan3d", (32, 32, 32, 1), filters=2)
    assert discriminator.output_shape == (None, 4, 4, 4, 1)  # three stride-2 convolutions, "same" padding
    logits = np.asarray(discriminator(volumes((32, 32, 32, 1)), training=False))
    assert logits.shape == (2, 4, 4, 4, 1) and logits.dtype == np.float32
    assert [layer.strides for layer in layers_of(discriminator, keras.layers.Conv3D)] == [(2, 2, 2)] * 3 + [
        (1, 1, 1)] * 2


# Padding layers


@pytest.mark.parametrize("mode, numpy_mode", [("replicate", "edge"), ("reflect", "reflect")])
@pytest.mark.parametrize("padding, pads", [(2, [(2, 2)] * 3), (((0, 3), (1, 0), (2, 1)), [(0, 3), (1, 0), (2, 1)])])
def test_padding_matches_numpy_exactly(mode, numpy_mode, padding, pads):
    x = volumes((5, 4, 6, 3))
    layer = Padding3D(padding, mode=mode)
    expected = np.pad(x, [(0, 0), *pads, (0, 0)], mode=numpy_mode)
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    assert layer.compute_output_shape((None, 5, None, 6, 3)) == (None, 5 + sum(pads[0]), None, 6 + sum(pads[2]), 3)


def test_replication_repeats_the_edge_where_a_mirror_could_not():
    x = volumes((2, 1, 3, 1))
    padded = np.asarray(Padding3D(3, mode="replicate")(x))  # more than each axis holds: only replication can
    np.testing.assert_array_equal(padded, np.pad(x, [(0, 0), (3, 3), (3, 3), (3, 3), (0, 0)], mode="edge"))


@pytest.mark.parametrize("mode", ["replicate", "reflect"])
def test_a_model_with_the_padding_saves_and_reloads_with_the_same_output(mode, tmp_path):
    inputs = keras.Input((5, 4, 6, 2))
    padded = Padding3D(((1, 2), (0, 1), (3, 0)), mode=mode, name="pad")(inputs)
    model = keras.Model(inputs, keras.layers.Conv3D(2, 3, name="conv")(padded))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("pad").get_config()["mode"] == mode
    x = volumes((5, 4, 6, 2))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_padding_to_a_multiple_and_cropping_back_work_on_volumes():
    pad = PadToMultiple(4)
    for shape in ((1, 9, 6, 5, 2), (2, 8, 8, 4, 1)):
        x = volumes(shape[1:], batch=shape[0])
        ends = [(0, -n % 4) for n in shape[1:4]]
        padded = np.asarray(pad(x))
        np.testing.assert_array_equal(padded, np.pad(x, [(0, 0), *ends, (0, 0)], mode="reflect"))
        np.testing.assert_array_equal(np.asarray(CropLike()([padded, x])), x)
    assert pad.compute_output_shape((None, 9, None, 5, 1)) == (None, 12, None, 8, 1)
    assert CropLike().compute_output_shape([(None, 12, 8, 8, 3), (None, 9, 6, 5, 1)]) == (None, 9, 6, 5, 3)


def test_bad_padding_settings_are_refused():
    with pytest.raises(ValueError, match="mode"):
        Padding3D(1, mode="symmetric")
    with pytest.raises(ValueError, match="negative"):
        Padding3D(((0, -1), (0, 0), (0, 0)))
    with pytest.raises(UserError, match="replicate"):
        resnet_generator_3d((8, 8, 8, 1), padding="mirror")
