"""No-reference and input-referenced image-fusion quality metrics, as reported by iVAN (Wang et al., IEEE JBHI 2023).

Every metric takes 2D grayscale images of intensities on the 0-255 scale, uint8 or float, (H, W) or (H, W, 1), of at
least 2 x 2 pixels, and computes in float64. Of the fused image F alone:

- AG, average gradient: the mean over the (H-1) x (W-1) pixels with a right and a lower neighbour of
  sqrt((dx^2 + dy^2) / 2), dx and dy the forward differences.
- SF, spatial frequency (Eskicioglu and Fisher 1995): sqrt(RF^2 + CF^2), RF the root mean square of the H x (W-1)
  horizontal neighbour differences, CF of the (H-1) x W vertical ones. (Some papers divide both sums by H x W
  instead, which is smaller by a factor of about sqrt(1 - 1/W).)
- EN, entropy: the Shannon entropy in bits of F's histogram.

Of F against the source images A and B:

- Q_MI (Hossny et al. 2008): 2 [I(A;F) / (H(A) + H(F)) + I(B;F) / (H(B) + H(F))], in [0, 2].
- Q_ABF, Q^{AB/F} (Xydeas and Petrovic 2000): how much of the Sobel edge strength and orientation of A and B
  survives in F, each pixel weighted by the sources' edge strength; in [0, about 0.974].

Histograms: values are rounded to the nearest integer (numpy's ``rint``, halves to even) and clipped to [0, 255]
first, so uint8 and float images of the same intensities agree; ``bins`` equal-width bins then span [0, 255] as in
``np.histogram(..., range=(0, 255))`` (256 bins: one per intensity level).

Edge cases, chosen where a definition divides 0 by 0:

- Constant images have AG = SF = EN = 0.
- Q_MI: a term whose denominator H(X) + H(F) is 0 (X and F both constant) counts as a perfect match, i.e.
  I(X;F) / (H(X) + H(F)) is taken as 1/2, its value whenever F is any one-to-one relabelling of X. So
  Q_MI(X, X, X) = 2 for every X, constant ones included. Blank slices (A, B and F all constant) therefore score 2:
  leave them out before averaging if that is unwanted.
- Q_ABF: no gradient anywhere in A and in B makes every weight 0 and the score 0/0; nan is returned, whatever F
  holds. Any number would be arbitrary, and blank background slices would all get it and pull a mean towards it;
  ``mean_fusion_scores`` leaves nan out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

FUSION_METRICS = ("AG", "SF", "EN", "Q_MI", "Q_ABF")

# Xydeas and Petrovic's sigmoid constants for edge-strength (g) and orientation (alpha) preservation.
_GAMMA_G, _KAPPA_G, _SIGMA_G = 0.9994, -15.0, 0.5
_GAMMA_ALPHA, _KAPPA_ALPHA, _SIGMA_ALPHA = 0.9879, -22.0, 0.8


def average_gradient(f: np.ndarray) -> float:
    """AG of a 2D image: mean of sqrt((dx^2 + dy^2) / 2) over the (H-1) x (W-1) pixels with both forward
    differences dx = f[i, j+1] - f[i, j] and dy = f[i+1, j] - f[i, j]. A constant image gives 0.0."""
    f = _image(f)
    dx = f[:-1, 1:] - f[:-1, :-1]
    dy = f[1:, :-1] - f[:-1, :-1]
    return float(np.mean(np.sqrt((dx ** 2 + dy ** 2) / 2)))


def spatial_frequency(f: np.ndarray) -> float:
    """SF of a 2D image: sqrt(RF^2 + CF^2), RF = sqrt(mean((f[i, j+1] - f[i, j])^2)) over the H x (W-1) horizontal
    pairs, CF the same over the (H-1) x W vertical pairs. A constant image gives 0.0."""
    f = _image(f)
    row_frequency_squared = np.mean(np.diff(f, axis=1) ** 2)
    column_frequency_squared = np.mean(np.diff(f, axis=0) ** 2)
    return float(np.sqrt(row_frequency_squared + column_frequency_squared))


def entropy(f: np.ndarray, bins: int = 256) -> float:
    """EN of a 2D image in bits: -sum p log2 p over the non-empty bins of its ``bins``-bin histogram over [0, 255]
    (values rounded and clipped to 0..255 first). A constant image gives 0.0; an image whose values fill k bins
    equally gives log2(k), at most log2(bins)."""
    p = _probabilities(np.bincount(_bin_index(_image(f), bins).ravel(), minlength=bins))
    return _shannon(p)


def mutual_information(a: np.ndarray, f: np.ndarray, bins: int = 256) -> float:
    """I(A;F) in bits of two 2D images of one shape, from their joint ``bins`` x ``bins`` histogram (as for
    ``entropy``): sum p(a, f) log2(p(a, f) / (p(a) p(f))) over non-empty cells. I(A;A) = H(A); 0.0 when either
    image is constant, or when the two are statistically independent. Rounding below 0 is clipped to 0.0."""
    a, f = _images(a, f)
    return _mutual_information(_bin_index(a, bins), _bin_index(f, bins), bins)


def q_mi(a: np.ndarray, b: np.ndarray, f: np.ndarray, bins: int = 256) -> float:
    """Hossny et al.'s normalised mutual information of fused image F with sources A and B (2D, one shape):
    2 [I(A;F) / (H(A) + H(F)) + I(B;F) / (H(B) + H(F))], histograms as for ``entropy``. In [0, 2]: 2 when F, A and
    B are one-to-one relabellings of each other (F = A = B), 0 when F shares no information with either (a
    constant F for non-constant A and B). A term with H(X) + H(F) = 0 (X and F both constant) counts as 1, i.e. a
    perfect match, so Q_MI(X, X, X) = 2 for every X."""
    a, b, f = _images(a, b, f)
    a_index, b_index, f_index = (_bin_index(x, bins) for x in (a, b, f))
    f_entropy = _shannon(_probabilities(np.bincount(f_index.ravel(), minlength=bins)))
    total = 0.0
    for source in (a_index, b_index):
        denominator = _shannon(_probabilities(np.bincount(source.ravel(), minlength=bins))) + f_entropy
        if denominator == 0:
            total += 1.0
        else:
            total += 2 * _mutual_information(source, f_index, bins) / denominator
    return float(total)


def q_abf(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Xydeas and Petrovic's Q^{AB/F} of fused image F from sources A and B (2D, one shape), with L = 1.

    Per image, Sobel derivatives sx (along columns, x) and sy (along rows, y) from ``scipy.ndimage.sobel`` with
    its default ``mode="reflect"`` border (the edge pixel repeated: d c b a | a b c d); edge strength
    g = sqrt(sx^2 + sy^2); orientation alpha = arctan(sy / sx) in [-pi/2, pi/2], pi/2 wherever sx == 0 (as in
    the original definition; so a near-vertical gradient can read as +pi/2 in one image and -pi/2 in another).
    Per pixel, for X in {A, B}: G^{XF} = g_F / g_X if g_X > g_F else g_X / g_F (1 where both are 0);
    A^{XF} = 1 - |alpha_X - alpha_F| / (pi/2); Q^{XF} = Q_g Q_alpha with
    Q_g = 0.9994 / (1 + exp(-15 (G^{XF} - 0.5))) and Q_alpha = 0.9879 / (1 + exp(-22 (A^{XF} - 0.8))).
    Q^{AB/F} = sum(Q^{AF} g_A + Q^{BF} g_B) / sum(g_A + g_B).

    Range: [0, Q_g(1) Q_alpha(1) ~ 0.974], reached by F = A = B; about 0 for an F with no edges. Symmetric in A
    and B. No gradient anywhere in A and B (both constant, or flat as far as the Sobel filter sees): nan.
    """
    a, b, f = _images(a, b, f)
    strength_a, orientation_a = _sobel_edges(a)
    strength_b, orientation_b = _sobel_edges(b)
    strength_f, orientation_f = _sobel_edges(f)
    weight = strength_a.sum() + strength_b.sum()
    if weight == 0:
        return float("nan")
    preserved = (_edge_preservation(strength_a, orientation_a, strength_f, orientation_f) * strength_a
                 + _edge_preservation(strength_b, orientation_b, strength_f, orientation_f) * strength_b)
    return float(preserved.sum() / weight)


