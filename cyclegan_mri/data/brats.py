"""BraTS-style cases for 3D tumour segmentation: find them, read them, z-score them, draw training patches.

Layout. ``--data`` is a folder of case folders, at any depth (a case folder is
one that holds a contrast's NIfTI file), or one case folder. Files are told
apart by the end of their name, in either BraTS naming:

    2020:   <case>_t1.nii.gz  _t1ce  _t2  _flair  _seg
    2023+:  <case>-t1n.nii.gz -t1c   -t2w -t2f    -seg

Contrasts are named t1, t1ce, t2 and flair (the 2023 names t1n, t1c, t2w and
t2f are accepted for them); ``contrasts`` picks and orders the input channels.
A case's contrasts and label must share one grid (shape and affine).

Labels. The label values of a run (``classes``) are listed background first;
a voxel of value ``classes[k]`` is class ``k``. By default they are the BraTS
set the files use: {0, 1, 2, 4} (2020: necrotic core, edema, enhancing
tumour) or {0, 1, 2, 3} (2023, enhancing tumour stored as 3). A value outside
the set is an error, not a silent background. Labels stored as floats are
read as the label they round to, within ``LABEL_TOLERANCE`` (a float32
``_seg`` file may hold 3.9999998 for 4, or a scale slope in its header).

A case's own convention. A case's label values follow its naming, so a run
trained on one BraTS convention applies to cases of the other: ``case_classes``
gives the run's classes in the case's values (enhancing tumour 4 in a 2020-named
case, 3 in a 2023-named one), which segmentations are written in and truth is
read in.

Intensities. Each contrast is z-scored over its non-zero voxels (BraTS volumes
are skull-stripped, background exactly 0), as the official Vox2Vox code does;
background stays 0.

Orientation. Volumes are put in the closest canonical (RAS+) voxel order
(``volume_data.to_canonical``), so a case stored in another voxel order is the
same case to the model; segmentations are written back in the input's order.

Patches. Training cases are kept cropped to their brain's bounding box (BraTS
volumes are about two thirds background; this bounds memory at about 13 MB a
case). A patch is centred on a random tumour voxel with probability
``tumour_fraction``, else on a random brain voxel, and clamped inside the case;
cases smaller than the patch are padded with background. Patches are drawn per
epoch from a generator seeded by (seed, epoch), so an epoch is the same whether
or not the run resumed before it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cyclegan_mri.data.nifti import is_nifti, nifti_stem, read_volume, voxels
from cyclegan_mri.data.sources import sort_key
from cyclegan_mri.data.subjects import held_out_cases
from cyclegan_mri.data.volume_data import pad_to_patch, to_canonical
from cyclegan_mri.domains import SEGMENTATION, Domains
from cyclegan_mri.errors import DataError, UserError
from cyclegan_mri.segmentation.metrics import BRATS_2020_LABELS, BRATS_2023_LABELS

if TYPE_CHECKING:
    import tensorflow as tf

    from cyclegan_mri.record import TrainOptions

CONTRASTS = ("t1", "t1ce", "t2", "flair")
# The file-name endings of each contrast and of the label, in the 2020 and the 2023 naming.
SUFFIXES: dict[str, tuple[str, str]] = {"t1": ("t1", "t1n"), "t1ce": ("t1ce", "t1c"), "t2": ("t2", "t2w"),
                                        "flair": ("flair", "t2f"), "seg": ("seg", "seg")}
ALIASES = {alias: name for name, pair in SUFFIXES.items() if name != "seg" for alias in pair}
# A case folder's files must share one grid: affines may differ by rounding in the header, not by a voxel.
AFFINE_TOLERANCE = 1e-3
# Room around the brain's bounding box kept when a training case is cropped (voxels).
CROP_MARGIN = 4
# How far a stored label value may lie from a whole number and still be read as it: float32 rounding and a header's
# scale slope move a label by far less, while a resampled (interpolated) label volume holds values far from any.
LABEL_TOLERANCE = 1e-3
# At most this many unexpected label values are named in an error.
NAMED_VALUES = 5
_SUFFIX = re.compile(r"[_-]([a-z0-9]+)$")


def contrast_names(values: Sequence[str] | None) -> tuple[str, ...]:
    """The contrasts ``--channels`` names, in its order and in the 2020 names; all four when None."""
    if not values:
        return CONTRASTS
    names = []
    for value in values:
        name = ALIASES.get(str(value).lower())
        if name is None:
            raise UserError(f"--channels {value}: not a BraTS contrast; choose from t1, t1ce, t2, flair (or the 2023 "
                            "names t1n, t1c, t2w, t2f)")
        if name in names:
            raise UserError(f"--channels names {name} twice")
        names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class Case:
    """One case folder: the file of each contrast found in it, and of its label (None when it has none)."""

    name: str
    folder: Path
    files: Mapping[str, Path]
    label: Path | None
    #: "2020" or "2023": the naming its files use.
    naming: str

    def contrast_file(self, contrast: str) -> Path:
        if contrast not in self.files:
            wanted = " or ".join(f"_{s}.nii.gz" if i == 0 else f"-{s}.nii.gz"
                                 for i, s in enumerate(SUFFIXES[contrast]))
            raise DataError(f"{self.folder}: no {contrast} volume (a file ending in {wanted})")
        return self.files[contrast]


def _case_files(folder: Path) -> tuple[dict[str, Path], Path | None, str]:
    """The contrast files, the label file and the naming of the NIfTI files directly in ``folder``."""
    files, label, namings = {}, None, set()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and is_nifti(p)):
        match = _SUFFIX.search(nifti_stem(path).lower())
        if not match:
            continue
        suffix = match.group(1)
        name = "seg" if suffix == "seg" else ALIASES.get(suffix)
        if name is None:
            continue
        if name != "seg":
            namings.add("2020" if suffix == SUFFIXES[name][0] else "2023")
        if (files.get(name) if name != "seg" else label) is not None:
            other = files.get(name) if name != "seg" else label
            raise DataError(f"{folder}: two {name} volumes, {other.name} and {path.name}; keep one per case")
        if name == "seg":
            label = path
        else:
            files[name] = path
    return files, label, "2023" if namings == {"2023"} else "2020"


def find_cases(data: str | os.PathLike, require_labels: bool = True) -> list[Case]:
    """Every case under ``data`` (a folder of case folders at any depth, or one case folder), in name order.

    With ``require_labels``, a case without a label file is an error.
    """
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; pass a folder of BraTS case folders (or one case folder)")
    cases = []
    for folder, subfolders, _ in os.walk(root):
        subfolders.sort()
        files, label, naming = _case_files(Path(folder))
        if files or label is not None:
            cases.append(Case(Path(folder).name, Path(folder), files, label, naming))
    if not cases:
        raise DataError(f"{root}: no BraTS cases; expected case folders of <case>_t1.nii.gz, _t1ce, _t2, _flair "
                        "(and _seg), or of <case>-t1n.nii.gz, -t1c, -t2w, -t2f (and -seg)")
    names = [case.name for case in cases]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{root}: two case folders are named {repeated[0]}; case names must be unique")
    if require_labels:
        unlabelled = [case for case in cases if case.label is None]
        if unlabelled:
            raise DataError(f"{unlabelled[0].folder}: no label volume (a file ending in _seg.nii.gz or "
                            f"-seg.nii.gz){f' (and {len(unlabelled) - 1} more cases)' if len(unlabelled) > 1 else ''}")
    return sorted(cases, key=lambda case: sort_key(case.name))


def default_classes(cases: Sequence[Case]) -> tuple[int, ...]:
    """The BraTS label set of the naming the cases use: 2023 names store enhancing tumour as 3, 2020 names as 4."""
    return BRATS_2023_LABELS if cases and all(case.naming == "2023" for case in cases) else BRATS_2020_LABELS


def check_classes(classes: Sequence[int]) -> tuple[int, ...]:
    classes = tuple(int(c) for c in classes)
    if len(classes) < 2:
        raise UserError(f"--classes needs the background and at least one label value, got {list(classes)}")
    if len(set(classes)) != len(classes):
        raise UserError(f"--classes lists a value twice: {list(classes)}")
    if min(classes) < 0 or max(classes) > 255:
        raise UserError(f"--classes: label values are written as uint8, so 0 to 255, got {list(classes)}")
    return classes


@dataclass
class CaseVolumes:
    """One case as the model sees it: canonical voxel order, z-scored contrasts, labels as class indices."""

    name: str
    #: float32 (D, H, W, C): the contrasts in ``contrasts`` order, z-scored over the brain, background 0.
    image: np.ndarray = field(repr=False)
    #: uint8 (D, H, W) class indices (positions in ``classes``), or None for a case without a label.
    classes: np.ndarray | None = field(repr=False)
    #: The first contrast's NIfTI image: the grid, affine and header segmentations are written on.
    reference: object = field(repr=False)
    #: The nibabel orientation that puts a canonical array back in the files' voxel order.
    orientation: np.ndarray = field(repr=False)
    #: Voxel size in mm along the canonical axes.
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def to_source_grid(self, canonical: np.ndarray) -> np.ndarray:
        """A canonical (D, H, W) array back in the input files' voxel order and shape."""
        from nibabel import orientations

        return orientations.apply_orientation(np.asarray(canonical), self.orientation)


