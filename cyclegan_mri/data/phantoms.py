"""Synthetic head volumes for tests and demonstrations: one anatomy per seed, seen as T1 or as T2.

A phantom is an ellipsoid head: scalp, skull, a thin layer of CSF, grey matter,
a white-matter core with a wavy edge and two ventricles (CSF). Sizes and
positions are drawn from the seed alone, so the T1 and T2 phantoms of one seed
are an aligned pair. Each contrast then gets its own smooth multiplicative bias
field and Gaussian noise (taken as a magnitude, as MRI magnitude images are).

Written with the default affine, array axis 0 runs left to right, axis 1
posterior to anterior (the head's longest axis) and axis 2 inferior to superior.

A BraTS-style case (``brats_case``) is the head of its seed skull-stripped as
BraTS data are: scalp, skull and outside are exactly 0 in every contrast, and
every voxel of the brain (CSF, grey and white matter) is above 0. A tumour of
three nested regions sits at a random place inside grey and white matter:
peritumoral edema (label 2), an irregular ellipsoid with a wavy edge; inside it
the tumour core, an enhancing rim (label 4, or 3 with the 2023 labels) around a
necrotic centre (label 1). The necrosis lies at least one voxel inside the core
and the core at least one voxel inside the edema, so the whole tumour (WT) holds
the tumour core (TC = necrosis and enhancing rim) which holds the enhancing
tumour (ET). The case is seen as T1, T1ce, T2 and FLAIR, each with its own bias
field and noise, and all four aligned with the segmentation.

``write_volume_pairs`` (``python -m cyclegan_mri.phantoms volumes DIR --cases N``) writes N such pairs
as ``DIR/t1/case{i}.nii.gz`` and ``DIR/t2/case{i}.nii.gz``.

``write_brats_cases`` (``python -m cyclegan_mri.phantoms brats DIR --cases N
--naming 2020|2023``) writes N BraTS-style cases, one folder each, in the file naming of BraTS 2020
(``Phantom20_Case_001/Phantom20_Case_001_{t1,t1ce,t2,flair,seg}.nii.gz``, labels 0, 1, 2, 4) or of BraTS
2023 (``Phantom-GLI-00001-000/Phantom-GLI-00001-000-{t1n,t1c,t2w,t2f,seg}.nii.gz``, labels 0, 1, 2, 3).
The case names keep each naming's separator and file suffixes, which is what the loader reads, but never a
real data set's case name, so that no synthetic case can be taken for (or reported as) a real one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cyclegan_mri.data.nifti import save_volume
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

# BraTS cases: the four contrasts, and the tissues they show: the head's labels (scalp and skull stripped to 0),
# then the tumour's regions.
BRATS_CONTRASTS = ("t1", "t1ce", "t2", "flair")
EDEMA, NECROSIS, ENHANCING = 6, 7, 8
# Intensity of each tissue (background, scalp, skull, CSF, grey matter, white matter, edema, necrosis, enhancing
# tumour) in each contrast. T1: the tumour a little darker than the brain, necrosis dark, the enhancing rim like
# grey matter; T1ce: the rim brightest by far; T2: fluid, edema and necrosis bright; FLAIR: fluid suppressed,
# edema brightest.
BRATS_INTENSITIES = {
    "t1": np.array([0.0, 0.0, 0.0, 0.15, 0.55, 0.85, 0.45, 0.2, 0.55], np.float32),
    "t1ce": np.array([0.0, 0.0, 0.0, 0.15, 0.5, 0.7, 0.42, 0.18, 1.0], np.float32),
    "t2": np.array([0.0, 0.0, 0.0, 0.95, 0.65, 0.4, 0.8, 0.9, 0.6], np.float32),
    "flair": np.array([0.0, 0.0, 0.0, 0.1, 0.5, 0.4, 0.95, 0.55, 0.75], np.float32),
}
# Segmentation labels of (necrosis, edema, enhancing tumour) in each labelling, and the file suffix of each
# contrast then of the segmentation in each naming.
BRATS_LABELS = {"2020": (1, 2, 4), "2023": (1, 2, 3)}
BRATS_FILES = {"2020": ("t1", "t1ce", "t2", "flair", "seg"), "2023": ("t1n", "t1c", "t2w", "t2f", "seg")}
# Brain voxels are kept at least this bright after the noise, so that only the background is exactly 0.
BRATS_FLOOR = 1e-3


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


def _erode(mask: np.ndarray) -> np.ndarray:
    """The voxels of ``mask`` whose six face neighbours are all in it (outside the array counts as outside)."""
    inner = mask.copy()
    inner[[0, -1]] = False
    inner[:, [0, -1]] = False
    inner[:, :, [0, -1]] = False
    for axis in range(3):
        for step in (1, -1):
            inner &= np.roll(mask, step, axis)
    return inner


def _wavy_radius(grid: list[np.ndarray], centre, axes, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """``_radius`` with an edge made to wave by a smooth random modulation of about ``amplitude``."""
    frequencies, phases = rng.uniform(2.0, 4.0, 3), rng.uniform(0.0, 2 * np.pi, 3)
    x, y, z = (np.sin(f * (g - c) / a + p) for f, g, c, a, p in zip(frequencies, grid, centre, axes, phases))
    return _radius(grid, centre, axes) * (1 + amplitude * x * y * z)


def brats_tumour(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (whole tumour, tumour core, necrosis) masks of a tumour drawn from ``rng`` inside the grey and white
    matter of ``labels``; each at least one voxel inside the one before, so that the enhancing rim (core less
    necrosis) separates necrosis from edema and edema separates the core from healthy tissue."""
    shape = labels.shape
    grid = _grid(shape)
    brain = (labels == GREY_MATTER) | (labels == WHITE_MATTER)
    axes = rng.uniform(0.22, 0.32, 3)  # of the edema, in the [-1, 1] coordinates of each axis
    core_fraction, necrosis_fraction = rng.uniform(0.6, 0.75), rng.uniform(0.55, 0.7)
    # A place where the whole edema lies in grey and white matter (not in CSF, not across a ventricle): random
    # centres anywhere in the middle of the head, the tumour shrunk a little after each 20 misses.
    for attempt in range(200):
        if attempt and attempt % 20 == 0:
            axes = axes * 0.9
        centre = rng.uniform(-0.55, 0.55, 3)
        whole = _wavy_radius(grid, centre, axes, rng, 0.2) <= 1.0
        if whole.any() and not (whole & ~brain).any():
            break
    whole &= brain  # only when nothing fits (a very small shape)
    core_centre = centre + rng.uniform(-0.15, 0.15, 3) * axes
    core = (_wavy_radius(grid, core_centre, core_fraction * axes, rng, 0.1) <= 1.0) & _erode(whole)
    necrosis_centre = core_centre + rng.uniform(-0.1, 0.1, 3) * core_fraction * axes
    necrosis = (_radius(grid, necrosis_centre, necrosis_fraction * core_fraction * axes) <= 1.0) & _erode(core)
    return whole, core, necrosis


