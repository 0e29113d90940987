"""A resumed run is the run it continues: on other hardware (another precision), with the data an
uninterrupted run would have seen, with one TensorBoard point per epoch, and with the same slices held out."""

from __future__ import annotations

import csv
from collections import Counter
from itertools import permutations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.cli import train
from cyclegan_mri.data.pipeline import paired_dataset, unpaired_dataset
from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.layers import InstanceNormalization
from cyclegan_mri.record import TrainOptions, load_run_options
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.training.trainer import build_model, export_generators, open_session
from cyclegan_mri.translation.inference import load_generators

# What a resume keeps does not depend on the architecture: the contrast generator, whose train step traces in about
# half the time of the tutorial's, beside the tutorial's discriminator (instance normalisation under every precision).
TINY = ["--image-size", "16", "16", "--filters", "2", "--generator", "contrast", "--batch", "2", "--seed", "5",
        "--verbose", "0"]
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def history(out) -> list[dict]:
    with (out / "history.csv").open() as stream:
        return list(csv.DictReader(stream))


# Each epoch of one run under the next precision; after each of the first three, the run is also
# restored under the two other precisions: every ordered pair of different precisions is resumed.
CHAIN = ("float32", "mixed_bfloat16", "mixed_float16", "float32")


def saved(out, key: str):
    return tf.train.load_checkpoint(str(out / "checkpoints")).get_tensor(f"{key}/.ATTRIBUTES/VARIABLE_VALUE")


def exported(out) -> dict:
    return load_generators(RunDir.at(out))


