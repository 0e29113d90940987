"""3D training data: NIfTI volumes in one orientation and scale, random patches, deterministic epochs; phantoms."""

from __future__ import annotations

import numpy as np
import pytest

from cyclegan_mri.data.volume_data import (Volume, load_volume, load_volume_domains, patch_dataset, sample_patch,
                                           steps_per_epoch)
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import DataError
from cyclegan_mri.cli.phantoms import main
from cyclegan_mri.data.phantoms import CSF, WHITE_MATTER, default_affine, head_labels, head_phantom, \
    write_volume_pairs

SMALL = (16, 18, 12)


def save(path, data, affine=None):
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), default_affine(np.shape(data)[:3])
                             if affine is None else affine), str(path))
    return path


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def as_volume(data: np.ndarray, name: str = "v.nii.gz") -> Volume:
    from cyclegan_mri.data.intensity import Scaling

    return Volume(name, np.asarray(data, np.float32), np.eye(4), Scaling(-1.0, 1.0))


# Loading: orientation, scaling, spacing.

def test_a_volume_stored_in_another_voxel_order_loads_to_the_same_canonical_array_and_affine(tmp_path):
    import nibabel as nib
    from nibabel import orientations

    canonical = nib.Nifti1Image(head_phantom(SMALL, seed=1), default_affine(SMALL))
    # Stored as Posterior, Inferior, Left: axes permuted and two of them flipped, the affine following them.
    to_pil = orientations.ornt_transform(orientations.axcodes2ornt("RAS"), orientations.axcodes2ornt("PIL"))
    reordered = canonical.as_reoriented(to_pil)
    assert reordered.shape == (SMALL[1], SMALL[2], SMALL[0])
    nib.save(canonical, str(tmp_path / "ras.nii.gz"))
    nib.save(reordered, str(tmp_path / "pil.nii.gz"))

    expected, actual = load_volume(tmp_path / "ras.nii.gz"), load_volume(tmp_path / "pil.nii.gz")
    assert actual.data.shape == SMALL
    np.testing.assert_array_equal(actual.data, expected.data)
    np.testing.assert_allclose(actual.affine, expected.affine, atol=1e-5)
    np.testing.assert_allclose(actual.affine, default_affine(SMALL), atol=1e-5)
    assert actual.name == "pil.nii.gz"


def test_a_volume_is_windowed_by_its_percentiles_into_minus_one_to_one_and_the_scaling_inverts(tmp_path):
    shape = (30, 32, 24)
    raw = head_phantom(shape, seed=2, contrast="t2") * 800 + 40  # scanner-like units
    volume = load_volume(save(tmp_path / "t2.nii.gz", raw))
    lo, hi = np.percentile(raw, (0.5, 99.5))

    assert volume.data.dtype == np.float32 and volume.data.min() >= -1 and volume.data.max() <= 1
    assert volume.scaling.lo == pytest.approx(lo, rel=1e-5) and volume.scaling.hi == pytest.approx(hi, rel=1e-5)
    # The 0.5% darkest voxels become -1, the 0.5% brightest 1.
    assert np.mean(volume.data <= -1) == pytest.approx(0.005, abs=0.001)
    assert np.mean(volume.data >= 1) == pytest.approx(0.005, abs=0.001)
    restored = volume.scaling.to_volume((volume.data + 1) * 127.5)
    np.testing.assert_allclose(restored, np.clip(raw, lo, hi), atol=1e-4 * (hi - lo))