def brats_case(shape: Sequence[int] = DEFAULT_SHAPE, seed: int = 0, labels: str = "2020", noise: float = 0.02,
               bias: float = 0.1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({contrast: float32 volume}, uint8 segmentation) of one synthetic skull-stripped case: the head of ``seed``
    with a tumour, seen in each of ``BRATS_CONTRASTS``. The segmentation labels necrosis 1, edema 2 and the
    enhancing tumour 4 (``labels="2020"``) or 3 (``labels="2023"``). Each contrast is times its own bias field of
    1 +- ``bias`` and has its own Gaussian noise of standard deviation ``noise`` (as a magnitude) in the brain;
    the background stays exactly 0 and brain voxels at least ``BRATS_FLOOR``."""
    labels = str(labels)
    if labels not in BRATS_LABELS:
        raise UserError(f"unknown BraTS labels {labels!r}; choose one of: {', '.join(BRATS_LABELS)}")
    if noise < 0 or not 0 <= bias < 1:
        raise UserError(f"a phantom needs noise >= 0 and 0 <= bias < 1, got noise {noise} and bias {bias}")
    head = head_labels(shape, seed)
    # The tumour from a stream of its own, each contrast from another: the four are aligned and differ only in
    # bias and noise.
    whole, core, necrosis = brats_tumour(head, np.random.default_rng([seed, 10]))
    brain = head >= CSF
    tissue = np.where(brain, head, BACKGROUND).astype(np.int8)
    tissue[whole] = EDEMA
    tissue[core] = ENHANCING
    tissue[necrosis] = NECROSIS
    necrosis_label, edema_label, enhancing_label = BRATS_LABELS[labels]
    segmentation = np.zeros(head.shape, np.uint8)
    segmentation[whole] = edema_label
    segmentation[core] = enhancing_label
    segmentation[necrosis] = necrosis_label
    images = {}
    for index, contrast in enumerate(BRATS_CONTRASTS):
        rng = np.random.default_rng([seed, 11 + index])
        image = BRATS_INTENSITIES[contrast][tissue] * _bias_field(head.shape, rng, bias)
        if noise > 0:
            image = np.abs(image + rng.normal(0.0, noise, head.shape))
        images[contrast] = np.where(brain, np.maximum(image, BRATS_FLOOR), 0.0).astype(np.float32)
    return images, segmentation


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


def brats_case_name(index: int, naming: str = "2020") -> str:
    """The folder name of case ``index`` (from 0) in ``naming``, which is also the first part of its file names."""
    # "Phantom" where BraTS names its data set: the shape of a real name, never a real case's name.
    return f"Phantom20_Case_{index + 1:03d}" if naming == "2020" else f"Phantom-GLI-{index + 1:05d}-000"


def write_brats_cases(folder: str | os.PathLike, cases: int, shape: Sequence[int] = DEFAULT_SHAPE, seed: int = 0,
                      naming: str = "2020", affine: np.ndarray | None = None) -> list[Path]:
    """Write one folder per case ``i`` (the BraTS case of seed ``seed + i``) in the BraTS 2020 file naming
    (``Phantom20_Case_001/Phantom20_Case_001_{t1,t1ce,t2,flair,seg}.nii.gz``, labels 0, 1, 2, 4) or the 2023 one
    (``Phantom-GLI-00001-000/Phantom-GLI-00001-000-{t1n,t1c,t2w,t2f,seg}.nii.gz``, labels 0, 1, 2, 3):
    float32 images and a uint8 segmentation, all with ``affine`` (default: ``default_affine(shape)``).
    Return the case folders."""
    import nibabel as nib

    naming = str(naming)
    if naming not in BRATS_FILES:
        raise UserError(f"unknown BraTS naming {naming!r}; choose one of: {', '.join(BRATS_FILES)}")
    if cases < 1:
        raise UserError(f"--cases must be at least 1, got {cases}")
    shape = _check(shape, seed)
    affine = default_affine(shape) if affine is None else np.asarray(affine, np.float64)
    separator = "_" if naming == "2020" else "-"
    written = []
    for case in range(cases):
        images, segmentation = brats_case(shape, seed + case, labels=naming)
        name = brats_case_name(case, naming)
        written.append(Path(folder) / name)
        for suffix, data in zip(BRATS_FILES[naming], [*images.values(), segmentation]):
            image = nib.Nifti1Image(data, affine)
            image.header.set_data_dtype(data.dtype)
            save_volume(image, written[-1] / f"{name}{separator}{suffix}.nii.gz")
    return written
