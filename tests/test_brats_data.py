"""BraTS cases: finding them in either naming, reading them onto one canonical grid, labels, patches."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from conftest import reoriented

from cyclegan_mri.data import brats
from cyclegan_mri.record import TrainOptions
from cyclegan_mri.errors import DataError, UserError
from cyclegan_mri.data.phantoms import write_brats_cases

SHAPE = (20, 24, 18)


@pytest.fixture(scope="module")
def cases_2020(tmp_path_factory):
    root = tmp_path_factory.mktemp("brats2020")
    write_brats_cases(root, 4, shape=SHAPE, seed=0, naming="2020")
    return root


def test_cases_are_found_in_either_naming_at_any_depth(tmp_path):
    write_brats_cases(tmp_path / "2020" / "MICCAI_BraTS2020_TrainingData", 2, shape=SHAPE, naming="2020")
    write_brats_cases(tmp_path / "2023", 2, shape=SHAPE, naming="2023")
    old = brats.find_cases(tmp_path / "2020")
    new = brats.find_cases(tmp_path / "2023")
    assert [c.name for c in old] == ["Phantom20_Case_001", "Phantom20_Case_002"]
    assert [c.naming for c in old + new] == ["2020", "2020", "2023", "2023"]
    assert sorted(old[0].files) == sorted(new[0].files) == sorted(brats.CONTRASTS)
    assert new[0].files["t1ce"].name.endswith("-t1c.nii.gz") and new[0].label.name.endswith("-seg.nii.gz")
    assert brats.default_classes(old) == (0, 1, 2, 4) and brats.default_classes(new) == (0, 1, 2, 3)
    # One case folder given directly is a data set of one case.
    assert [c.name for c in brats.find_cases(old[1].folder)] == ["Phantom20_Case_002"]


def test_channels_pick_and_order_the_contrasts_in_either_naming():
    assert brats.contrast_names(None) == ("t1", "t1ce", "t2", "flair")
    assert brats.contrast_names(["FLAIR", "t1c"]) == ("flair", "t1ce")
    assert brats.contrast_names(["t2w", "t1n"]) == ("t2", "t1")
    with pytest.raises(UserError, match="--channels dwi: not a BraTS contrast"):
        brats.contrast_names(["dwi"])
    with pytest.raises(UserError, match="names t1ce twice"):
        brats.contrast_names(["t1ce", "t1c"])


def test_a_case_is_z_scored_over_its_brain_with_background_kept_at_zero(cases_2020):
    case = brats.find_cases(cases_2020)[0]
    volumes = brats.read_case(case, ("flair", "t1"))
    raw = np.asarray(nib.load(case.files["flair"]).dataobj, np.float64)
    brain = raw != 0
    assert volumes.image.shape == (*SHAPE, 2) and volumes.image.dtype == np.float32
    flair = volumes.image[..., 0]  # the phantom is written in canonical (RAS) order already
    np.testing.assert_allclose(flair[brain], (raw[brain] - raw[brain].mean()) / raw[brain].std(), atol=1e-4)
    assert np.all(flair[~brain] == 0)
    seg = np.asarray(nib.load(case.label).dataobj)
    np.testing.assert_array_equal(np.asarray((0, 1, 2, 4))[volumes.classes], seg)


def test_a_case_in_another_voxel_order_is_the_same_case_to_the_model(cases_2020, tmp_path):
    case = brats.find_cases(cases_2020)[1]
    moved = tmp_path / case.name
    moved.mkdir()
    for path in [*case.files.values(), case.label]:
        nib.save(reoriented(nib.load(path), ("P", "I", "L")), moved / path.name)
    original = brats.read_case(case, brats.CONTRASTS)
    reordered = brats.read_case(brats.find_cases(moved)[0], brats.CONTRASTS)
    np.testing.assert_allclose(reordered.image, original.image, atol=1e-5)
    np.testing.assert_array_equal(reordered.classes, original.classes)
    # And the way back puts a canonical array in the files' own order.
    on_disk = np.asarray(nib.load(moved / case.label.name).dataobj)
    np.testing.assert_array_equal(reordered.to_source_grid(np.asarray((0, 1, 2, 4))[reordered.classes]), on_disk)


def spoil_case(root, case_name, contrast, data=None, affine=None):
    path = next(p for p in (root / case_name).iterdir() if p.name.endswith(f"_{contrast}.nii.gz"))
    image = nib.load(path)
    new = nib.Nifti1Image(np.asarray(image.dataobj) if data is None else data,
                          image.affine if affine is None else affine)
    nib.save(new, path)


@pytest.mark.parametrize("spoil, message", [
    (lambda root: next((root / "Phantom20_Case_002").glob("*_flair.nii.gz")).unlink(),
     "Phantom20_Case_002: no flair volume"),
    (lambda root: next((root / "Phantom20_Case_001").glob("*_seg.nii.gz")).unlink(), "no label volume"),
    (lambda root: spoil_case(root, "Phantom20_Case_001", "t2", data=np.ones((20, 24, 17), np.float32)),
     "the t2 volume is 20x24x17 voxels but t1 is 20x24x18"),
    (lambda root: spoil_case(root, "Phantom20_Case_003", "t1ce", affine=np.diag([2.0, 1, 1, 1])),
     "the t1ce volume has another affine than t1"),
    (lambda root: spoil_case(root, "Phantom20_Case_001", "seg", data=np.full(SHAPE, 3, np.uint8)),
     "label values 3 are outside the run's {0, 1, 2, 4}"),
], ids=["missing contrast", "missing label", "shapes differ", "affines differ", "unknown label"])
def test_bad_cases_are_one_line_errors(spoil, message, tmp_path):
    write_brats_cases(tmp_path, 3, shape=SHAPE)
    spoil(tmp_path)
    with pytest.raises(DataError, match=message.replace("{", r"\{").replace("}", r"\}")):
        brats.load_segmentation_data(tmp_path, (16, 16, 16), report=None)


def test_other_label_sets_pass_with_classes(tmp_path):
    write_brats_cases(tmp_path, 2, shape=SHAPE)
    spoil_case(tmp_path, "Phantom20_Case_001", "seg", data=np.where(
        np.asarray(nib.load(next((tmp_path / "Phantom20_Case_001").glob("*_seg*"))).dataobj) > 0, 7, 0).astype(
        np.uint8))
    data = brats.load_segmentation_data(tmp_path, (16, 16, 16), classes=(0, 7, 1, 2, 4), report=None)
    assert data.classes == (0, 7, 1, 2, 4) and len(data.class_weights) == 5
    with pytest.raises(UserError, match="twice"):
        brats.check_classes((0, 1, 1))


def test_balanced_class_weights_are_inverse_to_the_counts_and_sum_to_one():
    weights = brats.balanced_class_weights([900, 60, 30, 10])
    assert sum(weights) == pytest.approx(1.0)
    assert weights[0] * 900 == pytest.approx(weights[1] * 60) == pytest.approx(weights[3] * 10)
    assert brats.balanced_class_weights([10, 0, 10]) == (0.5, 0.0, 0.5)


def test_held_out_cases_are_one_fixed_draw_whatever_the_seed(cases_2020):
    cases = brats.find_cases(cases_2020)
    first = brats.held_out_cases(cases, 2)
    assert first == brats.held_out_cases(list(reversed(cases)), 2) and len(set(first)) == 2
    data = brats.load_segmentation_data(cases_2020, (16, 16, 16), holdout=2, report=None)
    assert data.held_out == first and {c.name for c in data.cases}.isdisjoint(first)
    with pytest.raises(UserError, match="would leave no training case"):
        brats.held_out_cases(cases, 4)


def test_training_cases_are_cropped_to_the_brain_without_losing_tumour(cases_2020):
    case = brats.find_cases(cases_2020)[0]
    volumes = brats.read_case(case, brats.CONTRASTS)
    cropped = brats.TrainingCase.of(volumes, (8, 8, 8))
    assert cropped.image.shape[:3] == cropped.classes.shape
    assert np.count_nonzero(cropped.classes) == np.count_nonzero(volumes.classes)
    assert np.count_nonzero(cropped.image) == np.count_nonzero(volumes.image)


def test_patches_are_tumour_biased_reproducible_and_padded(cases_2020):
    data = brats.load_segmentation_data(cases_2020, (32, 16, 16), report=None)
    case = data.cases[0]
    draws = [brats.sample_patch(case, data.patch, np.random.default_rng(i), tumour_fraction=1.0) for i in range(8)]
    assert all(classes.shape == (32, 16, 16) and image.shape == (32, 16, 16, 4) for image, classes in draws)
    # Centred on a tumour voxel, which stays inside the window wherever the case's edge moves the window.
    assert all((classes > 0).any() for _, classes in draws)
    healthy = [brats.sample_patch(case, (8, 8, 8), np.random.default_rng(i), tumour_fraction=0.0)[1]
               for i in range(20)]
    assert sum((classes > 0).any() for classes in healthy) < 20
    again = brats.sample_patch(case, data.patch, np.random.default_rng(3), tumour_fraction=1.0)
    np.testing.assert_array_equal(again[0], draws[3][0])
    # 32 voxels along an axis where the case has about 20: padded with background.
    assert np.all(draws[0][0][0] == 0) and np.all(draws[0][1][0] == 0)


def test_rotation_and_flips_keep_image_and_labels_together():
    rng = np.random.default_rng(0)
    classes = np.zeros((16, 16, 16), np.uint8)
    classes[5:11, 4:9, 6:12] = 2
    image = (classes[..., None] * np.ones(3)).astype(np.float32)
    for flip, rotate in ((True, 0.0), (False, 40.0), (True, 40.0)):
        new_image, new_classes = brats.augment_patch(image, classes, rng, flip, rotate)
        assert set(np.unique(new_classes)) <= {0, 2}
        inside = new_classes == 2
        # Labels turn with the image: the turned labels sit where the turned image is bright.
        assert inside.sum() > 0.7 * (classes == 2).sum() and np.mean(new_image[inside, 0]) > 1.5


def test_an_epoch_is_the_same_whether_or_not_training_resumed_before_it(cases_2020):
    data = brats.load_segmentation_data(cases_2020, (16, 16, 16), report=None)
    options = TrainOptions(model="vox2vox", batch=2, seed=5, augment=True)
    straight = list(data.dataset(options, first_epoch=0, epochs=2))
    resumed = list(data.dataset(options, first_epoch=1, epochs=1))
    assert len(straight) == 2 * data.steps_per_epoch(options) == 4
    image, one_hot = straight[0]
    assert image.shape == (2, 16, 16, 16, 4) and one_hot.shape == (2, 16, 16, 16, 4)
    np.testing.assert_array_equal(np.sum(one_hot, axis=-1), 1.0)
    for (x1, y1), (x2, y2) in zip(straight[2:], resumed):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
