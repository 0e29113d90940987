"""Synthetic head volumes for tests and demonstrations: one anatomy per seed, seen as T1 or as T2.

A phantom is an ellipsoid head: scalp, skull, a thin layer of CSF, grey matter,
a white-matter core with a wavy edge and two ventricles (CSF). Sizes and
positions are drawn from the seed alone, so the T1 and T2 phantoms of one seed
are an aligned pair. Each contrast then gets its own smooth multiplicative bias
field and Gaussian noise (taken as a magnitude, as MRI magnitude images are).

Written with the default affine, array axis 0 runs left to right, axis 1
posterior to anterior (the head's longest axis) and axis 2 inferior to superior.

``python -m cyclegan_mri.phantoms volumes DIR --cases N`` writes N such pairs
as ``DIR/t1/case{i}.nii.gz`` and ``DIR/t2/case{i}.nii.gz``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cyclegan_mri.errors import UserError

DEFAULT_SHAPE = (48, 56, 40)
VOXEL_MM = 1.5
# Label of each tissue in ``head_labels``; later labels are drawn over earlier ones.
BACKGROUND, SCALP, SKULL, CSF, GREY_MATTER, WHITE_MATTER = range(6)
# Intensity of each label (by index) in each contrast: T1 shows fat and white matter bright and fluid dark,
# T2 shows fluid brightest and white matter darker than grey.
CONTRASTS = {
    "t1": np.array([0.0, 0.7, 0.05, 0.15, 0.55, 0.85], np.float32),
    "t2": np.array([0.0, 0.5, 0.05, 0.95, 0.65, 0.4], np.float32),
}


def _check(shape: Sequence[int], seed: int) -> tuple[int, int, int]:
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 4:
        raise UserError(f"a phantom's shape is three sizes of at least 4 voxels, got {shape}")
    if seed < 0:
        raise UserError(f"a phantom's seed must be 0 or more, got {seed}")
    return shape


def _grid(shape: tuple[int, int, int]) -> list[np.ndarray]:
    """Voxel coordinates scaled to [-1, 1] along each axis, so the anatomy scales with the shape."""
    return np.meshgrid(*(np.linspace(-1.0, 1.0, n) for n in shape), indexing="ij", sparse=True)


def _radius(grid: list[np.ndarray], centre, axes) -> np.ndarray:
    """The ellipsoidal radius: 1 on the surface of the ellipsoid of ``centre`` and semi-axes ``axes``."""
    return np.sqrt(sum(((g - c) / a) ** 2 for g, c, a in zip(grid, centre, axes)))


def head_labels(shape: Sequence[int] = DEFAULT_SHAPE, seed: int = 0) -> np.ndarray:
    """The tissue label of every voxel (``BACKGROUND`` ... ``WHITE_MATTER``) of the phantom of ``seed``."""
    shape = _check(shape, seed)
    rng = np.random.default_rng(seed)
    grid = _grid(shape)
    centre = rng.uniform(-0.03, 0.03, 3)
    head = _radius(grid, centre, rng.uniform([0.82, 0.86, 0.8], [0.9, 0.94, 0.9]))
    labels = np.zeros(shape, np.int8)
    # Shells of the head's own radius: scalp, skull, then the CSF around the brain.
    for label, outer in ((SCALP, 1.0), (SKULL, 0.93), (CSF, 0.86), (GREY_MATTER, 0.82)):
        labels[head <= outer] = label
    # White matter: an inner ellipsoid whose edge is made to wave like gyri by a smooth random modulation.
    core = _radius(grid, centre + rng.uniform(-0.04, 0.04, 3), rng.uniform([0.44, 0.5, 0.4], [0.54, 0.6, 0.5]))
    frequencies, phases = rng.uniform(4.0, 7.0, 3), rng.uniform(0.0, 2 * np.pi, 3)
    x, y, z = (np.sin(f * g + p) for f, g, p in zip(frequencies, grid, phases))
    wave = x * y * z
    labels[(core * (1 + 0.12 * wave) <= 1.0) & (labels == GREY_MATTER)] = WHITE_MATTER
    # Two ventricles, mirror images across the midline, elongated front to back.
    offset = rng.uniform(0.08, 0.14)
    axes = rng.uniform([0.05, 0.18, 0.08], [0.09, 0.28, 0.14])
    height = centre[2] + rng.uniform(-0.05, 0.1)
    for side in (-1, 1):
        labels[_radius(grid, (centre[0] + side * offset, centre[1], height), axes) <= 1.0] = CSF
    return labels


def _bias_field(shape: tuple[int, int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """A smooth field of 1 +- ``strength``: a random low-order polynomial of the coordinates."""
    grid = _grid(shape)
    field = sum(rng.normal() * g + rng.normal() * (g ** 2 - 1 / 3) for g in grid)
    field = np.broadcast_to(field, shape)
    peak = np.abs(field).max()
    return 1.0 + strength * field / peak if peak > 0 else np.ones(shape)


def head_phantom(shape: Sequence[int] = DEFAULT_SHAPE, seed: int = 0, contrast: str = "t1", noise: float = 0.02,
                 bias: float = 0.1) -> np.ndarray:
    """A float32 head phantom of ``seed`` in ``contrast`` ("t1" or "t2"), tissue intensities up to about 1,
    times a bias field of 1 +- ``bias``, plus Gaussian noise of standard deviation ``noise`` (as a magnitude)."""
    if contrast not in CONTRASTS:
        raise UserError(f"unknown contrast {contrast!r}; choose one of: {', '.join(CONTRASTS)}")
    if noise < 0 or not 0 <= bias < 1:
        raise UserError(f"a phantom needs noise >= 0 and 0 <= bias < 1, got noise {noise} and bias {bias}")
    labels = head_labels(shape, seed)
    # A stream of its own per contrast: the two acquisitions of one head differ in bias and noise only.
    rng = np.random.default_rng([seed, 1 + list(CONTRASTS).index(contrast)])
    image = CONTRASTS[contrast][labels] * _bias_field(labels.shape, rng, bias)
    if noise > 0:
        image = np.abs(image + rng.normal(0.0, noise, labels.shape))
    return image.astype(np.float32)


def default_affine(shape: Sequence[int], voxel_mm: float = VOXEL_MM) -> np.ndarray:
    """RAS+ axes of ``voxel_mm`` voxels, the volume's centre at the origin."""
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = -voxel_mm * (np.asarray(shape) - 1) / 2
    return affine


