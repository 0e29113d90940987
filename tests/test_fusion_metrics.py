"""Fusion quality metrics (AG, SF, EN, MI, Q_MI, Q^{AB/F}) on hand-made images, as a specification."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclegan_mri.fusion.metrics import (FUSION_METRICS, average_gradient, entropy, fusion_scores,
                                         mean_fusion_scores, mutual_information, q_abf, q_mi, spatial_frequency)


def q_g(g):
    return 0.9994 / (1 + math.exp(-15 * (g - 0.5)))


def q_alpha(a):
    return 0.9879 / (1 + math.exp(-22 * (a - 0.8)))


Q_ABF_MAX = q_g(1) * q_alpha(1)  # full strength and orientation kept: 0.9994 * 0.9879 / (1+e^-7.5) / (1+e^-4.4)


def random_image(shape=(32, 32), seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def blocks(shape=(64, 64), background=100.0):
    """A with bright and dark rectangles in its left half, B with stripes in its right half, the same background
    everywhere else, so that a left-half/right-half mosaic has no seam."""
    a = np.full(shape, background)
    a[8:28, 6:20] = 220
    a[36:56, 10:24] = 20
    b = np.full(shape, background)
    b[6:58, 40:44] = 240
    b[6:58, 50:54] = 10
    b[30:34, 38:60] = 200
    return a, b


@pytest.mark.parametrize("value", [0, 77, 255])
def test_constant_image_has_no_gradient_frequency_or_entropy(value):
    for image in (np.full((9, 7), value, np.uint8), np.full((9, 7), float(value))):
        assert average_gradient(image) == 0.0
        assert spatial_frequency(image) == 0.0
        assert entropy(image) == 0.0


def test_ramp_gradient_and_frequency():
    horizontal = np.tile(3.0 * np.arange(6), (5, 1))  # f[i, j] = 3 j: dx = 3, dy = 0
    assert average_gradient(horizontal) == pytest.approx(3 / math.sqrt(2))
    assert spatial_frequency(horizontal) == pytest.approx(3.0)
    assert average_gradient(horizontal.T) == pytest.approx(3 / math.sqrt(2))
    assert spatial_frequency(horizontal.T) == pytest.approx(3.0)


def test_checkerboard_gradient_and_frequency():
    board = 255.0 * (np.indices((8, 10)).sum(axis=0) % 2)  # every neighbour difference is +-255
    assert average_gradient(board) == pytest.approx(255.0)
    assert spatial_frequency(board) == pytest.approx(255 * math.sqrt(2))


def test_two_by_two_by_hand():
    image = np.array([[0, 3], [4, 0]], np.uint8)
    # One pixel has both neighbours: dx = 3, dy = 4. Row differences 3, -4; column differences 4, -3.
    assert average_gradient(image) == pytest.approx(math.sqrt(25 / 2))
    assert spatial_frequency(image) == pytest.approx(math.sqrt(12.5 + 12.5))


def test_spatial_frequency_means_over_the_differences_not_the_pixels():
    image = np.array([[0.0, 10.0, 10.0]] * 4)  # horizontal differences 10, 0 per row; no vertical ones
    assert spatial_frequency(image) == pytest.approx(math.sqrt(100 / 2))


def test_entropy_counts_bits():
    two_values = np.zeros((8, 8), np.uint8)
    two_values[:, :4] = 255
    assert entropy(two_values) == pytest.approx(1.0)
    all_levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert entropy(all_levels) == pytest.approx(8.0)
    assert entropy(all_levels, bins=16) == pytest.approx(4.0)
    four_values = np.repeat(np.array([[0, 50, 100, 200]], np.uint8), 3, axis=0)
    assert entropy(four_values) == pytest.approx(2.0)


def test_float_images_are_rounded_to_eight_bits():
    image = random_image()
    jittered = image + np.random.default_rng(1).uniform(-0.49, 0.49, image.shape)
    assert entropy(np.clip(jittered, 0, 255)) == pytest.approx(entropy(image))
    assert mutual_information(image, np.clip(jittered, 0, 255)) == pytest.approx(entropy(image))


def test_mutual_information_of_an_image_with_itself_is_its_entropy():
    image = random_image()
    assert mutual_information(image, image) == pytest.approx(entropy(image))
    assert mutual_information(image, 255 - image) == pytest.approx(entropy(image))  # a relabelling loses nothing


def test_mutual_information_with_a_constant_is_zero():
    assert mutual_information(random_image(), np.full((32, 32), 9.0)) == 0.0
    assert mutual_information(np.full((32, 32), 9.0), random_image()) == 0.0


def test_mutual_information_of_independent_halves():
    a = np.zeros((4, 4))
    a[:2] = 255  # top/bottom
    f = np.zeros((4, 4))
    f[:, :2] = 255  # left/right: each pair of values occurs equally often
    assert mutual_information(a, f) == pytest.approx(0.0, abs=1e-12)


def test_q_mi_of_the_same_image_three_times_is_two():
    image = random_image()
    assert q_mi(image, image, image) == pytest.approx(2.0)


def test_q_mi_of_a_constant_fused_image_is_zero():
    assert q_mi(random_image(seed=1), random_image(seed=2), np.full((32, 32), 128.0)) == 0.0


def test_q_mi_of_one_source_copied():
    a, b = random_image(seed=1), random_image(seed=2)
    # I(A;A) / (2 H(A)) = 1/2, plus what B happens to share with A: near 1 for independent noise.
    assert q_mi(a, b, a) == pytest.approx(1.0 + 2 * mutual_information(b, a) / (entropy(b) + entropy(a)))
    assert q_mi(a, b, a) == pytest.approx(q_mi(b, a, a))


def test_q_mi_zero_over_zero_counts_as_a_perfect_match():
    flat = np.full((8, 8), 40.0)
    assert q_mi(flat, flat, flat) == 2.0  # Q_MI(X, X, X) = 2 holds for constant X too
    assert q_mi(flat, flat, np.full((8, 8), 200.0)) == 2.0  # a constant is a relabelling of any other constant
    assert q_mi(flat, random_image((8, 8)), flat) == 1.0  # the constant source is matched, the other is not


def test_q_abf_of_the_same_image_three_times_is_its_maximum():
    image = random_image()
    assert q_abf(image, image, image) == pytest.approx(Q_ABF_MAX)
    a, _ = blocks()
    assert q_abf(a, a, a) == pytest.approx(Q_ABF_MAX)
    assert Q_ABF_MAX == pytest.approx(0.9994 * 0.9879 / (1 + math.exp(-15 * 0.5)) / (1 + math.exp(-22 * 0.2)))


def test_q_abf_of_half_the_edge_strength():
    step = np.zeros((16, 16))
    step[:, 8:] = 200  # only sx is non-zero, so the orientation is 0 in A and in F
    assert q_abf(step, step, step / 2) == pytest.approx(q_g(0.5) * q_alpha(1.0))


def test_q_abf_of_a_fused_image_without_edges_is_near_zero():
    a, b = blocks()
    assert q_abf(a, b, np.full(a.shape, 100.0)) < 1e-3
    assert q_abf(random_image(seed=1), random_image(seed=2), np.zeros((32, 32))) < 1e-3


def test_q_abf_is_symmetric_in_the_sources():
    a, b, f = random_image(seed=1), random_image(seed=2), random_image(seed=3)
    assert q_abf(a, b, f) == pytest.approx(q_abf(b, a, f), rel=1e-12)
    a, b = blocks()
    assert q_abf(a, b, (a + b) / 2) == pytest.approx(q_abf(b, a, (a + b) / 2), rel=1e-12)


def test_q_abf_prefers_keeping_each_sources_edges_to_averaging_them():
    a, b = blocks()
    mosaic = np.concatenate([a[:, :32], b[:, 32:]], axis=1)
    assert q_abf(a, b, mosaic) == pytest.approx(Q_ABF_MAX)  # every edge kept at full strength
    assert q_abf(a, b, (a + b) / 2) < 0.55  # every edge at half strength: Q_g(0.5) is about 0.5
    assert q_abf(a, b, mosaic) > q_abf(a, b, (a + b) / 2) + 0.4


def test_q_abf_is_nan_when_the_sources_have_no_edges():
    flat = np.full((8, 8), 30.0)
    assert math.isnan(q_abf(flat, np.zeros((8, 8)), flat))
    assert math.isnan(q_abf(flat, flat, random_image((8, 8))))


def test_channel_last_images_are_squeezed():
    a, b, f = random_image(seed=1), random_image(seed=2), random_image(seed=3)
    assert fusion_scores(a[..., None], b[..., None], f[..., None]) == fusion_scores(a, b, f)
    assert q_abf(a[..., None], b, f) == q_abf(a, b, f)


@pytest.mark.parametrize("metric", [mutual_information, q_mi, q_abf, fusion_scores])
def test_different_shapes_raise(metric):
    sources = [np.zeros((8, 8))] * (2 if metric is mutual_information else 3)
    sources[-1] = np.zeros((8, 9))
    with pytest.raises(ValueError, match="shape"):
        metric(*sources)
    sources[-1], sources[0] = sources[0], np.zeros((9, 8))
    with pytest.raises(ValueError, match="shape"):
        metric(*sources)


@pytest.mark.parametrize("image", [np.zeros((8,)), np.zeros((4, 4, 3)), np.zeros((1, 5)), np.full((4, 4), np.nan)])
def test_bad_images_raise(image):
    with pytest.raises(ValueError):
        average_gradient(image)


@pytest.mark.parametrize("bins", [0, 257, 2.5, True])
def test_bad_bins_raise(bins):
    with pytest.raises(ValueError, match="bins"):
        entropy(random_image(), bins=bins)


def test_fusion_scores_hold_every_metric():
    a, b = blocks()
    f = (a + b) / 2
    scores = fusion_scores(a, b, f)
    assert tuple(scores) == FUSION_METRICS
    assert all(isinstance(value, float) for value in scores.values())
    assert scores == {"AG": average_gradient(f), "SF": spatial_frequency(f), "EN": entropy(f), "Q_MI": q_mi(a, b, f),
                      "Q_ABF": q_abf(a, b, f)}


def test_mean_fusion_scores_skip_nan_and_none():
    rows = [{"AG": 1.0, "SF": 2.0, "EN": 3.0, "Q_MI": 1.0, "Q_ABF": 0.5},
            {"AG": 3.0, "SF": 4.0, "EN": 5.0, "Q_MI": 0.0, "Q_ABF": float("nan")},
            {"AG": 5.0, "SF": None, "EN": 7.0, "Q_MI": 2.0}]
    assert mean_fusion_scores(rows) == {"AG": 3.0, "SF": 3.0, "EN": 5.0, "Q_MI": 1.0, "Q_ABF": 0.5}
    flat = np.zeros((8, 8))
    assert mean_fusion_scores([fusion_scores(flat, flat, flat)])["Q_ABF"] is None
    assert mean_fusion_scores([]) == dict.fromkeys(FUSION_METRICS)
