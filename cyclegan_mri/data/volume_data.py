"""Unpaired NIfTI volumes for 3D training: one orientation, one intensity scale, random patches.

Layouts. A folder with one subfolder per domain (``t1/`` and ``t2/``, ``trainA/``
and ``trainB/``...) gives every volume of its training folders (``load_volume_domains``;
test folders are left out). Any other folder of volumes is read by subject, as
the 2D models read it (``subjects.find_subjects``: BraTS case folders, IXI,
BIDS-like, ``<subject>_<contrast>`` files) and split as they split it
(``subjects.subject_split``): held-out and test subjects are never trained on,
and the two domains come from disjoint subjects unless ``--same-subjects``.

Orientation. Every volume is reoriented to the closest canonical (RAS+) voxel
order (``nibabel.as_closest_canonical``): array axis 0 points to the patient's
right, axis 1 anterior, axis 2 superior, whatever the order on disk. Volumes of
one domain may still differ in shape and spacing; ``spacing`` resamples each to
the same voxel size in mm (linear interpolation, field of view kept).

Scaling. As for slices (``intensity.Scaling``), each volume is windowed by its
own 0.5th and 99.5th percentiles, mapped to 0-255 and then to [-1, 1]
(``v / 127.5 - 1``); ``Volume.scaling.to_volume((x + 1) * 127.5)`` maps a
model output back to the volume's intensities.

Patches. A network trains on random ``patch``-sized windows. A volume smaller
than the patch along an axis is padded with background, centred (the odd voxel
after). ``min_foreground`` asks for windows in which at least that fraction of
voxels is brighter than background (by ``FOREGROUND_MARGIN``): up to ``tries``
windows are drawn, the first that meets it is taken, else the one with the most
foreground.

Determinism. An epoch draws ``patches_per_epoch`` patches per domain (by
default one per volume of the larger domain), rounded up to whole batches, each domain
cycling through its volumes in an order shuffled per epoch. Every draw of
domain A (or B) in epoch ``k`` comes from a generator seeded by (seed, k, A),
so epoch ``k`` is the same whether or not the run stopped and resumed before
it. Batches are ``batch_size`` patches of each domain, every one full.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cyclegan_mri.data.intensity import Scaling
from cyclegan_mri.data.nifti import is_nifti, read_volume, voxels
from cyclegan_mri.data.protocol import fingerprint
from cyclegan_mri.data.sources import folder_role, sort_key
from cyclegan_mri.data.subjects import (Subject, SubjectSplit, find_subjects, is_volume_folder, split_subjects,
                                        subject_split)
from cyclegan_mri.domains import GENERIC, TUTORIAL, Domains
from cyclegan_mri.errors import DataError, UserError

if TYPE_CHECKING:
    import tensorflow as tf

    from cyclegan_mri.record import TrainOptions

VOLUME_LAYOUTS = ("t1/ and t2/, trainA/ and trainB/, A/ and B/, or folders named after the domains, "
                  "each holding .nii or .nii.gz volumes")
# A voxel counts as foreground when it is brighter than background by 5% of the [-1, 1] range: MRI background
# is noise, not a constant, and it should not make an empty window look full.
FOREGROUND_MARGIN = 0.1
# Salts that give each domain's stream of an epoch its own seed.
_DOMAIN_A, _DOMAIN_B = 1, 2


@dataclass
class Volume:
    """One volume ready for training, and what it takes to map results back to its space and intensities."""

    name: str
    #: float32 (D, H, W) in canonical (RAS+) voxel order, in [-1, 1].
    data: np.ndarray = field(repr=False)
    #: The affine of the canonical (and resampled) image.
    affine: np.ndarray = field(repr=False)
    #: The intensity window (0.5th-99.5th percentile) mapped to [-1, 1]; its inverse maps back.
    scaling: Scaling


def _check_triple(values, what: str, kind=float) -> tuple:
    values = tuple(values)
    if len(values) != 3 or any(v <= 0 for v in values):
        raise UserError(f"{what} needs three positive numbers, got {values}")
    return tuple(kind(v) for v in values)


def resample(data: np.ndarray, affine: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``data`` resampled by linear interpolation to about ``spacing`` mm voxels, and its affine.

    The field of view is kept: the new shape is the old one times the ratio of spacings, rounded, so the
    voxel size in the returned affine is the exact one that shape gives (``spacing`` when it divides evenly).
    """
    from nibabel.affines import voxel_sizes
    from scipy import ndimage

    spacing = np.asarray(_check_triple(spacing, "--spacing"), np.float64)
    old = voxel_sizes(affine)
    shape = np.asarray(data.shape)
    new_shape = np.maximum(1, np.round(shape * old / spacing)).astype(int)
    # grid_mode: voxels are cells of the field of view, so the outer edges (not the outer centres) stay put.
    resampled = ndimage.zoom(np.asarray(data, np.float32), new_shape / shape, order=1, grid_mode=True,
                             mode="nearest")
    step = shape / new_shape
    voxel_to_old = np.eye(4)
    voxel_to_old[:3, :3] = np.diag(step)
    voxel_to_old[:3, 3] = step / 2 - 0.5
    return resampled.astype(np.float32), np.asarray(affine, np.float64) @ voxel_to_old


