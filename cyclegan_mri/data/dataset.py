"""The training data of a run: slices read once, split, and scaled to the model's range.

Unpaired data (CycleGAN) is every T1 and every T2 slice; paired data (pix2pix)
is aligned (T1, T2) pairs, ``x[i]`` lying on ``y[i]``: the dataset's hidden
pairs, or a folder of the user's own pairs matched by file name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_mri.data import pairing
from cyclegan_mri.data.fetch import ensure_archive
from cyclegan_mri.data.images import to_model_range
from cyclegan_mri.data.sources import LoadReport, Slice, load_domains
from cyclegan_mri.errors import DataError, UserError


@dataclass
class TrainingData:
    """T1 (domain X) and T2 (domain Y) training slices, as 8-bit originals and model-range arrays.

    When ``paired``, ``t1[i]`` and ``t2[i]`` (and ``x[i]``, ``y[i]``) are aligned images of one slice.
    """

    t1: list[Slice]
    t2: list[Slice]
    x: np.ndarray
    y: np.ndarray
    report: LoadReport = field(default_factory=LoadReport)
    paired: bool = False

    def describe(self) -> str:
        if self.paired:
            lines = [f"aligned T1/T2 pairs: {len(self.t1)} -> {self.x.shape} and {self.y.shape}"]
        else:
            lines = [f"T1: {len(self.t1)} images -> {self.x.shape}", f"T2: {len(self.t2)} images -> {self.y.shape}"]
        if summary := self.report.summary():
            lines.append(f"note: {summary}")
        return "\n".join(lines)


def read_dataset(data: str | Path, accept_checksum: bool = False, skip_bad: bool = False,
                 report: LoadReport | None = None) -> tuple[Path, list[Slice], list[Slice]]:
    """The archive or folder actually read for ``--data`` (fetched when it is the missing default),
    and all its T1 and T2 slices."""
    path = ensure_archive(Path(data), accept_mismatch=accept_checksum)
    return (path, *load_domains(path, skip_bad, report))


def unpaired_slices(data: str | Path, holdout: bool = False, accept_checksum: bool = False, skip_bad: bool = False,
                    report: LoadReport | None = None) -> tuple[list[Slice], list[Slice]]:
    """The T1 and T2 slices an unpaired run trains on; with ``holdout`` neither image of a test pair."""
    _, t1, t2 = read_dataset(data, accept_checksum, skip_bad, report)
    return pairing.without_test_pairs(t1, t2) if holdout else (t1, t2)


def paired_slices(data: str | Path, holdout: bool = False, pairs: str | Path | None = None,
                  accept_checksum: bool = False, skip_bad: bool = False,
                  report: LoadReport | None = None) -> list[pairing.Pair]:
    """The aligned pairs a paired run trains on: the user's ``pairs`` folder (``t1/`` and ``t2/``, same file
    names), or else the dataset's pairs in ``data`` (only the 34 training pairs with ``holdout``)."""
    if pairs is not None:
        if holdout:
            raise UserError("--holdout leaves out the dataset's test pairs; with --pairs, keep your own test pairs "
                            "out of DIR instead")
        return pairing.folder_pairs(pairs, skip_bad, report)[2]
    _, t1, t2 = read_dataset(data, accept_checksum, skip_bad, report)
    matched = pairing.dataset_pairs(t1, t2)
    if not matched:
        raise DataError(f"{data}: none of the dataset's aligned T1/T2 pairs found; pass --pairs DIR with t1/ "
                        "and t2/ folders of aligned slices of the same names")
    return pairing.split_pairs(matched)[0] if holdout else matched


def load_unpaired(data: str | Path, image_size: tuple[int, int], holdout: bool = False,
                  accept_checksum: bool = False, skip_bad: bool = False) -> TrainingData:
    """The training slices of ``--data``; with ``holdout`` neither image of a test pair is included."""
    report = LoadReport()
    t1, t2 = unpaired_slices(data, holdout, accept_checksum, skip_bad, report)
    x = to_model_range([s.image for s in t1], image_size)
    y = to_model_range([s.image for s in t2], image_size)
    return TrainingData(t1, t2, x, y, report)


def load_paired(data: str | Path, image_size: tuple[int, int], holdout: bool = False, pairs: str | Path | None = None,
                accept_checksum: bool = False, skip_bad: bool = False) -> TrainingData:
    """Aligned training pairs (see ``paired_slices``), scaled to the model's range."""
    report = LoadReport()
    matched = paired_slices(data, holdout, pairs, accept_checksum, skip_bad, report)
    t1, t2 = [a for a, _ in matched], [b for _, b in matched]
    for a, b in matched:
        if a.image.shape != b.image.shape:
            raise DataError(f"{a.name}: T1 is {a.image.shape[1]}x{a.image.shape[0]} but its T2 is "
                            f"{b.image.shape[1]}x{b.image.shape[0]}; aligned pairs must have one size")
    x = to_model_range([s.image for s in t1], image_size)
    y = to_model_range([s.image for s in t2], image_size)
    return TrainingData(t1, t2, x, y, report, paired=True)
