"""Dice and HD95 per BraTS region for 3D label volumes (numpy and scipy.ndimage only).

Regions. A label volume stores one integer label value per voxel. ``regions_for`` maps a label set (background
first) to the regions that are scored, each a tuple of label values; a region's mask is ``np.isin(volume, labels)``.
The two BraTS label sets, compared as sets, give the nested BraTS regions:

- WT, whole tumour: NCR + ED + ET,
- TC, tumour core: NCR + ET,
- ET, enhancing tumour: ET alone,

with NCR = 1, ED = 2 and ET = 4 (BraTS 2020) or 3 (BraTS 2023). Any other label set gives "foreground" (every
non-background label) followed by one region per non-background label, ``label_<value>``.

Dice of masks A, B: 2|A∩B| / (|A| + |B|). Both empty: 1.0 (nothing to find, nothing found). Exactly one empty: 0.0.

HD95 of masks A, B, in mm: the surfaces are ``mask & ~binary_erosion(mask)`` with the face-connected structuring
element; voxels on the array border count as surface (the outside of the array is background). For each surface
voxel of A, the distance between voxel centres to the nearest surface voxel of B (Euclidean, scaled per axis by the
voxel spacing); the 95th percentile of these (numpy's default linear interpolation); the same from B to A; HD95 is
the larger of the two, as in MONAI's ``compute_hausdorff_distance(percentile=95)``. Both masks empty: 0.0. Exactly
one empty: the volume diagonal in mm, sqrt(sum((shape * spacing) ** 2)), the largest distance possible inside the
volume; MONAI gives inf or nan there, which no mean over cases survives, so a finite worst case is used instead.

Validation: masks and label volumes compared must have one shape, and the spacing one finite positive value per
axis; anything else raises ValueError. ``mean_scores`` averages per region and metric over cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

BRATS_2020_LABELS = (0, 1, 2, 4)  # background, necrotic/non-enhancing core (NCR), edema (ED), enhancing tumour (ET)
BRATS_2023_LABELS = (0, 1, 2, 3)  # same meaning, ET stored as 3


def regions_for(labels: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Evaluation regions for a label set (label values as stored, background first): the BraTS regions
    {"WT", "TC", "ET"} for either BraTS set, otherwise "foreground" then one ``label_<v>`` per other label."""
    labels = tuple(int(v) for v in labels)
    if len(set(labels)) != len(labels) or len(labels) < 2:
        raise ValueError(f"need at least two distinct labels (background first), got {labels}")
    for brats in (BRATS_2020_LABELS, BRATS_2023_LABELS):
        if set(labels) == set(brats):
            _, ncr, ed, et = brats  # the BraTS meaning of each value, whatever order the caller listed them in
            return {"WT": (ncr, ed, et), "TC": (ncr, et), "ET": (et,)}
    foreground = labels[1:]
    return {"foreground": foreground, **{f"label_{v}": (v,) for v in foreground}}


def dice(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Dice of two boolean masks of one shape: 2|A∩B| / (|A|+|B|); both empty -> 1.0; exactly one empty -> 0.0."""
    truth, prediction = _masks(truth, prediction)
    total = np.count_nonzero(truth) + np.count_nonzero(prediction)
    if total == 0:
        return 1.0
    return float(2 * np.count_nonzero(truth & prediction) / total)


def hd95(truth: np.ndarray, prediction: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> float:
    """95th-percentile symmetric Hausdorff distance in mm between the surfaces of two boolean masks of one shape
    (``spacing`` has one value per axis); both empty -> 0.0; exactly one empty -> the volume diagonal in mm."""
    truth, prediction = _masks(truth, prediction)
    spacing = _spacing(spacing, truth.ndim)
    truth_empty, prediction_empty = not truth.any(), not prediction.any()
    if truth_empty and prediction_empty:
        return 0.0
    if truth_empty or prediction_empty:
        return float(np.sqrt(np.sum((np.array(truth.shape) * spacing) ** 2)))
    # Every surface voxel and every nearest surface voxel lies in the bounding box of the union, so cropping to it
    # changes no distance; a mask voxel on the box's edge borders background, so it stays surface too.
    box = ndimage.find_objects((truth | prediction).astype(np.uint8))[0]
    truth_surface, prediction_surface = _surface(truth[box]), _surface(prediction[box])
    return max(_directed_hd95(truth_surface, prediction_surface, spacing),
               _directed_hd95(prediction_surface, truth_surface, spacing))


def segmentation_scores(truth: np.ndarray, prediction: np.ndarray, regions: Mapping[str, Sequence[int]],
                        spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> dict[str, dict[str, float]]:
    """{region: {"dice": ..., "hd95": ...}} for two integer label volumes of one shape; a region's mask is
    ``np.isin(volume, labels)``."""
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise ValueError(f"label volumes differ in shape: truth {truth.shape}, prediction {prediction.shape}")
    _spacing(spacing, truth.ndim)  # fail before any work, even with no regions
    scores = {}
    for region, labels in regions.items():
        truth_mask, prediction_mask = np.isin(truth, labels), np.isin(prediction, labels)
        scores[region] = {"dice": dice(truth_mask, prediction_mask),
                          "hd95": hd95(truth_mask, prediction_mask, spacing)}
    return scores


def mean_scores(per_case: Sequence[Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, float | None]]:
    """Per region and metric, the mean over the cases that have a value for it (None values are left out; None
    when no case has one); an empty sequence gives {}."""
    values: dict[str, dict[str, list[float]]] = {}
    for case in per_case:
        for region, metrics in case.items():
            for metric, value in metrics.items():
                found = values.setdefault(region, {}).setdefault(metric, [])
                if value is not None:
                    found.append(value)
    return {region: {metric: float(np.mean(found)) if found else None for metric, found in metrics.items()}
            for region, metrics in values.items()}


def _masks(truth: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth, prediction = np.asarray(truth, dtype=bool), np.asarray(prediction, dtype=bool)
    if truth.shape != prediction.shape:
        raise ValueError(f"masks differ in shape: truth {truth.shape}, prediction {prediction.shape}")
    if truth.ndim == 0:
        raise ValueError("masks need at least one axis")
    return truth, prediction


def _spacing(spacing: Sequence[float], ndim: int) -> np.ndarray:
    values = np.asarray(spacing, dtype=np.float64)
    if values.shape != (ndim,) or not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"spacing needs one positive value per axis ({ndim}), got {tuple(np.ravel(spacing))}")
    return values


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def _directed_hd95(surface: np.ndarray, other_surface: np.ndarray, spacing: np.ndarray) -> float:
    # The distance transform of the other surface's complement holds, at every voxel, the distance to the nearest
    # voxel of that surface: one pass instead of a matrix of all pairs, which BraTS-sized surfaces would not fit.
    distances = ndimage.distance_transform_edt(~other_surface, sampling=spacing)[surface]
    return float(np.percentile(distances, 95))
