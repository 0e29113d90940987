"""Applying trained generators: to 8-bit slices of any size, and to image files and NIfTI volumes on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from cyclegan_mri.data.images import decode_image, encode_png, is_image_name, to_intensity, to_model_range, to_uint8
from cyclegan_mri.data.sources import load_folder
from cyclegan_mri.errors import DataError, UserError
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


def pick_generator(run: RunDir, direction: str | None = None) -> tuple[str, keras.Model]:
    """The run's generator for ``direction``; by default its only one, or T1 -> T2 when it has both."""
    generators = load_generators(run)
    if direction is None:
        direction = next(iter(generators)) if len(generators) == 1 else "t1_to_t2"
    if direction not in generators:
        raise UserError(f"the run in {run.root} has no {direction} generator (it has: {', '.join(generators)})")
    return direction, generators[direction]


def model_size(generator: keras.Model) -> tuple[int, int]:
    """(rows, cols) the generator was built for."""
    rows, columns = generator.input_shape[1:3]
    if rows is None or columns is None:
        raise ValueError(f"{generator.name} takes any size (it trains on crops): say which size to translate at")
    return int(rows), int(columns)


def translate_slices(generator: keras.Model, images: Sequence[np.ndarray], batch_size: int = 8,
                     progress: str | None = None, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Translate 8-bit slices at the model's size (or ``size``); each result is resized back to its input's own size.

    Results are float intensities in [0, 255] (``images.to_uint8`` makes PNG-ready slices of them).
    With ``progress`` (a title), a progress bar counts the slices.
    """
    size = size or model_size(generator)
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


def translate_path(generator: keras.Model, source: str | Path, target: str | Path, plane: str = "axial",
                   skip_bad: bool = False) -> list[Path]:
    """Translate an image file, a NIfTI volume, or a folder of either into ``target`` (a file or a folder).

    Images become 8-bit PNGs at their own size; volumes become float32 NIfTI
    volumes on the input's grid (see ``cyclegan_mri.volumes``). Returns the files written.
    """
    from cyclegan_mri import volumes
    from cyclegan_mri.rundir import write_atomic

    source, target = Path(source), Path(target)
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_dir():
        niftis = sorted(p for p in source.iterdir() if p.is_file() and volumes.is_nifti(p))
        if niftis:
            return [translate_path(generator, p, target / p.name, plane)[0] for p in niftis]
        slices = load_folder(source, skip_bad)
        if not slices:
            raise DataError(f"{source}: no images or NIfTI volumes to translate")
        outputs = translate_slices(generator, [s.image for s in slices], progress=f"translating {source}")
        written = [target / f"{Path(s.name).stem}.png" for s in slices]
        for path, image in zip(written, outputs):
            write_atomic(path, encode_png(to_uint8(image)))
        return written
    if volumes.is_nifti(source):
        if not volumes.is_nifti(target):
            raise UserError(f"{target}: a translated volume is written as NIfTI; name it .nii or .nii.gz")
        image = volumes.read_volume(source)
        translated = volumes.translate_volume(generator, image, plane, progress=f"translating {source.name}")
        volumes.save_volume(translated, target)
        return [target]
    if not is_image_name(source.name):
        raise DataError(f"{source}: neither an image (.png, .jpg, ...) nor a NIfTI volume (.nii, .nii.gz)")
    if target.suffix.lower() != ".png":
        raise UserError(f"{target}: a translated image is written as PNG; name it .png")
    image, _ = decode_image(source.read_bytes(), str(source))
    (output,) = translate_slices(generator, [image])
    write_atomic(target, encode_png(to_uint8(output)))
    return [target]
