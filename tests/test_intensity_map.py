"""The unpaired quantile map and the generators that start from it (``--intensity-map``)."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import ROOT, exit_code, subject_volumes

from cyclegan_mri.cli import evaluate, train
from cyclegan_mri.data.phantoms import head_phantom
from cyclegan_mri.metrics import psnr
from cyclegan_mri.networks import build_generator
from cyclegan_mri.networks.intensity import IntensityTable, intensity_table, over_intensity_map
from cyclegan_mri.training.trainer import float32_copy
from cyclegan_mri.translation.baselines import POLARITIES, QuantileMap, depth_profile


def head_slices(seeds, contrast: str, shape=(48, 48, 9)) -> list[np.ndarray]:
    """The middle axial slices of phantom heads, on the 0-255 scale."""
    return [np.clip(head_phantom(shape, seed, contrast)[:, :, 3:6].transpose(2, 0, 1) * 255, 0, 255)
            for seed in seeds]


def test_an_increasing_map_recovers_a_monotone_contrast_change_and_keeps_the_background():
    rng = np.random.default_rng(0)
    sources = [np.where(rng.random((32, 32)) < 0.3, 0.0, rng.uniform(20, 250, (32, 32))) for _ in range(6)]
    change = lambda image: np.where(image > 0, 30 + 0.8 * image, 0.0)  # noqa: E731
    fitted = QuantileMap(sources[:3], [change(s) for s in sources[3:]], "increasing")
    assert fitted.polarity == "increasing" and fitted.correlations == {}
    error = np.abs(fitted(sources[0]) - change(sources[0]))
    assert error.mean() < 2.0 and error.max() < 8.0  # quantiles of a few thousand pixels
    # At or below the foreground threshold intensities are background and stay as they are.
    assert fitted(np.array([0.0, 5.0, 12.0])).tolist() == [0.0, 5.0, 12.0]


def test_a_decreasing_map_reverses_the_order_of_the_foreground():
    image = np.linspace(20, 250, 100).reshape(10, 10)
    mapped = QuantileMap([image], [image], "decreasing")(image)
    assert np.all(np.diff(mapped.ravel()) <= 0)
    assert mapped.max() == pytest.approx(image.max(), abs=3) and mapped.min() == pytest.approx(image.min(), abs=3)


@pytest.mark.parametrize("source, target", [("t1", "t2"), ("t2", "t1")])
def test_auto_picks_the_polarity_that_translates_unseen_heads_better_without_a_pair(source, target):
    # Sources and targets come from different heads; the choice is judged on a third set, with its pairs.
    fitted = QuantileMap(head_slices([0, 1, 2], source), head_slices([3, 4, 5], target))
    assert set(fitted.correlations) == set(POLARITIES)
    scored = {}
    for polarity in POLARITIES:
        other = QuantileMap(head_slices([0, 1, 2], source), head_slices([3, 4, 5], target), polarity)
        scored[polarity] = np.mean([psnr(t, other(s)) for s, t in zip(head_slices([6, 7], source),
                                                                       head_slices([6, 7], target))])
    assert fitted.polarity == max(scored, key=scored.get)
    # The phantoms' grey and white matter swap order between T1 and T2, as in real heads.
    assert fitted.polarity == "decreasing"


def test_the_depth_profile_sees_where_each_intensity_lies():
    ring = np.zeros((40, 40))
    ring[5:35, 5:35] = 200.0
    ring[12:28, 12:28] = 50.0
    profile, counts = depth_profile([ring])
    assert profile[0] == 200.0 and profile[counts > 0][-1] == 50.0 and counts.sum() == 30 * 30


def test_a_map_needs_foreground_in_both_domains():
    with pytest.raises(ValueError, match="foreground"):
        QuantileMap([np.zeros((8, 8))], [np.full((8, 8), 100.0)])


def test_the_table_layer_interpolates_between_levels_in_the_model_range():
    layer = IntensityTable()
    layer.build((None, 1))
    layer.set_table(-np.linspace(-1, 1, 256))
    x = np.array([[-1.0], [0.0], [0.3], [1.0], [1.5]], np.float32)
    np.testing.assert_allclose(layer(x).numpy(), [[1.0], [0.0], [-0.3], [-1.0], [-1.0]], atol=1e-5)
    with pytest.raises(ValueError, match="256"):
        layer.set_table(np.zeros(10))


def test_a_generator_over_a_map_starts_at_the_map_and_keeps_it_when_saved(tmp_path):
    generator = over_intensity_map(build_generator("resnet6", (None, None, 1), 4, name="generator_g"))
    intensity_table(generator).set_table(-np.linspace(-1, 1, 256))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(generator(x).numpy(), -x, atol=1e-5)
    assert intensity_table(generator).trainable_weights == []
    path = tmp_path / "generator.keras"
    float32_copy(generator, (16, 16, 1)).save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded(x).numpy(), -x, atol=1e-5)
    assert intensity_table(build_generator("resnet6", (None, None, 1), 4)) is None


def test_the_flag_asks_a_cyclegan_for_no_identity_loss_and_a_paired_model_refuses_it(tmp_path):
    root = subject_volumes(tmp_path / "data", subjects=3)
    common = ["--data", str(root), "--out", str(tmp_path / "run"), "--image-size", "24", "20", "--epochs", "1",
              "--intensity-map", "auto"]
    assert exit_code(train.main, common) == 2
    assert exit_code(train.main, [*common, "--lambda-identity", "0", "--model", "pix2pix"]) == 2
    assert not (tmp_path / "run").exists()


def test_a_run_fits_its_maps_on_its_training_subjects_and_a_resume_keeps_them(tmp_path, capsys):
    root = subject_volumes(tmp_path / "data", subjects=4)
    out = tmp_path / "run"
    args = ["--data", str(root), "--out", str(out), "--image-size", "24", "20", "--filters", "2", "--batch", "2",
            "--holdout-cases", "1", "--epochs", "1", "--seed", "3", "--verbose", "0", "--generator", "resnet6",
            "--intensity-map", "auto", "--lambda-identity", "0"]
    assert train.main(args) == 0
    printed = capsys.readouterr().out
    assert "t1_to_t2: starts from the decreasing quantile map" in printed
    assert "t2_to_t1: starts from the decreasing quantile map" in printed
    saved = json.loads((out / "run.json").read_text())
    assert saved["intensity_map"] == "auto"
    exported = keras.saving.load_model(out / "generators" / "t1_to_t2.keras", compile=False)
    table = intensity_table(exported).table.numpy()
    assert table[-1] < table[128]  # bright T1 (white matter) maps to dark T2

    # Resumed for a second epoch: the checkpoint's table is the one trained with.
    assert train.main([*args[:-6], "--epochs", "2", *args[-6:]]) == 0
    resumed = keras.saving.load_model(out / "generators" / "t1_to_t2.keras", compile=False)
    np.testing.assert_array_equal(intensity_table(resumed).table.numpy(), table)
    # Scoring sets the unpaired quantile map beside the other baselines.
    assert evaluate.main(["--out", str(out), "--no-translations", "--quiet"]) == 0
    results = json.loads((out / "evaluation.json").read_text())
    assert "quantile_map" in results["t1_to_t2"]["baselines"]
    # Another map is another run: a resume may not change it.
    assert exit_code(train.main, [*args[:-4], "--intensity-map", "increasing", "--lambda-identity", "0"]) == 2


def test_cut_and_fastcut_generators_start_from_the_map_too(tmp_path, capsys):
    root = subject_volumes(tmp_path / "data", subjects=4)
    out = tmp_path / "run"
    assert train.main(["--model", "fastcut", "--data", str(root), "--out", str(out), "--image-size", "24", "20",
                       "--filters", "2", "--batch", "2", "--holdout-cases", "1", "--epochs", "1", "--seed", "3",
                       "--verbose", "0", "--generator", "resnet6", "--nce-patches", "16",
                       "--intensity-map", "auto"]) == 0
    printed = capsys.readouterr().out
    assert "t1_to_t2: starts from the decreasing quantile map" in printed
    exported = keras.saving.load_model(out / "generators" / "t2_to_t1.keras", compile=False)
    table = intensity_table(exported).table.numpy()
    assert table[-1] < table[128]  # bright T2 (fluid) maps to dark T1


def test_a_generator_with_a_map_loads_in_a_process_that_imported_nothing_else(tmp_path):
    path = tmp_path / "generator.keras"
    over_intensity_map(build_generator("resnet6", (16, 16, 1), 2, name="generator_g")).save(path)
    # What translate.py and evaluate.py do: load a run's generators through the inference module alone.
    code = ("import sys, keras; from cyclegan_mri.translation import inference; "
            "keras.saving.load_model(sys.argv[1], compile=False)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-1500:]


def test_the_3d_cyclegan_starts_from_a_map_fitted_on_its_volumes_axial_planes(tmp_path, capsys):
    root = subject_volumes(tmp_path / "data", subjects=4)
    out = tmp_path / "run"
    assert train.main(["--model", "cyclegan3d", "--data", str(root), "--out", str(out), "--patch", "16", "16", "16",
                       "--filters", "2", "--generator", "resnet6_3d", "--padding", "zero", "--batch", "1",
                       "--pool-size", "0", "--holdout-cases", "1", "--epochs", "1", "--patches-per-epoch", "1",
                       "--learning-rate", "0", "--verbose", "0", "--seed", "0",
                       "--intensity-map", "auto", "--lambda-identity", "0"]) == 0
    printed = capsys.readouterr().out
    assert "t1_to_t2: starts from the decreasing quantile map" in printed
    exported = keras.saving.load_model(out / "generators" / "t1_to_t2.keras", compile=False)
    table = intensity_table(exported).table.numpy()
    assert table[-1] < table[128]  # bright T1 (white matter) maps to dark T2
    # Untrained (a zero rate), the generator is its table, voxel by voxel, background kept.
    volume = np.linspace(-1, 1, 16 ** 3, dtype=np.float32).reshape(1, 16, 16, 16, 1)
    volume[0, :4] = -1.0
    mapped = np.interp(volume, np.linspace(-1, 1, 256), table)
    np.testing.assert_allclose(exported(volume).numpy(), mapped, atol=1e-5)
    assert np.all(exported(volume).numpy()[0, :4] == -1.0)
