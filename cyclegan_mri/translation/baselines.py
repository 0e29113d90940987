"""Simple translations that any model must beat, scored by the same code as the models.

- identity: the input slice itself;
- histogram matching: the input's intensities mapped onto the histogram of the
  other domain's training slices (``skimage.exposure.match_histograms``);
- lookup table: for every 8-bit input intensity, the mean target intensity at
  the pixels with that intensity in the aligned *training* pairs. It uses the
  pairing, which an unpaired model never sees, so it is an oracle-like bar;
- quantile map: an unpaired intensity map. Each foreground intensity goes to the
  other domain's intensity at the same quantile of the foreground (increasing)
  or at the opposite one (decreasing: T1's bright white matter is T2's dark
  one); "auto" picks the polarity whose output's mean intensity rises and
  falls with depth below the edge of the foreground as the other domain's does
  (the anatomy layers the tissues the same way in either contrast). It needs
  the two domains' histograms and profiles, never a pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from cyclegan_mri.data.volume_slices import FOREGROUND

POLARITIES = ("increasing", "decreasing")
# Bins of depth below the foreground's edge, as a fraction of the slice's deepest point (so that the profile
# is the same at any resolution and head size).
DEPTH_BINS = 24
# The outermost bins are left out of the comparison: there the foreground's partial volume with the
# background sets the intensity, which a per-intensity map cannot carry across contrasts.
RIM_BINS = 3


def identity(image: np.ndarray) -> np.ndarray:
    """The input itself (8-bit slices stay 8-bit; floating-point slices cut from volumes stay unrounded)."""
    image = np.asarray(image)
    return image.astype(np.uint8) if np.issubdtype(image.dtype, np.integer) else image.astype(np.float32)


class HistogramMatching:
    """Maps an image's intensities onto the pooled histogram of reference slices.

    The mapping is ``skimage.exposure.match_histograms``' (each input value's cumulative frequency, read off
    the pool's cumulative histogram), with the pool's histogram computed once rather than per image: the pool
    of a volume benchmark holds tens of millions of pixels.
    """

    def __init__(self, references: Sequence[np.ndarray]):
        values, counts = np.unique(np.concatenate([np.ravel(r) for r in references]), return_counts=True)
        self.values = values.astype(np.float64)
        self.quantiles = np.cumsum(counts) / counts.sum()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        values, inverse, counts = np.unique(np.ravel(image), return_inverse=True, return_counts=True)
        mapped = np.interp(np.cumsum(counts) / counts.sum(), self.quantiles, self.values)
        matched = np.clip(mapped[inverse], 0, 255).reshape(np.shape(image))
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


def _planes(images: Sequence[np.ndarray]):
    """Each 2D image of ``images``: (H, W) or (H, W, 1) images, or (N, H, W) stacks of them."""
    for image in images:
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        yield from ([image] if image.ndim == 2 else image.reshape(-1, *image.shape[-2:]))


def depth_profile(images: Sequence[np.ndarray], threshold: float = FOREGROUND) -> tuple[np.ndarray, np.ndarray]:
    """Mean intensity and pixel count of the foreground (above ``threshold``, holes filled) at each depth below
    its edge (``DEPTH_BINS`` bins from the edge to the slice's deepest point), over ``images`` on the 0-255 scale
    (2D images or stacks of them).

    Contrast-independent anatomy sets where each tissue lies (cortex and sulcal fluid at the edge of the brain,
    white matter and ventricles deeper), so a correct translation has the target domain's profile.
    """
    sums, counts = np.zeros(DEPTH_BINS), np.zeros(DEPTH_BINS)
    for image in _planes(images):
        image = np.asarray(image, np.float64)
        mask = ndimage.binary_fill_holes(image > threshold)
        if not mask.any():
            continue
        distance = ndimage.distance_transform_edt(mask)[mask]
        depth = np.minimum((distance - 1) * DEPTH_BINS // distance.max(), DEPTH_BINS - 1).astype(int)
        sums += np.bincount(depth, weights=image[mask], minlength=DEPTH_BINS)
        counts += np.bincount(depth, minlength=DEPTH_BINS)
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0), counts


class QuantileMap:
    """Unpaired per-intensity map from the ``sources``' foreground histogram onto the ``targets``' (0-255 scale).

    ``polarity`` "increasing" keeps the order of intensities (histogram matching of the foreground alone),
    "decreasing" reverses it, "auto" takes the one whose mapped sources' depth profile (``depth_profile``, the
    rim left out) correlates best with the targets'. Intensities at or below ``threshold`` (background) are
    kept. ``correlations`` holds each polarity's correlation when "auto" chose.
    """

    def __init__(self, sources: Sequence[np.ndarray], targets: Sequence[np.ndarray], polarity: str = "auto",
                 threshold: float = FOREGROUND):
        if polarity not in (*POLARITIES, "auto"):
            raise ValueError(f"unknown polarity {polarity!r}; choose one of: {', '.join((*POLARITIES, 'auto'))}")
        source = np.sort(np.concatenate([np.ravel(s) for s in sources]).astype(np.float64))
        target = np.concatenate([np.ravel(t) for t in targets]).astype(np.float64)
        source, target = source[source > threshold], target[target > threshold]
        if not len(source) or not len(target):
            raise ValueError("a quantile map needs foreground (intensities above the background) in both domains")
        levels = np.arange(256.0)
        # Mid-rank quantile of each level among the source's foreground.
        below = np.searchsorted(source, levels, side="left")
        through = np.searchsorted(source, levels, side="right")
        quantile = (below + through) / (2.0 * len(source))
        tables = {}
        for name in POLARITIES:
            table = np.quantile(target, quantile if name == "increasing" else 1.0 - quantile)
            tables[name] = np.where(levels > threshold, table, levels)
        self.correlations: dict[str, float] = {}
        if polarity == "auto":
            wanted, weights = depth_profile(targets, threshold)
            for name, table in tables.items():
                profile, counts = depth_profile([np.interp(np.asarray(s, np.float64), levels, table)
                                                 for s in sources], threshold)
                self.correlations[name] = _weighted_correlation(profile[RIM_BINS:], wanted[RIM_BINS:],
                                                                np.minimum(counts, weights)[RIM_BINS:])
            polarity = max(self.correlations, key=self.correlations.get)
        self.polarity = polarity
        self.table = tables[polarity]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(image, np.float64), np.arange(256), self.table).astype(np.float32)


def _weighted_correlation(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` weighted by ``weights`` (0 where either is constant)."""
    if weights.sum() <= 0:
        return 0.0
    da, db = a - np.average(a, weights=weights), b - np.average(b, weights=weights)
    spread = np.sqrt(np.average(da * da, weights=weights) * np.average(db * db, weights=weights))
    return float(np.average(da * db, weights=weights) / spread) if spread > 0 else 0.0