@dataclass
class PreparedVolume:
    """A volume in the model's space (canonical, optionally resampled, in [-1, 1]) and the way back."""

    data: np.ndarray = field(repr=False)
    affine: np.ndarray = field(repr=False)
    scaling: Scaling
    #: The source image's own voxel order and shape, to map results back onto its grid.
    orientation: np.ndarray = field(repr=False)
    canonical_shape: tuple[int, int, int] = ()

    def to_source_grid(self, model_range: np.ndarray) -> np.ndarray:
        """A result of the model's space (same shape as ``data``, in [-1, 1]) back on the source's grid and in
        its intensities: resampled to the canonical shape, unscaled, reordered to the source's voxel order."""
        from nibabel import orientations

        result = np.asarray(model_range, np.float32)
        if result.shape != self.canonical_shape:
            from scipy import ndimage

            result = ndimage.zoom(result, np.asarray(self.canonical_shape) / np.asarray(result.shape), order=1,
                                  grid_mode=True, mode="nearest")
        intensities = self.scaling.to_volume(np.clip((result + 1.0) * 127.5, 0.0, 255.0))
        return orientations.apply_orientation(intensities, self.orientation)


def prepare_volume(image, spacing: tuple[float, float, float] | None = None,
                   path: str | os.PathLike = "volume") -> PreparedVolume:
    """A NIfTI image in canonical voxel order, optionally resampled to ``spacing`` mm, scaled to [-1, 1]: the
    one map from a volume to what the networks see, for training and for translation alike."""
    data, affine, back = to_canonical(image)
    canonical_shape = tuple(int(n) for n in data.shape)
    # The window of the acquired voxels: interpolation only adds values inside their range.
    scaling = Scaling.window(data, path, kind="volume")
    if spacing is not None:
        data, affine = resample(data, affine, spacing)
    scaled = np.ascontiguousarray(scaling.to_slices(data) / 127.5 - 1.0, np.float32)
    return PreparedVolume(scaled, affine, scaling, back, canonical_shape)