@pytest.mark.parametrize("spacing, shape", [((3.0, 3.0, 3.0), (8, 9, 6)), ((1.0, 1.5, 3.0), (24, 18, 6))])
def test_spacing_resamples_by_the_ratio_of_spacings_keeping_the_field_of_view(tmp_path, spacing, shape):
    from nibabel.affines import apply_affine, voxel_sizes

    path = save(tmp_path / "v.nii.gz", head_phantom(SMALL))  # 1.5 mm voxels
    volume = load_volume(path, spacing=spacing)

    assert volume.data.shape == shape and volume.data.dtype == np.float32
    np.testing.assert_allclose(voxel_sizes(volume.affine), spacing)
    centre = lambda affine, shape: apply_affine(affine, (np.asarray(shape) - 1) / 2)  # noqa: E731
    np.testing.assert_allclose(centre(volume.affine, shape), centre(default_affine(SMALL), SMALL), atol=1e-6)
    assert volume.data.min() >= -1 and volume.data.max() <= 1


# One-line errors.

def test_a_4d_volume_is_a_one_line_error(tmp_path):
    path = save(tmp_path / "series.nii.gz", np.random.default_rng(0).random((*SMALL, 3)))
    with pytest.raises(DataError) as error:
        load_volume(path)
    assert "series.nii.gz" in one_line(error) and "4D" in one_line(error)


def test_a_constant_volume_is_a_one_line_error_naming_the_file(tmp_path):
    path = save(tmp_path / "blank.nii.gz", np.full(SMALL, 7.0))
    with pytest.raises(DataError) as error:
        load_volume(path)
    assert "blank.nii.gz" in one_line(error) and "empty" in one_line(error)


def test_data_that_is_not_a_folder_is_a_one_line_error(tmp_path):
    path = save(tmp_path / "t1.nii.gz", head_phantom(SMALL))
    with pytest.raises(DataError) as error:
        load_volume_domains(path)
    assert "not a folder" in one_line(error)


@pytest.mark.parametrize("layout", [[], ["scans/case0.nii.gz"], ["case0.nii.gz"]],
                         ids=["empty folder", "unknown subfolder", "volumes not in domain folders"])
def test_a_folder_without_domain_folders_is_a_one_line_error(tmp_path, layout):
    for name in layout:
        save(tmp_path / "data" / name, head_phantom(SMALL))
    (tmp_path / "data").mkdir(exist_ok=True)
    with pytest.raises(DataError) as error:
        load_volume_domains(tmp_path / "data")
    assert "known layout" in one_line(error) and "t1/ and t2/" in one_line(error)


def test_a_domain_folder_without_volumes_is_a_one_line_error_naming_it(tmp_path):
    save(tmp_path / "t1" / "case0.nii.gz", head_phantom(SMALL))
    (tmp_path / "t2").mkdir()
    (tmp_path / "t2" / "notes.txt").write_text("to do")
    with pytest.raises(DataError) as error:
        load_volume_domains(tmp_path)
    assert one_line(error) == f"no .nii or .nii.gz volumes in {tmp_path / 't2'}"


def test_a_missing_domain_folder_is_a_one_line_error_naming_the_domain(tmp_path):
    save(tmp_path / "trainA" / "case0.nii", head_phantom(SMALL))
    with pytest.raises(DataError) as error:
        load_volume_domains(tmp_path)
    assert "trainA/" in one_line(error) and "no folder of B" in one_line(error)


# Domains.

def test_generic_and_named_layouts_give_their_domain_names_and_only_training_folders_count(tmp_path):
    for folder, seed in (("trainA", 0), ("trainB", 1), ("testA", 2)):
        save(tmp_path / "generic" / folder / "case.nii.gz", head_phantom(SMALL, seed))
    for folder in ("MRI", "CT"):
        save(tmp_path / "named" / folder / "case.nii.gz", head_phantom(SMALL))

    names, a, b = load_volume_domains(tmp_path / "generic")
    assert names == Domains("A", "B") and len(a) == len(b) == 1
    names, a, b = load_volume_domains(tmp_path / "named", Domains("MRI", "CT"))
    assert names == Domains("MRI", "CT") and len(a) == len(b) == 1


