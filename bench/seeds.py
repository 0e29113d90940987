"""The quality protocol over several seeds, for one or more variants: mean and range of each score.

    python bench/seeds.py --seeds 0 1 2 --variant float32="--precision float32" \
        --variant bfloat16="--precision mixed_bfloat16" -- --preset cpu --epochs 40

Every variant trains once per seed with ``--holdout --seed S`` and the flags
after ``--`` plus its own, and is scored on the 9 held-out pairs as
``bench/quality.py`` does. One seed is an anecdote: the report gives each
score's mean and its range over the seeds, and says for each variant after the
first whether its mean lies within the first variant's seed-to-seed range.
Writes ``reports/seeds.md`` and ``reports/seeds.json`` (``--name`` changes
``seeds``). Running it again resumes each run and skips finished ones.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.quality import summary, train_and_score, trained_so_far  # noqa: E402
from cyclegan_mri.domains import TUTORIAL  # noqa: E402
from cyclegan_mri.rundir import RunDir, write_atomic  # noqa: E402

METRICS = ("psnr", "ssim")

TITLES = TUTORIAL.titles


def variant(text: str) -> tuple[str, list[str]]:
    name, _, flags = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=FLAGS, for example bf16='--precision mixed_bfloat16'")
    return name, shlex.split(flags)


def report(results: dict, seeds: list[int], command: str) -> str:
    names = list(results)
    lines = [f"# The quality protocol over seeds {', '.join(map(str, seeds))}", "",
             f"Command: `{command}`. Each run trains with `--holdout --seed S` and is scored on the 9 held-out "
             "test pairs; PSNR (dB) / SSIM as mean [min, max] over the seeds.", "",
             "| variant | epochs | minutes per run | " + " | ".join(
                 f"{TITLES[d]} {m.upper()}" for d in TITLES for m in METRICS) + " |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in TITLES for _ in METRICS) + " |"]
    for name in names:
        r = results[name]
        cells = [f"{r[d][m]['mean']:.3f} [{r[d][m]['min']:.3f}, {r[d][m]['max']:.3f}]" if m == "ssim" else
                 f"{r[d][m]['mean']:.2f} [{r[d][m]['min']:.2f}, {r[d][m]['max']:.2f}]" for d in TITLES for m in METRICS]
        lines.append(f"| {name} | {r['epochs']} | {r['minutes']['mean']:.1f} | " + " | ".join(cells) + " |")
    if len(names) > 1:
        base = results[names[0]]
        lines += ["", f"Within the seed-to-seed range of `{names[0]}`:", ""]
        for name in names[1:]:
            verdicts = [f"{TITLES[d]} {m.upper()} {'yes' if base[d][m]['min'] <= results[name][d][m]['mean'] <= base[d][m]['max'] else 'no'}"
                        for d in TITLES for m in METRICS]
            lines.append(f"- `{name}`: " + ", ".join(verdicts))
    lines += ["", "Per seed (PSNR / SSIM):", "", "| variant | seed | " + " | ".join(TITLES.values()) + " |",
              "| --- | ---: | " + " | ".join("---:" for _ in TITLES) + " |"]
    for name in names:
        for i, seed in enumerate(seeds):
            cells = [f"{results[name][d]['psnr']['values'][i]:.2f} / {results[name][d]['ssim']['values'][i]:.3f}"
                     for d in TITLES]
            lines.append(f"| {name} | {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    # train.py flags pass through: never read one (--seed) as an abbreviation of ours (--seeds).
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="the seeds (default: 0 1 2)")
    parser.add_argument("--variant", type=variant, action="append", metavar="NAME=FLAGS",
                        help="a variant: its name and the train.py flags it adds (default: one variant, 'run')")
    parser.add_argument("--minutes", type=float, default=math.inf,
                        help="training time budget of each run (default: none; --epochs ends training)")
    parser.add_argument("--out", default="output/seeds", help="where the runs go (default: %(default)s)")
    parser.add_argument("--reports", default=str(ROOT / "reports"), help="where the report goes")
    parser.add_argument("--name", default="seeds", help="the report's file name, without extension")
    args, train_flags = parser.parse_known_args()
    train_flags = [flag for flag in train_flags if flag != "--"]
    variants = dict(args.variant or [("run", [])])

    results = {}
    for name, flags in variants.items():
        scores = {d: {m: [] for m in METRICS} for d in TITLES}
        epochs, minutes = set(), []
        for seed in args.seeds:
            out = Path(args.out) / f"{name}-seed{seed}"
            _, _, run_scores = train_and_score([*train_flags, *flags, "--seed", str(seed), "--out", str(out)],
                                               args.minutes)
            done, spent = trained_so_far(RunDir.at(out))
            epochs.add(done)
            minutes.append(spent)
            for d in TITLES:
                for m in METRICS:
                    scores[d][m].append(run_scores[d][m])
            print(f"{name} seed {seed}: " + ", ".join(
                f"{TITLES[d]} {run_scores[d]['psnr']:.2f} dB / {run_scores[d]['ssim']:.3f}" for d in TITLES),
                flush=True)
        results[name] = {"flags": flags, "epochs": "/".join(map(str, sorted(epochs))),
                         "minutes": summary(minutes),
                         **{d: {m: summary(scores[d][m]) for m in METRICS} for d in TITLES}}

    command = " ".join(["python bench/seeds.py", *map(shlex.quote, sys.argv[1:])])
    reports = Path(args.reports)
    write_atomic(reports / f"{args.name}.json",
                 json.dumps({"seeds": args.seeds, "train_flags": train_flags, "results": results}, indent=2) + "\n")
    write_atomic(reports / f"{args.name}.md", report(results, args.seeds, command))
    print((reports / f"{args.name}.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
