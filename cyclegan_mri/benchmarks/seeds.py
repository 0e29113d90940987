"""The quality protocol over several seeds, for one or more variants: each score's mean and range.

What ``bench/seeds.py`` runs: every variant (a name and the ``train.py`` flags it adds) trains once per seed
with ``--holdout --seed S`` and is scored on the 9 held-out pairs (``quality.train_and_score``); ``report``
writes the table of means [min, max] and says for each variant after the first whether its mean lies within
the first variant's seed-to-seed range. ``build_parser`` and ``main`` are ``bench/seeds.py``'s command line.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from cyclegan_mri.benchmarks.quality import summary, train_and_score, trained_so_far
from cyclegan_mri.domains import TUTORIAL
from cyclegan_mri.rundir import RunDir, write_atomic

METRICS = ("psnr", "ssim")

TITLES = TUTORIAL.titles


def variant(text: str) -> tuple[str, list[str]]:
    """``NAME=FLAGS`` as the variant's name and its ``train.py`` flags (an ``argparse`` type)."""
    name, _, flags = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=FLAGS, for example bf16='--precision mixed_bfloat16'")
    return name, shlex.split(flags)


def report(results: dict, seeds: Sequence[int], command: str) -> str:
    """The markdown report of ``run_variants``' results: each variant's means [min, max] over ``seeds``,
    whether each later variant's mean lies within the first's range, and every seed's scores."""
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


def run_variants(variants: dict[str, list[str]], seeds: Sequence[int], train_flags: Sequence[str],
                 minutes: float, out: str | Path) -> dict:
    """Train and score every variant once per seed (runs in ``out/NAME-seedS``, resumed where they exist):
    per variant its flags, epochs, and the ``summary`` over the seeds of its minutes and of each score."""
    results = {}
    for name, flags in variants.items():
        scores = {d: {m: [] for m in METRICS} for d in TITLES}
        epochs, spent_minutes = set(), []
        for seed in seeds:
            run_out = Path(out) / f"{name}-seed{seed}"
            _, _, run_scores = train_and_score([*train_flags, *flags, "--seed", str(seed), "--out", str(run_out)],
                                               minutes)
            done, spent = trained_so_far(RunDir.at(run_out))
            epochs.add(done)
            spent_minutes.append(spent)
            for d in TITLES:
                for m in METRICS:
                    scores[d][m].append(run_scores[d][m])
            print(f"{name} seed {seed}: " + ", ".join(
                f"{TITLES[d]} {run_scores[d]['psnr']:.2f} dB / {run_scores[d]['ssim']:.3f}" for d in TITLES),
                flush=True)
        results[name] = {"flags": flags, "epochs": "/".join(map(str, sorted(epochs))),
                         "minutes": summary(spent_minutes),
                         **{d: {m: summary(scores[d][m]) for m in METRICS} for d in TITLES}}
    return results


def build_parser(description: str | None = None, reports: str = "reports") -> argparse.ArgumentParser:
    """``bench/seeds.py``'s parser (``description``: its help text; ``reports``: the default of ``--reports``).
    Unknown flags are ``train.py``'s: read them with ``parse_known_args``."""
    # train.py flags pass through: never read one (--seed) as an abbreviation of ours (--seeds).
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="the seeds (default: 0 1 2)")
    parser.add_argument("--variant", type=variant, action="append", metavar="NAME=FLAGS",
                        help="a variant: its name and the train.py flags it adds (default: one variant, 'run')")
    parser.add_argument("--minutes", type=float, default=math.inf,
                        help="training time budget of each run (default: none; --epochs ends training)")
    parser.add_argument("--out", default="output/seeds", help="where the runs go (default: %(default)s)")
    parser.add_argument("--reports", default=reports, help="where the report goes")
    parser.add_argument("--name", default="seeds", help="the report's file name, without extension")
    return parser


def main(argv: Sequence[str] | None = None, description: str | None = None, reports: str = "reports") -> int:
    """``bench/seeds.py``: train, score and write ``REPORTS/NAME.json`` and ``.md`` (``argv``: its arguments,
    by default ``sys.argv[1:]``; ``description`` and ``reports`` as for ``build_parser``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, train_flags = build_parser(description, reports).parse_known_args(argv)
    train_flags = [flag for flag in train_flags if flag != "--"]
    variants = dict(args.variant or [("run", [])])
    results = run_variants(variants, args.seeds, train_flags, args.minutes, args.out)

    command = " ".join(["python bench/seeds.py", *map(shlex.quote, argv)])
    folder = Path(args.reports)
    write_atomic(folder / f"{args.name}.json", json.dumps(
        {"command": command, "seeds": args.seeds, "train_flags": train_flags, "results": results}, indent=2) + "\n")
    write_atomic(folder / f"{args.name}.md", report(results, args.seeds, command))
    print((folder / f"{args.name}.md").read_text())
    return 0