def to_canonical(image, data: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A NIfTI image's voxels (or ``data`` on its grid) in the closest canonical (RAS+) order, the affine of that
    order, and the nibabel orientation that puts a canonical array back in the image's own voxel order."""
    from nibabel import orientations

    disk = orientations.io_orientation(image.affine)
    forward = orientations.ornt_transform(disk, orientations.axcodes2ornt("RAS"))
    values = voxels(image) if data is None else np.asarray(data)
    canonical = orientations.apply_orientation(values, forward)
    affine = np.asarray(image.affine, np.float64) @ orientations.inv_ornt_aff(forward, image.shape)
    return canonical, affine, orientations.ornt_transform(orientations.axcodes2ornt("RAS"), disk)


def load_volume(path: str | os.PathLike, spacing: tuple[float, float, float] | None = None) -> Volume:
    """A NIfTI volume in canonical voxel order, optionally resampled to ``spacing`` mm, scaled to [-1, 1].

    A file that is not a 3D NIfTI volume, or whose voxels all hold one value, is a one-line DataError.
    """
    prepared = prepare_volume(read_volume(path), spacing, path)
    return Volume(Path(path).name, prepared.data, prepared.affine, prepared.scaling)


def load_volume_domains(data: str | os.PathLike, domains: Domains | None = None,
                        spacing: tuple[float, float, float] | None = None
                        ) -> tuple[Domains, list[Volume], list[Volume]]:
    """The training volumes of domains A and B in a folder's subfolders, with the domains' names.

    Subfolders are classified by name as the slices' are (``sources.folder_role``); test folders are left
    out. The names are ``domains`` if given, else T1 and T2 for ``t1/`` and ``t2/`` folders, A and B otherwise.
    """
    path = Path(data)
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; pass a folder with {VOLUME_LAYOUTS}")
    files: tuple[list[Path], list[Path]] = ([], [])
    folders: tuple[list[str], list[str]] = ([], [])
    tutorial = True
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        role = folder_role(folder.name, domains)
        if role is None or role.split != "train":
            continue
        volumes = [p for p in folder.iterdir() if p.is_file() and is_nifti(p)]
        if not volumes:
            raise DataError(f"no .nii or .nii.gz volumes in {folder}")
        files[role.side].extend(volumes)
        folders[role.side].append(folder.name + "/")
        tutorial = tutorial and role.tutorial
    if not files[0] and not files[1]:
        inside = " (the volumes directly inside it need one subfolder per domain)" if any(
            is_nifti(p) for p in path.iterdir() if p.is_file()) else ""
        raise DataError(f"{path}: no volume folders in a known layout{inside}; expected {VOLUME_LAYOUTS}")
    names = domains or (TUTORIAL if tutorial else GENERIC)
    for side in (0, 1):
        if not files[side]:
            raise DataError(f"{path}: volumes of {names.names[1 - side]} in {', '.join(folders[1 - side])} but no "
                            f"folder of {names.names[side]}; expected {VOLUME_LAYOUTS}")
    a, b = ([load_volume(p, spacing) for p in sorted(group, key=lambda p: sort_key(p.name))] for group in files)
    return names, a, b


def pad_to_patch(volume: np.ndarray, patch: Sequence[int], background: float = 0.0) -> np.ndarray:
    """``volume`` padded with ``background`` to at least ``patch`` along its first axes, centred (odd voxel after);
    further (channel) axes are left as they are. The array itself when it is large enough."""
    missing = [max(0, p - s) for p, s in zip(patch, volume.shape)]
    if not any(missing):
        return volume
    widths = [(m // 2, m - m // 2) for m in missing] + [(0, 0)] * (volume.ndim - len(missing))
    return np.pad(volume, widths, constant_values=background)


def sample_patch(volume: np.ndarray, patch: tuple[int, int, int], rng: np.random.Generator,
                 min_foreground: float = 0.0, background: float = -1.0, tries: int = 20) -> np.ndarray:
    """A random ``patch``-sized window of a (D, H, W) array (padded first where it is smaller; see the module
    doc), with at least ``min_foreground`` of its voxels above ``background`` when one of ``tries`` draws has.

    The result depends only on the arguments and ``rng``'s state.
    """
    patch = _check_triple(patch, "the patch size", int)
    if np.ndim(volume) != 3:
        raise ValueError(f"a patch is cut from a (D, H, W) array, got shape {np.shape(volume)}")
    if tries < 1:
        raise ValueError(f"tries must be at least 1, got {tries}")
    padded = pad_to_patch(np.asarray(volume), patch, background)
    highest = np.asarray(padded.shape) - np.asarray(patch) + 1
    best, best_fraction = None, -1.0
    for _ in range(tries):
        start = rng.integers(0, highest)
        window = padded[tuple(slice(s, s + p) for s, p in zip(start, patch))]
        fraction = float(np.mean(window > background + FOREGROUND_MARGIN)) if min_foreground > 0 else 1.0
        if fraction > best_fraction:
            best, best_fraction = window, fraction
        if fraction >= min_foreground:
            break
    return np.array(best, np.float32)


def _patches_per_epoch(n_a: int, n_b: int, batch_size: int, patches_per_epoch: int | None) -> int:
    """Patches per domain and epoch, rounded up to whole batches: patches are random draws, so a full last batch
    costs nothing, and under tf.distribute a partial one could leave a replica with no example at all."""
    if patches_per_epoch is None:
        patches_per_epoch = max(n_a, n_b)
    if patches_per_epoch < 1:
        raise UserError(f"--patches-per-epoch must be at least 1, got {patches_per_epoch}")
    return -(-int(patches_per_epoch) // batch_size) * batch_size


def steps_per_epoch(n_a: int, n_b: int, batch_size: int, patches_per_epoch: int | None = None) -> int:
    """How many steps an epoch of ``patch_dataset`` over ``n_a`` and ``n_b`` volumes has (every batch full)."""
    return _patches_per_epoch(n_a, n_b, batch_size, patches_per_epoch) // batch_size


def _domain_patches(volumes: list[Volume], count: int, patch: tuple[int, int, int], rng: np.random.Generator,
                    min_foreground: float, augment: bool) -> Iterator[np.ndarray]:
    """``count`` patches of one domain for one epoch, cycling through the volumes in an order ``rng`` draws."""
    order = rng.permutation(len(volumes))
    for i in range(count):
        cut = sample_patch(volumes[order[i % len(volumes)]].data, patch, rng, min_foreground)
        if augment:
            flips = tuple(np.flatnonzero(rng.random(3) < 0.5))
            cut = np.flip(cut, flips) if flips else cut
        yield cut


def patch_dataset(a: list[Volume], b: list[Volume], patch: tuple[int, int, int], batch_size: int, seed: int,
                  first_epoch: int = 0, epochs: int = 1, patches_per_epoch: int | None = None,
                  min_foreground: float = 0.0, augment: bool = False) -> tf.data.Dataset:
    """``epochs`` epochs, from epoch index ``first_epoch`` on, of (A batch, B batch) steps of random patches,
    each batch (B, D, H, W, 1) float32; ``augment`` flips each patch along each axis with probability 1/2."""
    import tensorflow as tf

    from cyclegan_mri.data.pipeline import check_batch_size

    patch = _check_triple(patch, "the patch size", int)
    check_batch_size(batch_size, {})
    for name, volumes in (("A", a), ("B", b)):
        if not volumes:
            raise DataError(f"no training volumes of domain {name}")
    if seed < 0:
        raise UserError(f"the seed must be 0 or more, got {seed}")
    count = _patches_per_epoch(len(a), len(b), batch_size, patches_per_epoch)

    def batches():
        for epoch in range(first_epoch, first_epoch + epochs):
            streams = [_domain_patches(volumes, count, patch, np.random.default_rng([seed, epoch, salt]),
                                       min_foreground, augment)
                       for volumes, salt in ((a, _DOMAIN_A), (b, _DOMAIN_B))]
            for start in range(0, count, batch_size):
                size = min(batch_size, count - start)
                yield tuple(np.stack([next(stream) for _ in range(size)])[..., None] for stream in streams)

    spec = tf.TensorSpec((None, *patch, 1), tf.float32)
    return tf.data.Dataset.from_generator(batches, output_signature=(spec, spec)).prefetch(tf.data.AUTOTUNE)


def centre_patch(volume: np.ndarray, patch: tuple[int, int, int], background: float = -1.0) -> np.ndarray:
    """The ``patch``-sized window at the centre of a (D, H, W) array (padded first where it is smaller)."""
    padded = pad_to_patch(np.asarray(volume), patch, background)
    starts = [(s - p) // 2 for s, p in zip(padded.shape, patch)]
    return np.array(padded[tuple(slice(s, s + p) for s, p in zip(starts, patch))], np.float32)


@dataclass
class VolumeData:
    """The training volumes of a 3D run: what the trainer needs of them, as ``TrainingData`` is for slices."""

    a: list[Volume]
    b: list[Volume]
    domains: Domains
    patch: tuple[int, int, int]
    channels: int = 1
    paired: bool = False
    #: Volumes left out because they are smaller than the patch (``pad_volumes`` off).
    left_out: list[str] = field(default_factory=list)
    #: Read by subject: the names of the subjects held out of training (``subjects.split_subjects``), and whether
    #: the two domains come from disjoint subjects.
    held_out: tuple[str, ...] | None = None
    disjoint: bool = False

    def describe(self) -> str:
        patch = "x".join(map(str, self.patch))
        lines = [f"{name}: {len(volumes)} volumes, shapes {_shapes(volumes)} -> patches {patch}"
                 for name, volumes in zip(self.domains.names, (self.a, self.b))]
        if self.held_out is not None:
            lines.append(f"subjects: {'disjoint for the two domains' if self.disjoint else 'both contrasts of each'}; "
                         f"held out: {len(self.held_out)}" + (f" ({', '.join(self.held_out[:4])}"
                                                              f"{', ...' if len(self.held_out) > 4 else ''})"
                                                              if self.held_out else ""))
        if self.left_out:
            lines.append(f"note: {len(self.left_out)} volume(s) smaller than the patch left out "
                         f"({', '.join(self.left_out[:3])}{', ...' if len(self.left_out) > 3 else ''})")
        return "\n".join(lines)

    def sample_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """One fixed patch of each domain, (1, D, H, W, 1): the centre of its first volume."""
        return tuple(centre_patch(volumes[0].data, self.patch)[None, ..., None] for volumes in (self.a, self.b))

    @classmethod
    def load(cls, options: TrainOptions) -> VolumeData:
        """The volumes a run of ``options`` trains on: by subject, or from the domain folders (see the module doc)."""
        domains = Domains.of(options.domains) if options.domains else None
        if reads_subjects(options.data, domains):
            return load_subject_volumes(options)
        by_subject = [flag for flag, given in (("--holdout-cases", options.holdout_cases),
                                               ("--same-subjects", options.same_subjects)) if given]
        if by_subject:
            raise UserError(f"{', '.join(by_subject)}: for a --data folder read by subject (BraTS case folders, IXI, "
                            f"<subject>_<contrast> files); {options.data} holds one folder per domain, whose test "
                            "folders (testA/, testB/...) are held out")
        return load_volume_data(options.data, options.patch, domains, options.spacing, options.pad_volumes)

    @classmethod
    def selection(cls, options: TrainOptions) -> set[str]:
        """Fingerprints of every volume a run of ``options`` trains on, prepared as ``load`` prepares them."""
        data = cls.load(options)
        return {fingerprint(v.data) for v in data.a + data.b}

    def steps_per_epoch(self, options: TrainOptions) -> int:
        return steps_per_epoch(len(self.a), len(self.b), options.batch, options.patches_per_epoch)

    def dataset(self, options: TrainOptions, first_epoch: int, epochs: int) -> tf.data.Dataset:
        return patch_dataset(self.a, self.b, self.patch, options.batch, options.seed, first_epoch=first_epoch,
                             epochs=epochs, patches_per_epoch=options.patches_per_epoch,
                             min_foreground=options.min_foreground, augment=options.augment)

    def decided(self) -> dict:
        decided = {"domains": self.domains.names, "channels": self.channels}
        if self.held_out is not None:
            decided.update(holdout_cases=len(self.held_out), held_out=self.held_out)
        return decided


def _shapes(volumes: list[Volume]) -> str:
    shapes = sorted({"x".join(map(str, v.data.shape)) for v in volumes})
    return ", ".join(shapes[:3]) + (f" and {len(shapes) - 3} more" if len(shapes) > 3 else "")


def has_domain_folders(data: str | os.PathLike, domains: Domains | None = None) -> bool:
    """Whether ``data`` is a folder with a subfolder named for a domain (``t1/``, ``trainA/``, ``testB/``, the
    domains' own names): the layout ``load_volume_domains`` reads."""
    path = Path(data)
    return path.is_dir() and any(p.is_dir() and folder_role(p.name, domains) is not None for p in path.iterdir())


def reads_subjects(data: str | os.PathLike, domains: Domains | None = None) -> bool:
    """Whether a 3D run reads ``data`` by subject (BraTS case folders, IXI, BIDS-like) rather than as one folder
    per domain."""
    return is_volume_folder(data) and not has_domain_folders(data, domains)


def volume_split(options: TrainOptions) -> tuple[list[Subject], SubjectSplit]:
    """Every subject of a 3D run's data and the split it trains on. Read by subject, the split of the slices
    (``subjects.subject_split``); in domain folders, a subject per file name, whose every training volume is
    trained on (as ``load_volume_domains`` reads them) and whose test folders are held out."""
    if reads_subjects(options.data, Domains.of(options.domains) if options.domains else None):
        return subject_split(options)
    subjects = find_subjects(options.data, options.run_domains)
    return subjects, split_subjects(subjects, paired=False, same_subjects=True, held_out=())


def load_subject_volumes(options: TrainOptions) -> VolumeData:
    """The training volumes of a folder read by subject: each training subject's volume of each domain the split
    deals it (``volume_split``)."""
    patch = _check_triple(options.patch, "--patch", int)
    domains = options.run_domains
    _, split = volume_split(options)
    files: tuple[list[Path], list[Path]] = ([], [])
    for subject, sides in split.training:
        for side in sides:
            files[side].append(subject.files[side])
    for side, group in enumerate(files):
        if not group:
            dealt = "" if options.same_subjects else (
                "; the domains come from disjoint subjects, so it takes two training subjects with both contrasts, "
                "or --same-subjects")
            raise DataError(f"{options.data}: no {domains.names[side]} volume to train on ({len(split.training)} "
                            f"training subjects{dealt})")
    a, b = ([load_volume(path, options.spacing) for path in group] for group in files)
    a, b, left_out = _fitting(domains, a, b, patch, options.pad_volumes)
    return VolumeData(a, b, domains, patch, left_out=left_out, held_out=split.held_out,
                      disjoint=not options.same_subjects)


def _fitting(names: Domains, a: list[Volume], b: list[Volume], patch: tuple[int, int, int], pad_volumes: bool
             ) -> tuple[list[Volume], list[Volume], list[str]]:
    """The volumes of each domain to train on, and the names of those left out: without ``pad_volumes``, those
    smaller than the patch along any axis (a patch larger than every volume of a domain is refused)."""
    if pad_volumes:
        return a, b, []
    fits = lambda volume: all(s >= p for s, p in zip(volume.data.shape, patch))  # noqa: E731
    for name, volumes in zip(names.names, (a, b)):
        if not any(fits(v) for v in volumes):
            largest = "x".join(map(str, max((v.data.shape for v in volumes), key=np.prod)))
            raise UserError(f"--patch {' '.join(map(str, patch))} is larger than every {name} volume (the "
                            f"largest is {largest}) and --no-pad-volumes is on; lower --patch or let volumes "
                            "be padded")
    return [v for v in a if fits(v)], [v for v in b if fits(v)], [v.name for v in a + b if not fits(v)]


def load_volume_data(data: str | os.PathLike, patch: tuple[int, int, int], domains: Domains | None = None,
                     spacing: tuple[float, float, float] | None = None, pad_volumes: bool = True) -> VolumeData:
    """The training volumes of ``data``'s domain folders for ``patch``-sized training. Without ``pad_volumes``,
    volumes smaller than the patch along any axis are left out, and a patch larger than every volume of a domain
    is refused."""
    patch = _check_triple(patch, "--patch", int)
    names, a, b = load_volume_domains(data, domains, spacing)
    a, b, left_out = _fitting(names, a, b, patch, pad_volumes)
    return VolumeData(a, b, names, patch, left_out=left_out)


def volume_pairs(folder: str | os.PathLike, domains: Domains, split: str | None = None
                 ) -> list[tuple[str, Path, Path]]:
    """Aligned volume pairs in ``folder``'s domain subfolders (any layout ``folder_role`` knows; only ``split``'s
    folders when given): (name, A file, B file) for each file name present in both domains."""
    path = Path(folder)
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; pass a folder with {VOLUME_LAYOUTS}")
    files: tuple[dict[str, Path], dict[str, Path]] = ({}, {})
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        role = folder_role(sub.name, domains)
        if role is not None and (split is None or role.split == split):
            files[role.side].update({p.name: p for p in sub.iterdir() if p.is_file() and is_nifti(p)})
    names = sorted(set(files[0]) & set(files[1]), key=sort_key)
    return [(name, files[0][name], files[1][name]) for name in names]
