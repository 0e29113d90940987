"""Training speed of the tutorial model: the tutorial's own loop against the package's step, side by side.

    python bench/train_speed.py [--json PATH]      # variants at 220x184, batch 4
    python bench/train_speed.py --sweep            # default path over image and batch sizes

Every variant runs in its own process (so peak memory is its own) from the same
initial weights (seed 0) on the same batches of the real data, and is timed
after a warm-up step that includes tracing and compilation. Images per second
counts the T1 and the T2 images of a step: (4 + 4) / median step time. The
CPU's model and feature flags are printed and recorded with the figures and the
command (``--json``): on a CPU, whether bfloat16 pays depends on them
(``cyclegan_mri.devices``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name: (step, precision, xla, what it shows)
VARIANTS = {
    "plain": ("plain", "float32", "off", "the tutorial's loop: 6 generator and 4 discriminator calls, float32"),
    "default": ("package", "auto", "auto", "what train.py does by default on this device"),
    "batched": ("package", "float32", "off", "calls to the same network batched together, float32"),
    "xla": ("plain", "float32", "on", "the tutorial's loop compiled with XLA"),
    "mixed_bfloat16": ("plain", "mixed_bfloat16", "off", "the tutorial's loop in bfloat16 mixed precision"),
    "mixed_float16": ("plain", "mixed_float16", "off", "the tutorial's loop in float16 with loss scaling"),
}
SWEEP_SIZES = [(128, 128), (220, 184), (256, 256), (512, 512)]
SWEEP_BATCHES = [1, 4, 16]


def measure(step_kind: str, precision: str, xla: str, size: tuple[int, int], batch: int, steps: int,
            warmup: int, data: str) -> dict:
    """Time one variant in this process; returns its figures."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from cyclegan_mri.data.dataset import load_unpaired
    from cyclegan_mri.data.pipeline import unpaired_dataset
    from cyclegan_mri.devices import resolve_jit, resolve_precision
    from cyclegan_mri.record import TrainOptions
    from cyclegan_mri.benchmarks.plain_loop import make_plain_step
    from cyclegan_mri.training.trainer import build_model

    gpu = bool(tf.config.list_physical_devices("GPU"))
    precision = resolve_precision(precision)
    jit = resolve_jit(xla)
    keras.utils.set_random_seed(0)
    options = TrainOptions(data=data, image_size=size, batch=batch)
    model = build_model(options, precision, jit if step_kind == "package" else False)
    jit = model.jit_compile if step_kind == "package" else jit is True
    if step_kind == "plain":
        step = make_plain_step(model, jit_compile=jit)
        run = lambda x, y: step(x, y)  # noqa: E731
    else:
        # Traced with an unknown batch size, as fit() traces it (an epoch's last batch may be smaller).
        spec = tf.TensorSpec((None, *size, 1), tf.float32)
        train_step = tf.function(lambda x, y: model.train_step((x, y)), input_signature=[spec, spec],
                                 jit_compile=jit)
        run = lambda x, y: train_step(x, y)  # noqa: E731

    train = load_unpaired(data, size)
    batches = list(unpaired_dataset(train.x, train.y, batch, seed=0, drop_remainder=True, epochs=warmup + steps)
                   .take(warmup + steps))
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
    times = []
    for i, (x, y) in enumerate(batches):
        started = time.perf_counter()
        losses = run(x, y)
        float(losses["gen_t1_to_t2_loss"])  # waits for the step to finish
        if i >= warmup:
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    if gpu:
        peak_mb = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"images_per_second": 2 * batch / median, "median_step_seconds": median,
            "step_seconds": times, "peak_memory_mb": peak_mb, "precision": precision, "xla": bool(jit),
            "device": "GPU" if gpu else "CPU"}


def run_worker(args: argparse.Namespace, step_kind: str, precision: str, xla: str, size, batch: int) -> dict:
    """Measure one configuration in a fresh process."""
    command = [sys.executable, __file__, "--worker", step_kind, precision, xla, "--data", args.data,
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--size", *map(str, size),
               "--batch", str(batch)]
    result = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": "out of memory" if "ResourceExhausted" in result.stderr or "OOM" in result.stderr
                else tail[:200]}
    return json.loads(lines[-1])


