"""2D training data cut from NIfTI volumes: every 2D model trains on real scans straight from their volumes.

Each volume is mapped to the models' 0-255 scale by its own percentile window
(``intensity.Scaling.of``, the map ``translate.py`` applies to a volume, so that
a translated volume meets the intensities its model trained on) and cut along
``--plane`` into floating-point slices: no 8-bit step. A slice is kept when at
least ``--min-foreground`` of its pixels are brighter than background (5 % of the
scale), in either contrast of a subject, so that slices of air or of the skull's
edge do not swamp the epochs.

Subjects, never slices, are split (``subjects.split_subjects``): test subjects
(under a ``test`` folder) and ``--holdout-cases K`` of the others are held out
whole. A paired model trains on both contrasts of each training subject, slice
by slice (they must share a grid); an unpaired model's two domains come from
disjoint subjects unless ``--same-subjects``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cyclegan_mri.data import nifti
from cyclegan_mri.data.intensity import Scaling
from cyclegan_mri.data.sources import Slice
from cyclegan_mri.data.subjects import Subject, SubjectSplit, subject_split
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import DataError, UserError

if TYPE_CHECKING:
    from cyclegan_mri.record import TrainOptions

# A pixel is foreground when it is brighter than background by 5% of the 0-255 scale (as volume_data's patches).
FOREGROUND = 0.05 * 255.0


@dataclass
class SubjectSlices:
    """One subject's kept slices: (n, rows, cols) float32 on the 0-255 scale per domain present, the slice
    indices along the plane, and each slice's foreground mask (of either contrast)."""

    subject: Subject
    plane: str
    indices: np.ndarray
    images: dict[int, np.ndarray]
    masks: np.ndarray

    def slices(self, side: int) -> list[Slice]:
        """The kept slices of one domain as ``Slice`` objects named ``<subject>:<plane><index>``."""
        return [Slice(f"{self.subject.name}:{self.plane}{int(i):03d}", image, str(self.subject.files[side]))
                for i, image in zip(self.indices, self.images[side])]


def windowed_slices(path, plane: str) -> tuple[np.ndarray, object]:
    """A volume's slices along ``plane``, (n, rows, cols) float32 on the 0-255 scale, and the NIfTI image."""
    image = nifti.read_volume(path)
    data = nifti.voxels(image, path)
    scaling = Scaling.of(data, path)
    return scaling.to_slices(nifti.to_slices(data, image.affine, plane)).astype(np.float32), image


def read_subject(subject: Subject, sides: tuple[int, ...], plane: str, min_foreground: float) -> SubjectSlices:
    """The slices of ``sides`` of one subject with at least ``min_foreground`` foreground in any of them."""
    stacks, grid = {}, None
    for side in sides:
        stacks[side], image = windowed_slices(subject.files[side], plane)
        if grid is None:
            grid = (image.shape, np.asarray(image.affine))
        elif image.shape != grid[0] or not np.allclose(image.affine, grid[1], atol=1e-3):
            raise DataError(f"{subject.files[side]}: not on the grid of {subject.files[sides[0]]} (shape "
                            f"{image.shape} vs {grid[0]}, or another affine); the contrasts of a subject must be "
                            "co-registered to be used as aligned pairs")
    masks = np.zeros(next(iter(stacks.values())).shape, bool)
    for stack in stacks.values():
        masks |= stack > FOREGROUND
    keep = np.flatnonzero(masks.mean(axis=(1, 2)) >= min_foreground)
    return SubjectSlices(subject, plane, keep, {side: stacks[side][keep] for side in sides}, masks[keep])


def training_slices(options: TrainOptions) -> tuple[list[Slice], list[Slice], SubjectSplit]:
    """The A and B slices a run of ``options`` trains on, and its subject split. Paired: ``a[i]`` lies on
    ``b[i]``."""
    if options.channels not in (None, 1):
        raise UserError("--channels 3: volumes are grayscale; train on them with --channels 1 (the default)")
    _, split = subject_split(options)
    a, b = [], []
    for subject, sides in split.training:
        read = read_subject(subject, sides, options.plane, options.min_foreground)
        for side in sides:
            (a, b)[side].extend(read.slices(side))
    domains = Domains.of(options.domains) if options.domains else TUTORIAL
    for side, slices in enumerate((a, b)):
        if not slices:
            raise DataError(f"{options.data}: no {domains.names[side]} slices to train on (every training subject's "
                            f"slices have less than {options.min_foreground:g} foreground, or no training subject "
                            f"has a {domains.names[side]} volume{' and the other contrast' if options.spec.paired else ''})")
    return a, b, split