def write_volume_pairs(folder: str | os.PathLike, cases: int, shape: Sequence[int] = DEFAULT_SHAPE, seed: int = 0,
                       affine: np.ndarray | None = None) -> list[Path]:
    """Write ``folder/t1/case{i}.nii.gz`` and ``folder/t2/case{i}.nii.gz`` (the phantom of seed ``seed + i``)
    for each case ``i``; the paths written, each case's T1 then its T2."""
    import nibabel as nib

    from cyclegan_mri.volumes import save_volume

    if cases < 1:
        raise UserError(f"--cases must be at least 1, got {cases}")
    shape = _check(shape, seed)
    affine = default_affine(shape) if affine is None else np.asarray(affine, np.float64)
    written = []
    for case in range(cases):
        for contrast in CONTRASTS:
            image = nib.Nifti1Image(head_phantom(shape, seed + case, contrast), affine)
            image.header.set_data_dtype(np.float32)
            written.append(Path(folder) / contrast / f"case{case}.nii.gz")
            save_volume(image, written[-1])
    return written


def main(argv: Sequence[str] | None = None) -> int:
    from cyclegan_mri.options import Parser, add_debug_argument

    parser = Parser(prog="python -m cyclegan_mri.phantoms",
                    description="Write synthetic head volumes for trying out and testing the 3D models.")
    commands = parser.add_subparsers(dest="command", required=True)
    volumes = commands.add_parser("volumes", help="write aligned T1/T2 phantom pairs as NIfTI volumes",
                                  description="Write DIR/t1/case{i}.nii.gz and DIR/t2/case{i}.nii.gz, the T1 and T2 "
                                              f"phantoms of one synthetic head each, with {VOXEL_MM:g} mm voxels.")
    volumes.add_argument("folder", metavar="DIR", help="where the t1/ and t2/ folders are written")
    volumes.add_argument("--cases", type=int, default=4, metavar="N", help="how many heads (default: %(default)s)")
    volumes.add_argument("--shape", type=int, nargs=3, default=list(DEFAULT_SHAPE), metavar=("D", "H", "W"),
                         help="voxels along each axis: left-right, back-front, bottom-top (default: "
                              f"{' '.join(map(str, DEFAULT_SHAPE))})")
    volumes.add_argument("--seed", type=int, default=0, metavar="S",
                         help="seed of the first head; head i is drawn from S + i (default: %(default)s)")
    add_debug_argument(volumes)
    args = parser.parse_args(argv)
    write_volume_pairs(args.folder, args.cases, args.shape, args.seed)
    folder = Path(args.folder)
    print(f"wrote {args.cases} T1/T2 pair(s) of {'x'.join(map(str, args.shape))} voxels to {folder / 't1'} and "
          f"{folder / 't2'}")
    return 0


if __name__ == "__main__":
    from cyclegan_mri.cli.common import run_main

    raise SystemExit(run_main(main))
