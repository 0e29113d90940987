"""The training data of a run: slices read once, split, and scaled to the model's range."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_mri.data import pairing
from cyclegan_mri.data.fetch import ensure_archive
from cyclegan_mri.data.images import to_model_range
from cyclegan_mri.data.sources import LoadReport, Slice, load_domains


@dataclass
class UnpairedData:
    """T1 (domain X) and T2 (domain Y) training slices, as 8-bit originals and model-range arrays."""

    t1: list[Slice]
    t2: list[Slice]
    x: np.ndarray
    y: np.ndarray
    report: LoadReport = field(default_factory=LoadReport)

    def describe(self) -> str:
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


def load_unpaired(data: str | Path, image_size: tuple[int, int], holdout: bool = False,
                  accept_checksum: bool = False, skip_bad: bool = False) -> UnpairedData:
    """The training slices of ``--data``; with ``holdout`` neither image of a test pair is included."""
    report = LoadReport()
    _, t1, t2 = read_dataset(data, accept_checksum, skip_bad, report)
    if holdout:
        t1, t2 = pairing.without_test_pairs(t1, t2)
    x = to_model_range([s.image for s in t1], image_size)
    y = to_model_range([s.image for s in t2], image_size)
    return UnpairedData(t1, t2, x, y, report)
