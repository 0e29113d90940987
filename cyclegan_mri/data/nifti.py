"""NIfTI volumes as stacks of 2D slices: read, slice along an anatomical plane, scale, reassemble, write.

Low level: no TensorFlow, no command-line code.

Orientation. A volume is cut along an anatomical plane found from its affine,
whatever its voxel order on disk (nibabel's ``io_orientation`` picks the
voxel axis closest to each anatomical direction, so oblique volumes work too).
Every slice is laid out as the dataset's PNG slices are viewed: axial slices
with anterior at the top and the patient's right on the left, coronal and
sagittal slices with superior at the top. Reassembly applies the inverse
reordering, so the result has the input's exact shape and voxel order and is
written with the input's affine: it overlays the input in any viewer.

Scaling. The model was trained on 8-bit slices (0-255). A volume is mapped
to that range volume-wide, not slice by slice, so that one tissue keeps one
intensity through the volume: ``lo`` and ``hi`` are its 0.5th and 99.5th
percentiles, ``v -> 255 * (v - lo) / (hi - lo)`` clipped to [0, 255]. A volume
that already holds 8-bit values (integers from 0 to 255, as one stacked from
PNG slices) is taken as it is (lo = 0, hi = 255). A translated volume is
mapped back with the inverse, ``lo + v * (hi - lo) / 255``, so it lies in the
input's intensity range (an identity model returns the input clipped to
[lo, hi]) and is written as float32.

``slice_volume`` writes a volume's slices as 8-bit PNGs with ``volume.json``
(geometry and scaling), for preparing training data; ``stack_slices`` puts such
a folder of slices (or their translations, same names) back into a volume
(``python -m cyclegan_mri.volumes slice|stack`` on the command line).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from cyclegan_mri.data.images import encode_png, to_uint8
from cyclegan_mri.data.intensity import PERCENTILES, Scaling  # noqa: F401  (PERCENTILES: part of this API)
from cyclegan_mri.data.sources import load_folder
from cyclegan_mri.errors import DataError, UserError
from cyclegan_mri.rundir import write_atomic

# (slice axis, rows top to bottom, columns left to right): the direction each array axis points to.
PLANES = {
    "axial": ("S", "P", "L"),
    "coronal": ("A", "I", "L"),
    "sagittal": ("L", "I", "P"),
}
NIFTI_SUFFIXES = (".nii", ".nii.gz")
GEOMETRY_FILE = "volume.json"
# What reading the voxels of a broken file raises. nibabel reads the header on load but the voxels only when
# asked, so a file cut short or corrupt passes ``read_volume`` and fails here: EOFError (a .nii.gz cut short),
# zlib.error (a corrupt deflate stream), OSError (a .nii cut short, a bad gzip header or CRC), ValueError (data
# that does not fill the header's shape).
VOXEL_READ_ERRORS = (EOFError, zlib.error, OSError, ValueError)


def is_nifti(path: str | Path) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def nifti_stem(path: str | Path) -> str:
    """A NIfTI file's name without ``.nii`` or ``.nii.gz``."""
    name = Path(path).name
    return re.sub(r"\.nii(\.gz)?$", "", name, flags=re.IGNORECASE)


def read_volume(path: str | Path):
    """A 3D NIfTI image, or a one-line error for anything else (not NIfTI, 4D, empty)."""
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        image = nib.load(str(path))
    except Exception as error:  # nibabel raises several kinds for a file it cannot parse
        raise DataError(f"{path}: not a readable NIfTI volume ({str(error).strip().splitlines()[0][:200]})") from None
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise DataError(f"{path}: a {type(image).__name__}, not a NIfTI volume")
    shape = image.shape
    if len(shape) != 3:
        extra = " (a time series or several volumes: split it into 3D volumes first)" if len(shape) > 3 else ""
        raise DataError(f"{path}: {len(shape)}D data of shape {shape}; a 3D volume is needed{extra}")
    if 0 in shape:
        raise DataError(f"{path}: the volume is empty (shape {shape})")
    return image


def voxels(image, path: str | Path | None = None) -> np.ndarray:
    """A NIfTI image's voxel values as float32 (the header's scale slope and intercept applied), or a one-line
    DataError naming the file when its data cannot be read (a truncated or corrupt file).

    Every read of voxel data in the package goes through here, so that a broken file is one line wherever it
    is read. The image keeps no copy (``caching="unchanged"``): callers hold the array as long as they need it.
    """
    try:
        return np.asarray(image.get_fdata(dtype=np.float32, caching="unchanged"))
    except VOXEL_READ_ERRORS as error:
        where = path or image.get_filename() or "volume"
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise DataError(f"{where}: the voxel data cannot be read, the file is truncated or corrupt ({reason})") from None


