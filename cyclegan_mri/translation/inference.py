"""Applying trained generators: to 8-bit slices of any size, and to image files and NIfTI volumes on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from cyclegan_mri.data import nifti
from cyclegan_mri.data.images import (
    decode_image,
    encode_png,
    is_image_name,
    to_intensity,
    to_model_range,
    to_uint8,
    with_channels,
)
from cyclegan_mri.data.intensity import Scaling
from cyclegan_mri.data.sources import load_folder
from cyclegan_mri.errors import DataError, UserError
from cyclegan_mri.networks.windows import DEFAULT_WINDOW
from cyclegan_mri.networks import layers  # noqa: F401  registers InstanceNormalization for loading
from cyclegan_mri.progress import Progress
from cyclegan_mri.record import load_run_options
from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.volumetric.inference import DEFAULT_BLEND, DEFAULT_OVERLAP, is_volumetric, translate_file


def generator_paths(run: RunDir) -> dict[str, Path]:
    """The exported generator files of a run by direction, the run's forward direction (A to B) first."""
    found = {p.name.removesuffix(".keras"): p for p in sorted(run.generators.glob("*_to_*.keras"))
             if not p.name.startswith(".")} if run.generators.is_dir() else {}
    saved = load_run_options(run.root)
    order = saved.run_domains.directions if saved is not None else ()
    return dict(sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def existing_generator_paths(run: RunDir) -> dict[str, Path]:
    """``generator_paths``, or a one-line error for a run that has exported none."""
    found = generator_paths(run)
    if not found:
        raise UserError(f"{run.generators}: no trained generators; train with `python train.py --out {run.root}` "
                        "first (a run that was stopped exports them when resumed with the same command)")
    return found


def load_generators(run: RunDir) -> dict[str, keras.Model]:
    """The exported generators of a run, by direction (see ``generator_paths``)."""
    return {d: keras.saving.load_model(path, compile=False) for d, path in existing_generator_paths(run).items()}


def pick_generator(run: RunDir, direction: str | None = None) -> tuple[str, keras.Model]:
    """The run's generator for ``direction`` (any case); by default its only one, or its forward one (A to B)."""
    paths = existing_generator_paths(run)
    direction = next(iter(paths)) if direction is None else direction.lower()
    if direction not in paths:
        raise UserError(f"--direction {direction}: the run in {run.root} has no such generator; it translates "
                        f"{' and '.join(paths)}")
    return direction, keras.saving.load_model(paths[direction], compile=False)


def model_size(generator: keras.Model) -> tuple[int, int]:
    """(rows, cols) the generator was built for."""
    rows, columns = generator.input_shape[1:3]
    if rows is None or columns is None:
        raise ValueError(f"{generator.name} takes any size (it trains on crops): say which size to translate at")
    return int(rows), int(columns)


def model_channels(generator: keras.Model) -> int:
    """The channel count the generator takes and gives (1 gray, 3 colour)."""
    return int(generator.input_shape[-1])


def translate_slices(generator: keras.Model, images: Sequence[np.ndarray], batch_size: int = 8,
                     progress: str | None = None, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Translate 8-bit slices at the model's size (or ``size``); each result is resized back to its input's own size.

    Slices in other channels than the model's are converted first (colour to gray, gray repeated in three
    channels). Results are float intensities in [0, 255], (H, W) or (H, W, 3) as the model's channels
    (``images.to_uint8`` makes PNG-ready slices of them). With ``progress`` (a title), the slices are counted
    (``progress.Progress``: a live bar on a terminal, a few lines in a log).
    """
    size = size or model_size(generator)
    channels = model_channels(generator)
    images = [with_channels(image, channels)[0] for image in images]
    results = []
    bar = Progress(progress, len(images), "slice") if progress else None
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        outputs = np.asarray(generator(to_model_range(chunk, size), training=False))
        results.extend(to_intensity(out, np.shape(image)[:2]) for out, image in zip(outputs, chunk))
        if bar:
            bar.add(len(chunk))
    return results


def translate_volume(generator, image, plane: str = "axial", progress: str | None = None):
    """Translate a NIfTI image slice by slice along ``plane``; the result overlays the input exactly.

    Each slice is scaled volume-wide (see ``cyclegan_mri.data.nifti``), translated at the
    model's size and resized back; the slices are reassembled in the input's
    voxel order and mapped back to its intensity range, as float32.
    """
    if model_channels(generator) != 1:
        raise UserError("this run's generators translate colour images (--channels 3); volumes are grayscale: "
                        "translate them with a run trained with --channels 1")
    data = nifti.voxels(image)
    scaling = Scaling.of(data, image.get_filename() or "volume")
    slices = scaling.to_slices(nifti.to_slices(data, image.affine, plane))
    translated = np.stack(translate_slices(generator, list(slices), progress=progress))
    return nifti.float32_like(scaling.to_volume(nifti.from_slices(translated, image.affine, plane)), image)


def translate_path(generator: keras.Model, source: str | Path, target: str | Path, plane: str = "axial",
                   skip_bad: bool = False, spacing: tuple[float, float, float] | None = None,
                   overlap: float | None = None, blend: str | None = None,
                   window: Sequence[int] | None = DEFAULT_WINDOW) -> list[Path]:
    """Translate an image file, a NIfTI volume, or a folder of either into ``target`` (a file or a folder).

    Images become 8-bit PNGs at their own size, in the model's channels; volumes become float32 NIfTI
    volumes on the input's grid: slice by slice along ``plane`` for a 2D generator (see
    ``cyclegan_mri.data.nifti``), as a volume with a sliding window (``overlap``, ``blend``, ``window``, and
    the run's ``spacing``) for a 3D one (see ``cyclegan_mri.volumetric.inference``). Returns the files written.
    """

    source, target = Path(source), Path(target)
    volumetric = is_volumetric(generator)
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_dir():
        niftis = sorted(p for p in source.iterdir() if p.is_file() and nifti.is_nifti(p))
        if niftis:
            return [translate_path(generator, p, target / p.name, plane, spacing=spacing, overlap=overlap,
                                   blend=blend, window=window)[0] for p in niftis]
        if volumetric:
            raise DataError(f"{source}: no NIfTI volumes (.nii, .nii.gz) to translate (this run translates volumes)")
        slices = load_folder(source, skip_bad, channels=None)
        if not slices:
            raise DataError(f"{source}: no images or NIfTI volumes to translate")
        outputs = translate_slices(generator, [s.image for s in slices], progress=f"translating {source}")
        written = [target / f"{Path(s.name).stem}.png" for s in slices]
        for path, image in zip(written, outputs):
            write_atomic(path, encode_png(to_uint8(image)))
        return written
    if nifti.is_nifti(source):
        if not nifti.is_nifti(target):
            raise UserError(f"{target}: a translated volume is written as NIfTI; name it .nii or .nii.gz")
        if volumetric:
            return [translate_file(generator, source, target, spacing, overlap or DEFAULT_OVERLAP,
                                   blend or DEFAULT_BLEND, window)]
        image = nifti.read_volume(source)
        translated = translate_volume(generator, image, plane, progress=f"translating {source.name}")
        nifti.save_volume(translated, target)
        return [target]
    if volumetric:
        raise UserError(f"{source}: this run translates NIfTI volumes (.nii, .nii.gz) as volumes, not images; "
                        "translate slices with a 2D run")
    if not is_image_name(source.name):
        raise DataError(f"{source}: neither an image (.png, .jpg, ...) nor a NIfTI volume (.nii, .nii.gz)")
    if target.suffix.lower() != ".png":
        raise UserError(f"{target}: a translated image is written as PNG; name it .png")
    image, _ = decode_image(source.read_bytes(), str(source), channels=None)
    (output,) = translate_slices(generator, [image])
    write_atomic(target, encode_png(to_uint8(output)))
    return [target]
