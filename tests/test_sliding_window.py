"""Sliding-window inference gives, for a voxel-wise network, exactly what the network gives on the whole volume."""

from __future__ import annotations

import contextlib
import io
import itertools
import subprocess
import sys
import types

import numpy as np
import pytest

from cyclegan_mri.errors import UserError
from cyclegan_mri.progress import Progress
from cyclegan_mri.sliding_window import WEIGHT_FLOOR, blending_weights, sliding_window_inference, window_starts

EXACT = {"rtol": 0, "atol": 1e-5}  # float32 precision on values of order 1


def random_volume(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(np.float32)


def identity(batch: np.ndarray) -> np.ndarray:
    return batch


# --- window_starts ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size, patch, overlap, starts", [
    (10, 4, 0.5, [0, 2, 4, 6]),               # step 2 lands on the edge: nothing to snap
    (10, 4, 0.0, [0, 4, 6]),                  # step 4; the window at 8 would leave the array: snapped to 6
    (7, 4, 0.5, [0, 2, 3]),                   # step 2, last snapped from 4 to 3
    (11, 5, 0.25, [0, 3, 6]),                 # 5 * 0.75 = 3.75 rounds down to 3
    (10, 4, 0.9, [0, 1, 2, 3, 4, 5, 6]),      # 4 * 0.1 = 0.4 rounds down to 0, raised to 1
    (30, 20, 0.9, [0, 2, 4, 6, 8, 10]),       # 20 * (1 - 0.9) is 2, though binary floats give 1.9999999999999996
    (5, 1, 0.0, [0, 1, 2, 3, 4]),
    (4, 4, 0.5, [0]),                         # size == patch: one window
    (3, 8, 0.5, [0]),                         # size < patch: one window (the volume is padded)
])
def test_window_starts_examples(size, patch, overlap, starts):
    assert window_starts(size, patch, overlap) == starts


@pytest.mark.parametrize("overlap", [0, 0.25, 0.5, 0.75, 0.9])
def test_windows_start_at_0_end_at_the_edge_and_cover_every_index(overlap):
    for size, patch in itertools.product(range(1, 40), range(1, 20)):
        starts = window_starts(size, patch, overlap)
        assert starts[0] == 0 and starts[-1] == max(0, size - patch)
        covered = set().union(*(range(s, s + patch) for s in starts))
        assert covered >= set(range(size))
        step = max(1, int(patch * (1 - overlap) + 1e-9))
        gaps = np.diff(starts)
        # Every step as documented but the last, which is at most one step (the snapped window).
        assert all(gaps[:-1] == step) and all(0 < gaps[-1:]) and all(gaps[-1:] <= step)


