"""Dice and HD95 per BraTS region: definitions, edge cases, and HD95 against an independent brute force."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cyclegan_mri.segmentation.metrics import (BRATS_2020_LABELS, BRATS_2023_LABELS, dice, hd95, mean_scores,
                                               regions_for, segmentation_scores)


def cube(shape, corner, size=10):
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slice(c, c + size) for c in corner)] = True
    return mask


def brute_surface(mask):
    """Voxels of the mask with a face neighbour outside the mask or outside the array (padding, not erosion)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    all_neighbours_inside = np.ones_like(mask)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            all_neighbours_inside &= np.roll(padded, step, axis=axis)[inner]
    return mask & ~all_neighbours_inside


def brute_hd95(truth, prediction, spacing):
    """All pairwise surface distances in mm, directed 95th percentiles, the larger of the two."""
    a = np.argwhere(brute_surface(truth)) * np.asarray(spacing, dtype=float)
    b = np.argwhere(brute_surface(prediction)) * np.asarray(spacing, dtype=float)
    pairwise = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))
    return max(np.percentile(pairwise.min(axis=1), 95), np.percentile(pairwise.min(axis=0), 95))


def blob(rng, shape, fill=0.35):
    """An irregular mask: smoothed noise above a threshold, so surfaces have holes, corners and border contact."""
    smooth = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    return smooth > np.quantile(smooth, 1 - fill)


# --- regions ---------------------------------------------------------------------------------------------------

def test_brats_2020_regions():
    assert regions_for(BRATS_2020_LABELS) == {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}


def test_brats_2023_regions():
    assert regions_for(BRATS_2023_LABELS) == {"WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)}


def test_brats_sets_are_compared_as_sets():
    assert regions_for([4, 2, 1, 0]) == regions_for(BRATS_2020_LABELS)


def test_a_subset_of_the_brats_labels_is_an_other_set():
    regions = regions_for((0, 1, 2))
    assert regions == {"foreground": (1, 2), "label_1": (1,), "label_2": (2,)}
    assert list(regions)[0] == "foreground"


def test_other_label_values_name_their_regions():
    assert regions_for((0, 5, 7)) == {"foreground": (5, 7), "label_5": (5,), "label_7": (7,)}


@pytest.mark.parametrize("labels", [(0,), (0, 1, 1)])
def test_too_few_or_repeated_labels_are_rejected(labels):
    with pytest.raises(ValueError):
        regions_for(labels)


# --- dice ------------------------------------------------------------------------------------------------------

def test_dice_of_identical_masks_is_one():
    mask = cube((20, 20, 20), (5, 5, 5))
    assert dice(mask, mask.copy()) == 1.0


def test_dice_of_disjoint_masks_is_zero():
    assert dice(cube((30, 20, 20), (0, 0, 0)), cube((30, 20, 20), (15, 5, 5))) == 0.0


def test_dice_of_two_empty_masks_is_one():
    empty = np.zeros((8, 8, 8), dtype=bool)
    assert dice(empty, empty) == 1.0


def test_dice_with_one_empty_mask_is_zero():
    empty, mask = np.zeros((8, 8, 8), dtype=bool), cube((8, 8, 8), (2, 2, 2), size=3)
    assert dice(empty, mask) == 0.0
    assert dice(mask, empty) == 0.0


def test_dice_of_cubes_offset_by_three_voxels():
    # Overlap 7 x 10 x 10 = 700 of 1000 + 1000 voxels: 1400 / 2000.
    assert dice(cube((20, 20, 20), (2, 5, 5)), cube((20, 20, 20), (5, 5, 5))) == 0.7


def test_dice_rejects_differing_shapes():
    with pytest.raises(ValueError):
        dice(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 5), bool))


# --- hd95 ------------------------------------------------------------------------------------------------------

def test_hd95_of_identical_masks_is_zero():
    mask = blob(np.random.default_rng(0), (16, 16, 16))
    assert hd95(mask, mask.copy(), spacing=(1.0, 2.0, 0.5)) == 0.0


def test_hd95_of_two_empty_masks_is_zero():
    empty = np.zeros((10, 10, 10), dtype=bool)
    assert hd95(empty, empty) == 0.0


def test_hd95_with_one_empty_mask_is_the_volume_diagonal_in_mm():
    shape, spacing = (20, 30, 40), (1.0, 2.0, 0.5)
    empty, mask = np.zeros(shape, dtype=bool), cube(shape, (3, 3, 3))
    diagonal = np.sqrt(20.0 ** 2 + 60.0 ** 2 + 20.0 ** 2)
    assert hd95(empty, mask, spacing) == pytest.approx(diagonal, rel=1e-12)
    assert hd95(mask, empty, spacing) == pytest.approx(diagonal, rel=1e-12)


def test_hd95_of_offset_cubes_matches_brute_force():
    truth, prediction = cube((24, 24, 24), (4, 6, 6)), cube((24, 24, 24), (7, 8, 6))
    expected = brute_hd95(truth, prediction, (1.0, 1.0, 1.0))
    assert expected > 0
    assert hd95(truth, prediction) == pytest.approx(expected, rel=1e-12)


def test_anisotropic_spacing_changes_hd95_as_brute_force_says():
    truth, prediction = cube((24, 24, 24), (4, 6, 6)), cube((24, 24, 24), (7, 8, 6))
    spacing = (2.0, 0.7, 1.3)
    expected = brute_hd95(truth, prediction, spacing)
    assert expected != pytest.approx(brute_hd95(truth, prediction, (1.0, 1.0, 1.0)))
    assert hd95(truth, prediction, spacing) == pytest.approx(expected, rel=1e-12)


