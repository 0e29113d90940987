"""Any two image domains from plain folders: layouts, domain names, one or three channels, end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from cyclegan_mri.cli import evaluate, train, translate
from cyclegan_mri.data.images import channels_of, to_model_range, with_channels
from cyclegan_mri.data.sources import Role, folder_role, load_domains
from cyclegan_mri.domains import Domains
from cyclegan_mri.errors import DataError, UserError
from cyclegan_mri.record import TrainOptions
from conftest import exit_code, phantom

TINY = ["--image-size", "16", "16", "--filters", "4", "--batch", "2", "--verbose", "0", "--seed", "0"]


def colour_image(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """A smooth RGB image whose three channels differ."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    phases = rng.uniform(0, 2 * np.pi, 3)
    channels = [np.sin(cols / 3 + phases[0]), np.cos(rows / 4 + phases[1]), np.sin((rows + cols) / 5 + phases[2])]
    return np.round((np.stack(channels, -1) + 1) * 127.5).astype(np.uint8)


def colour_transform(image: np.ndarray) -> np.ndarray:
    """The fixed map from domain A to domain B: channels rotated and inverted."""
    return 255 - image[..., [2, 0, 1]]


def write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, image)


def rgb_domains(root: Path) -> Path:
    """trainA/trainB/testA/testB of colour images: B is A under ``colour_transform``; the test pairs share
    names and have sizes of their own."""
    for i in range(5):
        write(root / "trainA" / f"a{i}.png", colour_image(i, (20, 18)))
        write(root / "trainB" / f"b{i}.png", colour_transform(colour_image(100 + i, (20, 18))))
    for i, shape in enumerate([(22, 19), (17, 25)]):
        image = colour_image(200 + i, shape)
        write(root / "testA" / f"case{i}.png", image)
        write(root / "testB" / f"case{i}.png", colour_transform(image))
    return root


def gray_domains(root: Path) -> Path:
    """Plain A/ and B/ folders of grayscale slices, no test split."""
    for i in range(4):
        write(root / "A" / f"{i}.png", phantom(i, (20, 20)))
        write(root / "B" / f"{i}.png", 255 - phantom(10 + i, (20, 20)))
    return root


# --- Layouts and names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder, domains, role", [
    ("TrainT1", None, Role("train", 0, tutorial=True)),
    ("t2", None, Role("train", 1, tutorial=True)),
    ("trainA", None, Role("train", 0)),
    ("testB", None, Role("test", 1)),
    ("A", None, Role("train", 0)),
    ("b", None, Role("train", 1)),
    ("MRI", None, None),
    ("MRI", ("MRI", "CT"), Role("train", 0)),
    ("testCT", ("MRI", "CT"), Role("test", 1)),
    ("t1", ("T2", "T1"), Role("train", 1, tutorial=True)),  # explicit names win over the tutorial's order
    ("testosterone", ("testosterone", "x"), Role("train", 0)),
    ("train", None, None),
    ("Tr1", None, None),
])
def test_folders_are_recognised_by_name_in_every_layout(folder, domains, role):
    assert folder_role(folder, Domains(*domains) if domains else None) == role


def test_domain_names_give_the_direction_keys_and_titles():
    domains = Domains("MRI", "CT")
    assert domains.directions == ("mri_to_ct", "ct_to_mri")
    assert domains.titles == {"mri_to_ct": "MRI -> CT", "ct_to_mri": "CT -> MRI"}
    assert domains.source_side("ct_to_mri") == 1
    with pytest.raises(UserError, match="mri_to_ct, ct_to_mri"):
        domains.source_side("mri_to_pet")
    with pytest.raises(UserError, match="different names"):
        Domains("MRI", "mri")
    with pytest.raises(UserError, match="not a domain name"):
        Domains("T1_gd", "T2")


def test_the_reference_layout_splits_train_and_test_and_names_the_domains_a_and_b(tmp_path):
    images = load_domains(rgb_domains(tmp_path))
    assert images.domains == Domains("A", "B") and images.channels == 3 and not images.tutorial
    assert [len(side) for side in images.train] == [5, 5] and [len(side) for side in images.test] == [2, 2]
    assert images.test[0][1].image.shape == (17, 25, 3)


def test_the_tutorials_folder_names_keep_the_names_t1_and_t2_and_its_hidden_pairs(tmp_path):
    for folder in ("t1", "t2"):
        write(tmp_path / folder / "Image #10.png", phantom(1, (20, 20)))
    images = load_domains(tmp_path)
    assert images.domains == Domains("T1", "T2") and images.tutorial and images.channels == 1
    # Other names for the same folders: the user's own data, to which the tutorial's pairing does not apply.
    assert not load_domains(tmp_path, Domains("MRI", "CT")).tutorial


