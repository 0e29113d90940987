"""Training steps on one CPU and under MirroredStrategy over two logical CPUs, from the same weights, of the
2D CycleGAN; and Vox2Vox's generalized Dice loss, whose sums span the whole batch, split over the two replicas.
(The 3D CycleGAN runs the same train step and losses on volumes, whose batches are always full.)

Run as a script by test_distributed.py: logical devices must be configured
before TensorFlow starts, which the test process has long done. Prints JSON.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parent)]

import keras  # noqa: E402
import numpy as np  # noqa: E402

from conftest import weight_difference  # noqa: E402
from cyclegan_mri.record import TrainOptions  # noqa: E402
from cyclegan_mri.training.trainer import build_model  # noqa: E402

SIZE = (24, 20)
NETWORKS = ("generator_g", "generator_f", "discriminator_x", "discriminator_y")
# The contrast generator (per-image, as the tutorial's: nothing mixes the images of a batch) traces in about half the
# time of the tutorial's; the tutorial's discriminator keeps instance normalisation in the step.
MODELS = {"2d": TrainOptions(image_size=SIZE, filters=4, generator="contrast")}


def model_in(strategy, options: TrainOptions):
    with strategy.scope():
        keras.utils.set_random_seed(7)
        return build_model(options, "float32", False)


def train_steps(mirrored: tf.distribute.MirroredStrategy, options: TrainOptions, *shapes: tuple[int, int]) -> dict:
    """Fit both models on one batch of each (domain A count, domain B count) shape and compare the weights."""
    rng = np.random.default_rng(len(shapes))
    image = options.image_shape
    batches = [(rng.uniform(-1, 1, (n_x, *image)).astype(np.float32),
                rng.uniform(-1, 1, (n_y, *image)).astype(np.float32)) for n_x, n_y in shapes]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=(tf.TensorSpec((None, *image)), tf.TensorSpec((None, *image))))
    single, multi = model_in(tf.distribute.get_strategy(), options), model_in(mirrored, options)
    for a, b in zip(single.trainable_weights, multi.trainable_weights):
        b.assign(a)
    logs = {}
    for name, model in (("single", single), ("mirrored", multi)):
        history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        logs[name] = {k: float(v[-1]) for k, v in history.history.items()}
    worst = max(weight_difference(multi, single, network) for network in NETWORKS)
    return {"replicas": mirrored.num_replicas_in_sync, "max_relative_weight_difference": worst, "losses": logs}


def dice_across_replicas(strategy: tf.distribute.MirroredStrategy) -> dict:
    """The generalized Dice loss and its gradient on one device, and summed over two replicas' halves."""
    from cyclegan_mri.models import losses

    rng = np.random.default_rng(1)
    target = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (2, 4, 4, 4))]
    logits = rng.normal(size=(2, 4, 4, 4, 3)).astype(np.float32)
    weights = np.array([0.2, 0.3, 0.5], np.float32)

    def loss_and_gradient(y, z):
        z = tf.convert_to_tensor(z)
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = losses.generalized_dice(y, tf.nn.softmax(z), weights)
        return loss, tape.gradient(loss, z)

    expected, expected_gradient = loss_and_gradient(target, logits)
    halves = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((target, logits)).batch(2))
    parts, gradients = strategy.run(loss_and_gradient, args=next(iter(halves)))
    gradient = np.concatenate([np.asarray(g) for g in strategy.experimental_local_results(gradients)])
    return {"single": float(expected), "replica_sum": sum(float(v) for v in strategy.experimental_local_results(parts)),
            "max_gradient_difference": float(np.abs(gradient - np.asarray(expected_gradient)).max()),
            "max_gradient": float(np.abs(np.asarray(expected_gradient)).max())}


if __name__ == "__main__":
    # Keras builds a distributed model from the cross-replica mean of its first batch, which needs an
    # even split; the tutorial's uneven 3-against-4 step comes last in an epoch, so it does here too.
    # Weights that diverged in the even step would stay apart after the uneven one: one run checks both.
    # One strategy for both: a second one in the same process would reuse the first's collective keys.
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    print(json.dumps({"2d": train_steps(strategy, MODELS["2d"], (4, 4), (3, 4)),
                      "dice": dice_across_replicas(strategy)}))