def test_volumes_of_any_number_shape_and_order_load_in_numeric_order(tmp_path):
    for number, shape in ((2, (10, 12, 8)), (10, SMALL), (1, (20, 14, 9))):
        save(tmp_path / "A" / f"scan{number}.nii.gz", head_phantom(shape, number))
    save(tmp_path / "B" / "scan.nii", head_phantom(SMALL), np.diag([-2.0, 2.0, 2.0, 1.0]))  # 2 mm, left to right

    _, a, b = load_volume_domains(tmp_path)
    assert [v.name for v in a] == ["scan1.nii.gz", "scan2.nii.gz", "scan10.nii.gz"]
    assert [v.data.shape for v in a] == [(20, 14, 9), (10, 12, 8), SMALL] and b[0].data.shape == SMALL


# Patches.

def test_a_patch_is_a_window_of_the_volume():
    volume = np.arange(20 * 24 * 16, dtype=np.float32).reshape(20, 24, 16)
    patch = sample_patch(volume, (8, 6, 4), np.random.default_rng(0))
    assert patch.shape == (8, 6, 4) and patch.dtype == np.float32
    z, y, x = np.unravel_index(int(patch[0, 0, 0]), volume.shape)
    np.testing.assert_array_equal(patch, volume[z:z + 8, y:y + 6, x:x + 4])


def test_a_volume_smaller_than_the_patch_is_padded_with_background_centred():
    patch = sample_patch(np.full((4, 10, 5), 0.5, np.float32), (8, 8, 8), np.random.default_rng(0))
    assert patch.shape == (8, 8, 8)
    # 4 voxels short along axis 0 (2 before, 2 after), 3 along axis 2 (1 before, 2 after); axis 1 is cut.
    inside = np.zeros((8, 8, 8), bool)
    inside[2:6, :, 1:6] = True
    np.testing.assert_array_equal(patch[inside], 0.5)
    np.testing.assert_array_equal(patch[~inside], -1.0)


def test_patches_meet_the_foreground_rule_when_a_window_can():
    volume = np.full((24, 24, 24), -1.0, np.float32)
    volume[:12, :12, :12] = 0.3  # an eighth of the volume holds the head
    foreground = lambda patch: np.mean(patch > -0.9)  # noqa: E731
    for seed in range(5):
        assert foreground(sample_patch(volume, (8, 8, 8), np.random.default_rng(seed), 0.5, tries=200)) >= 0.5
    # Without the rule, most windows are mostly background.
    assert sum(foreground(sample_patch(volume, (8, 8, 8), np.random.default_rng(seed))) < 0.5 for seed in range(5)) >= 3
    # When no window can, the best of the tries is returned rather than none.
    tiny = np.full((16, 16, 16), -1.0, np.float32)
    tiny[:4, :4, :4] = 0.3
    assert 0 < foreground(sample_patch(tiny, (8, 8, 8), np.random.default_rng(0), 1.0, tries=100)) < 1


def test_patches_depend_only_on_the_generator_state():
    volume = head_phantom(SMALL)
    draw = lambda seed: sample_patch(volume, (8, 8, 8), np.random.default_rng(seed), 0.3)  # noqa: E731
    np.testing.assert_array_equal(draw(3), draw(3))
    assert not np.array_equal(draw(3), draw(4))


@pytest.fixture(scope="module")
def pair_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantoms")
    write_volume_pairs(folder, cases=3, shape=SMALL, seed=10)
    return folder


@pytest.fixture(scope="module")
def domains(pair_folder):
    names, t1, t2 = load_volume_domains(pair_folder)
    return names, t1, t2[:2]  # domains of different sizes


def batches(dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(a.numpy(), b.numpy()) for a, b in dataset]