def test_folders_named_after_the_domains_are_read_with_domains(tmp_path):
    write(tmp_path / "MRI" / "x.png", phantom(1, (20, 20)))
    write(tmp_path / "CT" / "x.png", phantom(2, (20, 20)))
    with pytest.raises(DataError, match="no images in a known layout"):
        load_domains(tmp_path)
    images = load_domains(tmp_path, Domains("MRI", "CT"))
    assert [len(side) for side in images.train] == [1, 1]


# --- Channels -----------------------------------------------------------------------------------------------


def test_channels_are_detected_and_a_colour_file_of_gray_content_counts_as_gray():
    gray = phantom(1, (8, 8))
    gray_in_rgb = np.repeat(gray[..., None], 3, -1)
    colour = colour_image(0, (8, 8))
    assert channels_of([("a", gray), ("b", gray_in_rgb)], "data") == 1
    assert channels_of([("a", colour), ("b", gray_in_rgb)], "data") == 3
    with pytest.raises(DataError, match=r"a is grayscale, b is colour.*--channels 1.*--channels 3"):
        channels_of([("a", gray), ("b", colour)], "data")


def test_images_convert_between_one_and_three_channels():
    gray = phantom(1, (8, 8))
    rgb, note = with_channels(gray, 3)
    assert rgb.shape == (8, 8, 3) and (rgb == gray[..., None]).all() and note == "gray to RGB"
    back, note = with_channels(rgb, 1)
    np.testing.assert_array_equal(back, gray)
    assert to_model_range([rgb], (4, 4)).shape == (1, 4, 4, 3)


def test_channels_choose_the_network_shape_and_the_run_records_them(tmp_path, capsys):
    data = gray_domains(tmp_path / "data")
    assert train.main(["--data", str(data), "--out", str(tmp_path / "run"), "--channels", "3", "--dry-run", *TINY]) == 0
    out = capsys.readouterr().out
    assert "A: 4 images -> (4, 16, 16, 3)" in out and "input (None, 16, 16, 3) -> output (None, 16, 16, 3)" in out


def test_a_run_from_before_domains_and_channels_reads_as_t1_t2_grayscale():
    old = TrainOptions.from_json({"model": "cyclegan", "direction": "t1_to_t2", "image_size": [16, 16]})
    assert old.domains == ("T1", "T2") and old.channels == 1 and old.direction is None


# --- End to end ---------------------------------------------------------------------------------------------


