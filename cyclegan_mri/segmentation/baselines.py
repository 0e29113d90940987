"""A brain-tumour segmentation that needs no training, so that a model's Dice has a reference beside it.

On the contrasts as the model reads them (each z-scored over the brain, ``data.brats``):

- whole tumour: the largest connected region of FLAIR above ``FLAIR_Z`` standard deviations (edema and tumour
  are hyperintense in FLAIR), labelled edema;
- enhancing tumour: the voxels of that region above ``T1CE_Z`` in T1ce (contrast uptake);
- tumour core: the enhancing voxels with the holes they enclose filled (necrosis inside an enhancing rim).

The two thresholds (1.0 and 1.25) were chosen on 5 training cases of the BraTS 2018 sample, never on a scored
case (docs/models/vox2vox.md). Without FLAIR among the run's contrasts, or with labels that are not a BraTS set,
there is no baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from cyclegan_mri.segmentation.metrics import BRATS_2020_LABELS, BRATS_2023_LABELS

FLAIR_Z = 1.0
T1CE_Z = 1.25
NECROSIS, EDEMA = 1, 2


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected region of a boolean volume (all False when it is empty)."""
    labelled, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count == 0:
        return np.zeros_like(mask, bool)
    sizes = ndimage.sum_labels(mask, labelled, index=np.arange(1, count + 1))
    return labelled == 1 + int(np.argmax(sizes))


def keep_largest_tumour(classes: np.ndarray) -> np.ndarray:
    """A segmentation (class indices, 0 the background) with every tumour voxel outside its largest 26-connected
    tumour region set to background: the usual clean-up of BraTS pipelines, which removes the scattered false
    positives that dominate a Hausdorff distance. The same rule the whole-tumour baseline applies."""
    return np.where(largest_component(classes > 0), classes, 0).astype(classes.dtype)


def threshold_segmentation(image: np.ndarray, contrasts: Sequence[str], classes: Sequence[int]) -> np.ndarray | None:
    """Class indices (positions in ``classes``), (D, H, W) uint8, of the threshold segmentation of ``image``
    (D, H, W, C), z-scored contrasts in ``contrasts`` order; None where the baseline does not apply."""
    classes = tuple(int(c) for c in classes)
    if "flair" not in contrasts or set(classes) not in (set(BRATS_2020_LABELS), set(BRATS_2023_LABELS)):
        return None
    enhancing = max(classes)  # 4 in the 2018-2021 labels, 3 in the 2023 ones
    brain = np.any(image != 0, axis=-1)
    whole = largest_component((image[..., list(contrasts).index("flair")] > FLAIR_Z) & brain)
    labels = np.where(whole, EDEMA, 0)
    if "t1ce" in contrasts:
        et = whole & (image[..., list(contrasts).index("t1ce")] > T1CE_Z)
        core = ndimage.binary_fill_holes(et) & whole
        labels[core] = NECROSIS
        labels[et] = enhancing
    to_index = np.zeros(max(classes) + 1, np.uint8)
    to_index[list(classes)] = np.arange(len(classes))
    return to_index[labels]