# --- blending_weights ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("patch", [(9,), (7, 5), (9, 7, 5), (8, 6), (8, 7, 1)])
def test_gaussian_weights_are_positive_symmetric_and_largest_at_the_centre(patch):
    weights = blending_weights(patch)
    assert weights.shape == patch and weights.dtype == np.float32
    assert weights.min() > 0 and weights.max() == pytest.approx(1)
    for axis in range(len(patch)):
        np.testing.assert_array_equal(weights, np.flip(weights, axis))
    # The centre voxel, or on an even axis its two middle voxels, hold the maximum.
    centre = tuple(slice((p - 1) // 2, p // 2 + 1) for p in patch)
    np.testing.assert_allclose(weights[centre], weights.max(), rtol=1e-6)
    outside = np.ones(patch, bool)
    outside[centre] = False
    assert (weights[outside] < weights.max()).all()


def test_gaussian_sigma_is_sigma_scale_times_the_patch_size_on_each_axis():
    weights = blending_weights((17, 9), sigma_scale=4 / 17)        # sigma 4 voxels along axis 0
    assert weights[8 + 4, 4] == pytest.approx(np.exp(-0.5), rel=1e-6)
    assert weights[8, 4 + 1] == pytest.approx(np.exp(-0.5 * (1 / (9 * 4 / 17)) ** 2), rel=1e-6)


def test_gaussian_weights_never_reach_zero():
    weights = blending_weights((31, 31, 31), sigma_scale=0.01)
    assert weights.min() == pytest.approx(WEIGHT_FLOOR) and weights.max() == 1


def test_constant_weights_are_all_ones():
    np.testing.assert_array_equal(blending_weights((4, 3, 2), "constant"), np.ones((4, 3, 2)))


# --- sliding_window_inference ----------------------------------------------------------------------------------

@pytest.mark.parametrize("patch", [
    (4, 4, 4),        # smaller than the volume on every axis
    (13, 5, 10),      # equal, smaller, larger
    (5, 16, 7),       # smaller, larger, equal
    (16, 12, 8),      # larger on every axis: one padded window
])
@pytest.mark.parametrize("overlap", [0, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("blend", ["gaussian", "constant"])
@pytest.mark.parametrize("batch_size, channels", [(1, 1), (3, 2), (8, 3)])
def test_an_identity_predictor_gives_back_the_volume(patch, overlap, blend, batch_size, channels):
    # Also shows there is no epsilon in the denominator: the corners of a volume are covered by one Gaussian
    # window only, where the weight is the floor (1e-4); an epsilon would pull them towards 0.
    volume = random_volume((13, 9, 7, channels))
    result = sliding_window_inference(volume, patch, identity, overlap=overlap, blend=blend, batch_size=batch_size)
    assert result.shape == volume.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, volume, **EXACT)


@pytest.mark.parametrize("function", [lambda x: 2 * x + 1, lambda x: x ** 2], ids=["2x+1", "x^2"])
@pytest.mark.parametrize("blend", ["gaussian", "constant"])
def test_a_voxelwise_predictor_gives_the_same_result_with_one_window_and_with_many(function, blend):
    volume = random_volume((12, 10, 9, 2), seed=1)
    one = sliding_window_inference(volume, volume.shape[:-1], function, blend=blend)
    many = sliding_window_inference(volume, (4, 3, 5), function, overlap=0.5, blend=blend, batch_size=4)
    most = sliding_window_inference(volume, (3, 3, 3), function, overlap=0.9, blend=blend, batch_size=16)
    for result in (one, many, most):
        np.testing.assert_allclose(result, function(volume), **EXACT)


def test_the_result_has_the_input_spatial_shape_and_the_predictor_channels():
    volume = random_volume((11, 6, 9, 1))
    result = sliding_window_inference(volume, (4, 8, 4), lambda b: np.concatenate([b, -b], axis=-1))
    assert result.shape == (11, 6, 9, 2) and result.dtype == np.float32
    np.testing.assert_allclose(result, np.concatenate([volume, -volume], axis=-1), **EXACT)


def test_the_result_is_float32_whatever_the_input_type():
    volume = np.arange(5 * 6 * 7).reshape(5, 6, 7, 1).astype(np.uint16)
    result = sliding_window_inference(volume, (3, 3, 3), identity)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, volume, rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 2, 5, 64])
def test_windows_are_predicted_in_batches_of_at_most_batch_size(batch_size):
    seen = []

    def predict(batch):
        seen.append(len(batch))
        return batch

    volume = random_volume((10, 9, 8, 1))
    sliding_window_inference(volume, (4, 4, 4), predict, overlap=0.5, batch_size=batch_size)
    windows = len(window_starts(10, 4, 0.5)) * len(window_starts(9, 4, 0.5)) * len(window_starts(8, 4, 0.5))
    assert sum(seen) == windows == 4 * 4 * 3
    assert all(size == batch_size for size in seen[:-1]) and 0 < seen[-1] <= batch_size


@pytest.mark.parametrize("pad_value", [None, -9.0])
def test_a_volume_smaller_than_the_patch_is_padded_centred_and_cropped_back(pad_value):
    volume = random_volume((3, 5, 1))
    seen = []

    def predict(batch):
        seen.append(batch.copy())
        return batch

    result = sliding_window_inference(volume, (6, 5), predict, pad_value=pad_value)
    np.testing.assert_allclose(result, volume, **EXACT)
    (window,) = seen[0]
    # 3 rows padded to 6: one row before the content, two after.
    np.testing.assert_array_equal(window[1:4], volume)
    if pad_value is None:
        np.testing.assert_array_equal(window[:1], volume[:1])
        np.testing.assert_array_equal(window[4:], volume[[-1, -1]])
    else:
        assert (window[[0, 4, 5]] == pad_value).all()


@pytest.mark.parametrize("patch", [(8, 5), (4, 4), (20, 3), (17, 12)])
@pytest.mark.parametrize("overlap", [0, 0.5, 0.9])
def test_two_dimensional_input_works_too(patch, overlap):
    image = random_volume((17, 12, 3))
    np.testing.assert_allclose(sliding_window_inference(image, patch, identity, overlap=overlap), image, **EXACT)
    np.testing.assert_allclose(sliding_window_inference(image, patch, np.sqrt, overlap=overlap, batch_size=4),
                               np.sqrt(image), **EXACT)


def test_progress_prints_the_title_and_counts_the_windows(monkeypatch, capsys):
    bars = []

    class Progbar:
        def __init__(self, target, **kwargs):
            self.target, self.count = target, 0
            bars.append(self)

        def add(self, n):
            self.count += n

    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(utils=types.SimpleNamespace(Progbar=Progbar)))
    monkeypatch.setattr("cyclegan_mri.progress._is_terminal", lambda: True)  # the live bar is for terminals
    sliding_window_inference(random_volume((10, 9, 8, 1)), (4, 4, 4), identity, batch_size=5, progress="Volume 1")
    assert "Volume 1" in capsys.readouterr().out
    (bar,) = bars
    assert bar.target == bar.count == 4 * 4 * 3


