"""The baselines every model is compared with, on the dataset's 9 held-out pairs."""

import numpy as np
import pytest

from cyclegan_mri.translation import baselines
from cyclegan_mri.translation.evaluation import baseline_scores, dataset_source


@pytest.fixture(scope="module")
def scores(archive):
    return baseline_scores(dataset_source(archive))


def test_the_paired_lookup_table_reaches_the_published_bar(scores):
    t1_to_t2, t2_to_t1 = scores["t1_to_t2"]["lookup_table"], scores["t2_to_t1"]["lookup_table"]
    assert t1_to_t2["psnr"] == pytest.approx(25.3, abs=0.05) and t1_to_t2["ssim"] == pytest.approx(0.940, abs=0.002)
    assert t2_to_t1["psnr"] == pytest.approx(20.7, abs=0.05) and t2_to_t1["ssim"] == pytest.approx(0.800, abs=0.002)
    assert len(t1_to_t2["per_image"]) == 9


def test_the_identity_is_the_floor(scores):
    assert scores["t1_to_t2"]["identity"]["psnr"] == pytest.approx(10.8, abs=0.05)
    assert scores["t1_to_t2"]["lookup_table"]["psnr"] > scores["t1_to_t2"]["identity"]["psnr"] + 10


def test_histogram_matching_gives_the_reference_histogram():
    rng = np.random.default_rng(0)
    reference = [rng.integers(100, 200, (20, 20)).astype(np.uint8) for _ in range(3)]
    matched = baselines.HistogramMatching(reference)(rng.integers(0, 50, (20, 20)).astype(np.uint8))
    assert matched.min() >= 100 and matched.max() <= 200 and matched.shape == (20, 20)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_histogram_matching_is_scikit_images_with_the_pool_computed_once(dtype):
    from skimage.exposure import match_histograms

    rng = np.random.default_rng(1)
    reference = [(rng.gamma(2.0, 30.0, (16, 16)).clip(0, 255)).astype(dtype) for _ in range(4)]
    image = (rng.normal(120, 40, (24, 24)).clip(0, 255)).astype(dtype)
    expected = match_histograms(image.ravel()[None], np.concatenate([r.ravel() for r in reference])[None])
    expected = expected.reshape(image.shape).clip(0, 255)
    if dtype == np.uint8:
        expected = np.round(expected)
    np.testing.assert_allclose(baselines.HistogramMatching(reference)(image), expected, atol=1e-4)


def test_lookup_table_learns_a_mapping_and_interpolates_unseen_levels():
    source = np.array([[0, 10], [20, 20]], dtype=np.uint8)
    table = baselines.LookupTable([source], [255 - source])
    np.testing.assert_allclose(table(np.array([[0, 10, 15, 20]], np.uint8)), [[255, 245, 240, 235]])
