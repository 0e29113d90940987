"""Classical pixel-level fusion of two aligned grayscale images, the baselines learned fusion is compared with.

Inputs are arrays of intensities on the 0-255 scale (uint8 or float) of one shape, any size; each rule returns a
float64 array of that shape:

- ``average``: (A + B) / 2;
- ``maximum``: max(A, B) per pixel;
- ``laplacian_pyramid``: Burt and Adelson's Laplacian pyramids of A and B, the detail coefficient of larger
  magnitude kept per pixel and level, the coarsest level averaged, reconstructed and clipped to [0, 255].

``average`` and ``maximum`` stay within the range of their inputs, so in [0, 255] for inputs in [0, 255]; they are
not clipped, so no value is changed silently. ``fuse`` picks a rule by name from ``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage
from skimage.transform import pyramid_reduce, resize

# skimage's default for a factor of 2 (2 * factor / 6): the Gaussian covers > 99% of a 2x-wide kernel.
_SIGMA = 2 / 3


def average(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A + B) / 2 per pixel, float64; A and B of one shape (else ValueError)."""
    a, b = _pair(a, b)
    return (a + b) / 2


def maximum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """max(A, B) per pixel, float64; A and B of one shape (else ValueError)."""
    a, b = _pair(a, b)
    return np.maximum(a, b)


def laplacian_pyramid(a: np.ndarray, b: np.ndarray, levels: int = 4) -> np.ndarray:
    """Laplacian-pyramid fusion (Burt and Adelson 1983) of two 2D images, (H, W) or (H, W, 1), of one shape.

    Gaussian pyramid: G_0 = image, G_{k+1} = ``skimage.transform.pyramid_reduce`` of G_k (Gaussian blur,
    sigma 2/3, then bilinear resampling to ceil(shape / 2), so odd sizes lose nothing). Laplacian pyramid:
    L_k = G_k - expand(G_{k+1}) for k < n, L_n = G_n, where expand resizes bilinearly to G_k's exact shape and
    blurs with the same Gaussian (``pyramid_expand``, but to an exact shape rather than twice the size). Fusion:
    per pixel of each detail level L_k, k < n, the coefficient of A or B of larger absolute value (A's on ties);
    the base L_n is the average of A's and B's. Reconstruction: G_n = L_n, G_k = L_k + expand(G_{k+1}); the
    result is clipped to [0, 255].

    ``levels`` (an integer >= 0) is n, the number of detail levels; it is capped by the image size, halving
    stopping once either side of a level is 1 pixel (a 5 x 7 image has at most 3: 5x7, 3x4, 2x2, then 1x1). With
    levels=0 the result is the average. Reconstruction is exact, so fusing an image with itself returns it, up to
    float rounding (and the clipping, for values outside [0, 255]).
    """
    a, b = _pair(a, b)
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 0:
        raise ValueError(f"levels must be an integer >= 0, got {levels!r}")
    channel = a.ndim == 3 and a.shape[-1] == 1
    if channel:
        a, b = a[..., 0], b[..., 0]
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"laplacian_pyramid needs non-empty 2D images, (H, W) or (H, W, 1), got shape {a.shape}")
    pyramid_a, pyramid_b = _laplacian(a, levels), _laplacian(b, levels)
    fused = [np.where(np.abs(detail_a) >= np.abs(detail_b), detail_a, detail_b)
             for detail_a, detail_b in zip(pyramid_a[:-1], pyramid_b[:-1])]
    fused.append((pyramid_a[-1] + pyramid_b[-1]) / 2)
    image = fused[-1]
    for detail in reversed(fused[:-1]):
        image = detail + _expand(image, detail.shape)
    image = np.clip(image, 0, 255)
    return image[..., None] if channel else image


RULES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "average": average, "maximum": maximum, "laplacian": laplacian_pyramid}


def fuse(rule: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fuse A and B (one shape, else ValueError naming both) with the rule of ``RULES`` called ``rule`` (an
    unknown name is a ValueError listing the choices); the laplacian rule uses its default levels."""
    if rule not in RULES:
        raise ValueError(f"unknown fusion rule {rule!r}; choose one of {', '.join(RULES)}")
    return RULES[rule](a, b)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: a {a.shape}, b {b.shape}")
    return a, b


def _laplacian(image: np.ndarray, levels: int) -> list[np.ndarray]:
    gaussian = [image]
    while len(gaussian) <= levels and min(gaussian[-1].shape) > 1:
        gaussian.append(pyramid_reduce(gaussian[-1], downscale=2, sigma=_SIGMA, preserve_range=True))
    details = [fine - _expand(coarse, fine.shape) for fine, coarse in zip(gaussian[:-1], gaussian[1:])]
    return details + [gaussian[-1]]


def _expand(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    upsampled = resize(image, shape, order=1, mode="reflect", anti_aliasing=False, preserve_range=True)
    return ndimage.gaussian_filter(upsampled, _SIGMA, mode="mirror")


def fuse_model_range(rule: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The classical fusion ``rule`` of model-range pairs (N, H, W, C), channel by channel, in the model's range."""
    fused = np.empty_like(x, dtype=np.float32)
    for i in range(len(x)):
        for c in range(x.shape[-1]):
            a, b = ((v[i, ..., c] + 1.0) * 127.5 for v in (x, y))
            fused[i, ..., c] = fuse(rule, a, b) / 127.5 - 1.0
    return fused