def test_the_module_does_not_import_keras():
    code = ("import sys, cyclegan_mri.sliding_window as m; import numpy as np; "
            "m.sliding_window_inference(np.ones((4, 4, 1)), (2, 2), lambda b: b); "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"overlap": 1.0}, "--overlap 1.0: must be at least 0 and below 1"),
    ({"overlap": -0.1}, "--overlap -0.1: must be at least 0 and below 1"),
    ({"overlap": float("nan")}, "--overlap nan"),
    ({"blend": "median"}, "--blend median: must be one of gaussian, constant"),
    ({"patch": (4, 0, 4)}, "--patch 4 0 4: every patch size must be at least 1"),
    ({"patch": (4, -2, 4)}, "--patch 4 -2 4: every patch size must be at least 1"),
    ({"patch": (4, 2.5, 4)}, "--patch 4 2.5 4: every patch size must be a whole number"),
    ({"patch": (4, 4)}, "for a 2-D patch: expected 2 spatial axes and a channel axis"),
    ({"batch_size": 0}, "--batch 0: must be a whole number of at least 1"),
    ({"predict": lambda b: b[:, :2]}, "the predictor returned shape (1, 2, 4, 4, 1)"),
])
def test_bad_arguments_give_one_line_user_errors(kwargs, message):
    arguments = {"volume": random_volume((6, 6, 6, 1)), "patch": (4, 4, 4), "predict": identity, **kwargs}
    with pytest.raises(UserError) as error:
        sliding_window_inference(**arguments)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_helpers_check_their_arguments_too():
    with pytest.raises(UserError, match="--overlap"):
        window_starts(10, 4, 1)
    with pytest.raises(UserError, match="--patch"):
        window_starts(10, 0, 0.5)
    with pytest.raises(UserError, match="--blend"):
        blending_weights((4, 4), "triangle")
    with pytest.raises(UserError, match="--patch"):
        blending_weights((4, 0), "constant")


def test_progress_in_a_log_is_a_few_lines_whatever_the_window_count(capsys):
    # capsys is no terminal, as a log file is not: 1,936 windows give the title and a line per quarter.
    sliding_window_inference(random_volume((90, 90, 1)), (4, 4), identity, progress="Volume 2")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Volume 2"
    assert 2 <= len(lines) <= 1 + 4
    assert lines[-1].startswith("  1936/1936 windows, ") and lines[-1].endswith(" s")
    assert "\r" not in "".join(lines) and "\x08" not in "".join(lines)


def test_progress_in_a_log_says_each_quarter_once_when_batches_jump_past_several():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        progress = Progress("title", 8, "window", live=False)
        progress.add(5)   # past the first and second quarters at once: one line
        progress.add(3)
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == ["title", "  5/8 windows", "  8/8 windows"]