def test_masks_touching_the_array_border_have_their_border_voxels_as_surface():
    # Both cubes fill the array along axis 0: without border voxels as surface the end faces would vanish.
    truth, prediction = cube((10, 20, 20), (0, 2, 2)), cube((10, 20, 20), (0, 6, 3))
    assert truth[0].any() and truth[-1].any()
    spacing = (1.5, 1.0, 1.0)
    assert hd95(truth, prediction, spacing) == pytest.approx(brute_hd95(truth, prediction, spacing), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_hd95_of_irregular_masks_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    truth, prediction = blob(rng, (18, 20, 16), 0.3), blob(rng, (18, 20, 16), 0.2)
    spacing = (1.2, 0.8, 2.5)
    assert hd95(truth, prediction, spacing) == pytest.approx(brute_hd95(truth, prediction, spacing), rel=1e-12)


def test_single_voxel_shifted_by_3_4_0_is_5_mm_apart():
    truth, prediction = np.zeros((12, 12, 12), bool), np.zeros((12, 12, 12), bool)
    truth[2, 3, 5], prediction[5, 7, 5] = True, True
    assert hd95(truth, prediction) == 5.0
    assert hd95(truth, prediction, spacing=(2.0, 1.0, 1.0)) == pytest.approx(np.sqrt(6.0 ** 2 + 4.0 ** 2), rel=1e-12)


def test_hd95_works_on_other_ranks_given_their_spacing():
    truth, prediction = np.zeros(20, bool), np.zeros(20, bool)
    truth[2:6], prediction[9:12] = True, True
    assert hd95(truth, prediction, spacing=(0.5,)) == pytest.approx(brute_hd95(truth, prediction, (0.5,)), rel=1e-12)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (1.0, 1.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, -2.0, 1.0),
                                     (1.0, np.nan, 1.0)])
def test_hd95_rejects_spacing_without_one_positive_value_per_axis(spacing):
    mask = cube((12, 12, 12), (2, 2, 2), size=4)
    with pytest.raises(ValueError):
        hd95(mask, mask, spacing)


def test_hd95_rejects_differing_shapes():
    with pytest.raises(ValueError):
        hd95(np.ones((4, 4, 4), bool), np.ones((4, 5, 4), bool))


# --- segmentation_scores ---------------------------------------------------------------------------------------

def brats_like_volumes():
    """A 2020-labelled tumour (edema around a core of necrosis and enhancing rim) and an imperfect prediction."""
    truth = np.zeros((16, 18, 14), dtype=np.uint8)
    truth[3:13, 3:15, 2:12] = 2
    truth[5:11, 5:13, 4:10] = 4
    truth[7:9, 7:11, 6:8] = 1
    prediction = np.zeros_like(truth)
    prediction[4:14, 3:14, 2:13] = 2
    prediction[5:10, 6:13, 4:9] = 4
    prediction[6:9, 8:11, 5:8] = 1
    prediction[0, 0, 0] = 4  # a stray false positive far away from everything, for HD95 to notice
    return truth, prediction


def test_segmentation_scores_per_brats_region_match_hand_built_masks():
    truth, prediction = brats_like_volumes()
    spacing = (1.0, 1.0, 1.5)
    scores = segmentation_scores(truth, prediction, regions_for(BRATS_2020_LABELS), spacing)
    by_hand = {"WT": lambda v: v > 0, "TC": lambda v: (v == 1) | (v == 4), "ET": lambda v: v == 4}
    assert list(scores) == ["WT", "TC", "ET"]
    for region, mask in by_hand.items():
        assert scores[region] == {"dice": dice(mask(truth), mask(prediction)),
                                  "hd95": hd95(mask(truth), mask(prediction), spacing)}
        assert 0.0 < scores[region]["dice"] < 1.0
    # Plain floats, so the scores go into JSON reports as they are.
    assert all(type(value) is float for metrics in scores.values() for value in metrics.values())
    # The region definitions matter: the three regions score differently on this pair.
    assert len({scores[region]["dice"] for region in scores}) == 3


def test_segmentation_scores_of_a_perfect_prediction():
    truth, _ = brats_like_volumes()
    scores = segmentation_scores(truth, truth.copy(), regions_for(BRATS_2020_LABELS))
    assert scores == {region: {"dice": 1.0, "hd95": 0.0} for region in ("WT", "TC", "ET")}


def test_segmentation_scores_reject_differing_shapes():
    truth, prediction = brats_like_volumes()
    with pytest.raises(ValueError):
        segmentation_scores(truth, prediction[:, :, :-1], regions_for(BRATS_2020_LABELS))


def test_segmentation_scores_reject_bad_spacing_even_without_regions():
    truth, prediction = brats_like_volumes()
    with pytest.raises(ValueError):
        segmentation_scores(truth, prediction, {}, spacing=(1.0, 1.0))


# --- mean_scores -----------------------------------------------------------------------------------------------

def test_mean_scores_average_per_region_and_metric():
    cases = [{"WT": {"dice": 0.5, "hd95": 2.0}, "ET": {"dice": 1.0, "hd95": 0.0}},
             {"WT": {"dice": 0.75, "hd95": 4.0}, "ET": {"dice": 0.0, "hd95": 10.0}}]
    means = mean_scores(cases)
    assert means == {"WT": {"dice": 0.625, "hd95": 3.0}, "ET": {"dice": 0.5, "hd95": 5.0}}
    assert all(type(value) is float for metrics in means.values() for value in metrics.values())


def test_mean_scores_of_no_cases_is_empty():
    assert mean_scores([]) == {}


# --- packaging -------------------------------------------------------------------------------------------------

def test_module_does_not_import_tensorflow():
    code = ("import sys, cyclegan_mri.segmentation.metrics; "
            "sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1],
                          timeout=60).returncode == 0
