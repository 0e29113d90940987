"""Whole-volume inference in batches and in windows larger than the training patch: batching changes nothing
but float rounding, a window that takes the whole volume gives the network's own output on it, and a window
the network cannot take is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_mri.cli import segment as segment_cli
from cyclegan_mri.cli import translate as translate_cli
from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.volumetric import resnet_generator_3d
from cyclegan_mri.networks.vox2vox import vox2vox_generator
from cyclegan_mri.networks.windows import (
    DEFAULT_WINDOW,
    at_window,
    check_window,
    downsampling_factor,
    fit_window,
)
from cyclegan_mri.record import TrainOptions
from cyclegan_mri.segmentation.inference import Segmenter, segment_path
from cyclegan_mri.sliding_window import sliding_window_inference
from cyclegan_mri.volumetric.inference import predict_volume

FLOAT_ROUNDING = {"rtol": 0, "atol": 1e-5}


@pytest.fixture(scope="module")
def resnet():
    # As exported: a fixed input of the training patch, 8^3.
    return resnet_generator_3d((8, 8, 8, 1), filters=2, n_blocks=1)


@pytest.fixture(scope="module")
def unet():
    return vox2vox_generator((8, 8, 8, 2), classes=3, filters=2, depth=2, bottleneck_blocks=1)


def volume(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def one_window_at_a_time(network, data, pad_value):
    """The path before batching: the training patch, one eager network call per window."""
    patch = tuple(int(n) for n in network.input_shape[1:4])
    return sliding_window_inference(data, patch, lambda b: np.asarray(network(b, training=False)), overlap=0.5,
                                    batch_size=1, pad_value=pad_value)


def test_the_down_sampling_factors_of_both_generators(resnet, unet):
    assert downsampling_factor(resnet) == 4
    assert downsampling_factor(unet) == 4
    assert downsampling_factor(vox2vox_generator((16, 16, 16, 4), filters=1, bottleneck_blocks=0)) == 16


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_batched_translation_equals_one_window_at_a_time(resnet, batch_size):
    data = volume((14, 12, 10))
    expected = one_window_at_a_time(resnet, data[..., None], -1.0)[..., 0]
    got = predict_volume(resnet, data, batch_size=batch_size, window=None)
    np.testing.assert_allclose(got, expected, **FLOAT_ROUNDING)


def test_batched_segmentation_equals_one_window_at_a_time(unet):
    data = volume((12, 16, 10, 2), seed=1)
    expected = np.argmax(one_window_at_a_time(unet, data, 0.0), axis=-1)
    segmenter = Segmenter(unet, TrainOptions())
    np.testing.assert_array_equal(segmenter.classes(data, batch_size=5, window=None), expected)


def test_a_window_covering_the_volume_gives_the_network_on_the_whole_volume(resnet):
    # A window larger than this volume along every axis shrinks to the volume (a multiple of 4 already), so
    # there is one window and nothing to blend.
    data = volume((12, 16, 20), seed=2)
    whole = np.asarray(at_window(resnet, (12, 16, 20))(data[None, ..., None], training=False))[0, ..., 0]
    np.testing.assert_allclose(predict_volume(resnet, data, window=(128, 128, 128)), whole, **FLOAT_ROUNDING)


def test_a_larger_window_sees_more_context_so_its_output_differs_a_little(resnet):
    data = volume((24, 24, 24), seed=3)
    patchwise = predict_volume(resnet, data, window=None)
    larger = predict_volume(resnet, data, window=(16, 16, 16))
    assert not np.allclose(patchwise, larger, atol=1e-5)
    assert larger.shape == patchwise.shape and np.all(np.abs(larger) <= 1)


def test_the_window_shrinks_to_the_volume_rounded_up_to_the_networks_multiple(resnet):
    assert fit_window(resnet, (128, 128, 128), (240, 240, 155)) == (128, 128, 128)
    assert fit_window(resnet, (160, 160, 160), (240, 240, 155)) == (160, 160, 156)
    assert fit_window(resnet, (64, 64, 64), (10, 64, 33)) == (12, 64, 36)


@pytest.mark.parametrize("window, needs", [((30, 32, 32), "multiple of 4"), ((2, 8, 8), "multiple of 4"),
                                           ((8, 8), "three whole sizes")])
def test_a_window_the_network_cannot_take_is_refused_in_one_line(resnet, window, needs):
    with pytest.raises(UserError, match=needs) as error:
        check_window(resnet, window)
    assert "\n" not in str(error.value)


def test_segment_refuses_a_window_before_looking_for_cases(unet, tmp_path):
    with pytest.raises(UserError, match=r"--window 12 16 18: .* multiple of 4"):
        segment_path(Segmenter(unet, TrainOptions()), tmp_path / "missing", tmp_path / "out", window=(12, 16, 18))


def test_the_commands_default_window_is_the_inference_default():
    # Repeated in the command so that --help loads no TensorFlow.
    assert translate_cli.parser().parse_args(["--out", "r", "--input", "i", "--output", "o"]).window \
        == DEFAULT_WINDOW
    assert segment_cli.parser().parse_args(["--out", "r", "--input", "i", "--output", "o"]).window == DEFAULT_WINDOW
    assert segment_cli.parser().parse_args(["--out", "r", "--input", "i", "--output", "o", "--window", "64", "64",
                                            "48"]).window == [64, 64, 48]
