"""Applying trained generators to 8-bit slices of any size."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from cyclegan_mri.data.images import to_intensity, to_model_range
from cyclegan_mri.errors import UserError
from cyclegan_mri.networks import layers  # noqa: F401  registers InstanceNormalization for loading
from cyclegan_mri.rundir import RunDir

DIRECTIONS = ("t1_to_t2", "t2_to_t1")


def load_generators(run: RunDir) -> dict[str, keras.Model]:
    """The exported generators of a run, by direction."""
    found = {d: run.generator(d) for d in DIRECTIONS if run.generator(d).exists()}
    if not found:
        raise UserError(f"{run.generators}: no trained generators; train with `python train.py --out {run.root}` "
                        "first (a run that was stopped exports them when resumed with the same command)")
    return {d: keras.saving.load_model(path, compile=False) for d, path in found.items()}


def model_size(generator: keras.Model) -> tuple[int, int]:
    """(rows, cols) the generator was built for."""
    return tuple(int(v) for v in generator.input_shape[1:3])


def translate_slices(generator: keras.Model, images: Sequence[np.ndarray], batch_size: int = 8,
                     progress: str | None = None) -> list[np.ndarray]:
    """Translate 8-bit slices at the model's size; each result is resized back to its input's own size.

    Results are float intensities in [0, 255] (``images.to_uint8`` makes PNG-ready slices of them).
    With ``progress`` (a title), a progress bar counts the slices.
    """
    size = model_size(generator)
    results = []
    bar = None
    if progress:
        print(progress)
        bar = keras.utils.Progbar(len(images), unit_name="slice")
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        outputs = np.asarray(generator(to_model_range(chunk, size), training=False))
        results.extend(to_intensity(out, np.shape(image)) for out, image in zip(outputs, chunk))
        if bar:
            bar.add(len(chunk))
    return results
