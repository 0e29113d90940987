"""iVAN on the 9 held-out pairs: synthesis in both directions against the baselines, and fusion against the
classical fusions, over seeds.

    python bench/ivan_quality.py [--seeds 0 1] [--fusion-seeds 0 1] [--minutes 30] [--fusion-minutes 10]
                                 [--fusion-epochs N] [--task both] [train.py flags]

Each seed trains a synthesis run (``OUT-seedS``, ``IVAN_FLAGS`` of ``cyclegan_mri.benchmarks.quality``:
``--preset cpu``) within ``--minutes`` and a fusion run (``OUT-fusion-seedS``, the same flags and ``--task
fusion``) within ``--fusion-minutes``, both with ``--holdout``; training ends at the first epoch end past the
budget, and a run that has spent its budget is only scored again. So seeds can train in parallel processes
(one core each: ``taskset -c 0 python bench/ivan_quality.py --seeds 0 --no-report &`` ...), and a last run
over all seeds writes ``reports/ivan.json`` and ``reports/ivan.md``: each score's mean [min, max] over the
seeds, with this command and each run's ``train.py`` flags as it ran them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cyclegan_mri.benchmarks.quality import TITLES, ivan_fusion_scores, ivan_scores, summary  # noqa: E402
from cyclegan_mri.cli.train import parse_train_args, train_options  # noqa: E402
from cyclegan_mri.fusion.metrics import FUSION_METRICS  # noqa: E402
from cyclegan_mri.record import TrainOptions  # noqa: E402
from cyclegan_mri.rundir import write_atomic  # noqa: E402
from cyclegan_mri.translation.evaluation import baseline_scores, dataset_source  # noqa: E402

METRICS = ("psnr", "ssim", "nmse")


def cell(summary: dict, digits: int) -> str:
    if len(summary["values"]) == 1:
        return f"{summary['mean']:.{digits}f}"
    return f"{summary['mean']:.{digits}f} [{summary['min']:.{digits}f}, {summary['max']:.{digits}f}]"


def report(synthesis: dict, fusion: dict, baselines: dict, seeds: list[int], command: str) -> str:
    lines = ["# iVAN on the 9 held-out pairs", "", f"Command: `{command}`. Mean [min, max] over the seeds "
             f"({', '.join(map(str, seeds))} for synthesis); scores on the 0-255 scale at 181x217.", ""]
    if synthesis:
        first = next(iter(synthesis.values()))
        lines += ["## Synthesis", "", f"Each seed trained one network (`train.py {' '.join(first['flags'])}`), "
                  "scored forward (T1 -> T2) and by its inverse (T2 -> T1).", "",
                  "| direction | method | PSNR (dB) | SSIM | NMSE | epochs | minutes |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for direction in ("t1_to_t2", "t2_to_t1"):
            s = synthesis[direction]
            lines.append(f"| {TITLES[direction]} | iVAN | {cell(s['psnr'], 2)} | {cell(s['ssim'], 3)} | "
                         f"{cell(s['nmse'], 4)} | {cell(s['epochs'], 0)} | {cell(s['minutes'], 1)} |")
            for name, b in baselines[direction].items():
                lines.append(f"| {TITLES[direction]} | {name} | {b['psnr']:.2f} | {b['ssim']:.3f} | "
                             f"{b['nmse']:.4f} | - | - |")
        lines += [""]
    if fusion:
        lines += ["## Fusion", "", f"Trained towards the {fusion['reference']} fusion of each training pair "
                  f"(`train.py {' '.join(fusion['flags'])}`); {cell(fusion['epochs'], 0)} epochs in "
                  f"{cell(fusion['minutes'], 1)} minutes, over seeds {', '.join(fusion['seeds'])}.", "",
                  "| method | " + " | ".join(FUSION_METRICS) + " |", "| --- |" + " ---: |" * len(FUSION_METRICS)]
        lines.append("| iVAN | " + " | ".join(cell(fusion[m], 3) for m in FUSION_METRICS) + " |")
        for name, b in fusion["baselines"].items():
            lines.append(f"| {name} | " + " | ".join(f"{b[m]:.3f}" for m in FUSION_METRICS) + " |")
        lines += ["", "Decomposition of the 8-bit fused slice alone back into both sources:", "",
                  "| source | PSNR (dB) | SSIM |", "| --- | ---: | ---: |"]
        for source in fusion["sources"]:
            lines.append(f"| {source} | {cell(fusion['decomposition'][f'decomposition_psnr_{source}'], 2)} | "
                         f"{cell(fusion['decomposition'][f'decomposition_ssim_{source}'], 3)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--out", default="bench_runs/ivan", help="run directories' prefix (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget of each synthesis run")
    parser.add_argument("--fusion-minutes", type=float, default=10.0, help="training budget of each fusion run")
    parser.add_argument("--fusion-seeds", type=int, nargs="+", default=None,
                        help="the seeds of the fusion runs (default: --seeds)")
    parser.add_argument("--fusion-epochs", type=int, default=None,
                        help="train each fusion run to this many epochs (the budget permitting) rather than the "
                             "preset's")
    parser.add_argument("--task", choices=("both", "synthesis", "fusion"), default="both")
    parser.add_argument("--no-report", action="store_true", help="train and score only (seeds in parallel)")
    parser.add_argument("--reports", default=str(ROOT / "reports"))
    args, extra = parser.parse_known_args()

    data = TrainOptions.data if "--data" not in extra else extra[extra.index("--data") + 1]
    source = dataset_source(data)
    synthesis_runs, fusion_runs = {}, {}
    fusion_extra = [*extra, *(["--epochs", str(args.fusion_epochs)] if args.fusion_epochs else [])]
    if args.task in ("both", "synthesis"):
        for seed in args.seeds:
            synthesis_runs[seed] = ivan_scores(f"{args.out}-seed{seed}", data, args.minutes, source, extra, seed)
    if args.task in ("both", "fusion"):
        for seed in args.fusion_seeds or args.seeds:
            fusion_runs[seed] = ivan_fusion_scores(f"{args.out}-fusion-seed{seed}", data, args.fusion_minutes,
                                                   source, fusion_extra, seed)
    if args.no_report:
        return 0
    baselines = baseline_scores(source)
    synthesis = {direction: {key: summary([r[direction][key] for r in synthesis_runs.values()])
                             for key in (*METRICS, "epochs", "minutes")} | {"flags": next(iter(
                                 synthesis_runs.values()))[direction]["flags"]}
                 for direction in ("t1_to_t2", "t2_to_t1")} if synthesis_runs else {}
    fusion = {}
    if fusion_runs:
        runs = list(fusion_runs.values())
        fusion = {key: summary([r[key] for r in runs]) for key in (*FUSION_METRICS, "epochs", "minutes")}
        fusion["decomposition"] = {key: summary([r["decomposition"][key] for r in runs])
                                   for key in runs[0]["decomposition"]}
        fusion.update(baselines=runs[0]["baselines"], sources=runs[0]["sources"], flags=runs[0]["flags"],
                      seeds=[str(seed) for seed in fusion_runs],
                      reference=train_options(parse_train_args(runs[0]["flags"])).fusion_reference)
    command = " ".join(["python bench/ivan_quality.py", *map(shlex.quote, sys.argv[1:])])
    results = {"command": command, "seeds": args.seeds, "synthesis": synthesis, "fusion": fusion,
               "baselines": baselines,
               "per_seed": {"synthesis": {str(k): v for k, v in synthesis_runs.items()},
                            "fusion": {str(k): v for k, v in fusion_runs.items()}}}
    reports = Path(args.reports)
    write_atomic(reports / "ivan.json", json.dumps(results, indent=2, allow_nan=True) + "\n")
    markdown = report(synthesis, fusion, baselines, args.seeds, command)
    write_atomic(reports / "ivan.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
