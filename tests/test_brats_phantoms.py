"""Synthetic BraTS cases: skull-stripped four-contrast volumes with a nested tumour, their files and command."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_mri.errors import UserError
from cyclegan_mri.cli.phantoms import main
from cyclegan_mri.data.phantoms import BRATS_CONTRASTS, CSF, DEFAULT_SHAPE, GREY_MATTER, WHITE_MATTER, brats_case, \
    brats_case_name, default_affine, head_labels, write_brats_cases

ENHANCING = {"2020": 4, "2023": 3}
NECROSIS, EDEMA = 1, 2
SEEDS = range(6)


@pytest.fixture(scope="module")
def cases():
    """The 2020-labelled case of each seed in SEEDS at the default shape, with its head's labels."""
    return {seed: (*brats_case(seed=seed), head_labels(seed=seed)) for seed in SEEDS}


def regions(segmentation: np.ndarray, labels: str = "2020") -> dict[str, np.ndarray]:
    """The BraTS evaluation regions: whole tumour, tumour core, enhancing tumour, and the necrosis."""
    enhancing = segmentation == ENHANCING[labels]
    necrosis = segmentation == NECROSIS
    return dict(wt=segmentation > 0, tc=enhancing | necrosis, et=enhancing, ncr=necrosis)


def face_neighbours(mask: np.ndarray) -> np.ndarray:
    """The voxels with a face neighbour in ``mask``, the voxels of ``mask`` themselves included."""
    grown = np.pad(mask, 1)
    out = grown.copy()
    for axis in range(3):
        out |= np.roll(grown, 1, axis) | np.roll(grown, -1, axis)
    return out[1:-1, 1:-1, 1:-1]


def centre(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).mean(axis=0)


@pytest.mark.parametrize("labels", ["2020", "2023"])
def test_a_case_is_four_skull_stripped_float32_volumes_and_a_uint8_segmentation(labels):
    images, segmentation = brats_case(seed=1, labels=labels)
    head = head_labels(seed=1)
    assert tuple(images) == BRATS_CONTRASTS == ("t1", "t1ce", "t2", "flair")
    for contrast, image in images.items():
        assert image.dtype == np.float32 and image.shape == DEFAULT_SHAPE, contrast
        # Scalp, skull and outside exactly 0, every brain voxel (CSF, grey and white matter) above it.
        assert np.all(image[head < CSF] == 0) and np.all(image[head >= CSF] > 0), contrast
        assert 0 < image.max() < 1.5
    assert segmentation.dtype == np.uint8 and segmentation.shape == DEFAULT_SHAPE
    assert set(np.unique(segmentation).tolist()) == {0, NECROSIS, EDEMA, ENHANCING[labels]}
    # The two labellings mark the same voxels.
    other = brats_case(seed=1, labels="2023" if labels == "2020" else "2020")[1]
    for name, mask in regions(segmentation, labels).items():
        np.testing.assert_array_equal(mask, regions(other, "2023" if labels == "2020" else "2020")[name], name)


def test_the_tumour_is_nested_inside_the_brain_and_sized_to_the_volume(cases):
    for seed, (_, segmentation, head) in cases.items():
        parts = regions(segmentation)
        brain = (head == GREY_MATTER) | (head == WHITE_MATTER)
        assert not np.any(parts["wt"] & ~brain), seed  # no tumour in CSF, skull or outside
        # The necrosis is walled in by the enhancing rim, the core by edema: no face neighbour outside.
        assert not np.any(face_neighbours(parts["ncr"]) & ~parts["tc"]), seed
        assert not np.any(face_neighbours(parts["tc"]) & ~parts["wt"]), seed
        assert np.array_equal(parts["tc"] & ~parts["ncr"], parts["et"])
        counts = {name: int(mask.sum()) for name, mask in parts.items()}
        assert 300 <= counts["wt"] <= 3000 and counts["tc"] < counts["wt"], (seed, counts)
        assert counts["et"] >= 20 and counts["ncr"] >= 20, (seed, counts)


def test_one_seed_is_one_case_and_seeds_differ_in_place_and_size(cases):
    images, segmentation, _ = cases[2]
    again, segmentation_again = brats_case(seed=2)
    np.testing.assert_array_equal(segmentation, segmentation_again)
    for contrast in BRATS_CONTRASTS:
        np.testing.assert_array_equal(images[contrast], again[contrast])
    wholes = [regions(cases[seed][1])["wt"] for seed in SEEDS]
    centres = np.array([centre(mask) for mask in wholes])
    sizes = [int(mask.sum()) for mask in wholes]
    assert len(set(sizes)) == len(sizes)
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    assert distances[np.triu_indices(len(SEEDS), 1)].min() > 2  # voxels
    # Both hemispheres, and spread along every axis.
    midline = (DEFAULT_SHAPE[0] - 1) / 2
    assert np.any(centres[:, 0] < midline - 2) and np.any(centres[:, 0] > midline + 2)
    assert np.all(np.ptp(centres, axis=0) > 4)


