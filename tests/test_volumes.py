"""NIfTI volumes: cut along an anatomical plane found from the affine, translated, and put back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import png_bytes


def oblique_lps_affine() -> np.ndarray:
    """Voxel axes pointing Left, Posterior, Superior (1.2 x 1 x 3 mm), tilted 12 and 7 degrees, shifted."""
    def rotation(axis: int, degrees: float) -> np.ndarray:
        c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
        i, j = [a for a in range(3) if a != axis]
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
        return r

    affine = np.eye(4)
    affine[:3, :3] = rotation(2, 12) @ rotation(0, 7) @ np.diag([-1.2, -1.0, 3.0])
    affine[:3, 3] = [90.0, 126.0, -72.0]
    return affine


@pytest.fixture(scope="module")
def dataset_slices(archive) -> np.ndarray:
    """Six T1 slices of the dataset (217 rows x 181 columns, anterior at the top), as an axial stack."""
    from cyclegan_mri.data.dataset import read_dataset

    _, images = read_dataset(archive)
    return np.stack([s.image for s in images.train[0][10:16]])


@pytest.fixture(scope="module")
def lps_volume(dataset_slices):
    """The slices as an LPS-ordered oblique volume: disk[i, j, k] is column i, row j of slice k."""
    import nibabel as nib

    disk = np.transpose(dataset_slices, (2, 1, 0)).astype(np.int16)
    image = nib.Nifti1Image(disk, oblique_lps_affine())
    image.header.set_data_dtype(np.int16)
    return image


def identity_generator(size):
    import keras

    inputs = keras.Input((*size, 1))
    return keras.Model(inputs, keras.layers.Activation("linear")(inputs))


def test_axial_slices_are_found_from_the_affine_whatever_the_voxel_order(lps_volume, dataset_slices):
    from cyclegan_mri.data.nifti import to_slices

    np.testing.assert_array_equal(to_slices(lps_volume.get_fdata(), lps_volume.affine, "axial"), dataset_slices)


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_slicing_and_reassembling_restores_the_voxel_order(lps_volume, plane):
    from cyclegan_mri.data.nifti import from_slices, to_slices

    data = lps_volume.get_fdata()
    np.testing.assert_array_equal(from_slices(to_slices(data, lps_volume.affine, plane), lps_volume.affine, plane),
                                  data)


def test_a_translated_volume_has_the_input_shape_affine_and_a_float32_header(lps_volume, tmp_path):
    import nibabel as nib

    from cyclegan_mri.networks import build_generator
    from cyclegan_mri.data.nifti import save_volume
    from cyclegan_mri.translation.inference import translate_volume

    translated = translate_volume(build_generator("unet", (32, 28, 1), 4), lps_volume)
    save_volume(translated, tmp_path / "t2.nii.gz")
    loaded = nib.load(str(tmp_path / "t2.nii.gz"))
    assert loaded.shape == lps_volume.shape
    np.testing.assert_allclose(loaded.affine, lps_volume.affine, atol=1e-6)
    assert loaded.header.get_data_dtype() == np.float32
    np.testing.assert_allclose(loaded.get_fdata(), translated.get_fdata(), atol=1e-5)


def test_with_an_identity_generator_an_8bit_volume_comes_back_unchanged(lps_volume):
    from cyclegan_mri.translation.inference import translate_volume

    translated = translate_volume(identity_generator((217, 181)), lps_volume)
    np.testing.assert_allclose(translated.get_fdata(), lps_volume.get_fdata(), atol=1e-3)


def test_with_an_identity_generator_only_the_documented_scaling_and_resizing_remain(lps_volume):
    from cyclegan_mri.data.images import to_intensity, to_model_range
    from cyclegan_mri.data.nifti import Scaling, from_slices, to_slices
    from cyclegan_mri.translation.inference import translate_volume

    # A 12-bit-like volume: percentile scaling applies; a 64x48 model: every slice is resized there and back.
    values = lps_volume.get_fdata() * 13.0 + 200.5
    image = type(lps_volume)(values.astype(np.float32), lps_volume.affine)
    scaling = Scaling.of(values)
    assert (scaling.lo, scaling.hi) == tuple(np.percentile(values, [0.5, 99.5]))
    slices = scaling.to_slices(to_slices(values, image.affine, "axial"))
    expected = np.stack([to_intensity(to_model_range([s], (64, 48))[0], s.shape) for s in slices])
    expected = scaling.to_volume(from_slices(expected, image.affine, "axial"))
    translated = translate_volume(identity_generator((64, 48)), image).get_fdata()
    np.testing.assert_allclose(translated, expected, rtol=1e-5, atol=1e-2)
    same_size = translate_volume(identity_generator((217, 181)), image).get_fdata()
    np.testing.assert_allclose(same_size, np.clip(values, scaling.lo, scaling.hi), rtol=1e-5, atol=1e-2)


def test_slice_then_stack_is_lossless_for_8bit_volumes(lps_volume, tmp_path):
    import nibabel as nib

    from cyclegan_mri.cli.volumes import main

    path = tmp_path / "t1.nii.gz"
    nib.save(lps_volume, str(path))
    assert main(["slice", str(path), str(tmp_path / "slices")]) == 0
    assert len(list((tmp_path / "slices").glob("slice_*.png"))) == 6
    assert main(["stack", str(tmp_path / "slices"), str(tmp_path / "back.nii")]) == 0
    back = nib.load(str(tmp_path / "back.nii"))
    np.testing.assert_array_equal(back.get_fdata(), lps_volume.get_fdata())
    np.testing.assert_allclose(back.affine, lps_volume.affine, atol=1e-6)


def test_slice_then_stack_quantises_other_volumes_to_256_levels(lps_volume, tmp_path):
    import nibabel as nib

    from cyclegan_mri.data.nifti import Scaling, slice_volume, stack_slices

    values = (lps_volume.get_fdata() * 7.3 - 40.0).astype(np.float32)
    nib.save(nib.Nifti1Image(values, lps_volume.affine), str(tmp_path / "v.nii"))
    slice_volume(tmp_path / "v.nii", tmp_path / "slices", plane="coronal")
    back = stack_slices(tmp_path / "slices", tmp_path / "back.nii.gz").get_fdata()
    scaling = Scaling.of(values)
    step = (scaling.hi - scaling.lo) / 255
    assert back.shape == values.shape
    assert np.max(np.abs(back - np.clip(values, scaling.lo, scaling.hi))) <= step / 2 + 1e-3


def saved_run(tmp_path, size=(32, 28)):
    """A run directory holding an (untrained) exported T1 -> T2 generator."""
    from cyclegan_mri.networks import build_generator

    run = tmp_path / "run"
    (run / "generators").mkdir(parents=True)
    build_generator("unet", (*size, 1), 4).save(run / "generators" / "t1_to_t2.keras")
    return run


def test_translate_takes_volumes_folders_of_volumes_and_images(lps_volume, tmp_path, capsys):
    import nibabel as nib

    from cyclegan_mri.cli.translate import main

    run = saved_run(tmp_path)
    volumes = tmp_path / "volumes"
    volumes.mkdir()
    nib.save(lps_volume, str(volumes / "a.nii.gz"))
    nib.save(lps_volume, str(volumes / "b.nii"))
    assert main(["--out", str(run), "--input", str(volumes), "--output", str(tmp_path / "t2")]) == 0
    assert sorted(p.name for p in (tmp_path / "t2").iterdir()) == ["a.nii.gz", "b.nii"]
    assert nib.load(str(tmp_path / "t2" / "b.nii")).shape == lps_volume.shape

    (tmp_path / "slice.png").write_bytes(png_bytes(np.arange(35 * 30, dtype=np.uint8).reshape(35, 30)))
    assert main(["--out", str(run), "--input", str(tmp_path / "slice.png"), "--output", str(tmp_path / "o.png")]) == 0
    import imageio.v3 as iio

    assert iio.imread(tmp_path / "o.png").shape == (35, 30)
    assert "t1_to_t2: wrote" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("4d", "4D data of shape (6, 5, 4, 3); a 3D volume is needed"),
    ("empty", "the volume is empty (every voxel is 0)"),
    ("not_nifti", "not a readable NIfTI volume"),
    ("png_as_volume_output", "name it .nii or .nii.gz"),
    ("missing", "no such file or folder"),
])
def test_bad_volumes_are_refused_in_one_line(case, message, lps_volume, tmp_path, capsys):
    import nibabel as nib

    from cyclegan_mri.cli.common import run_main
    from cyclegan_mri.cli.translate import main

    run = saved_run(tmp_path)
    source, output = tmp_path / "in.nii.gz", tmp_path / "out.nii.gz"
    if case == "4d":
        nib.save(nib.Nifti1Image(np.ones((6, 5, 4, 3), np.float32), np.eye(4)), str(source))
    elif case == "empty":
        nib.save(nib.Nifti1Image(np.zeros((6, 5, 4), np.float32), np.eye(4)), str(source))
    elif case == "not_nifti":
        source.write_bytes(b"this is not a volume")
    elif case == "png_as_volume_output":
        nib.save(lps_volume, str(source))
        output = tmp_path / "out.png"
    assert run_main(main, ["--out", str(run), "--input", str(source), "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not output.exists()
