"""The training-free segmentation beside Vox2Vox: FLAIR and T1ce thresholds, the largest region, holes filled."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_mri.segmentation.baselines import keep_largest_tumour, largest_component, threshold_segmentation

CONTRASTS = ("t1", "t1ce", "t2", "flair")


def case(enhancing_rim: bool = True) -> np.ndarray:
    """A z-scored 4-contrast volume: brain everywhere at 0.1, a FLAIR-bright ball, an enhancing rim inside it,
    and a smaller FLAIR-bright speck elsewhere."""
    image = np.full((24, 24, 24, 4), 0.1, np.float32)
    grid = np.indices((24, 24, 24))
    radius = np.sqrt(((grid - 10) ** 2).sum(0))
    image[..., 3][radius <= 6] = 2.0
    if enhancing_rim:
        image[..., 1][(radius <= 4) & (radius > 3)] = 3.0
    image[20, 20, 20, 3] = 2.0
    return image


@pytest.mark.parametrize("classes, et", [((0, 1, 2, 4), 3), ((0, 1, 2, 3), 3)])
def test_the_regions_are_the_flair_region_its_enhancing_rim_and_the_rim_filled(classes, et):
    grid = np.indices((24, 24, 24))
    radius = np.sqrt(((grid - 10) ** 2).sum(0))
    indices = threshold_segmentation(case(), CONTRASTS, classes)
    assert indices.dtype == np.uint8 and indices.shape == (24, 24, 24)
    np.testing.assert_array_equal(indices > 0, radius <= 6)  # the speck is not the largest region
    np.testing.assert_array_equal(indices == et, (radius <= 4) & (radius > 3))
    np.testing.assert_array_equal(indices == 1, radius <= 3)  # necrosis: inside the rim
    assert indices[20, 20, 20] == 0


def test_without_flair_or_brats_labels_there_is_no_baseline():
    assert threshold_segmentation(case()[..., :3], CONTRASTS[:3], (0, 1, 2, 4)) is None
    assert threshold_segmentation(case(), CONTRASTS, (0, 1, 2)) is None


def test_without_t1ce_the_whole_tumour_is_edema():
    indices = threshold_segmentation(case()[..., [0, 2, 3]], ("t1", "t2", "flair"), (0, 1, 2, 4))
    assert set(np.unique(indices)) == {0, 2}


def test_the_largest_component_of_nothing_is_nothing():
    assert not largest_component(np.zeros((4, 4, 4), bool)).any()


def test_keeping_the_largest_tumour_clears_scattered_voxels_and_keeps_the_classes_inside_it():
    classes = np.zeros((12, 12, 12), np.uint8)
    classes[2:7, 2:7, 2:7] = 2
    classes[4, 4, 4] = 3  # enhancing, inside the main region
    classes[10, 10, 10] = 1  # a lone voxel far away
    kept = keep_largest_tumour(classes)
    assert kept.dtype == np.uint8 and kept[10, 10, 10] == 0
    np.testing.assert_array_equal(kept[:9, :9, :9], classes[:9, :9, :9])
    assert not keep_largest_tumour(np.zeros((4, 4, 4), np.uint8)).any()
