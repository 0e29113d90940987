"""PSNR, SSIM and NMSE on the 0-255 scale."""

import math

import numpy as np
import pytest

from cyclegan_mri.metrics import nmse, psnr, score, ssim, summarize


def test_psnr_of_a_known_error():
    target = np.full((8, 8), 100.0)
    assert psnr(target, target + 5) == pytest.approx(10 * math.log10(255 ** 2 / 25))


def test_identical_images_score_perfectly():
    image = np.random.default_rng(0).integers(0, 256, (32, 32)).astype(np.uint8)
    assert ssim(image, image) == pytest.approx(1.0)
    assert nmse(image, image) == 0.0
    assert psnr(image, image) == math.inf


def test_nmse_is_error_energy_over_target_energy():
    target = np.array([[3.0, 4.0]])
    assert nmse(target, np.zeros_like(target)) == pytest.approx(1.0)
    assert nmse(target, target * 0.5) == pytest.approx(0.25)


def test_shapes_must_match():
    with pytest.raises(ValueError):
        score(np.zeros((4, 4)), np.zeros((4, 5)))


def test_summary_holds_means_and_each_image():
    rng = np.random.default_rng(1)
    targets = [rng.integers(0, 256, (16, 16)).astype(np.uint8) for _ in range(3)]
    predictions = [np.clip(t.astype(int) + rng.integers(-20, 20, t.shape), 0, 255) for t in targets]
    summary = summarize(["a", "b", "c"], targets, predictions)
    assert [row["name"] for row in summary["per_image"]] == ["a", "b", "c"]
    assert summary["psnr"] == pytest.approx(np.mean([row["psnr"] for row in summary["per_image"]]))
    assert 0 < summary["ssim"] < 1 and 0 < summary["nmse"] < 1
