"""The one map between an image's own intensities and the 8-bit (0-255) range the models train on.

MRI intensities have no fixed scale: a 12-bit scanner image stored in 16 bits
uses a fraction of its type's range, and a float volume any range at all. So
intensities are windowed by the image's (or volume's) own 0.5th and 99.5th
percentiles, which also keeps a few very bright voxels (vessels, fat, noise
spikes) from compressing the tissue contrast: ``v -> 255 * (v - lo) / (hi - lo)``
clipped to [0, 255]. Values that already are 8-bit integers keep their scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cyclegan_mri.errors import DataError

PERCENTILES = (0.5, 99.5)


@dataclass(frozen=True)
class Scaling:
    """A linear map between intensities ``lo..hi`` and the model's 0-255 range."""

    lo: float
    hi: float

    @classmethod
    def of(cls, data: np.ndarray, path: str | Path = "volume") -> "Scaling":
        """0-255 for a volume that already holds 8-bit integers (as one stacked from PNG slices), else ``window``."""
        finite = _finite(data, path)
        if finite.min() >= 0 and finite.max() <= 255 and np.all(finite == np.round(finite)) and finite.max() > 0:
            return cls(0.0, 255.0)
        return cls.window(finite, path, kind="volume")

    @classmethod
    def window(cls, data: np.ndarray, path: str | Path = "image", kind: str = "image") -> "Scaling":
        """The 0.5th to 99.5th percentile of the finite values (their full range if that window is empty).

        ``kind`` ("image" or "volume") names what an all-constant ``data`` is in the error.
        """
        finite = _finite(data, path)
        lo, hi = (float(v) for v in np.percentile(finite, PERCENTILES))
        if hi <= lo:
            lo, hi = float(finite.min()), float(finite.max())
        if hi <= lo:
            unit = "voxel" if kind == "volume" else "pixel"
            raise DataError(f"{path}: the {kind} is empty (every {unit} is {lo:g})")
        return cls(lo, hi)

    def to_slices(self, values: np.ndarray) -> np.ndarray:
        """Intensities mapped to float 0-255 (clipped; NaN becomes 0)."""
        scaled = 255.0 * (np.asarray(values, np.float64) - self.lo) / (self.hi - self.lo)
        return np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 255.0)

    def to_volume(self, intensities: np.ndarray) -> np.ndarray:
        """The inverse map, from 0-255 back to the original intensities."""
        return self.lo + np.asarray(intensities, np.float64) * (self.hi - self.lo) / 255.0

    def describe(self) -> str:
        return f"window {self.lo:g}..{self.hi:g} mapped to 0..255"


def _finite(data: np.ndarray, path: str | Path) -> np.ndarray:
    values = np.asarray(data)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise DataError(f"{path}: no finite values")
    return finite
