"""Seconds per iVAN training step on this machine, for the paper's settings and the CPU preset's, side by side.

    python bench/ivan_speed.py [--steps 5] [--repeats 3]

Each configuration's compiled train step is timed on random data in turns (A, B, C, A, B, C, ...) so that
load on a shared machine affects them alike; prints the median seconds per step and per 34-pair epoch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cyclegan_mri.models.ivan import IVAN  # noqa: E402

# name: (growth, blocks, (rows, cols), batch)
CONFIGS = {
    "paper (growth 32, 8 blocks, 217x181, batch 1)": (32, 8, (217, 181), 1),
    "--preset cpu (growth 16, 4 blocks, 96x96 crops, batch 1)": (16, 4, (96, 96), 1),
    "the preset at batch 4": (16, 4, (96, 96), 4),
    "the preset on 64x64 crops": (16, 4, (64, 64), 1),
}
PAIRS = 34


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    steps = {}
    for name, (growth, blocks, size, batch) in CONFIGS.items():
        model = IVAN((*size, 1), blocks=blocks, growth=growth)
        model.compile()
        model.build_optimizers()
        data = tf.random.uniform((batch, *size, 1), -1, 1), tf.random.uniform((batch, *size, 1), -1, 1)
        step = tf.function(model.train_step)
        step(data)  # trace
        steps[name] = (step, data, batch)
    times = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, (step, data, _) in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                logs = step(data)
            float(logs["loss"])
            times[name].append((time.perf_counter() - start) / args.steps)
    print(f"{'configuration':<50} {'s/step':>8} {'s/epoch':>8}")
    for name, values in times.items():
        per_step = float(np.median(values))
        batch = steps[name][2]
        print(f"{name:<50} {per_step:>8.2f} {per_step * -(-PAIRS // batch):>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
