"""One training step on one CPU and under MirroredStrategy over two logical CPUs, from the same weights.

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
from cyclegan_mri.options import TrainOptions  # noqa: E402
from cyclegan_mri.training.trainer import build_model  # noqa: E402

SIZE = (24, 20)
NETWORKS = ("generator_g", "generator_f", "discriminator_x", "discriminator_y")


def model_in(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(7)
        return build_model(TrainOptions(image_size=SIZE, filters=4), "float32", False)


def train_steps(*shapes: tuple[int, int]) -> dict:
    """Fit both models on one batch of each (T1 count, T2 count) shape and compare the weights."""
    rng = np.random.default_rng(len(shapes))
    batches = [(rng.uniform(-1, 1, (n_x, *SIZE, 1)).astype(np.float32),
                rng.uniform(-1, 1, (n_y, *SIZE, 1)).astype(np.float32)) for n_x, n_y in shapes]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=(tf.TensorSpec((None, *SIZE, 1)), tf.TensorSpec((None, *SIZE, 1))))
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single, multi = model_in(tf.distribute.get_strategy()), model_in(mirrored)
    for a, b in zip(single.trainable_weights, multi.trainable_weights):
        b.assign(a)
    logs = {}
    for name, model in (("single", single), ("mirrored", multi)):
        history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        logs[name] = {k: float(v[-1]) for k, v in history.history.items()}
    worst = max(weight_difference(multi, single, network) for network in NETWORKS)
    return {"replicas": mirrored.num_replicas_in_sync, "max_relative_weight_difference": worst, "losses": logs}


if __name__ == "__main__":
    # Keras builds a distributed model from the cross-replica mean of its first batch, which needs an
    # even split; the tutorial's uneven 3-against-4 step comes last in an epoch, so it does here too.
    # Weights that diverged in the even step would stay apart after the uneven one: one run checks both.
    print(json.dumps(train_steps((4, 4), (3, 4))))