def test_two_rgb_domains_train_resume_translate_and_evaluate_under_their_own_names(tmp_path, capsys):
    data, out = rgb_domains(tmp_path / "data"), tmp_path / "run"
    base = ["--data", str(data), "--out", str(out), *TINY]
    assert train.main([*base, "--domains", "MRI", "CT", "--epochs", "2"]) == 0
    assert train.main([*base, "--epochs", "3"]) == 0  # the resume keeps the run's names and channels
    assert "resuming from epoch 2" in capsys.readouterr().out
    saved = json.loads((out / "run.json").read_text())
    assert saved["domains"] == ["MRI", "CT"] and saved["channels"] == 3
    assert sorted(p.name for p in (out / "generators").iterdir()) == ["ct_to_mri.keras", "mri_to_ct.keras"]
    with (out / "history.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert {"gen_mri_to_ct_loss", "gen_ct_to_mri_loss", "disc_mri_loss", "disc_ct_loss"} <= set(rows[0])

    assert translate.main(["--out", str(out), "--input", str(data / "testA"), "--output", str(tmp_path / "fakeB"),
                           "--direction", "mri_to_ct"]) == 0
    for name, shape in (("case0.png", (22, 19, 3)), ("case1.png", (17, 25, 3))):
        assert iio.imread(tmp_path / "fakeB" / name).shape == shape
    # Volumes are grayscale: a colour run refuses them in one line.
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.arange(4 * 20 * 20, dtype=np.float32).reshape(20, 20, 4), np.eye(4)),
             tmp_path / "t1.nii.gz")
    argv = ["--out", str(out), "--input", str(tmp_path / "t1.nii.gz"), "--output", str(tmp_path / "ct.nii.gz")]
    assert exit_code(translate.main, argv) == 2
    assert "--channels 1" in capsys.readouterr().err and not (tmp_path / "ct.nii.gz").exists()

    assert evaluate.main(["--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert list(results) == ["mri_to_ct", "ct_to_mri"]
    forward = results["mri_to_ct"]
    assert (forward["source"], forward["target"]) == ("MRI", "CT") and forward["held_out"] is True
    assert [row["name"] for row in forward["per_image"]] == ["case0.png -> case0.png", "case1.png -> case1.png"]
    assert list(forward["baselines"]) == ["identity"] and np.isfinite(forward["ssim"])
    assert "MRI -> CT" in capsys.readouterr().out
    assert iio.imread(out / "translations" / "ct_to_mri" / "case1.png").shape == (17, 25, 3)


def test_a_grayscale_a_b_folder_trains_resumes_translates_and_evaluates(tmp_path, capsys):
    data, out = gray_domains(tmp_path / "data"), tmp_path / "run"
    base = ["--data", str(data), "--out", str(out), *TINY]
    assert train.main([*base, "--epochs", "2"]) == 0
    assert train.main([*base, "--epochs", "3"]) == 0
    assert sorted(p.name for p in (out / "generators").iterdir()) == ["a_to_b.keras", "b_to_a.keras"]
    sample = iio.imread(out / "samples" / "image_at_epoch_0003.png")
    assert sample.ndim == 3  # drawn, titled "Input A", "Predicted B"...

    write(tmp_path / "one.png", phantom(3, (30, 26)))
    assert translate.main(["--out", str(out), "--input", str(tmp_path / "one.png"),
                           "--output", str(tmp_path / "one_b.png")]) == 0  # default: A to B
    assert iio.imread(tmp_path / "one_b.png").shape == (30, 26)
    assert "a_to_b: wrote" in capsys.readouterr().out
    # A direction between other domains: one line, nothing written.
    assert exit_code(translate.main, ["--out", str(out), "--input", str(tmp_path / "one.png"),
                                      "--output", str(tmp_path / "other.png"), "--direction", "t1_to_t2"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "a_to_b and b_to_a" in error and not (tmp_path / "other.png").exists()
    # A 2D run translates a volume slice by slice: the sliding-window flags of 3D runs are refused.
    import nibabel as nib

    nib.save(nib.Nifti1Image(phantom(4, (20, 20))[..., None].repeat(3, -1).astype(np.float32), np.eye(4)),
             tmp_path / "v.nii.gz")
    assert exit_code(translate.main, ["--out", str(out), "--input", str(tmp_path / "v.nii.gz"),
                                      "--output", str(tmp_path / "o.nii.gz"), "--overlap", "0.5"]) == 2
    assert "--window apply to 3D runs" in capsys.readouterr().err
    assert not (tmp_path / "o.nii.gz").exists()

    # No test split: everything is translated, nothing scored, and the run says so.
    assert evaluate.main(["--out", str(out)]) == 0
    assert "nothing scored" in capsys.readouterr().out
    results = json.loads((out / "evaluation.json").read_text())
    assert list(results) == ["a_to_b", "b_to_a"] and results["a_to_b"]["per_image"] == []
    assert results["a_to_b"]["psnr"] is None and len(list((out / "translations" / "a_to_b").iterdir())) == 4

    # Aligned pairs from elsewhere, in the same layout: the model against the identity.
    pairs = tmp_path / "pairs"
    for i in range(2):
        write(pairs / "A" / f"p{i}.png", phantom(20 + i, (24, 20)))
        write(pairs / "B" / f"p{i}.png", 255 - phantom(20 + i, (24, 20)))
    assert evaluate.main(["--out", str(out), "--pairs", str(pairs), "--quiet"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert len(results["b_to_a"]["per_image"]) == 2 and list(results["b_to_a"]["baselines"]) == ["identity"]


# --- Bad input ----------------------------------------------------------------------------------------------


def test_a_train_a_without_a_train_b_is_one_line_and_writes_nothing(tmp_path, capsys):
    write(tmp_path / "data" / "trainA" / "x.png", phantom(1, (20, 20)))
    assert exit_code(train.main, ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *TINY]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "trainA/" in error and "trainB/" in error
    assert not (tmp_path / "run").exists()


def test_mixed_channel_counts_without_channels_are_one_line(tmp_path, capsys):
    write(tmp_path / "data" / "A" / "gray.png", phantom(1, (20, 20)))
    write(tmp_path / "data" / "B" / "colour.png", colour_image(1, (20, 20)))
    argv = ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *TINY, "--batch", "1"]
    assert exit_code(train.main, argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "A/gray.png is grayscale" in error and "--channels" in error
    assert not (tmp_path / "run").exists()
    assert exit_code(train.main, [*argv, "--channels", "1", "--dry-run"]) == 0


def test_a_direction_between_unknown_domains_is_one_line(tmp_path, capsys):
    data = gray_domains(tmp_path / "data")
    argv = ["--data", str(data), "--out", str(tmp_path / "p2p"), "--model", "pix2pix", *TINY, "--dry-run"]
    for name in ("0.png", "1.png"):  # pix2pix pairs the training files of the same name
        assert (data / "A" / name).exists() and (data / "B" / name).exists()
    assert exit_code(train.main, [*argv, "--direction", "t1_to_t2"]) == 2
    assert "a_to_b, b_to_a" in capsys.readouterr().err
    assert exit_code(train.main, [*argv, "--direction", "b_to_a"]) == 0
