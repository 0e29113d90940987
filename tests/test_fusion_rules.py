"""Classical pixel-level fusion rules: identities, hand-made cases, odd sizes, range and input checks."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_mri.fusion.metrics import average_gradient, q_abf
from cyclegan_mri.fusion.rules import RULES, average, fuse, laplacian_pyramid, maximum


def random_image(shape=(32, 32), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape)


def shapes_image(shape=(64, 64)):
    image = np.full(shape, 60.0)
    image[10:30, 8:24] = 200
    image[40:56, 12:20] = 150
    image[20:50, 40:44] = 250
    return image


def test_rules_by_name():
    assert RULES == {"average": average, "maximum": maximum, "laplacian": laplacian_pyramid}


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("shape", [(64, 64), (37, 29), (5, 7), (1, 1), (2, 9)])
def test_fusing_an_image_with_itself_gives_it_back(rule, shape):
    image = random_image(shape)
    fused = fuse(rule, image, image)
    assert fused.shape == shape and fused.dtype == np.float64
    np.testing.assert_allclose(fused, image, rtol=1e-6, atol=1e-9)


def test_uint8_inputs():
    image = random_image().astype(np.uint8)
    for rule in RULES:
        np.testing.assert_allclose(fuse(rule, image, image), image, rtol=1e-6, atol=1e-9)


def test_average_and_maximum_by_hand():
    a = np.array([[0.0, 10.0], [255.0, 100.0]])
    b = np.array([[20.0, 0.0], [255.0, 51.0]])
    np.testing.assert_array_equal(average(a, b), [[10.0, 5.0], [255.0, 75.5]])
    np.testing.assert_array_equal(maximum(a, b), [[20.0, 10.0], [255.0, 100.0]])
    np.testing.assert_array_equal(fuse("average", a, b), average(a, b))


def test_laplacian_keeps_the_edges_of_one_source_against_a_flat_one():
    a = shapes_image()
    for level in (0.0, 128.0):
        flat = np.full(a.shape, level)
        pyramid, mean = laplacian_pyramid(a, flat), average(a, flat)
        assert average_gradient(pyramid) > 0.9 * average_gradient(a)
        assert average_gradient(mean) == pytest.approx(average_gradient(a) / 2)
        assert q_abf(a, flat, pyramid) > q_abf(a, flat, mean) + 0.2


def test_laplacian_takes_the_stronger_detail():
    a = shapes_image()
    b = np.full(a.shape, 60.0)
    b[:, 30:] = shapes_image()[:, ::-1][:, 30:]  # other edges, on the right
    fused = laplacian_pyramid(a, b)
    assert q_abf(a, b, fused) > q_abf(a, b, average(a, b)) + 0.2


@pytest.mark.parametrize("shape", [(37, 29), (5, 7), (3, 64), (1, 10)])
def test_odd_and_tiny_sizes(shape):
    a, b = random_image(shape, seed=1), random_image(shape, seed=2)
    for levels in (1, 4, 10):
        fused = laplacian_pyramid(a, b, levels=levels)
        assert fused.shape == shape and np.all(np.isfinite(fused))


def test_levels_are_capped_by_the_image_size():
    a, b = random_image((5, 7), seed=1), random_image((5, 7), seed=2)
    # 5x7 -> 3x4 -> 2x2 -> 1x1: three halvings at most.
    np.testing.assert_array_equal(laplacian_pyramid(a, b, levels=10), laplacian_pyramid(a, b, levels=3))
    assert not np.array_equal(laplacian_pyramid(a, b, levels=2), laplacian_pyramid(a, b, levels=3))


def test_no_levels_is_the_average():
    a, b = random_image(seed=1), random_image(seed=2)
    np.testing.assert_allclose(laplacian_pyramid(a, b, levels=0), average(a, b))


@pytest.mark.parametrize("levels", [-1, 1.5, True])
def test_bad_levels_raise(levels):
    with pytest.raises(ValueError, match="levels"):
        laplacian_pyramid(np.zeros((8, 8)), np.zeros((8, 8)), levels=levels)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_output_stays_in_range(rule):
    rng = np.random.default_rng(3)
    # Hard 0/255 edges make the largest detail coefficients, which overshoot before clipping.
    a = 255.0 * (rng.random((37, 29)) > 0.5)
    b = np.zeros((37, 29))
    b[10:30, 5:20] = 255
    fused = fuse(rule, a, b)
    assert fused.min() >= 0 and fused.max() <= 255


def test_channel_last_images():
    a, b = random_image(seed=1)[..., None], random_image(seed=2)[..., None]
    fused = laplacian_pyramid(a, b)
    assert fused.shape == (32, 32, 1)
    np.testing.assert_array_equal(fused[..., 0], laplacian_pyramid(a[..., 0], b[..., 0]))


@pytest.mark.parametrize("rule", sorted(RULES))
def test_shape_mismatch_raises(rule):
    with pytest.raises(ValueError, match=r"\(8, 8\).*\(8, 9\)"):
        fuse(rule, np.zeros((8, 8)), np.zeros((8, 9)))


def test_laplacian_needs_2d_images():
    with pytest.raises(ValueError, match="2D"):
        laplacian_pyramid(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))


def test_unknown_rule_names_the_choices():
    with pytest.raises(ValueError, match="average, maximum, laplacian") as error:
        fuse("wavelet", np.zeros((4, 4)), np.zeros((4, 4)))
    assert "\n" not in str(error.value) and "wavelet" in str(error.value)