def z_score(volume: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """``volume`` z-scored over its non-zero voxels, zeros kept (see the module doc)."""
    volume = np.asarray(volume, np.float32)
    if not np.all(np.isfinite(volume)):
        raise DataError(f"{path}: holds NaN or infinite values")
    brain = volume != 0
    if not brain.any():
        raise DataError(f"{path}: every voxel is 0")
    values = volume[brain]
    spread = float(values.std())
    if spread == 0:
        raise DataError(f"{path}: every non-zero voxel holds the same value; nothing to segment")
    scored = np.zeros_like(volume)
    scored[brain] = (values - float(values.mean())) / spread
    return scored


def read_labels(case: Case, image, classes: Sequence[int]) -> np.ndarray:
    """The label volume ``image`` of ``case`` on its own grid, as class indices, or a one-line error naming the
    file and the values that are not within ``LABEL_TOLERANCE`` of one of ``classes``."""
    values = voxels(image, case.label)
    rounded = np.rint(values)
    # Off by more than the tolerance: a value rounding to a known label is still no label (2.5 is not 2 or 3).
    off = np.abs(values - rounded) > LABEL_TOLERANCE
    if off.any():
        odd = np.unique(values[off])
        raise DataError(f"{case.label}: label values {_named(odd)} are not whole numbers (a label volume holds "
                        f"{{{', '.join(map(str, classes))}}}; was it resampled with interpolation?)")
    unknown = [v for v in np.unique(rounded) if v not in classes]
    if unknown:
        raise DataError(f"{case.label}: label values {_named(unknown)} are outside the run's "
                        f"{{{', '.join(map(str, classes))}}}; pass --classes with every label value, background "
                        "first")
    lookup = np.full(256, 255, np.uint8)
    lookup[list(classes)] = np.arange(len(classes), dtype=np.uint8)
    return lookup[rounded.astype(np.int64)]


def _named(values: Sequence[float]) -> str:
    """Up to ``NAMED_VALUES`` label values as an error names them: whole numbers without a decimal point (NaN and
    infinity as themselves)."""
    shown = [str(int(v)) if float(v).is_integer() else f"{float(v):g}" for v in list(values)[:NAMED_VALUES]]
    more = f" (and {len(values) - NAMED_VALUES} more)" if len(values) > NAMED_VALUES else ""
    return ", ".join(shown) + more


def case_classes(classes: Sequence[int], case: Case) -> tuple[int, ...]:
    """The run's ``classes`` in ``case``'s own label values: when they are one BraTS label set and the case is
    named in the other BraTS convention, each class takes its value in the case's convention (enhancing tumour
    4 <-> 3); any other label set, or a case of the run's own convention, keeps them as they are."""
    classes = tuple(int(c) for c in classes)
    own = default_classes([case])
    for brats in (BRATS_2020_LABELS, BRATS_2023_LABELS):
        if set(classes) == set(brats) and brats != own:
            # Position in the BraTS set is the meaning (background, NCR, ED, ET), whatever order the run lists.
            return tuple(own[brats.index(c)] for c in classes)
    return classes


def read_case(case: Case, contrasts: Sequence[str], classes: Sequence[int] | None = None,
              labels: bool = True) -> CaseVolumes:
    """A case's contrasts (and, with ``labels``, its label) in canonical order, checked to share one grid."""
    from nibabel.affines import voxel_sizes

    images = [(contrast, case.contrast_file(contrast)) for contrast in contrasts]
    reference = read_volume(images[0][1])
    channels = []
    for contrast, path in images:
        image = reference if path == images[0][1] else read_volume(path)
        _check_same_grid(case, images[0], (contrast, path), reference, image)
        canonical, affine, back = to_canonical(image)
        channels.append(z_score(canonical, path))
    indices = None
    if labels:
        if case.label is None:
            raise DataError(f"{case.folder}: no label volume (a file ending in _seg.nii.gz or -seg.nii.gz)")
        label_image = read_volume(case.label)
        _check_same_grid(case, images[0], ("label", case.label), reference, label_image)
        indices, _, _ = to_canonical(label_image, read_labels(case, label_image, classes or default_classes([case])))
    spacing = tuple(float(s) for s in voxel_sizes(affine))
    return CaseVolumes(case.name, np.stack(channels, axis=-1), indices, reference, back, spacing)


def _check_same_grid(case: Case, first: tuple[str, Path], other: tuple[str, Path], first_image, image) -> None:
    if image.shape != first_image.shape:
        raise DataError(f"{case.folder}: the {other[0]} volume is {'x'.join(map(str, image.shape))} voxels but "
                        f"{first[0]} is {'x'.join(map(str, first_image.shape))}; a case's volumes must share one grid")
    if not np.allclose(image.affine, first_image.affine, atol=AFFINE_TOLERANCE):
        raise DataError(f"{case.folder}: the {other[0]} volume has another affine than {first[0]} (it lies "
                        "elsewhere in space); register the case's volumes to one grid first")


def brain_box(image: np.ndarray, margin: int = CROP_MARGIN) -> tuple[slice, ...]:
    """The bounding box of the voxels where any channel is non-zero, widened by ``margin`` (inside the array)."""
    brain = np.any(image != 0, axis=-1)
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(brain.any(axis=other))
        box.append(slice(max(0, present[0] - margin), min(brain.shape[axis], present[-1] + 1 + margin)))
    return tuple(box)


@dataclass
class TrainingCase:
    """A training case cropped to its brain and padded to at least the patch: z-scored (D, H, W, C) float32,
    (D, H, W) uint8 class indices, and what patch sampling draws centres from, found once rather than per patch:
    the brain's mask and the flat indices of the tumour's voxels."""

    name: str
    image: np.ndarray = field(repr=False)
    classes: np.ndarray = field(repr=False)
    brain: np.ndarray = field(repr=False)
    tumour: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, volumes: CaseVolumes, patch: Sequence[int]) -> "TrainingCase":
        box = brain_box(volumes.image)
        image = np.ascontiguousarray(pad_to_patch(volumes.image[box], patch))
        classes = np.ascontiguousarray(pad_to_patch(volumes.classes[box], patch))
        return cls(volumes.name, image, classes, np.any(image != 0, axis=-1), np.flatnonzero(classes > 0))


