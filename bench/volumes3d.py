"""What the 3D CycleGAN costs: training patches per second and peak memory per patch size, and the time of a
whole-volume sliding-window translation.

    python bench/volumes3d.py                                   # 32^3, 64^3, 128x128x64 at the default filters
    python bench/volumes3d.py --patches 32x32x32 --filters 8 --generator resnet6_3d --volume 240x240x155

Each patch size runs in a process of its own, so that its peak memory (the
process's maximum resident set, which on a GPU says nothing about GPU memory)
is its own: the model is built, one warm-up step is taken, then ``--steps``
timed steps at batch 1 on random patches of phantom volumes. A size that does
not finish within ``--timeout`` seconds, or runs out of memory, is reported so.
The sliding-window figure translates one phantom volume of ``--volume`` voxels
with the model of the first patch size (random weights: the cost does not
depend on them), at overlap 0.5. ``--json PATH`` writes the figures with this
command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def triple(text: str) -> tuple[int, int, int]:
    values = tuple(int(v) for v in text.lower().split("x"))
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text}: expected DxHxW")
    return values


def measure(patch: tuple[int, int, int], filters: int, generator: str, steps: int, volume: tuple | None) -> dict:
    """The figures of one patch size, measured in this process (``steps`` 0: the translation alone)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from cyclegan_mri.data.volume_data import Volume, patch_dataset
    from cyclegan_mri.data.intensity import Scaling
    from cyclegan_mri.devices import resolve_precision
    from cyclegan_mri.record import TrainOptions
    from cyclegan_mri.data.phantoms import head_phantom
    from cyclegan_mri.training.trainer import build_model

    options = TrainOptions(model="cyclegan3d", patch=patch, filters=filters, generator=generator,
                           discriminator="patchgan3d", gan_loss="lsgan", pool_size=50, batch=1)
    precision = resolve_precision("auto")
    model = build_model(options, precision, jit_compile=False)
    shape = tuple(max(p + 8, 48) for p in patch)
    volumes = [Volume(f"v{i}", head_phantom(shape, seed=i) * 2 - 1, np.eye(4), Scaling(0, 1)) for i in range(2)]
    batches = iter(patch_dataset(volumes[:1], volumes[1:], patch, 1, seed=0, epochs=steps + 1,
                                 patches_per_epoch=1))
    import tensorflow as tf

    spec = tf.TensorSpec((None, *patch, 1), tf.float32)
    result = {"patch": "x".join(map(str, patch)), "filters": filters, "generator": generator, "precision": precision,
              "generator_parameters": model.generator_g.count_params()}
    if steps:
        step = tf.function(lambda x, y: model.train_step((x, y)), input_signature=[spec, spec])
        float(step(*next(batches))[model.loss_names["gen_g"]])  # traces the step
        started = time.perf_counter()
        for _ in range(steps):
            float(step(*next(batches))[model.loss_names["gen_g"]])  # float() waits for the step to finish
        seconds = (time.perf_counter() - started) / steps
        result.update(seconds_per_step=round(seconds, 3), patches_per_second=round(1 / seconds, 4))
    if volume is not None:
        from cyclegan_mri.volumetric.inference import predict_volume

        data = head_phantom(volume, seed=9) * 2 - 1
        started = time.perf_counter()
        predict_volume(model.generator_g, data, overlap=0.5)
        result["volume"] = "x".join(map(str, volume))
        result["volume_seconds"] = round(time.perf_counter() - started, 1)
    result["peak_memory_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches", type=triple, nargs="+", default=[(32, 32, 32), (64, 64, 64), (128, 128, 64)],
                        metavar="DxHxW", help="patch sizes (default: 32x32x32 64x64x64 128x128x64)")
    parser.add_argument("--filters", type=int, default=64, help="first-layer width (default: %(default)s)")
    parser.add_argument("--generator", default="resnet9_3d", help="3D generator (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=3,
                        help="timed steps per size; 0 times the translation alone (default: %(default)s)")
    parser.add_argument("--volume", type=triple, default=None, metavar="DxHxW",
                        help="also time a sliding-window translation of a volume this size with the first patch "
                             "size's model (e.g. 240x240x155)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per size (default: %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--one", metavar="JSON", help=argparse.SUPPRESS)  # a child process's job
    args = parser.parse_args()
    if args.one:
        job = json.loads(args.one)
        print(json.dumps(measure(tuple(job["patch"]), job["filters"], job["generator"], job["steps"],
                                 tuple(job["volume"]) if job["volume"] else None)))
        return 0

    from cyclegan_mri.devices import cpu_info

    info = cpu_info()
    print(f"{info['model']}, {os.cpu_count()} cores")
    rows = []
    for i, patch in enumerate(args.patches):
        job = {"patch": patch, "filters": args.filters, "generator": args.generator, "steps": args.steps,
               "volume": args.volume if i == 0 else None}
        label = "x".join(map(str, patch))
        try:
            done = subprocess.run([sys.executable, __file__, "--one", json.dumps(job)], capture_output=True,
                                  text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            rows.append({"patch": label, "filters": args.filters, "error": f"over {args.timeout:g} s"})
        else:
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode == 0 and lines:
                rows.append(json.loads(lines[-1]))
            else:
                reason = "out of memory" if done.returncode in (-9, 137) or "ResourceExhausted" in done.stderr \
                    else (done.stderr.strip().splitlines() or ["failed"])[-1][:200]
                rows.append({"patch": label, "filters": args.filters, "error": reason})
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        command = " ".join(["python bench/volumes3d.py", *map(shlex.quote, sys.argv[1:])])
        Path(args.json).write_text(json.dumps({"command": command, "cpu": info["model"], "rows": rows}, indent=2)
                                   + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
