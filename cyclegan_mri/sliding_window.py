"""Sliding-window inference: apply a network trained on patches to a whole 2D or 3D (any N-D) volume.

The volume, ``(*spatial, C)``, is cut into overlapping windows of the patch size, the windows are predicted in
batches, and the predictions are blended back into one array of the input's exact spatial shape. The predictor
is any callable from ``(B, *patch, C)`` to ``(B, *patch, C_out)``, so this module needs numpy only.

Windows. Along each axis, with that axis's own patch size ``p`` and the volume's size ``n`` there, windows
start every ``step = max(1, floor(p * (1 - overlap)))`` voxels (rounded down; a 1e-9 allowance keeps a product
that is whole in decimal, such as ``20 * (1 - 0.9) = 2``, from dropping to 1 through binary rounding). The last
window is snapped to the edge, ``start = n - p``, so that every voxel is covered and no window leaves the
array; that window may overlap its neighbour more than the others do. The windows of a volume are all
combinations of the per-axis starts.

Padding. Along an axis where the volume is smaller than the patch, it is padded up to the patch size, the
content centred (``(p - n) // 2`` voxels before it, the rest after), with ``pad_value`` or, when that is None,
by replicating the edge voxels; the result is cropped back to the input's shape.

Blending. Each voxel of the result is the weighted sum of the predictions of the windows covering it divided
by the sum of their weights. With "gaussian" blending the weight is a separable Gaussian centred on the patch
(sigma = ``sigma_scale`` times the patch size on each axis, maximum 1), so a voxel is decided mostly by the
windows it lies near the centre of, where a convolutional network sees the most context, and seams between
windows fade out; "constant" weighs every voxel of a window alike (a plain average). Gaussian weights are
clipped below at ``WEIGHT_FLOOR``.

No epsilon in the denominator. Every voxel lies in at least one window (the snapping) and every weight is at
least ``WEIGHT_FLOOR > 0``, so the summed weight is never zero and the division is exact: a predictor that
returns its input gives back the volume. Adding a constant to the denominator (``+ 0.01`` in one PyTorch 3D
CycleGAN) scales every voxel by ``sum / (sum + 0.01)``, which darkens the result most where the summed
weight is small, near the borders of the volume (a voxel covered only by Gaussian tails loses nearly all of
its intensity).

Memory: the blended sum is accumulated in float64 (the padded volume's size times ``C_out``), with a float64
weight sum of the spatial size, so that the result is exact to float32 precision whatever the overlap.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from cyclegan_mri.errors import UserError
from cyclegan_mri.progress import Progress

BLEND_MODES = ("gaussian", "constant")
# Small enough that a window's border barely counts where another window's centre covers the same voxel,
# large enough to stay far from float32 underflow (the corner of a 3D Gaussian is about 1e-11).
WEIGHT_FLOOR = 1e-4
# Keeps floor(p * (1 - overlap)) from losing 1 to binary rounding when the exact product is whole.
_STEP_SLACK = 1e-9


def _check_overlap(overlap: float) -> None:
    # Written so that NaN fails too.
    if not 0 <= overlap < 1:
        raise UserError(f"--overlap {overlap}: must be at least 0 and below 1")


def _check_blend(blend: str) -> None:
    if blend not in BLEND_MODES:
        raise UserError(f"--blend {blend}: must be one of {', '.join(BLEND_MODES)}")


def _check_patch(patch: Sequence[int]) -> tuple[int, ...]:
    try:
        sizes = tuple(patch)
    except TypeError:
        raise UserError(f"--patch {patch}: must give one size per spatial axis") from None
    shown = " ".join(map(str, sizes))
    if not sizes:
        raise UserError("--patch: must give one size per spatial axis")
    if any(isinstance(p, bool) or not isinstance(p, numbers.Integral) for p in sizes):
        raise UserError(f"--patch {shown}: every patch size must be a whole number")
    if min(sizes) < 1:
        raise UserError(f"--patch {shown}: every patch size must be at least 1")
    return tuple(int(p) for p in sizes)


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start offsets of the windows along one axis of ``size`` voxels (see the module docstring).

    ``step = max(1, floor(patch * (1 - overlap)))``; starts ``0, step, 2 * step, ...`` up to ``size - patch``,
    plus ``size - patch`` itself when the steps miss it. A single start 0 when ``size <= patch``.
    """
    _check_overlap(overlap)
    (patch,) = _check_patch((patch,))
    if size < 1:
        raise UserError(f"cannot slide a window along an axis of size {size}")
    last = size - patch
    if last <= 0:
        return [0]
    step = max(1, math.floor(patch * (1 - overlap) + _STEP_SLACK))
    starts = list(range(0, last + 1, step))
    if starts[-1] != last:
        starts.append(last)
    return starts