def fill_defaults(args: argparse.Namespace) -> None:
    import shutil

    gpu = shutil.which("nvidia-smi") is not None
    if args.variants is None:
        args.variants = [v for v in VARIANTS if gpu or v != "mixed_float16"]
    if args.steps is None:
        args.steps = 20 if gpu else 3
    if args.warmup is None:
        args.warmup = 3 if gpu else 1


def table(rows: dict, baseline: str | None) -> str:
    base = rows.get(baseline, {}).get("images_per_second") if baseline else None
    lines = ["| variant | images/s | median step (s) | x plain | peak memory (MiB) | precision | XLA |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"| {name} | {r['error']} | | | | | |")
            continue
        ratio = f"{r['images_per_second'] / base:.2f}" if base else "-"
        lines.append(f"| {name} | {r['images_per_second']:.3f} | {r['median_step_seconds']:.3f} | {ratio} | "
                     f"{r['peak_memory_mb']:.0f} | {r['precision']} | {'on' if r['xla'] else 'off'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("CYCLEGAN_MRI_ARCHIVE", "datasets/MRI+T1_T2+Dataset.RAR"),
                        help="the dataset archive or folder (default: $CYCLEGAN_MRI_ARCHIVE or datasets/)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        help="which variants to time (default: all; on a CPU all but mixed_float16, which "
                             "TensorFlow emulates there at about 100x the float32 time)")
    parser.add_argument("--size", type=int, nargs=2, default=[220, 184], metavar=("H", "W"))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, help="timed steps per variant (default: 3 on CPU, 20 on GPU)")
    parser.add_argument("--warmup", type=int, help="untimed steps first (default: 1 on CPU, 3 on GPU)")
    parser.add_argument("--sweep", action="store_true", help="time the default path over image and batch sizes")
    parser.add_argument("--budget", type=float, default=540.0,
                        help="seconds the sweep may take; configurations past it are reported as skipped")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--worker", nargs=3, metavar=("STEP", "PRECISION", "XLA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    fill_defaults(args)
    from cyclegan_mri.cli.common import quiet_tensorflow

    quiet_tensorflow()  # for this process and the workers it starts

    if args.worker:
        print(json.dumps(measure(*args.worker, tuple(args.size), args.batch, args.steps, args.warmup, args.data)))
        return 0

    from cyclegan_mri.devices import BF16_CPU_FLAGS, cpu_info, onednn_bf16_enabled

    cpu = {**cpu_info(), "cores": os.cpu_count(), "onednn_bf16": onednn_bf16_enabled(),
           "environment": {k: os.environ[k] for k in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA",
                                                       "OMP_NUM_THREADS") if k in os.environ}}
    units = [flag for flag in BF16_CPU_FLAGS if flag in cpu["flags"]] or ["no bfloat16 units"]
    print(f"CPU: {cpu['model']}, {cpu['cores']} cores, {', '.join(units)}, "
          f"oneDNN bfloat16 {'on' if cpu['onednn_bf16'] else 'off'}")
    started = time.perf_counter()
    if args.sweep:
        rows = {}
        configs = sorted(((s, b) for s in SWEEP_SIZES for b in SWEEP_BATCHES), key=lambda c: c[0][0] * c[0][1] * c[1])
        for size, batch in configs:
            name = f"{size[0]}x{size[1]} batch {batch}"
            if time.perf_counter() - started > args.budget:
                rows[name] = {"error": "skipped (time budget)"}
            else:
                rows[name] = run_worker(args, "package", "auto", "auto", size, batch)
            print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
        print(table(rows, None))
        result = {"sweep": rows, "cpu": cpu}
    else:
        rows = {}
        for name in args.variants:
            step_kind, precision, xla, _ = VARIANTS[name]
            rows[name] = run_worker(args, step_kind, precision, xla, tuple(args.size), args.batch)
            print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
        print(f"tutorial model at {args.size[0]}x{args.size[1]}, batch {args.batch}, "
              f"median of {args.steps} steps after {args.warmup} warm-up")
        print(table(rows, "plain" if "plain" in rows else None))
        result = {"variants": rows, "size": args.size, "batch": args.batch, "steps": args.steps, "cpu": cpu}
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.json:
        command = " ".join(["python bench/train_speed.py", *map(shlex.quote, sys.argv[1:])])
        result = {"command": command, **result}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
