"""Cost of one training step per --crop size, measured side by side.

    python bench/crop_cost.py                                  # the cpu preset at 217x181
    python bench/crop_cost.py --crops 217x181 128x128 64x64 -- --model fastcut --filters 16

Every crop size gets its own model (same flags, same seed) and the steps are
taken in rounds, one step of each size per round, so that a busy machine slows
every size alike. Reports the median step time, its ratio to whole slices, and
pixels per second: what a crop buys is more steps per minute, each of which sees
less of a slice.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def crop_size(text: str) -> tuple[int, int]:
    rows, columns = text.lower().split("x")
    return int(rows), int(columns)


def main() -> int:
    # train.py flags pass through: never read one (--seed) as an abbreviation of ours (--seeds).
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--crops", type=crop_size, nargs="+", default=[(217, 181), (160, 160), (128, 128),
                                                                        (96, 96), (64, 64)],
                        metavar="HxW", help="crop sizes; the --image-size itself means whole slices")
    parser.add_argument("--steps", type=int, default=5, help="timed rounds (default: %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args, flags = parser.parse_known_args()
    flags = [f for f in flags if f != "--"] or ["--preset", "cpu", "--image-size", "217", "181"]

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from cyclegan_mri.data.dataset import load_unpaired
    from cyclegan_mri.data.pipeline import unpaired_dataset
    from cyclegan_mri.devices import BF16_CPU_FLAGS, cpu_info, resolve_jit, resolve_precision
    from cyclegan_mri.cli.train import parse_train_args, train_options
    from cyclegan_mri.training.trainer import build_model

    info = cpu_info()
    cpu = f"{info['model']}, {os.cpu_count()} cores, " + (" ".join(sorted(set(info["flags"]) & set(BF16_CPU_FLAGS)))
                                                         or "no bfloat16 flags")
    base = train_options(parse_train_args(flags))
    data = load_unpaired(base.data, base.image_size)
    steps = {}
    for crop in args.crops:
        crop = None if tuple(crop) == tuple(base.image_size) else tuple(crop)
        options = train_options(parse_train_args([*flags, *(["--crop", *map(str, crop)] if crop else [])]))
        keras.utils.set_random_seed(0)
        model = build_model(options, resolve_precision(options.precision), resolve_jit(options.xla))
        spec = tf.TensorSpec((None, None, None, 1), tf.float32)
        step = tf.function(lambda x, y, model=model: model.train_step((x, y)), input_signature=[spec, spec],
                           jit_compile=model.jit_compile is True)
        batches = iter(unpaired_dataset(data.x, data.y, options.batch, seed=0, drop_remainder=True, crop=crop,
                                        epochs=args.steps + 2))
        steps[crop or tuple(base.image_size)] = (step, batches)

    def one(step, batches) -> float:
        x, y = next(batches)
        started = time.perf_counter()
        losses = step(x, y)
        float(next(iter(losses.values())))  # waits for the step to finish
        return time.perf_counter() - started

    for step, batches in steps.values():
        one(step, batches)  # tracing and the first allocations
    times = {size: [] for size in steps}
    for _ in range(args.steps):
        for size, (step, batches) in steps.items():
            times[size].append(one(step, batches))

    whole = statistics.median(times[tuple(base.image_size)]) if tuple(base.image_size) in times else None
    rows = {}
    print(f"{cpu}; flags: {' '.join(flags)}; batch {base.batch}; median of {args.steps} rounds")
    print("| crop | median step (s) | x whole slice | pixels/s |\n| --- | ---: | ---: | ---: |")
    for (height, width), measured in times.items():
        median = statistics.median(measured)
        rows[f"{height}x{width}"] = {"median_step_seconds": median, "step_seconds": measured,
                                     "pixels_per_second": 2 * base.batch * height * width / median}
        ratio = f"{median / whole:.2f}" if whole else "-"
        print(f"| {height}x{width} | {median:.3f} | {ratio} | {rows[f'{height}x{width}']['pixels_per_second']:,.0f} |")
    if args.json:
        command = " ".join(["python bench/crop_cost.py", *map(shlex.quote, sys.argv[1:])])
        Path(args.json).write_text(json.dumps({"command": command, "flags": flags, "cpu": cpu, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