def blending_weights(patch: tuple[int, ...], mode: str = "gaussian", sigma_scale: float = 0.125) -> np.ndarray:
    """Weights of one window's voxels in the blend, float32 of shape ``patch``.

    "gaussian": a separable Gaussian centred on the patch (centre ``(p - 1) / 2`` on each axis), with sigma
    ``sigma_scale * p`` on each axis, scaled so that its maximum is 1 and clipped below at ``WEIGHT_FLOOR``.
    "constant": all ones.
    """
    patch = _check_patch(patch)
    _check_blend(mode)
    if mode == "constant":
        return np.ones(patch, np.float32)
    if not sigma_scale > 0:
        raise UserError(f"sigma_scale {sigma_scale}: must be positive")
    weights = np.ones((), np.float64)
    for size in patch:
        offsets = np.arange(size) - (size - 1) / 2
        profile = np.exp(-0.5 * (offsets / (sigma_scale * size)) ** 2)
        # An even axis has no voxel at its centre: its two middle voxels share the maximum.
        weights = np.multiply.outer(weights, profile / profile.max())
    return np.maximum(weights, WEIGHT_FLOOR).astype(np.float32)


def sliding_window_inference(volume: np.ndarray, patch: Sequence[int], predict: Callable[[np.ndarray], np.ndarray],
                             overlap: float = 0.5, blend: str = "gaussian", batch_size: int = 1,
                             pad_value: float | None = None, progress: str | None = None) -> np.ndarray:
    """Apply ``predict`` to overlapping windows of ``volume`` and blend the predictions (see the module docstring).

    ``volume`` is ``(*spatial, C)`` with one spatial axis per patch size; ``predict`` takes a float32 batch
    ``(B, *patch, C)`` with ``B <= batch_size`` and returns ``(B, *patch, C_out)`` (anything ``np.asarray``
    reads, a tensor included). Axes shorter than the patch are padded, content centred, with ``pad_value``,
    or by replicating the edge voxels when it is None, and cropped back. With ``progress`` (a title), the title
    is printed and the windows are counted (``progress.Progress``: a live bar on a terminal, a few lines in a
    log). Returns ``(*spatial, C_out)`` float32.
    """
    patch = _check_patch(patch)
    _check_overlap(overlap)
    _check_blend(blend)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise UserError(f"--batch {batch_size}: must be a whole number of at least 1")
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != len(patch) + 1:
        raise UserError(f"a volume of shape {volume.shape} for a {len(patch)}-D patch: expected {len(patch)} "
                        "spatial axes and a channel axis")
    if volume.size == 0:
        raise UserError(f"a volume of shape {volume.shape} is empty")
    spatial = volume.shape[:-1]

    # Centred rather than at the end, so the content sits where a network trained on patches sees most context.
    before = [max(0, p - n) // 2 for n, p in zip(spatial, patch)]
    after = [max(0, p - n) - b for n, p, b in zip(spatial, patch, before)]
    if any(before) or any(after):
        widths = [*zip(before, after), (0, 0)]
        if pad_value is None:
            volume = np.pad(volume, widths, mode="edge")
        else:
            volume = np.pad(volume, widths, mode="constant", constant_values=pad_value)
    padded = volume.shape[:-1]

    corners = list(itertools.product(*(window_starts(n, p, overlap) for n, p in zip(padded, patch))))
    weights = blending_weights(patch, blend).astype(np.float64)
    weight_sum = np.zeros(padded, np.float64)
    blended = None  # allocated on the first batch, once the predictor's channel count is known

    bar = Progress(progress, len(corners), "window") if progress else None
    for first in range(0, len(corners), batch_size):
        windows = [tuple(slice(c, c + p) for c, p in zip(corner, patch))
                   for corner in corners[first:first + batch_size]]
        batch = np.stack([volume[window] for window in windows])
        out = np.asarray(predict(batch))
        expected = (len(windows), *patch)
        if out.ndim != len(patch) + 2 or out.shape[:-1] != expected or (
                blended is not None and out.shape[-1] != blended.shape[-1]):
            channels = "channels" if blended is None else blended.shape[-1]
            raise UserError(f"the predictor returned shape {out.shape} for a batch of shape {batch.shape}: "
                            f"expected ({', '.join(map(str, expected))}, {channels})")
        if blended is None:
            blended = np.zeros((*padded, out.shape[-1]), np.float64)
        for window, prediction in zip(windows, out):
            blended[window] += weights[..., None] * prediction
            weight_sum[window] += weights
        if bar:
            bar.add(len(windows))

    # Exact division: weight_sum >= WEIGHT_FLOOR everywhere (module docstring).
    result = blended / weight_sum[..., None]
    crop = tuple(slice(b, b + n) for b, n in zip(before, spatial))
    return result[crop].astype(np.float32)