def _reorder(affine: np.ndarray, plane: str):
    """(to plane order, back to disk order) nibabel orientation transforms."""
    from nibabel import orientations

    if plane not in PLANES:
        raise UserError(f"unknown plane {plane!r}; choose one of: {', '.join(PLANES)}")
    disk = orientations.io_orientation(affine)
    wanted = orientations.axcodes2ornt(PLANES[plane])
    return orientations.ornt_transform(disk, wanted), orientations.ornt_transform(wanted, disk)


def to_slices(data: np.ndarray, affine: np.ndarray, plane: str = "axial") -> np.ndarray:
    """The volume as (n slices, rows, cols) along ``plane``, laid out as the training slices are."""
    from nibabel import orientations

    return orientations.apply_orientation(np.asarray(data), _reorder(affine, plane)[0])


def from_slices(slices: np.ndarray, affine: np.ndarray, plane: str = "axial") -> np.ndarray:
    """The inverse of ``to_slices``: a (n, rows, cols) stack back in the volume's voxel order."""
    from nibabel import orientations

    return orientations.apply_orientation(np.asarray(slices), _reorder(affine, plane)[1])


def float32_like(data: np.ndarray, reference):
    """A NIfTI image of ``data`` as float32 with ``reference``'s affine and header (so they overlay)."""
    return volume_like(data, reference, np.float32)


def volume_like(data: np.ndarray, reference, dtype) -> object:
    """A NIfTI image of ``data`` stored as ``dtype`` with ``reference``'s affine and header (so they overlay)."""
    import nibabel as nib

    header = reference.header.copy()
    header.set_data_dtype(dtype)
    image = nib.Nifti1Image(np.asarray(data, dtype), reference.affine, header)
    # Stored values are the voxel values: drop any scaling the reference header carried.
    image.header.set_slope_inter(1.0, 0.0)
    return image


def slice_volume(path: str | Path, folder: str | Path, plane: str = "axial") -> list[Path]:
    """Write a volume's slices along ``plane`` as 8-bit PNGs plus ``volume.json``, for ``stack_slices``."""

    image = read_volume(path)
    data = voxels(image, path)
    scaling = Scaling.of(data, path)
    slices = scaling.to_slices(to_slices(data, image.affine, plane))
    folder = Path(folder)
    written = []
    for index, values in enumerate(slices):
        written.append(folder / f"slice_{index:04d}.png")
        write_atomic(written[-1], encode_png(to_uint8(values)))
    geometry = {"source": str(path), "plane": plane, "shape": list(image.shape),
                "affine": np.asarray(image.affine).tolist(), "scaling": asdict(scaling), "slices": len(slices)}
    write_atomic(folder / GEOMETRY_FILE, json.dumps(geometry, indent=2) + "\n")
    return written


def stack_slices(folder: str | Path, output: str | Path, geometry: str | Path | None = None):
    """Reassemble ``slice_NNNN.png`` files into the volume ``slice_volume`` cut them from (float32 NIfTI)."""
    import nibabel as nib

    folder = Path(folder)
    geometry_path = Path(geometry) if geometry else folder / GEOMETRY_FILE
    if not geometry_path.is_file():
        raise DataError(f"{geometry_path}: missing; it is written by `slice` beside the slices (pass --geometry "
                        "with the volume.json of the volume the slices came from)")
    info = json.loads(geometry_path.read_text())
    affine = np.asarray(info["affine"], np.float64)
    slices = sorted((s for s in load_folder(folder) if re.fullmatch(r"slice_\d+\.png", s.name)),
                    key=lambda s: s.name)
    if len(slices) != info["slices"]:
        raise DataError(f"{folder}: {len(slices)} slice_NNNN.png files, but the volume had {info['slices']} slices")
    stack = np.stack([s.image.astype(np.float64) for s in slices])
    expected = to_slices(np.zeros(info["shape"], np.uint8), affine, info["plane"]).shape
    if stack.shape != expected:
        raise DataError(f"{folder}: slices of {stack.shape[1]}x{stack.shape[2]} pixels, but the volume's "
                        f"{info['plane']} slices are {expected[1]}x{expected[2]}")
    scaling = Scaling(**info["scaling"])
    volume = from_slices(scaling.to_volume(stack), affine, info["plane"]).astype(np.float32)
    image = nib.Nifti1Image(volume, affine)
    image.header.set_data_dtype(np.float32)
    save_volume(image, output)
    return image


def save_volume(image, path: str | Path) -> None:
    """Write a NIfTI image (``.nii`` or ``.nii.gz``) so that an interrupted write leaves nothing under ``path``."""
    import gzip

    data = image.to_bytes()
    write_atomic(Path(path), gzip.compress(data, mtime=0) if str(path).lower().endswith(".gz") else data)
