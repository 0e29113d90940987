"""Applying a 3D generator to whole NIfTI volumes, and scoring it on aligned volume pairs.

A volume goes through the training's one map (``volume_data.prepare_volume``:
canonical voxel order, optional resampling to the run's ``--spacing``, the
0.5-99.5th percentile window to [-1, 1]), the generator slides over it in
windows (``sliding_window.sliding_window_inference``; ``networks.windows.DEFAULT_WINDOW``
by default, or its training patch, several windows per call, padding with
background where the volume is smaller), and the result goes
back: resampled to the canonical grid, through the inverse intensity map, into
the input's voxel order. The output has the input's exact shape, affine and
header (as float32), so it overlays the input in any viewer.

Scores compare the translation with the aligned target on the model's 0-255
scale, both prepared the same way (as slices are scored on their 8-bit
values): PSNR, 3D SSIM and NMSE over the whole volume (``metrics``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from cyclegan_mri.data.nifti import float32_like, read_volume, save_volume
from cyclegan_mri.data.volume_data import PreparedVolume, prepare_volume
from cyclegan_mri.errors import DataError
from cyclegan_mri.metrics import score
from cyclegan_mri.networks.windows import DEFAULT_BATCH, DEFAULT_WINDOW, fit_window, training_patch, window_predictor
from cyclegan_mri.sliding_window import sliding_window_inference

DEFAULT_OVERLAP = 0.5
DEFAULT_BLEND = "gaussian"


def is_volumetric(generator: keras.Model) -> bool:
    """Whether the generator translates volumes, (N, D, H, W, C), rather than slices."""
    return len(generator.input_shape) == 5


def predict_volume(generator: keras.Model, data: np.ndarray, overlap: float = DEFAULT_OVERLAP,
                   blend: str = DEFAULT_BLEND, batch_size: int = DEFAULT_BATCH,
                   window: Sequence[int] | None = DEFAULT_WINDOW, progress: str | None = None) -> np.ndarray:
    """The generator's translation of a prepared (D, H, W) volume in [-1, 1], window by window, same shape.

    ``window`` is the (D, H, W) size of the windows (``networks.windows``: multiples of the generator's
    down-sampling factor), shrunk where the volume is smaller; None slides the training patch itself, as
    before windows could differ from it. ``batch_size`` windows go through the generator per call.
    """
    window = training_patch(generator) if window is None else fit_window(generator, window, np.shape(data))
    return sliding_window_inference(np.asarray(data, np.float32)[..., None], window,
                                    window_predictor(generator, window), overlap=overlap, blend=blend,
                                    batch_size=batch_size, pad_value=-1.0, progress=progress)[..., 0]


def translate_image(generator: keras.Model, image, spacing: tuple[float, float, float] | None = None,
                    overlap: float = DEFAULT_OVERLAP, blend: str = DEFAULT_BLEND, progress: str | None = None,
                    prepared: PreparedVolume | None = None, window: Sequence[int] | None = DEFAULT_WINDOW):
    """A NIfTI image translated as a volume: a float32 image on the input's grid, affine and header."""
    prepared = prepared or prepare_volume(image, spacing, image.get_filename() or "volume")
    translated = predict_volume(generator, prepared.data, overlap, blend, window=window, progress=progress)
    return float32_like(prepared.to_source_grid(translated), image)


def translate_file(generator: keras.Model, source: str | os.PathLike, target: str | os.PathLike,
                   spacing: tuple[float, float, float] | None = None, overlap: float = DEFAULT_OVERLAP,
                   blend: str = DEFAULT_BLEND, window: Sequence[int] | None = DEFAULT_WINDOW) -> Path:
    """Translate one NIfTI file into ``target`` (written whole or not at all)."""

    image = read_volume(source)
    translated = translate_image(generator, image, spacing, overlap, blend, progress=f"translating {Path(source).name}",
                                 window=window)
    save_volume(translated, target)
    return Path(target)


def score_pair(generator: keras.Model, source: str | os.PathLike, target: str | os.PathLike,
               spacing: tuple[float, float, float] | None = None, overlap: float = DEFAULT_OVERLAP,
               blend: str = DEFAULT_BLEND, write_to: str | os.PathLike | None = None,
               window: Sequence[int] | None = DEFAULT_WINDOW) -> dict:
    """Scores of the translation of ``source`` against its aligned ``target`` (and of the identity), on the
    model's 0-255 scale, and the (source, target) arrays as prepared; with ``write_to``, the translation is
    also saved there on the source's grid."""

    source_image = read_volume(source)
    prepared = prepare_volume(source_image, spacing, source)
    expected = prepare_volume(read_volume(target), spacing, target)
    if prepared.data.shape != expected.data.shape:
        raise DataError(f"{Path(source).name}: the source is {'x'.join(map(str, prepared.data.shape))} and its target "
                        f"{'x'.join(map(str, expected.data.shape))} voxels (in canonical order); aligned pairs must "
                        "share one grid")
    translated = predict_volume(generator, prepared.data, overlap, blend, window=window,
                                progress=f"translating {Path(source).name}")
    if write_to is not None:
        save_volume(float32_like(prepared.to_source_grid(translated), source_image), write_to)
    as_8bit = lambda x: np.clip((np.asarray(x, np.float64) + 1.0) * 127.5, 0.0, 255.0)  # noqa: E731
    target_8bit = as_8bit(expected.data)
    return {"model": score(target_8bit, as_8bit(translated), channel_axis=None),
            "identity": score(target_8bit, as_8bit(prepared.data), channel_axis=None),
            # What the networks saw of each volume, for telling whether the run trained on it.
            "prepared": (prepared.data, expected.data)}
