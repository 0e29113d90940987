"""Real, odd and bad NIfTI input: broken files are one line everywhere, a case's labels are read and written in
its own BraTS convention, and label volumes stored as floats keep working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import nibabel as nib
import numpy as np
import pytest

from conftest import exit_code

from cyclegan_mri.cli import evaluate, segment, train, translate
from cyclegan_mri.data import brats
from cyclegan_mri.data.nifti import read_volume, voxels
from cyclegan_mri.data.phantoms import write_brats_cases, write_volume_pairs
from cyclegan_mri.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (20, 24, 18)
CONTRASTS = ["t1", "t1ce", "t2", "flair"]
TINY_3D = ["--model", "cyclegan3d", "--patch", "16", "16", "16", "--filters", "2", "--generator", "resnet6_3d",
           "--batch", "1", "--pool-size", "0", "--verbose", "0", "--epochs", "1"]
TINY_VOX2VOX = ["--model", "vox2vox", "--patch", "16", "16", "16", "--filters", "2", "--batch", "1", "--verbose", "0",
                "--epochs", "1"]


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file short (to half by default), as an interrupted download or copy leaves it; the header must still
    read, so that what fails is the lazy read of the voxels."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    read_volume(path)
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def case_file(folder: Path, suffix: str) -> Path:
    return next(p for p in folder.iterdir() if p.name.endswith(f"{suffix}.nii.gz"))


def segmenter_run(root: Path, classes: tuple[int, ...], data: Path) -> Path:
    """A Vox2Vox run directory whose segmenter calls every voxel enhancing tumour (class 3), whatever it sees: what
    it writes and how it scores depend on the label values alone."""
    inputs = keras.Input((16, 16, 16, 4))
    layer = keras.layers.Conv3D(4, 1, activation="softmax")
    network = keras.Model(inputs, layer(inputs))
    layer.set_weights([np.zeros((1, 1, 1, 4, 4), np.float32), np.array([0, 0, 0, 5], np.float32)])
    (root / "generators").mkdir(parents=True)
    network.save(root / "generators" / "segmenter.keras")
    (root / "run.json").write_text(json.dumps({"model": "vox2vox", "classes": list(classes), "contrasts": CONTRASTS,
                                               "patch": [16, 16, 16], "data": str(data), "held_out": []}))
    return root


# -- a truncated or corrupt file ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["volume.nii.gz", "volume.nii"])
def test_a_truncated_file_reads_its_header_but_its_voxels_are_a_one_line_error_naming_it(name, tmp_path):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE), np.eye(4)), path)
    truncate(path)
    image = read_volume(path)  # the header is whole: nibabel reads the voxels only when asked
    with pytest.raises(DataError) as error:
        voxels(image)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "truncated or corrupt" in message and "\n" not in message


def test_training_a_3d_cyclegan_on_a_truncated_volume_is_one_line_and_leaves_no_run(tmp_path, capsys):
    write_volume_pairs(tmp_path / "data", 2, shape=SHAPE)
    broken = truncate(tmp_path / "data" / "t2" / "case1.nii.gz")
    out = tmp_path / "run"
    assert exit_code(train.main, ["--data", str(tmp_path / "data"), "--out", str(out), *TINY_3D]) == 2
    assert str(broken) in one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("suffix", ["_flair", "_seg"], ids=["contrast", "label"])
def test_training_vox2vox_on_a_truncated_case_file_is_one_line_and_leaves_no_run(suffix, tmp_path, capsys):
    folders = write_brats_cases(tmp_path / "data", 2, shape=SHAPE)
    # A label volume is mostly 0 and compresses to little more than its header: cut off its last tenth.
    broken = truncate(case_file(folders[1], suffix), keep=0.5 if suffix == "_flair" else 0.9)
    out = tmp_path / "run"
    assert exit_code(train.main, ["--data", str(tmp_path / "data"), "--out", str(out), *TINY_VOX2VOX]) == 2
    assert str(broken) in one_line(capsys)
    assert not out.exists()


def identity_run(root: Path, shape: tuple[int, ...]) -> Path:
    """A run directory with one generator that gives back its input, of the given input shape (2D or 3D)."""
    inputs = keras.Input(shape)
    (root / "generators").mkdir(parents=True)
    keras.Model(inputs, keras.layers.Identity()(inputs)).save(root / "generators" / "t1_to_t2.keras")
    return root


@pytest.mark.parametrize("run", ["2d", "3d"])
def test_translating_a_truncated_volume_is_one_line_and_writes_nothing(run, tmp_path, capsys):
    if run == "2d":  # a run of the first format, which translates a volume slice by slice
        out = shutil.copytree(ROOT / "tests" / "fixtures" / "run_v1", tmp_path / "run")
    else:
        out = identity_run(tmp_path / "run", (8, 8, 8, 1))
    write_volume_pairs(tmp_path / "data", 1, shape=SHAPE)
    broken = truncate(tmp_path / "data" / "t1" / "case0.nii.gz")
    output = tmp_path / "translated"
    for source, target in ((broken, output / "t2.nii.gz"), (broken.parent, output)):  # a file, and its folder
        assert exit_code(translate.main, ["--out", str(out), "--input", str(source), "--output", str(target)]) == 2
        assert str(broken) in one_line(capsys)
        assert not output.exists()


def test_segmenting_or_scoring_a_truncated_case_is_one_line_and_writes_nothing(tmp_path, capsys):
    folders = write_brats_cases(tmp_path / "data", 1, shape=SHAPE)
    run = segmenter_run(tmp_path / "run", brats.BRATS_2020_LABELS, tmp_path / "data")
    broken = truncate(case_file(folders[0], "_t2"))
    output = tmp_path / "seg"
    assert exit_code(segment.main, ["--out", str(run), "--input", str(folders[0]), "--output", str(output)]) == 2
    assert str(broken) in one_line(capsys)
    assert not output.exists()
    assert exit_code(evaluate.main, ["--out", str(run), "--quiet"]) == 2
    assert str(broken) in one_line(capsys)
    assert not (run / "evaluation.json").exists() and not (run / "segmentations").exists()


# -- a case in the other BraTS convention --------------------------------------------------------------------------

def test_the_run_s_classes_take_the_case_s_own_brats_values():
    case_2020 = brats.Case("a", Path("a"), {}, None, "2020")
    case_2023 = brats.Case("b", Path("b"), {}, None, "2023")
    assert brats.case_classes((0, 1, 2, 4), case_2023) == (0, 1, 2, 3)
    assert brats.case_classes((0, 1, 2, 3), case_2020) == (0, 1, 2, 4)
    assert brats.case_classes((0, 4, 2, 1), case_2023) == (0, 3, 2, 1)  # by meaning, in the run's order
    # Its own convention, and label sets that are not BraTS', stay as they are.
    assert brats.case_classes((0, 1, 2, 4), case_2020) == (0, 1, 2, 4)
    assert brats.case_classes((0, 1, 2, 3), case_2023) == (0, 1, 2, 3)
    assert brats.case_classes((0, 7, 1, 2, 4), case_2023) == (0, 7, 1, 2, 4)
    assert brats.case_classes((0, 1, 2), case_2023) == (0, 1, 2)


@pytest.mark.parametrize("run_naming, case_naming", [("2020", "2023"), ("2023", "2020")])
def test_a_case_of_the_other_naming_is_segmented_and_scored_in_its_own_label_values(run_naming, case_naming,
                                                                                    tmp_path, capsys):
    classes = {"2020": brats.BRATS_2020_LABELS, "2023": brats.BRATS_2023_LABELS}
    enhancing = classes[case_naming][3]
    (folder,) = write_brats_cases(tmp_path / "data", 1, shape=SHAPE, naming=case_naming)
    run = segmenter_run(tmp_path / "run", classes[run_naming], tmp_path / "data")

    assert segment.main(["--out", str(run), "--input", str(folder), "--output", str(tmp_path / "seg.nii.gz")]) == 0
    written = np.asarray(nib.load(tmp_path / "seg.nii.gz").dataobj)
    assert set(np.unique(written)) == {enhancing}  # every voxel called enhancing tumour, in the case's value

    assert evaluate.main(["--out", str(run), "--quiet", "--no-translations"]) == 0
    capsys.readouterr()
    scores = json.loads((run / "evaluation.json").read_text())["segmentation"]["per_case"][0]
    # Everything predicted ET: Dice is 2|truth| / (|truth| + every voxel), with the truth read in its own values.
    truth = np.asarray(nib.load(case_file(folder, "seg")).dataobj)
    everything = truth.size
    for region, values in (("ET", [enhancing]), ("TC", [1, enhancing]), ("WT", [1, 2, enhancing])):
        inside = np.count_nonzero(np.isin(truth, values))
        assert inside > 0 and scores[region]["dice"] == pytest.approx(2 * inside / (inside + everything))


# -- label volumes stored as floats ------------------------------------------------------------------------------

def relabel(path: Path, values: np.ndarray, dtype) -> None:
    """Write ``values`` over a label file, on its grid, stored as ``dtype`` (nibabel picks a scale slope for
    integers, so the values read back carry its rounding)."""
    image = nib.load(path)
    new = nib.Nifti1Image(np.asarray(values, np.float32), image.affine)
    new.set_data_dtype(dtype)
    nib.save(new, path)


@pytest.mark.parametrize("how", ["float32 with rounding noise", "int16 with a scale slope"])
def test_labels_stored_as_floats_are_read_as_the_labels_they_round_to(how, tmp_path):
    (folder,) = write_brats_cases(tmp_path, 1, shape=SHAPE)
    case = brats.find_cases(tmp_path)[0]
    expected = brats.read_case(case, ["t1"]).classes
    label = case_file(folder, "_seg")
    truth = np.asarray(nib.load(label).dataobj, np.float32)
    if how.startswith("float32"):
        noisy = truth + np.where(truth == 4, -3e-7, 1e-7).astype(np.float32) * (truth > 0)
        assert np.any(noisy == np.float32(3.9999997))
        relabel(label, noisy, np.float32)
    else:
        relabel(label, truth, np.int16)
        stored = nib.load(label)
        assert stored.get_data_dtype() == np.int16 and not np.array_equal(stored.get_fdata(), truth)
    np.testing.assert_array_equal(brats.read_case(case, ["t1"]).classes, expected)


@pytest.mark.parametrize("value, message", [(2.5, "label values 2.5 are not whole numbers"),
                                            (np.nan, "label values nan are outside the run's {0, 1, 2, 4}")])
def test_label_values_between_labels_are_a_one_line_error_naming_the_file_and_the_values(value, message, tmp_path):
    (folder,) = write_brats_cases(tmp_path, 1, shape=SHAPE)
    label = case_file(folder, "_seg")
    truth = np.asarray(nib.load(label).dataobj, np.float32)
    relabel(label, np.where(truth == 2, value, truth), np.float32)
    with pytest.raises(DataError) as error:
        brats.read_case(brats.find_cases(tmp_path)[0], ["t1"])
    assert str(error.value).startswith(f"{label}: {message}") and "\n" not in str(error.value)
