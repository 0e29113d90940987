"""CUT and FastCUT: one-sided contrastive translation, both directions, chosen by --model."""

import csv

import numpy as np
import pytest
import tensorflow as tf

from cyclegan_mri.cli import train
from cyclegan_mri.errors import UserError
from cyclegan_mri.models.cut import CUT, patch_nce
from cyclegan_mri.cli.train import parse_train_args, train_options

TINY = ["--image-size", "17", "13", "--filters", "2", "--batch", "2", "--seed", "0", "--verbose", "0",
        "--nce-patches", "16"]


def test_patch_nce_is_low_when_each_patch_finds_its_own_and_high_otherwise():
    rng = np.random.default_rng(0)
    key = tf.math.l2_normalize(tf.constant(rng.normal(size=(2, 32, 8)), tf.float32), -1)
    matched = patch_nce(key, key, temperature=0.07)
    shuffled = patch_nce(tf.reverse(key, [1]), key, temperature=0.07)
    assert matched.shape == (2,)
    assert float(tf.reduce_max(matched)) < 0.5 and float(tf.reduce_min(shuffled)) > np.log(32) - 1


def test_patch_nce_gives_no_gradient_to_its_keys():
    key = tf.Variable(tf.math.l2_normalize(tf.random.normal((1, 8, 4)), -1))
    query = tf.Variable(tf.math.l2_normalize(tf.random.normal((1, 8, 4)), -1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(patch_nce(query, key, 0.07))
    gradient_query, gradient_key = tape.gradient(loss, [query, key])
    assert gradient_key is None and float(tf.reduce_max(tf.abs(gradient_query))) > 0


def test_cut_trains_both_directions_and_its_checkpoint_restores(small_dataset, tmp_path):
    from cyclegan_mri.record import load_run_options
    from cyclegan_mri.training.trainer import open_session

    out = tmp_path / "run"
    args = ["--data", str(small_dataset), "--out", str(out), "--model", "cut", "--generator", "resnet6", *TINY]
    assert train.main([*args, "--epochs", "1"]) == 0
    with (out / "history.csv").open() as stream:
        (row,) = list(csv.DictReader(stream))
    assert float(row["nce_loss"]) > 0
    for direction in ("t1_to_t2", "t2_to_t1"):
        assert (out / "generators" / f"{direction}.keras").exists()
    # A resume restores every network, the heads among them, strictly.
    resumed = open_session(load_run_options(out))
    optimizers = resumed.model.optimizers()
    assert resumed.initial_epoch == 1 and len(optimizers) == 6
    steps = int(optimizers["generator_g_optimizer"].iterations)
    assert steps > 0 and all(int(o.iterations) == steps for o in optimizers.values())


def test_a_fastcut_step_trains_generators_and_heads_with_finite_losses():
    rng = np.random.default_rng(0)
    model = CUT((17, 13, 1), filters=2, generator="resnet6", variant="fastcut", nce_patches=16)
    model.compile()
    model.build_optimizers()
    before = {name: [w.numpy().copy() for w in net.trainable_weights] for name, net in model.networks().items()}
    x, y = (tf.constant(rng.uniform(-1, 1, (2, 17, 13, 1)), tf.float32) for _ in range(2))
    logs = model.train_step((x, y))
    assert all(np.isfinite(float(v)) for v in logs.values()) and float(logs["nce_loss"]) > 0
    for name, network in model.networks().items():
        assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before[name], network.trainable_weights)), name


def test_the_variants_differ_as_the_paper_says():
    cut = CUT((16, 16, 1), filters=2, generator="resnet6", variant="cut")
    fast = CUT((16, 16, 1), filters=2, generator="resnet6", variant="fastcut")
    assert (cut.lambda_nce, cut.nce_identity, cut.flip_equivariance) == (1.0, True, False)
    assert (fast.lambda_nce, fast.nce_identity, fast.flip_equivariance) == (10.0, False, True)
    # Five encoder layers, each with its own head, as the reference's layers 0, 4, 8, 12, 16.
    assert len(cut.sides["g"].encoder.outputs) == 5 and len(cut.heads_g.outputs) == 5


def test_cycle_flags_are_refused_for_cut_and_nce_flags_for_the_others():
    with pytest.raises(UserError, match="--lambda-cycle"):
        train_options(parse_train_args(["--model", "cut", "--lambda-cycle", "5"]))
    with pytest.raises(UserError, match="--lambda-nce"):
        train_options(parse_train_args(["--lambda-nce", "5"]))
    with pytest.raises(UserError, match="--generator unet"):
        CUT((16, 16, 1), filters=2, generator="unet")