def test_a_run_resumes_under_every_other_precision_and_exports_float32_generators(small_dataset, tmp_path):
    assert {(p, q) for p in CHAIN[:-1] for q in PRECISIONS if q != p} == set(permutations(PRECISIONS, 2))
    out = tmp_path / "run"
    args = ["--data", str(small_dataset), "--out", str(out), *TINY]
    iterations = 0
    for epoch, precision in enumerate(CHAIN, 1):
        assert train.main([*args, "--precision", precision, "--epochs", str(epoch)]) == 0, (epoch, precision)
        assert [int(r["epoch"]) for r in history(out)] == list(range(1, epoch + 1))
        now = int(saved(out, "generator_g_optimizer/_iterations"))
        # 3 steps an epoch; under float16 the loss scale skips the steps whose gradients overflowed.
        assert now - iterations == 3 or (precision == "mixed_float16" and iterations <= now < iterations + 3)
        iterations = now
        generators = exported(out)
        # Exported in float32 whatever the training precision: no emulated float16 where they are used. (The
        # input layer only passes its float32 input on, under whatever policy the loading process has.)
        assert {layer.dtype_policy.name for g in generators.values() for layer in g.layers
                if not isinstance(layer, keras.layers.InputLayer)} == {"float32"}, precision
        if epoch == len(CHAIN):
            break
        for other in sorted(set(PRECISIONS) - {precision}):
            options = load_run_options(out)
            options.precision = other
            resumed = open_session(options)
            assert resumed.precision == other and resumed.initial_epoch == epoch
            assert int(resumed.model.optimizers()["generator_g_optimizer"].iterations.numpy()) == iterations
            for a, b in zip(resumed.model.networks()["generator_g"].get_weights(),
                            generators["t1_to_t2"].get_weights()):
                np.testing.assert_array_equal(a, b, err_msg=f"{precision} -> {other}")
            for name, wrapper in resumed.model.loss_scales().items():
                # A float16 run keeps the loss scale it reached; from another precision it starts afresh.
                expected = saved(out, f"{name}/dynamic_scale") if precision == "mixed_float16" else 2.0 ** 15
                assert float(wrapper.dynamic_scale.numpy()) == float(expected), name


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_the_tutorials_generator_trained_in_mixed_precision_is_exported_in_float32_instance_norms_included(
        precision, tmp_path):
    model = build_model(TrainOptions(image_size=(16, 16), filters=2, generator="tutorial"), precision, False)
    assert precision in {layer.dtype_policy.name for layer in model.generator_g.layers}  # computes in it
    run = RunDir.at(tmp_path)
    export_generators(model, run)
    generators = load_generators(run)
    layers = [layer for g in generators.values() for layer in g.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert any(isinstance(layer, InstanceNormalization) for layer in layers)
    assert {layer.dtype_policy.name for layer in layers} == {"float32"}, precision


@pytest.mark.parametrize("make", [unpaired_dataset, paired_dataset])
def test_epoch_k_of_a_dataset_is_the_same_whatever_epoch_it_starts_from(make):
    x = np.random.default_rng(0).uniform(-1, 1, (10, 24, 24, 1)).astype(np.float32)
    y = -x
    whole = [[np.asarray(t) for t in step] for step in make(x, y, 3, seed=11, augmented=True, epochs=3)]
    later = [[np.asarray(t) for t in step] for step in make(x, y, 3, seed=11, augmented=True, first_epoch=2)]
    steps = len(later)
    assert steps == 4 and len(whole) == 3 * steps
    for a, b in zip(whole[2 * steps:], later):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(whole[0][0], whole[steps][0])  # and each epoch has an order of its own


def test_the_same_seed_repeats_a_run_and_a_resumed_run_computes_what_an_uninterrupted_one_does(
        small_dataset, tmp_path):
    """Epoch 1 of two runs with --seed 5 agree, and so do epochs 2 and 3 of a run resumed after epoch 1.

    "Agree" to 1e-6 relative rather than bit for bit: oneDNN may pick kernels by memory alignment,
    which moves the last bit of a float32 sum between two runs in one process. Another seed, or
    another data order or augmentation in epochs 2 and 3, changes the losses by about 1e-2.
    """
    args = ["--data", str(small_dataset), *TINY, "--precision", "float32", "--augment"]

    def losses(run: str, epochs: int, *flags: str) -> list[list[float]]:
        assert train.main([*args, "--out", str(tmp_path / run), "--epochs", str(epochs), *flags]) == 0
        return [[float(v) for k, v in row.items() if k.endswith("_loss")] for row in history(tmp_path / run)]

    whole = np.array(losses("whole", 3))
    np.testing.assert_allclose(losses("resumed", 1), whole[:1], rtol=1e-6)
    np.testing.assert_allclose(losses("resumed", 3), whole, rtol=1e-5)
    other = np.array(losses("other seed", 1, "--seed", "6")[0])
    assert np.max(np.abs(other - whole[0]) / np.abs(whole[0])) > 1e-3


def tensorboard_points(logs) -> Counter:
    """How many times each (tag, step) was written in all of a run's event files."""
    points = Counter()
    for path in logs.rglob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                points[(value.tag, event.step)] += 1
    return points


def test_a_resume_from_an_older_checkpoint_keeps_one_tensorboard_point_per_epoch_and_the_runs_seed(
        small_dataset, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(small_dataset), "--out", str(out), *[f for f in TINY if f not in ("--seed", "5")]]
    assert train.main([*args, "--epochs", "2"]) == 0
    seed = load_run_options(out).seed
    assert isinstance(seed, int)  # none asked for: drawn at random, and recorded
    # As if killed after epoch 2's outputs were written but before its checkpoint was.
    for newest in (out / "checkpoints").glob("ckpt-2.*"):
        newest.unlink()
    tf.compat.v1.train.update_checkpoint_state(str(out / "checkpoints"), "ckpt-1", ["ckpt-1"])
    assert train.main([*args, "--epochs", "3"]) == 0
    points = tensorboard_points(out / "logs")
    assert {step for _, step in points} == {0, 1, 2}
    assert set(points.values()) == {1}, [p for p, n in points.items() if n > 1]
    assert [r["epoch"] for r in history(out)] == ["1", "2", "3"]
    assert load_run_options(out).seed == seed  # a resume keeps the run's seed, and refuses another
    with pytest.raises(UserError, match=f"seed {seed} .asked {seed + 1}."):
        train.main([*args, "--epochs", "4", "--seed", str(seed + 1)])


def test_resuming_a_holdout_run_without_holdout_is_refused(small_dataset, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(small_dataset), "--out", str(out), *TINY, "--epochs", "1"]
    assert train.main([*args, "--holdout"]) == 0
    before = (out / "run.json").read_text()
    with pytest.raises(UserError, match="holdout True .asked False."):
        train.main([*args[:-1], "2"])
    assert (out / "run.json").read_text() == before