def test_the_four_contrasts_are_aligned_but_each_has_its_own_bias_and_noise(cases):
    images, _, _ = cases[0]
    masks = [image > 0 for image in images.values()]
    assert all(np.array_equal(masks[0], mask) for mask in masks)
    assert not np.array_equal(images["t1"], brats_case(seed=0, noise=0.0)[0]["t1"])
    quiet = brats_case(seed=0, noise=0.0, bias=0.0)[0]
    # Without bias and noise each tissue is one intensity.
    assert len(np.unique(quiet["t1ce"])) == 1 + 6  # background, CSF, grey, white, edema, necrosis, enhancing


def test_each_contrast_shows_the_tumour_as_in_real_scans(cases):
    for seed, (images, segmentation, head) in cases.items():
        parts = regions(segmentation)
        healthy = ~parts["wt"]
        tissues = dict(et=parts["et"], ncr=parts["ncr"], edema=segmentation == EDEMA, csf=head == CSF,
                       gm=(head == GREY_MATTER) & healthy, wm=(head == WHITE_MATTER) & healthy)
        mean = {contrast: {name: float(image[mask].mean()) for name, mask in tissues.items()}
                for contrast, image in images.items()}
        t1, t1ce, t2, flair = (mean[contrast] for contrast in BRATS_CONTRASTS)
        assert all(t1ce["et"] > value for name, value in t1ce.items() if name != "et"), (seed, t1ce)
        assert t1ce["ncr"] < t1ce["gm"] and t1ce["et"] > 1.3 * t1["et"], (seed, t1ce, t1)
        assert t1["wm"] > t1["gm"] > t1["csf"] and t1["edema"] < t1["wm"] and t1["ncr"] < t1["edema"], (seed, t1)
        assert t2["csf"] > t2["edema"] > t2["wm"] and t2["ncr"] > t2["et"], (seed, t2)
        assert flair["edema"] > max(flair["wm"], flair["gm"], flair["et"], flair["ncr"]), (seed, flair)
        assert flair["csf"] < 0.5 * flair["edema"] and flair["csf"] < flair["wm"], (seed, flair)


@pytest.mark.parametrize("arguments", [dict(labels="2019"), dict(shape=(4, 4)), dict(shape=(3, 20, 20)),
                                       dict(seed=-1), dict(noise=-0.1), dict(bias=1.0)])
def test_a_bad_case_request_is_a_user_error(arguments):
    with pytest.raises(UserError):
        brats_case(**arguments)


EXPECTED_FILES = {
    "2020": ["Phantom20_Case_001/Phantom20_Case_001_flair.nii.gz",
             "Phantom20_Case_001/Phantom20_Case_001_seg.nii.gz",
             "Phantom20_Case_001/Phantom20_Case_001_t1.nii.gz",
             "Phantom20_Case_001/Phantom20_Case_001_t1ce.nii.gz",
             "Phantom20_Case_001/Phantom20_Case_001_t2.nii.gz",
             "Phantom20_Case_002/Phantom20_Case_002_flair.nii.gz",
             "Phantom20_Case_002/Phantom20_Case_002_seg.nii.gz",
             "Phantom20_Case_002/Phantom20_Case_002_t1.nii.gz",
             "Phantom20_Case_002/Phantom20_Case_002_t1ce.nii.gz",
             "Phantom20_Case_002/Phantom20_Case_002_t2.nii.gz"],
    "2023": ["Phantom-GLI-00001-000/Phantom-GLI-00001-000-seg.nii.gz",
             "Phantom-GLI-00001-000/Phantom-GLI-00001-000-t1c.nii.gz",
             "Phantom-GLI-00001-000/Phantom-GLI-00001-000-t1n.nii.gz",
             "Phantom-GLI-00001-000/Phantom-GLI-00001-000-t2f.nii.gz",
             "Phantom-GLI-00001-000/Phantom-GLI-00001-000-t2w.nii.gz",
             "Phantom-GLI-00002-000/Phantom-GLI-00002-000-seg.nii.gz",
             "Phantom-GLI-00002-000/Phantom-GLI-00002-000-t1c.nii.gz",
             "Phantom-GLI-00002-000/Phantom-GLI-00002-000-t1n.nii.gz",
             "Phantom-GLI-00002-000/Phantom-GLI-00002-000-t2f.nii.gz",
             "Phantom-GLI-00002-000/Phantom-GLI-00002-000-t2w.nii.gz"],
}
# The file suffix of each contrast in each naming.
SUFFIXES = {"2020": dict(t1="_t1", t1ce="_t1ce", t2="_t2", flair="_flair"),
            "2023": dict(t1="-t1n", t1ce="-t1c", t2="-t2w", flair="-t2f")}