def fusion_scores(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> dict[str, float]:
    """{"AG", "SF", "EN", "Q_MI", "Q_ABF"} of fused image F from sources A and B (2D, one shape, else ValueError);
    Q_ABF is nan when A and B have no edges (see ``q_abf``)."""
    a, b, f = _images(a, b, f)
    return {"AG": average_gradient(f), "SF": spatial_frequency(f), "EN": entropy(f), "Q_MI": q_mi(a, b, f),
            "Q_ABF": q_abf(a, b, f)}


def mean_fusion_scores(rows: Sequence[Mapping[str, float | None]]) -> dict[str, float | None]:
    """Per metric of ``FUSION_METRICS``, the mean over the rows that hold a value for it (missing keys, None and
    nan are left out); None when no row has one (an empty sequence gives None for every metric)."""
    means: dict[str, float | None] = {}
    for key in FUSION_METRICS:
        found = [float(row[key]) for row in rows if row.get(key) is not None and not np.isnan(row[key])]
        means[key] = float(np.mean(found)) if found else None
    return means


def _image(f: np.ndarray) -> np.ndarray:
    image = np.asarray(f, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2:
        raise ValueError(f"expected a 2D grayscale image, (H, W) or (H, W, 1), got shape {np.shape(f)}")
    if min(image.shape) < 2:
        raise ValueError(f"images need at least 2 x 2 pixels, got shape {np.shape(f)}")
    if not np.all(np.isfinite(image)):
        raise ValueError("images must hold finite values only")
    return image


def _images(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    images = tuple(_image(x) for x in arrays)
    if len({image.shape for image in images}) > 1:
        raise ValueError(f"images differ in shape: {', '.join(str(np.shape(x)) for x in arrays)}")
    return images


def _bin_index(image: np.ndarray, bins: int) -> np.ndarray:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 256:
        raise ValueError(f"bins must be an integer from 1 to 256, got {bins!r}")
    levels = np.clip(np.rint(image), 0, 255).astype(np.int64)
    # The exact integer form of np.histogram's equal-width bins over [0, 255], the top edge included in the last.
    return np.minimum(levels * bins // 255, bins - 1)


def _probabilities(counts: np.ndarray) -> np.ndarray:
    counts = counts[counts > 0]
    return counts / counts.sum()


def _shannon(p: np.ndarray) -> float:
    return float(-np.sum(p * np.log2(p))) + 0.0  # + 0.0 turns the -0.0 of a single bin into 0.0


def _mutual_information(a_index: np.ndarray, f_index: np.ndarray, bins: int) -> float:
    joint = np.bincount((a_index * bins + f_index).ravel(), minlength=bins * bins).reshape(bins, bins)
    joint = joint / joint.sum()
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    cells = joint > 0
    return max(float(np.sum(joint[cells] * np.log2(joint[cells] / outer[cells]))), 0.0)


def _sobel_edges(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sx = ndimage.sobel(image, axis=1, mode="reflect")
    sy = ndimage.sobel(image, axis=0, mode="reflect")
    vertical = sx == 0
    ratio = np.divide(sy, sx, out=np.zeros_like(sy), where=~vertical)
    return np.hypot(sx, sy), np.where(vertical, np.pi / 2, np.arctan(ratio))


def _edge_preservation(strength_x: np.ndarray, orientation_x: np.ndarray, strength_f: np.ndarray,
                       orientation_f: np.ndarray) -> np.ndarray:
    larger = np.maximum(strength_x, strength_f)
    smaller = np.minimum(strength_x, strength_f)
    relative_strength = np.divide(smaller, larger, out=np.ones_like(larger), where=larger > 0)
    relative_orientation = 1 - np.abs(orientation_x - orientation_f) / (np.pi / 2)
    q_strength = _GAMMA_G / (1 + np.exp(_KAPPA_G * (relative_strength - _SIGMA_G)))
    q_orientation = _GAMMA_ALPHA / (1 + np.exp(_KAPPA_ALPHA * (relative_orientation - _SIGMA_ALPHA)))
    return q_strength * q_orientation