def test_patch_batches_are_float32_volumes_with_a_channel_and_always_full(domains):
    _, t1, t2 = domains
    dataset = patch_dataset(t1, t2, (8, 8, 6), batch_size=2, seed=1)
    spec = dataset.element_spec[0]
    assert spec.shape.as_list() == [None, 8, 8, 6, 1] and spec.dtype.name == "float32"
    steps = batches(dataset)
    # One patch per volume of the larger domain (3), rounded up to whole batches of 2: two full batches.
    assert [(a.shape[0], b.shape[0]) for a, b in steps] == [(2, 2), (2, 2)] and steps_per_epoch(3, 2, 2) == 2
    assert all(a.shape[1:] == (8, 8, 6, 1) and a.dtype == np.float32 for step in steps for a in step)
    assert steps_per_epoch(3, 2, 4) == 1 and steps_per_epoch(3, 2, 2, patches_per_epoch=7) == 4
    assert [len(a) for a, _ in batches(patch_dataset(t1, t2, (8, 8, 6), 2, seed=1, patches_per_epoch=7))] == [2] * 4


@pytest.mark.parametrize("augment", [False, True])
def test_epoch_k_is_the_same_whether_or_not_the_run_was_interrupted_before_it(domains, augment):
    _, t1, t2 = domains
    options = dict(patch=(8, 8, 6), batch_size=2, seed=7, min_foreground=0.3, augment=augment)
    uninterrupted = batches(patch_dataset(t1, t2, epochs=2, **options))
    steps = steps_per_epoch(len(t1), len(t2), 2)
    resumed = batches(patch_dataset(t1, t2, first_epoch=1, epochs=1, **options))

    assert len(uninterrupted) == 2 * steps and len(resumed) == steps
    for (a, b), (a_resumed, b_resumed) in zip(uninterrupted[steps:], resumed):
        np.testing.assert_array_equal(a, a_resumed)
        np.testing.assert_array_equal(b, b_resumed)
    first, second = (np.concatenate([a for a, _ in part]) for part in (uninterrupted[:steps], uninterrupted[steps:]))
    assert not np.array_equal(first, second)
    # Iterating the same dataset again replays it.
    np.testing.assert_array_equal(batches(patch_dataset(t1, t2, epochs=2, **options))[0][0], uninterrupted[0][0])


# Phantoms.

def test_one_seed_is_one_anatomy_in_both_contrasts():
    t1, t2 = (head_phantom(SMALL, seed=5, contrast=c, noise=0.0) for c in ("t1", "t2"))
    np.testing.assert_array_equal(t1 > 0, t2 > 0)
    assert 0.1 < np.mean(t1 > 0) < 0.9
    assert not np.array_equal(head_phantom(SMALL, seed=6, noise=0.0) > 0, t1 > 0)


def test_t1_shows_white_matter_brighter_than_csf_and_t2_the_reverse():
    labels = head_labels(SMALL, seed=4)
    t1, t2 = (head_phantom(SMALL, seed=4, contrast=c) for c in ("t1", "t2"))
    assert t1[labels == WHITE_MATTER].mean() > 2 * t1[labels == CSF].mean()
    assert t2[labels == CSF].mean() > 2 * t2[labels == WHITE_MATTER].mean()


def test_written_phantom_pairs_load_as_aligned_t1_and_t2_domains(pair_folder):
    names, t1, t2 = load_volume_domains(pair_folder)
    assert names == TUTORIAL
    assert [v.name for v in t1] == [v.name for v in t2] == ["case0.nii.gz", "case1.nii.gz", "case2.nii.gz"]
    for a, b in zip(t1, t2):
        assert a.data.shape == b.data.shape == SMALL
        np.testing.assert_array_equal(a.affine, b.affine)


def test_the_phantom_command_writes_volume_pairs(tmp_path, capsys):
    assert main(["volumes", str(tmp_path), "--cases", "2", "--shape", "12", "14", "10", "--seed", "3"]) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.nii.gz")) == [
        "t1/case0.nii.gz", "t1/case1.nii.gz", "t2/case0.nii.gz", "t2/case1.nii.gz"]
    assert "wrote 2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["volumes", "--help"])
    help_text = capsys.readouterr().out
    assert all(flag in help_text for flag in ("--cases", "--shape", "--seed"))
