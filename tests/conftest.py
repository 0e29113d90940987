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
# The suite runs in two worker processes (setup.cfg): on a GPU, neither may take all of its memory.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

ROOT = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = ROOT.parent / "shared" / "datasets" / "MRI+T1_T2+Dataset.RAR"

# Small enough that one epoch of the tiny model takes seconds on two CPU cores.
TINY_SIZE = (24, 20)
TINY_FILTERS = 4


def trained_weights(model, network: str) -> np.ndarray:
    """The weights of ``network`` that have a non-zero true gradient, flattened into one vector.

    Conv biases followed by instance normalisation are cancelled by its mean
    subtraction: their true gradient is zero and Adam turns rounding noise into
    steps of about the learning rate, different in any two float32 loops.
    """
    net = model.trackables()[network]
    names = {layer.name for layer in net.layers}
    return np.concatenate([np.asarray(w).ravel() for w in net.trainable_weights
                           if not (w.path.endswith("bias") and w.path.split("/")[-2].replace("conv", "norm") in names)])


def weight_difference(actual_model, expected_model, network: str) -> float:
    """Norm-wise relative difference of a network's weights in two models.

    Taken over the whole network: an element whose gradient is near Adam's
    epsilon moves by a rounding-sensitive fraction of the learning rate, so
    element-wise (or per-tensor, for tensors that start at zero) ratios say little.
    """
    actual, expected = trained_weights(actual_model, network), trained_weights(expected_model, network)
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def conv_parameters(kernel: int, c_in: int, c_out: int) -> int:
    """A 3D convolution or transposed convolution: a kernel^3 x c_in x c_out kernel and one bias per output."""
    return kernel ** 3 * c_in * c_out + c_out


def norm_parameters(channels: int) -> int:
    """InstanceNormalization: a scale and an offset per channel."""
    return 2 * channels


@pytest.fixture
def mixed_bfloat16():
    """The mixed_bfloat16 policy for one test, the previous one restored after it."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def exit_code(main, argv: list[str]) -> int:
    """An entry point's exit status for ``argv``, as the command line gives it."""
    from cyclegan_mri.cli.common import run_main

    try:
        return run_main(main, argv)
    except SystemExit as stop:
        return stop.code


def reoriented(image, codes: tuple[str, str, str]):
    """The same NIfTI volume stored in another voxel order (its affine adjusted so it lies in the same place)."""
    import nibabel as nib
    from nibabel import orientations

    transform = orientations.ornt_transform(orientations.io_orientation(image.affine), orientations.axcodes2ornt(codes))
    data = orientations.apply_orientation(np.asarray(image.dataobj), transform)
    return nib.Nifti1Image(data, image.affine @ orientations.inv_ornt_aff(transform, image.shape))


# Subjects' NIfTI volumes, in the layouts real scans come in.
SUBJECT_SHAPE = (20, 24, 16)
SUBJECT_LAYOUTS = {
    "brats 2018-2021": lambda root, i, c: root / f"Brats18_X_{i}" / f"Brats18_X_{i}_{c}.nii.gz",
    "brats 2023": lambda root, i, c: root / f"BraTS-GLI-{i:05d}-000" / f"BraTS-GLI-{i:05d}-000-{c}w.nii.gz",
    "ixi": lambda root, i, c: root / f"IXI-{c.upper()}" / f"IXI{i:03d}-Guys-0828-{c.upper()}.nii.gz",
    "bids": lambda root, i, c: root / f"sub-{i:02d}" / "anat" / f"sub-{i:02d}_{c.upper()}w.nii.gz",
    "domain folders": lambda root, i, c: root / c / f"case{i}.nii.gz",
}


def write_head(path: Path, seed: int, contrast: str, shape=SUBJECT_SHAPE, affine=None) -> None:
    """A phantom head's ``contrast`` volume at ``path``."""
    import nibabel as nib

    from cyclegan_mri.data.phantoms import default_affine, head_phantom

    path.parent.mkdir(parents=True, exist_ok=True)
    # Scanner-like intensities: floats on an arbitrary scale, zero outside the head.
    nib.save(nib.Nifti1Image(head_phantom(shape, seed, contrast) * 700.0,
                             default_affine(shape) if affine is None else affine), str(path))


def subject_volumes(root: Path, layout: str = "brats 2018-2021", subjects: int = 4, extra: bool = True,
                    first: int = 0) -> Path:
    """``subjects`` aligned T1/T2 pairs in ``layout`` (subject i drawn from seed i), with a label map and a mask
    beside each that are no contrast of ours."""
    import nibabel as nib

    from cyclegan_mri.data.phantoms import default_affine

    for i in range(first, first + subjects):
        for contrast in ("t1", "t2"):
            write_head(SUBJECT_LAYOUTS[layout](root, i, contrast), i, contrast)
        if extra and layout.startswith("brats"):
            folder = SUBJECT_LAYOUTS[layout](root, i, "t1").parent
            empty = nib.Nifti1Image(np.zeros(SUBJECT_SHAPE, np.uint8), default_affine(SUBJECT_SHAPE))
            nib.save(empty, str(folder / "seg.nii.gz"))
            nib.save(empty, str(folder / "mask.nii.gz"))
    return root


def archive_candidates() -> list[Path]:
    """Where the tests look for the dataset archive, in the README's order: $CYCLEGAN_MRI_ARCHIVE, then
    datasets/ (where ``python datasets/fetch.py`` and a first training run put it), then ../shared/datasets/."""
    candidates = [Path(os.environ["CYCLEGAN_MRI_ARCHIVE"])] if os.environ.get("CYCLEGAN_MRI_ARCHIVE") else []
    return candidates + [ROOT / "datasets" / "MRI+T1_T2+Dataset.RAR", SHARED_ARCHIVE]


def find_archive() -> Path | None:
    """The first candidate archive that exists, or None."""
    return next((path for path in archive_candidates() if path.is_file()), None)


@pytest.fixture(scope="session")
def archive() -> Path:
    """The tutorial's RAR archive, wherever ``archive_candidates`` finds it; skipped (failed on CI) without it."""
    path = find_archive()
    if path is not None:
        return path
    looked = ", ".join(map(str, archive_candidates()))
    if os.environ.get("CI"):
        pytest.fail(f"the dataset archive is missing (looked at {looked}); CI must provide it")
    pytest.skip(f"dataset archive not available at {looked}: run `python datasets/fetch.py` or set "
                "CYCLEGAN_MRI_ARCHIVE")


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


def write_small_dataset(root: Path) -> Path:
    """A folder laid out like the archive: Tr1/TrainT1 with 5 slices, Tr2/TrainT2 with 6."""
    for folder, count, start in (("Tr1/TrainT1", 5, 1), ("Tr2/TrainT2", 6, 100)):
        target = root / folder
        target.mkdir(parents=True)
        for i in range(count):
            (target / f"Image #{start + i}.png").write_bytes(png_bytes(phantom(start + i)))
    (root / "Tr1" / ".DS_Store").write_bytes(b"\0\1")
    return root


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """``write_small_dataset`` in the test's own folder."""
    return write_small_dataset(tmp_path)


@pytest.fixture(scope="module")
def small_dataset_module(tmp_path_factory) -> Path:
    """``write_small_dataset`` shared by the tests of one module."""
    return write_small_dataset(tmp_path_factory.mktemp("small_dataset"))


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
