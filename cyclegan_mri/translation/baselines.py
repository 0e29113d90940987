"""Simple translations that any model must beat, scored by the same code as the models.

- identity: the input slice itself;
- histogram matching: the input's intensities mapped onto the histogram of the
  other domain's training slices (``skimage.exposure.match_histograms``);
- lookup table: for every 8-bit input intensity, the mean target intensity at
  the pixels with that intensity in the aligned *training* pairs. It uses the
  pairing, which an unpaired model never sees, so it is an oracle-like bar.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.exposure import match_histograms


def identity(image: np.ndarray) -> np.ndarray:
    """The input itself (8-bit slices stay 8-bit; floating-point slices cut from volumes stay unrounded)."""
    image = np.asarray(image)
    return image.astype(np.uint8) if np.issubdtype(image.dtype, np.integer) else image.astype(np.float32)


class HistogramMatching:
    """Maps an image's intensities onto the pooled histogram of reference slices."""

    def __init__(self, references: Sequence[np.ndarray]):
        # One reference image holding every pixel of every reference slice: its histogram is the pool's.
        self.reference = np.concatenate([np.ravel(r) for r in references])[None, :]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        flat = np.ravel(image)[None, :]
        matched = np.clip(match_histograms(flat, self.reference), 0, 255).reshape(np.shape(image))
        if np.issubdtype(np.asarray(image).dtype, np.integer):
            return np.round(matched).astype(np.uint8)
        return matched.astype(np.float32)


class LookupTable:
    """Per-intensity mean of the aligned targets; intensities never seen are interpolated."""

    def __init__(self, sources: Sequence[np.ndarray], targets: Sequence[np.ndarray]):
        # Floating-point slices (cut from volumes) are binned to the nearest of the 256 levels.
        source = np.clip(np.rint(np.concatenate([np.ravel(s) for s in sources])), 0, 255).astype(np.int64)
        target = np.concatenate([np.ravel(t) for t in targets]).astype(np.float64)
        counts = np.bincount(source, minlength=256)
        sums = np.bincount(source, weights=target, minlength=256)
        seen = counts > 0
        levels = np.arange(256)
        self.table = np.interp(levels, levels[seen], sums[seen] / counts[seen])

    def __call__(self, image: np.ndarray) -> np.ndarray:
        # Linear between levels, so that a floating-point slice is mapped as smoothly as an 8-bit one.
        return np.interp(np.asarray(image, np.float64), np.arange(256), self.table)