def balanced_class_weights(counts: Sequence[int]) -> tuple[float, ...]:
    """Weights inversely proportional to each class's voxel count, summing to 1 (0 for an absent class).

    'Balanced' as in scikit-learn (``n / (k * n_c)``), normalised: the generalized Dice loss is the same under
    any common factor, and weights that sum to 1 read as shares.
    """
    counts = np.asarray(counts, np.float64)
    inverse = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(counts), 0.0)
    return tuple(float(w) for w in inverse / inverse.sum())


def sample_patch(case: TrainingCase, patch: Sequence[int], rng: np.random.Generator,
                 tumour_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A ``patch``-sized (image, classes) window of ``case``, which ``TrainingCase.of`` padded to at least the
    patch (see the module doc); depends only on the arguments and ``rng``'s state."""
    image, classes = case.image, case.classes
    if any(s < p for s, p in zip(classes.shape, patch)):
        raise ValueError(f"{case.name} is padded to {classes.shape}, smaller than the patch {tuple(patch)}")
    on_tumour = rng.random() < tumour_fraction
    flat = case.tumour if on_tumour and len(case.tumour) else np.flatnonzero(case.brain)
    if not len(flat):  # no brain either: anywhere
        flat = np.arange(classes.size)
    window = _window_around(np.unravel_index(flat[rng.integers(len(flat))], classes.shape), patch, classes.shape)
    return np.array(image[window], np.float32), np.array(classes[window], np.uint8)


def _window_around(centre: Sequence[int], patch: Sequence[int], shape: Sequence[int]) -> tuple[slice, ...]:
    """The ``patch`` window centred on ``centre``, moved inside an array of ``shape`` (it keeps ``centre``)."""
    starts = [int(np.clip(c - p // 2, 0, s - p)) for c, p, s in zip(centre, patch, shape)]
    return tuple(slice(s, s + p) for s, p in zip(starts, patch))


def augment_patch(image: np.ndarray, classes: np.ndarray, rng: np.random.Generator, flip: bool,
                  rotate: float) -> tuple[np.ndarray, np.ndarray]:
    """``flip``: mirror along each axis with probability 1/2. ``rotate``: turn about the patch centre by random
    angles of up to ``rotate`` degrees about each axis (linear interpolation for the image, nearest label for
    the classes, background where the turn brings in space from outside)."""
    if flip:
        axes = tuple(int(a) for a in np.flatnonzero(rng.random(3) < 0.5))
        if axes:
            image, classes = np.flip(image, axes), np.flip(classes, axes)
    if rotate > 0:
        from scipy import ndimage

        matrix = _rotation(np.radians(rng.uniform(-rotate, rotate, 3)))
        centre = (np.asarray(classes.shape) - 1) / 2
        offset = centre - matrix @ centre
        image = np.stack([ndimage.affine_transform(image[..., c], matrix, offset, order=1, mode="constant")
                          for c in range(image.shape[-1])], axis=-1)
        classes = ndimage.affine_transform(classes, matrix, offset, order=0, mode="constant")
    return np.ascontiguousarray(image, np.float32), np.ascontiguousarray(classes, np.uint8)


def _rotation(angles: np.ndarray) -> np.ndarray:
    """The rotation by ``angles`` (radians) about the first, second and third axis, in that order."""
    matrix = np.eye(3)
    for axis, angle in enumerate(angles):
        i, j = [a for a in range(3) if a != axis]
        turn = np.eye(3)
        turn[i, i] = turn[j, j] = np.cos(angle)
        turn[i, j], turn[j, i] = -np.sin(angle), np.sin(angle)
        matrix = turn @ matrix
    return matrix


def patches_per_epoch(cases: int, batch_size: int, requested: int | None = None) -> int:
    """Patches an epoch draws (one per training case unless ``requested``), rounded up to whole batches."""
    count = cases if requested is None else requested
    if count < 1:
        raise UserError(f"--patches-per-epoch must be at least 1, got {count}")
    return -(-int(count) // batch_size) * batch_size


def _epoch_patches(cases: Sequence[TrainingCase], count: int, patch, rng: np.random.Generator,
                   tumour_fraction: float, flip: bool, rotate: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    order = rng.permutation(len(cases))
    for i in range(count):
        image, classes = sample_patch(cases[order[i % len(cases)]], patch, rng, tumour_fraction)
        yield augment_patch(image, classes, rng, flip, rotate)


def segmentation_dataset(cases: Sequence[TrainingCase], patch: Sequence[int], n_classes: int, batch_size: int,
                         seed: int, first_epoch: int = 0, epochs: int = 1, requested: int | None = None,
                         tumour_fraction: float = 0.5, flip: bool = False, rotate: float = 0.0) -> tf.data.Dataset:
    """``epochs`` epochs from epoch index ``first_epoch`` of (image, one-hot classes) batches: (B, D, H, W, C)
    and (B, D, H, W, n_classes) float32, every batch full."""
    import tensorflow as tf

    if not cases:
        raise DataError("no training cases")
    patch = tuple(int(p) for p in patch)
    count = patches_per_epoch(len(cases), batch_size, requested)
    channels = cases[0].image.shape[-1]

    def batches():
        for epoch in range(first_epoch, first_epoch + epochs):
            stream = _epoch_patches(cases, count, patch, np.random.default_rng([seed, epoch]), tumour_fraction,
                                    flip, rotate)
            for _ in range(count // batch_size):
                drawn = [next(stream) for _ in range(batch_size)]
                yield np.stack([d[0] for d in drawn]), np.stack([d[1] for d in drawn])

    signature = (tf.TensorSpec((batch_size, *patch, channels), tf.float32),
                 tf.TensorSpec((batch_size, *patch), tf.uint8))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.map(lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), n_classes, dtype=tf.float32)),
                       num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def centre_on_tumour(case: TrainingCase, patch: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The ``patch`` window centred on the case's tumour (its brain's centre if it has none): the sample grid's."""
    image, classes = pad_to_patch(case.image, patch), pad_to_patch(case.classes, patch)
    where = np.argwhere(classes > 0)
    if not len(where):
        where = np.argwhere(pad_to_patch(case.brain, patch))
    centre = where.mean(axis=0).round().astype(int) if len(where) else np.asarray(classes.shape) // 2
    window = _window_around(centre, patch, classes.shape)
    return np.array(image[window], np.float32), np.array(classes[window], np.uint8)


@dataclass
class SegmentationData:
    """The training cases of a segmentation run: what the trainer needs, as ``VolumeData`` is for translation."""

    cases: list[TrainingCase]
    contrasts: tuple[str, ...]
    classes: tuple[int, ...]
    class_weights: tuple[float, ...]
    patch: tuple[int, int, int]
    held_out: tuple[str, ...] = ()

    @property
    def channels(self) -> int:
        return len(self.contrasts)

    @property
    def domains(self) -> Domains:
        return SEGMENTATION

    def describe(self) -> str:
        shapes = sorted({"x".join(map(str, c.image.shape[:3])) for c in self.cases})
        weights = ", ".join(f"{c}: {w:.4g}" for c, w in zip(self.classes, self.class_weights))
        boxes = ", ".join(shapes[:3]) + (" ..." if len(shapes) > 3 else "")
        lines = [f"{len(self.cases)} training cases ({', '.join(self.contrasts)}), brain boxes {boxes} -> patches "
                 f"{'x'.join(map(str, self.patch))}",
                 f"labels {', '.join(map(str, self.classes))} (background first), class weights {weights}"]
        if self.held_out:
            lines.append(f"held out: {len(self.held_out)} cases ({', '.join(self.held_out[:4])}"
                         f"{', ...' if len(self.held_out) > 4 else ''})")
        return "\n".join(lines)

    def sample_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The sample grid's fixed patch: (1, D, H, W, C) image and (1, D, H, W, K) one-hot classes."""
        image, classes = centre_on_tumour(self.cases[0], self.patch)
        return image[None], np.eye(len(self.classes), dtype=np.float32)[classes][None]

    @classmethod
    def load(cls, options: TrainOptions) -> SegmentationData:
        return load_segmentation_data(options.data, options.patch, options.contrasts, options.classes,
                                      options.class_weights, options.holdout_cases or 0, options.held_out)

    @classmethod
    def selection(cls, options: TrainOptions) -> set[str]:
        """The names of the cases a run of ``options`` trains on (without reading them)."""
        return {case.name for case in training_cases(find_cases(options.data), options.held_out or ())}

    def steps_per_epoch(self, options: TrainOptions) -> int:
        return patches_per_epoch(len(self.cases), options.batch, options.patches_per_epoch) // options.batch

    def dataset(self, options: TrainOptions, first_epoch: int, epochs: int) -> tf.data.Dataset:
        return segmentation_dataset(self.cases, self.patch, len(self.classes), options.batch, options.seed,
                                    first_epoch, epochs, options.patches_per_epoch, options.tumour_fraction,
                                    options.augment, options.rotate)

    def decided(self) -> dict:
        return {"domains": self.domains.names, "channels": self.channels, "contrasts": self.contrasts,
                "classes": self.classes, "class_weights": self.class_weights, "holdout_cases": len(self.held_out),
                "held_out": self.held_out}


def training_cases(cases: Sequence[Case], held_out: Sequence[str]) -> list[Case]:
    """The cases a run trains on: all but the held-out ones."""
    return [case for case in cases if case.name not in set(held_out)]


def load_segmentation_data(data: str | os.PathLike, patch: Sequence[int], contrasts: Sequence[str] | None = None,
                           classes: Sequence[int] | None = None, class_weights: Sequence[float] | None = None,
                           holdout: int = 0, held_out: Sequence[str] | None = None,
                           report=print) -> SegmentationData:
    """The training cases of ``data``: all but the held-out ones (``held_out`` names, as a resumed run has
    them, else ``holdout`` drawn by ``held_out_cases``), read, z-scored and cropped to the brain."""
    contrasts = contrast_names(contrasts)
    cases = find_cases(data)
    classes = check_classes(classes) if classes else default_classes(cases)
    held_out = tuple(held_out) if held_out is not None else held_out_cases(cases, holdout)
    training = training_cases(cases, held_out)
    if not training:
        raise UserError(f"{data}: every case is held out; nothing to train on")
    loaded, counts = [], np.zeros(len(classes), np.int64)
    for i, case in enumerate(training):
        if report and len(training) > 20 and i % 20 == 0:
            report(f"reading case {i + 1} of {len(training)}")
        volumes = read_case(case, contrasts, classes)
        counts += np.bincount(volumes.classes.ravel(), minlength=len(classes))
        loaded.append(TrainingCase.of(volumes, patch))
    if class_weights is None:
        absent = [str(c) for c, n in zip(classes, counts) if n == 0]
        if absent and report:
            report(f"note: label {', '.join(absent)} never occurs in the training cases (class weight 0)")
        class_weights = balanced_class_weights(counts)
    elif len(class_weights) != len(classes):
        raise UserError(f"--class-weights needs one weight per class ({len(classes)}: labels "
                        f"{', '.join(map(str, classes))}), got {len(class_weights)}")
    elif min(class_weights) < 0 or sum(class_weights) <= 0:
        raise UserError(f"--class-weights must be 0 or more and not all 0, got {list(class_weights)}")
    return SegmentationData(loaded, contrasts, classes, tuple(float(w) for w in class_weights),
                            tuple(int(p) for p in patch), held_out)
