"""Shared fixtures: the dataset archive, a small generated dataset, and one tiny trained run."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = ROOT.parent / "shared" / "datasets" / "MRI+T1_T2+Dataset.RAR"

# Small enough that one epoch of the tiny model takes seconds on two CPU cores.
TINY_SIZE = (24, 20)
TINY_FILTERS = 4


@pytest.fixture(scope="session")
def archive() -> Path:
    """The tutorial's RAR archive: $CYCLEGAN_MRI_ARCHIVE or ../shared/datasets/."""
    path = Path(os.environ.get("CYCLEGAN_MRI_ARCHIVE", SHARED_ARCHIVE))
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the dataset archive is missing at {path}; CI must provide it")
        pytest.skip(f"dataset archive not available at {path}")
    return path


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def phantom(seed: int, shape=(30, 26)) -> np.ndarray:
    """A smooth random 8-bit slice."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    blob = np.exp(-((rows - shape[0] / 2) ** 2 + (cols - shape[1] / 2) ** 2) / (2 * (shape[0] / 4) ** 2))
    return np.clip(blob * 200 + rng.normal(0, 10, shape), 0, 255).astype(np.uint8)


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """A folder laid out like the archive: Tr1/TrainT1 with 5 slices, Tr2/TrainT2 with 6."""
    for folder, count, start in (("Tr1/TrainT1", 5, 1), ("Tr2/TrainT2", 6, 100)):
        target = tmp_path / folder
        target.mkdir(parents=True)
        for i in range(count):
            (target / f"Image #{start + i}.png").write_bytes(png_bytes(phantom(start + i)))
    (tmp_path / "Tr1" / ".DS_Store").write_bytes(b"\0\1")
    return tmp_path


@dataclass
class TinyRun:
    """A run directory and what it held after its first epoch, before the resume."""

    out: Path
    args: list[str]
    after_first_epoch: dict


@pytest.fixture(scope="session")
def tiny_run(archive: Path, tmp_path_factory) -> TinyRun:
    """A tiny model trained for 1 epoch through train.py, then resumed by the same command to epoch 2."""
    from cyclegan_mri.cli import train

    out = tmp_path_factory.mktemp("run")
    args = ["--data", str(archive), "--out", str(out), "--batch", "4", "--image-size", *map(str, TINY_SIZE),
            "--filters", str(TINY_FILTERS), "--seed", "3", "--verbose", "0"]
    assert train.main([*args, "--epochs", "1"]) == 0
    after = {"checkpoints": sorted(p.name for p in (out / "checkpoints").iterdir()),
             "samples": sorted(p.name for p in (out / "samples").iterdir()),
             "history": (out / "history.csv").read_text()}
    assert train.main([*args, "--epochs", "2"]) == 0
    return TinyRun(out, args, after)