@pytest.mark.parametrize("naming", ["2020", "2023"])
def test_written_cases_have_the_brats_file_names_one_affine_and_the_case_of_each_seed(tmp_path, naming):
    import nibabel as nib

    folders = write_brats_cases(tmp_path, cases=2, seed=5, naming=naming)
    assert [folder.parent for folder in folders] == [tmp_path] * 2 and all(folder.is_dir() for folder in folders)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                  if p.is_file()) == EXPECTED_FILES[naming]
    for index, folder in enumerate(folders):
        images, segmentation = brats_case(seed=5 + index, labels=naming)
        seg = nib.load(str(folder / f"{folder.name}{'_' if naming == '2020' else '-'}seg.nii.gz"))
        assert seg.get_data_dtype() == np.uint8 and np.asanyarray(seg.dataobj).dtype == np.uint8
        np.testing.assert_array_equal(np.asanyarray(seg.dataobj), segmentation)
        assert set(np.unique(np.asanyarray(seg.dataobj)).tolist()) == {0, 1, 2, ENHANCING[naming]}
        np.testing.assert_allclose(seg.affine, default_affine(DEFAULT_SHAPE))
        for contrast, suffix in SUFFIXES[naming].items():
            volume = nib.load(str(folder / f"{folder.name}{suffix}.nii.gz"))
            assert volume.get_data_dtype() == np.float32
            np.testing.assert_array_equal(volume.affine, seg.affine)
            np.testing.assert_array_equal(np.asanyarray(volume.dataobj), images[contrast])


def test_written_cases_take_a_given_affine_and_refuse_bad_requests(tmp_path):
    import nibabel as nib

    affine = np.diag([-1.0, 1.2, 2.0, 1.0])
    [folder] = write_brats_cases(tmp_path, cases=1, shape=(24, 28, 20), naming="2023", affine=affine)
    for path in folder.iterdir():
        volume = nib.load(str(path))
        assert volume.shape == (24, 28, 20)
        np.testing.assert_allclose(volume.affine, affine, rtol=1e-6)  # NIfTI keeps the affine as float32
    for arguments in (dict(cases=0), dict(cases=1, naming="2021"), dict(cases=1, shape=(2, 30, 30))):
        with pytest.raises(UserError):
            write_brats_cases(tmp_path / "refused", **arguments)
    assert not (tmp_path / "refused").exists()


def test_the_brats_command_writes_case_folders_and_refuses_zero_cases(tmp_path, capsys):
    assert main(["brats", str(tmp_path), "--cases", "3", "--shape", "24", "28", "20", "--seed", "7",
                 "--naming", "2023"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"Phantom-GLI-{i:05d}-000" for i in range(1, 4)]
    assert all(len(list(folder.glob("*.nii.gz"))) == 5 for folder in tmp_path.iterdir())
    output = capsys.readouterr().out
    assert output.count("\n") == 1 and "wrote 3" in output
    assert main(["brats", str(tmp_path / "default")]) == 0
    defaults = sorted(p.name for p in (tmp_path / "default").iterdir())
    assert defaults == [f"Phantom20_Case_{i:03d}" for i in range(1, 5)]
    with pytest.raises(UserError, match="--cases"):
        main(["brats", str(tmp_path / "none"), "--cases", "0"])
    with pytest.raises(SystemExit) as stop:
        main(["brats", str(tmp_path / "none"), "--naming", "2021"])
    assert stop.value.code == 2 and not (tmp_path / "none").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["brats", "--help"])
    help_text = capsys.readouterr().out
    assert all(flag in help_text for flag in ("--cases", "--shape", "--seed", "--naming"))


def test_no_phantom_case_carries_a_real_data_sets_case_name(tmp_path):
    """A synthetic case must never be taken for (or reported as) a real one: its name says it is a phantom, while
    keeping the separator and file suffixes of its naming, which is what the loader reads."""
    for naming, separator in (("2020", "_"), ("2023", "-")):
        names = [brats_case_name(index, naming) for index in (0, 1, 99, 999)]
        assert all(name.startswith("Phantom") and "brats" not in name.lower() for name in names)
        assert len(set(names)) == len(names)
        (folder,) = write_brats_cases(tmp_path / naming, 1, shape=(16, 16, 16), naming=naming)
        assert all(path.name.startswith(folder.name + separator) for path in folder.iterdir())
