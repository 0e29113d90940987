"""Reading the dataset: counts, order, preprocessing, the hidden pairs, the held-out split, tf.data."""

import numpy as np
import pytest

from cyclegan_mri.data import pairing
from cyclegan_mri.data.dataset import load_unpaired
from cyclegan_mri.data.images import decode_image, to_intensity, to_model_range, to_uint8
from cyclegan_mri.data.pipeline import steps_per_epoch, unpaired_dataset
from cyclegan_mri.data.sources import load_domains, sort_key
from cyclegan_mri.errors import DataError, UserError
from conftest import png_bytes


def test_archive_holds_43_t1_and_46_t2_slices_in_numeric_order(archive):
    t1, t2 = load_domains(archive).train
    assert len(t1) == 43 and len(t2) == 46
    assert [s.number for s in t1][:11] == [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 23]
    assert [s.number for s in t2][-1] == 125
    assert all(s.image.shape == (217, 181) and s.image.dtype == np.uint8 for s in t1 + t2)


def test_training_data_is_float32_in_minus_one_to_one_at_220_by_184(archive):
    data = load_unpaired(archive, (220, 184))
    assert data.x.shape == (43, 220, 184, 1) and data.y.shape == (46, 220, 184, 1)
    assert data.x.dtype == np.float32
    assert data.x.min() >= -1.0 and data.x.max() <= 1.0
    assert data.x.min() < -0.99 and data.y.max() > 0.5  # the full range is used, not squeezed


def test_preprocessing_is_the_tutorials_scaling():
    image = np.array([[0, 127], [255, 51]], dtype=np.uint8)
    scaled = to_model_range([image], (2, 2))
    np.testing.assert_allclose(scaled[0, :, :, 0], image / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(to_uint8(to_intensity(scaled[0])), image)


def test_43_hidden_pairs_are_aligned_slices(archive):
    t1, t2 = load_domains(archive).train
    pairs = pairing.dataset_pairs(t1, t2)
    assert len(pairs) == 43
    assert (pairs[0][0].number, pairs[0][1].number) == (10, 70)
    assert (pairs[-1][0].number, pairs[-1][1].number) == (55, 125)
    # An aligned pair shares its brain outline; a shifted partner would not.
    for a, b in pairs:
        assert np.mean((a.image > 10) == (b.image > 10)) > 0.9


def test_held_out_split_is_9_test_pairs_and_holdout_removes_both_images(archive):
    t1, t2 = load_domains(archive).train
    train, test = pairing.split_pairs(pairing.dataset_pairs(t1, t2))
    assert [a.number for a, _ in test] == [12, 17, 25, 30, 35, 40, 45, 50, 55]
    assert [b.number for _, b in test] == [72, 77, 85, 90, 95, 100, 115, 120, 125]
    assert len(train) == 34
    kept_t1, kept_t2 = pairing.without_test_pairs(t1, t2)
    assert len(kept_t1) == 34 and len(kept_t2) == 37
    assert not {12, 25} & {s.number for s in kept_t1} and not {72, 85} & {s.number for s in kept_t2}
    assert {80, 81, 82} <= {s.number for s in kept_t2}  # unpaired T2 slices stay for training
    assert load_unpaired(archive, (16, 16), holdout=True).x.shape[0] == 34


def test_a_folder_laid_out_like_the_archive_loads_and_skips_non_images(small_dataset):
    t1, t2 = load_domains(small_dataset).train
    assert [s.number for s in t1] == [1, 2, 3, 4, 5] and len(t2) == 6


def test_files_sort_by_the_number_in_their_name():
    assert sorted(["Image #10.png", "Image #9.png", "Image #100.png"], key=sort_key) == [
        "Image #9.png", "Image #10.png", "Image #100.png"]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA"])
def test_colour_images_become_8_bit_gray(mode):
    gray = np.arange(0, 240, 2, dtype=np.uint8).reshape(12, 10)
    image, note = decode_image(png_bytes(gray, mode))
    assert image.dtype == np.uint8 and image.shape == (12, 10)
    assert np.abs(image.astype(int) - gray).max() <= 1 and note


def test_16_bit_images_are_windowed_by_their_own_percentiles_as_volumes_are():
    # 12-bit MRI stored in 16 bits: scaled by the type's maximum it would end up below grey level 16.
    deep = (np.arange(400, dtype=np.uint16).reshape(20, 20) * 10)
    deep[0, 0] = 4095  # one bright outlier pixel must not compress the rest
    image, note = decode_image(png_bytes(deep))
    lo, hi = np.percentile(deep, [0.5, 99.5])
    expected = np.round(np.clip((deep - lo) / (hi - lo) * 255, 0, 255)).astype(np.uint8)
    np.testing.assert_array_equal(image, expected)
    assert image.max() == 255 and image.min() == 0
    assert note == "16-bit to 8-bit by its 0.5-99.5th percentiles"


def test_a_blank_16_bit_image_becomes_black_rather_than_an_error():
    image, note = decode_image(png_bytes(np.full((6, 5), 700, np.uint16)))
    assert not image.any() and image.shape == (6, 5) and "constant" in note


def test_a_compressed_rar_entry_names_the_missing_unrar_tool(archive, monkeypatch):
    import rarfile

    from cyclegan_mri.data.sources import _archive_entries

    def no_tool(*args, **kwargs):
        raise rarfile.RarCannotExec("Cannot find working tool")

    monkeypatch.setattr(rarfile, "tool_setup", no_tool)  # as on a machine without unrar, unar, 7z or bsdtar
    # The archive's one compressed entry (Tr1/.DS_Store; its PNGs are stored) needs such a tool to be read.
    entries = dict(_archive_entries(archive))
    with pytest.raises(DataError, match="compressed.*needs an unrar tool.*extract the archive"):
        entries["Tr1/.DS_Store"]()
    assert entries["Tr1/TrainT1/Image #10.png"]().startswith(b"\x89PNG")


def test_a_corrupt_image_is_named():
    with pytest.raises(DataError, match="broken.png"):
        decode_image(png_bytes(np.zeros((8, 8), np.uint8))[:40], "broken.png")


def test_unpaired_epoch_zips_domains_as_the_tutorial_11_steps_at_batch_4():
    x = np.zeros((43, 8, 8, 1), np.float32)
    y = np.ones((46, 8, 8, 1), np.float32)
    steps = list(unpaired_dataset(x, y, 4, seed=0))
    assert len(steps) == steps_per_epoch(43, 46, 4) == 11
    assert steps[-1][0].shape[0] == 3 and steps[-1][1].shape[0] == 4


def test_each_epoch_is_shuffled_anew_and_the_same_seed_repeats_it():
    x = np.arange(12, dtype=np.float32).reshape(12, 1, 1, 1)
    first, second = (step[0].numpy().ravel() for step in unpaired_dataset(x, x, 12, seed=1, epochs=2))
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)
    again = next(iter(unpaired_dataset(x, x, 12, seed=1)))[0].numpy().ravel()
    np.testing.assert_array_equal(again, first)


def test_batch_larger_than_a_domain_is_refused():
    with pytest.raises(UserError, match="--batch 5"):
        unpaired_dataset(np.zeros((4, 4, 4, 1), np.float32), np.zeros((6, 4, 4, 1), np.float32), 5)
