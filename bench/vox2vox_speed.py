"""What a Vox2Vox training step costs at the official size: 128^3 patches of 4 contrasts, batch 4, 64 filters.

    python bench/vox2vox_speed.py                                 # float32 and mixed_bfloat16, XLA off and on
    python bench/vox2vox_speed.py --patch 64 64 64 --filters 16 --precisions float32 --xla off

Each (precision, XLA) setting runs in a process of its own: the model is built
through the trainer (``build_model``), two warm-up steps are taken (tracing
and compilation), then ``--steps`` timed steps on random inputs and one-hot
labels (the cost does not depend on the values). Reports seconds per step,
patches per second and, on a GPU, the peak GPU memory; writes
``reports/vox2vox_speed.json`` (with the command).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(patch: list[int], filters: int, batch: int, precision: str, xla: bool, steps: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    from cyclegan_mri.record import TrainOptions
    from cyclegan_mri.training.trainer import build_model

    options = TrainOptions(model="vox2vox", patch=tuple(patch), filters=filters, batch=batch, channels=4,
                           classes=(0, 1, 2, 4), class_weights=(0.001, 0.5, 0.2, 0.299), generator="vox2vox",
                           discriminator="vox2vox", gan_loss="lsgan")
    model = build_model(options, precision, jit_compile=xla)
    rng = np.random.default_rng(0)
    image = tf.constant(rng.normal(size=(batch, *patch, 4)).astype(np.float32))
    labels = tf.one_hot(rng.integers(0, 4, (batch, *patch)), 4, dtype=tf.float32)
    step = model.make_train_function()
    data = iter(tf.data.Dataset.from_tensors((image, labels)).repeat())
    for _ in range(2):
        logs = step(data)
    float(logs["gen_loss"])
    started = time.perf_counter()
    for _ in range(steps):
        logs = step(data)
    float(logs["gen_loss"])  # waits for the device
    seconds = (time.perf_counter() - started) / steps
    gpu = tf.config.list_physical_devices("GPU")
    memory = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30 if gpu else None
    return {"precision": precision, "xla": xla, "seconds_per_step": round(seconds, 4),
            "patches_per_second": round(batch / seconds, 2),
            "peak_gpu_gib": None if memory is None else round(memory, 2),
            "device": tf.config.experimental.get_device_details(gpu[0]).get("device_name") if gpu else "CPU"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patch", type=int, nargs=3, default=[128, 128, 128])
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--xla", nargs="+", choices=("off", "on"), default=["off", "on"])
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "vox2vox_speed.json")
    parser.add_argument("--one", nargs=2, metavar=("PRECISION", "XLA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.patch, args.filters, args.batch, args.one[0], args.one[1] == "on", args.steps)))
        return 0
    results = []
    for precision in args.precisions:
        for xla in args.xla:
            command = [sys.executable, __file__, "--patch", *map(str, args.patch), "--filters", str(args.filters),
                       "--batch", str(args.batch), "--steps", str(args.steps), "--one", precision, xla]
            done = subprocess.run(command, capture_output=True, text=True)
            result = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                      {"precision": precision, "xla": xla == "on", "error": done.stderr.strip().splitlines()[-1][:300]})
            print(result, flush=True)
            results.append(result)
    command = " ".join(["python bench/vox2vox_speed.py", *map(shlex.quote, sys.argv[1:])])
    report = {"command": command, "patch": args.patch, "filters": args.filters, "batch": args.batch,
              "steps": args.steps, "results": results}
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
