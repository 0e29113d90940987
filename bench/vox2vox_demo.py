"""The README's Vox2Vox demonstration: synthetic BraTS cases, a CPU-sized run per seed, Dice and HD95 on held-out cases.

    python bench/vox2vox_demo.py                       # 20 cases (16 train, 4 held out), seeds 1 2 3, --preset cpu
    python bench/vox2vox_demo.py --seeds 1 --epochs 50 --out /tmp/demo

For each seed, in its own process and one after another: ``train.py --model
vox2vox --preset cpu --holdout-cases 4 --seed S`` on the same phantom cases
(written once by ``python -m cyclegan_mri.phantoms brats``), then
``evaluate.py``. Every seed holds out the same 4 cases (the held-out draw does
not depend on the seed). Writes ``reports/vox2vox_demo.json`` (the command; per
seed: wall time of training, mean Dice and HD95 per region; over seeds: mean and range)
and ``reports/vox2vox_demo.png`` (one axial slice of a held-out case through its
tumour: the four contrasts, the truth and the first seed's prediction, captioned
as a synthetic phantom).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - started


def figure(run_dir: Path, data: Path, path: Path) -> None:
    """Contrasts, truth and prediction on the axial slice through the first held-out case's tumour."""
    import numpy as np

    from cyclegan_mri.data.brats import find_cases
    from cyclegan_mri.models.vox2vox import label_colours
    from cyclegan_mri.rundir import RunDir
    from cyclegan_mri.segmentation.inference import load_segmenter
    from cyclegan_mri.visualize import save_sample_grid

    segmenter = load_segmenter(RunDir.at(run_dir))
    case = next(c for c in find_cases(data) if c.name == segmenter.options.held_out[0])
    predicted, volumes = segmenter.segment(case, labels=True)
    z = int(np.argwhere(volumes.classes > 0)[:, 2].mean().round())
    background = np.all(volumes.image[:, :, z] == 0, axis=-1)
    panels = [(name.upper(), np.rot90(np.where(background, -1, np.clip(volumes.image[:, :, z, c] / 3, -1, 1))))
              for c, name in enumerate(segmenter.options.contrasts)]
    panels += [("Truth", label_colours(np.rot90(volumes.classes[:, :, z]))),
               ("Predicted", label_colours(np.rot90(predicted[:, :, z])))]
    # The cases are phantoms: the caption says so, so the figure is never read as a real patient's.
    save_sample_grid(path, panels, title=f"synthetic phantom {case.name} (held out), axial slice {z}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--cases", type=int, default=20, help="synthetic cases written (default: %(default)s)")
    parser.add_argument("--holdout", type=int, default=4, help="of them held out (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the cpu preset's")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_runs" / "vox2vox_demo")
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "vox2vox_demo.json")
    args = parser.parse_args()

    data = args.out / "data"
    if not data.is_dir():
        run(["-m", "cyclegan_mri.data.phantoms", "brats", str(data), "--cases", str(args.cases)])
    runs = []
    for seed in args.seeds:
        out = args.out / f"seed{seed}"
        shown = lambda path: str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)  # noqa: E731
        flags = ["--model", "vox2vox", "--data", shown(data), "--out", shown(out), "--preset", "cpu",
                 "--holdout-cases", str(args.holdout), "--seed", str(seed), "--verbose", "0"]
        if args.epochs:
            flags += ["--epochs", str(args.epochs)]
        seconds = run(["train.py", *flags])
        run(["evaluate.py", "--out", str(out), "--quiet", "--no-translations"])
        scores = json.loads((out / "evaluation.json").read_text())["segmentation"]
        runs.append({"seed": seed, "train_seconds": round(seconds, 1), "mean": scores["mean"],
                     "cases": [row["name"] for row in scores["per_case"]], "command": "python train.py " + " ".join(
                         flags) + f" && python evaluate.py --out {shown(out)}"})
        print(f"seed {seed}: {seconds / 60:.1f} min, " + ", ".join(
            f"{region} Dice {100 * s['dice']:.1f} HD95 {s['hd95']:.2f}" for region, s in scores["mean"].items()))
    summary = {}
    for region in runs[0]["mean"]:
        for metric in ("dice", "hd95"):
            values = [r["mean"][region][metric] for r in runs]
            summary.setdefault(region, {})[metric] = {"mean": sum(values) / len(values), "min": min(values),
                                                      "max": max(values)}
    command = " ".join(["python bench/vox2vox_demo.py", *map(shlex.quote, sys.argv[1:])])
    report = {"command": command, "cpu": cpu_model(), "cores": os.cpu_count(), "cases": args.cases,
              "held_out": args.holdout, "runs": runs, "over_seeds": summary}
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    figure(args.out / f"seed{args.seeds[0]}", data, args.report.with_suffix(".png"))
    print(f"wrote {args.report} and {args.report.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
