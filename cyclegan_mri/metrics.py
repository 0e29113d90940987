"""Image-quality metrics on the 0-255 scale, for every score the project reports.

PSNR and SSIM are scikit-image's with ``data_range=255``; NMSE is the squared
error normalised by the target's energy, ||t - p||^2 / ||t||^2 (as in fastMRI).
Colour images, (H, W, 3), are scored over all their values; SSIM is the mean of
each channel's (``channel_axis``). Volumes, (D, H, W), get scikit-image's 3D SSIM
(7x7x7 windows).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

DATA_RANGE = 255.0


def psnr(target: np.ndarray, prediction: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(np.asarray(target, np.float64), np.asarray(prediction, np.float64),
                                         data_range=DATA_RANGE))


def ssim(target: np.ndarray, prediction: np.ndarray, channel_axis: int | None | str = "auto") -> float:
    """SSIM; ``channel_axis`` "auto" reads a 3D array as a colour image (H, W, C), None as a volume."""
    target = np.asarray(target, np.float64)
    if channel_axis == "auto":
        channel_axis = -1 if target.ndim == 3 else None
    return float(structural_similarity(target, np.asarray(prediction, np.float64), data_range=DATA_RANGE,
                                       channel_axis=channel_axis))


def nmse(target: np.ndarray, prediction: np.ndarray) -> float:
    target = np.asarray(target, np.float64)
    error = np.sum((target - np.asarray(prediction, np.float64)) ** 2)
    return float(error / np.sum(target ** 2))


def score(target: np.ndarray, prediction: np.ndarray, channel_axis: int | None | str = "auto") -> dict[str, float]:
    """PSNR, SSIM and NMSE of one prediction against its aligned target (same shape); ``channel_axis`` as
    for ``ssim`` (None scores a (D, H, W) volume with 3D SSIM)."""
    if np.shape(target) != np.shape(prediction):
        raise ValueError(f"shapes differ: target {np.shape(target)}, prediction {np.shape(prediction)}")
    return {"psnr": psnr(target, prediction), "ssim": ssim(target, prediction, channel_axis),
            "nmse": nmse(target, prediction)}


def masked_score(target: np.ndarray, prediction: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM and NMSE of a grayscale slice (or (D, H, W) volume, with 3D SSIM) inside ``mask`` (a boolean
    array of its shape, not empty): PSNR and NMSE over the masked pixels' errors; SSIM the mean of scikit-image's
    SSIM map over them (each pixel's window still sees its neighbours outside the mask)."""
    target, prediction, mask = np.asarray(target, np.float64), np.asarray(prediction, np.float64), np.asarray(mask, bool)
    if target.shape != prediction.shape or target.shape != mask.shape:
        raise ValueError(f"shapes differ: target {target.shape}, prediction {prediction.shape}, mask {mask.shape}")
    if not mask.any():
        raise ValueError("the mask is empty")
    error = (target - prediction)[mask]
    mse = float(np.mean(error ** 2))
    _, ssim_map = structural_similarity(target, prediction, data_range=DATA_RANGE, full=True)
    return {"psnr": float("inf") if mse == 0 else float(10 * np.log10(DATA_RANGE ** 2 / mse)),
            "ssim": float(np.mean(ssim_map[mask])),
            "nmse": float(np.sum(error ** 2) / np.sum(target[mask] ** 2))}


def summarize(names: Sequence[str], targets: Sequence[np.ndarray], predictions: Sequence[np.ndarray]) -> dict:
    """Mean scores and the per-image ones: ``{"psnr", "ssim", "nmse", "per_image": [...]}``; the means are None
    when there is nothing to score."""
    per_image = [{"name": name, **score(t, p)} for name, t, p in zip(names, targets, predictions)]
    means = {key: float(np.mean([row[key] for row in per_image])) if per_image else None
             for key in ("psnr", "ssim", "nmse")}
    return {**means, "per_image": per_image}
