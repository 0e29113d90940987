"""The quality protocol: train on the training pairs' slices only, score the 9 held-out pairs against baselines.

What ``bench/quality.py`` runs, and what the other benchmarks that score a run on the held-out pairs share:
``train_and_score`` trains ``train.py`` flags with ``--holdout`` for a budget of minutes (``train.py
--minutes``, so a run that has already spent part of it resumes) and scores the run; ``QualityCurve`` scores
the test pairs as training goes, for the time-to-quality curve and its ``milestones``; ``own_lookup_table_scores``, ``pix2pix_scores`` and
``ivan_scores`` give the reference rows, ``ivan_fusion_scores`` iVAN's fusion; ``summary`` and ``over_seeds``
turn runs over several seeds into means and ranges; ``report_markdown``, ``seeds_markdown`` and the figures
write the report; ``build_parser`` and ``main`` are ``bench/quality.py``'s command line.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from cyclegan_mri.cli.train import parse_train_args, train_options
from cyclegan_mri.data.protocol import trained_on
from cyclegan_mri.domains import TUTORIAL
from cyclegan_mri.errors import UserError
from cyclegan_mri.fusion.inference import evaluate_fusion
from cyclegan_mri.record import TrainOptions
from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.training.trainer import train
from cyclegan_mri.translation.baselines import LookupTable
from cyclegan_mri.translation.evaluation import (
    Source,
    baseline_scores,
    dataset_source,
    evaluate,
    score_pairs,
    unscored_slices,
)
from cyclegan_mri.translation.inference import load_generators, translate_slices

FIGURE_PAIRS = 3
CURVE_FILE = "quality_curve.json"
METRICS = ("psnr", "ssim", "nmse")
# A U-Net narrow enough for a CPU, at the slices' own size (no resizing error).
PIX2PIX_FLAGS = ["--model", "pix2pix", "--image-size", "217", "181", "--filters", "32", "--epochs", "100"]
# iVAN's CPU settings: one network, scored forward (T1 -> T2) and by its inverse (T2 -> T1).
IVAN_FLAGS = ["--model", "ivan", "--preset", "cpu"]

TITLES = TUTORIAL.titles


def figure_png(draw: Callable[[Figure], None], size: tuple[float, float] = (9, 7)) -> bytes:
    """A PNG of a figure of ``size`` inches that ``draw`` fills."""
    figure = Figure(dpi=100, figsize=size)
    draw(figure)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def examples_figure(run: RunDir, source: Source, direction: str) -> bytes:
    """Input, real target, translation and absolute error for the first test pairs, in one direction."""
    side = TUTORIAL.source_side(direction)
    pairs = source.pairs[:FIGURE_PAIRS]
    predictions = translate_slices(load_generators(run)[direction], [p[side].image for p in pairs])

    def draw(figure):
        for row, (pair, predicted) in enumerate(zip(pairs, predictions)):
            source_image, target = pair[side].image, pair[1 - side].image.astype(np.float64)
            panels = [("input", source_image), ("real target", target), ("translation", predicted),
                      ("|error|", np.abs(predicted - target))]
            for col, (title, image) in enumerate(panels):
                axes = figure.add_subplot(len(pairs), 4, row * 4 + col + 1)
                axes.imshow(image, cmap="gray", vmin=0, vmax=255)
                axes.set_title(f"{title} ({pair[side].name})" if col == 0 else title, fontsize=8)
                axes.axis("off")
        figure.suptitle(TITLES[direction])

    return figure_png(draw)


def losses_figure(run: RunDir) -> bytes:
    """Every loss of a run's ``history.csv`` by epoch, on a log scale."""
    with run.history.open() as stream:
        rows = list(csv.DictReader(stream))

    def draw(figure):
        axes = figure.add_subplot(1, 1, 1)
        epochs = [int(r["epoch"]) for r in rows]
        for name in rows[0]:
            if name.endswith("_loss"):
                axes.plot(epochs, [float(r[name]) for r in rows], label=name)
        axes.set_xlabel("epoch")
        axes.set_yscale("log")
        axes.legend()

    return figure_png(draw)


def report_markdown(results: dict, command: str, epochs: int, minutes: float) -> str:
    """``reports/quality.md``: each direction's scores beside the references and baselines, the
    time-to-quality curve and its milestones where scored, and the loss curves."""
    lines = ["# Translation quality on the 9 held-out test pairs", "",
             f"Command: `{command}`. Trained {epochs} epoch{'s' * (epochs != 1)} in {minutes:.1f} minutes, "
             "without either image of "
             "any test pair. Scores on the 0-255 scale at 181x217 (PSNR and SSIM from scikit-image with "
             "`data_range=255`; NMSE = ||t - p||² / ||t||²).", ""]
    for direction, r in results.items():
        lines += [f"## {TITLES[direction]}", "", "| method | PSNR (dB) | SSIM | NMSE |", "| --- | ---: | ---: | ---: |"]
        references = [(name, r[key]) for name, key in (("pix2pix (paired)", "pix2pix"), ("iVAN (paired)", "ivan"))
                      if key in r]
        own = [("model's own lookup table (unpaired)", r["own_lookup_table"])] if "own_lookup_table" in r else []
        for method, scores in [("model", r), *own, *references, *r["baselines"].items()]:
            lines.append(f"| {method} | {scores['psnr']:.2f} | {scores['ssim']:.3f} | {scores['nmse']:.4f} |")
        for name, ref in references:
            lines += ["", f"{name.split()[0]}: trained on the 34 training pairs for {ref['epochs']} "
                          f"epoch{'s' * (ref['epochs'] != 1)} in {ref['minutes']:.1f} minutes "
                          f"(`train.py {' '.join(ref['flags'])}`)."]
        lines += ["", f"![{direction}](quality_{direction}.png)", ""]
    if any(r.get("curve") for r in results.values()):
        lines += ["## Time to quality", "", "PSNR (dB) / SSIM on the test pairs after each span of training "
                  "(minutes of `history.csv`):", "",
                  "| minutes | epoch | " + " | ".join(TITLES[d] for d in results) + " |",
                  "| ---: | ---: | " + " | ".join("---:" for _ in results) + " |"]
        first = next(iter(results.values()))["curve"]
        for k, point in enumerate(first):
            cells = [f"{r['curve'][k]['psnr']:.2f} / {r['curve'][k]['ssim']:.3f}" for r in results.values()]
            lines.append(f"| {point['minutes']:.1f} | {point['epoch']} | " + " | ".join(cells) + " |")
        lines += ["", "Minutes until the model first reached (never: -):", "",
                  "| direction | identity + 5 dB | lookup table PSNR | lookup table PSNR and SSIM | its best PSNR |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for direction, r in results.items():
            cells = ["-" if v is None else f"{v:.1f}" for v in r["minutes_to"].values()]
            lines.append(f"| {TITLES[direction]} | " + " | ".join(cells) + " |")
        lines += ["", "![time to quality](quality_curve.png)", ""]
    lines += ["## Losses", "", "![losses](quality_losses.png)", ""]
    return "\n".join(lines)


def milestones(result: dict) -> dict:
    """Minutes of training after which the curve first reached: the identity + 5 dB, the lookup table
    (PSNR, and PSNR and SSIM both), and its best PSNR; None where it never did."""
    curve, baselines = result.get("curve", []), result["baselines"]

    def first(test: Callable[[dict], bool]) -> float | None:
        return next((p["minutes"] for p in curve if test(p)), None)

    table = baselines["lookup_table"]
    best = max((p["psnr"] for p in curve), default=None)
    return {"identity_plus_5db": first(lambda p: p["psnr"] >= baselines["identity"]["psnr"] + 5),
            "lookup_table_psnr": first(lambda p: p["psnr"] >= table["psnr"]),
            "lookup_table": first(lambda p: p["psnr"] >= table["psnr"] and p["ssim"] >= table["ssim"]),
            "best_psnr": first(lambda p: p["psnr"] >= best) if best is not None else None}


def curve_figure(results: dict) -> bytes:
    """PSNR and SSIM against minutes of training for each direction, with the baselines as lines."""
    def draw(figure):
        for i, (direction, r) in enumerate(results.items()):
            for j, metric in enumerate(("psnr", "ssim")):
                axes = figure.add_subplot(2, len(results), j * len(results) + i + 1)
                axes.plot([p["minutes"] for p in r["curve"]], [p[metric] for p in r["curve"]], "o-", label="model")
                for name, style in (("lookup_table", "--"), ("identity", ":")):
                    axes.axhline(r["baselines"][name][metric], linestyle=style, color="gray", label=name)
                if "pix2pix" in r:
                    axes.axhline(r["pix2pix"][metric], linestyle="-.", color="black", label="pix2pix (paired)")
                if "ivan" in r:
                    axes.axhline(r["ivan"][metric], linestyle="-", color="tab:green", label="iVAN (paired)")
                axes.set_title(f"{TITLES[direction]} {metric.upper()}", fontsize=9)
                axes.set_xlabel("minutes of training")
                if i == 0 and j == 0:
                    axes.legend(fontsize=7)

    return figure_png(draw)


def trained_so_far(run: RunDir) -> tuple[int, float]:
    """(epochs, minutes of training) in a run's history: a resumed run counts what it already spent."""
    if not run.history.exists():
        return 0, 0.0
    with run.history.open() as stream:
        rows = list(csv.DictReader(stream))
    return len(rows), sum(float(row["seconds"]) for row in rows) / 60


class QualityCurve(keras.callbacks.Callback):
    """Scores the test pairs with the generators as they are, after each ``every`` minutes of training.

    Minutes are those of ``history.csv`` (training, not scoring or checkpoints), so a resumed run goes on
    counting; the points are kept in the run directory's ``quality_curve.json``.
    """

    def __init__(self, run: RunDir, source: Source, every: float) -> None:
        super().__init__()
        self.run, self.source, self.every = run, source, every
        self.path = run.root / CURVE_FILE
        self.points = read_curve(run)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        epochs, minutes = trained_so_far(self.run)
        if minutes < (self.points[-1]["minutes"] if self.points else 0.0) + self.every:
            return
        point = {"epoch": epochs, "minutes": round(minutes, 2)}
        for direction, generator in self.model.translators().items():
            # A generator trained on crops takes any size: the exported one will be fixed to the model's.
            scores = score_pairs(self.source, direction, lambda images, g=generator: translate_slices(
                g, images, size=self.model.image_shape[:2]))
            point[direction] = {"psnr": scores["psnr"], "ssim": scores["ssim"]}
        self.points = [p for p in self.points if p["epoch"] < epochs] + [point]
        write_atomic(self.path, json.dumps(self.points, indent=2) + "\n")
        print(f"after {minutes:.1f} min (epoch {epochs}): " + ", ".join(
            f"{TITLES[d]} {point[d]['psnr']:.2f} dB / {point[d]['ssim']:.3f}" for d in TITLES if d in point),
            flush=True)


def read_curve(run: RunDir) -> list[dict]:
    """The quality-curve points of a run (none yet: an empty list)."""
    path = run.root / CURVE_FILE
    return json.loads(path.read_text()) if path.exists() else []


def train_and_score(flags: Sequence[str], minutes: float, source: Source | None = None,
                    curve_every: float = 0.0) -> tuple[RunDir, Source, dict]:
    """Train ``train.py`` ``flags`` with ``--holdout`` for ``minutes`` of training in all, and score the run.

    ``minutes`` is given to ``train.py`` as its ``--minutes`` (counted across resumes, so running again resumes
    or only scores; with ``--lr-schedule linear`` the rate is planned over it; ``--epochs`` in ``flags`` caps
    it); ``math.inf`` trains to ``--epochs``. ``--holdout`` is added where ``flags`` lack it. With
    ``curve_every`` > 0 the test pairs are also scored after each that many minutes (``QualityCurve``); that
    scoring counts against the budget, as every output between steps does.
    """
    options = train_options(parse_train_args(budgeted(flags, minutes)))
    run = RunDir.at(options.out)
    source = source or dataset_source(options.data, accept_checksum=options.accept_checksum)
    train(options, extra_callbacks=[QualityCurve(run, source, curve_every)] if curve_every > 0 else [])
    return run, source, evaluate(run, source, write_translations=False, training=trained_on(options))


def budgeted(flags: Sequence[str], minutes: float) -> list[str]:
    """``train.py`` ``flags`` with ``--holdout`` (where they lack it) and ``--minutes`` (unless ``minutes`` is
    ``math.inf``): the runs of the quality protocol."""
    if not minutes > 0:
        raise UserError(f"a training budget must be more than 0 minutes, got {minutes:g}")
    return [*flags, *(["--holdout"] if "--holdout" not in flags else []),
            *(["--minutes", f"{minutes:g}"] if math.isfinite(minutes) else [])]


def own_lookup_table_scores(run: RunDir, source: Source) -> dict:
    """Each direction's generator distilled into a per-intensity table, scored on the test pairs.

    The table maps each source intensity to the mean of the generator's own translations of it over the
    slices outside the test pairs (what a --holdout run trained on): no pairing is used, and the texture a
    GAN paints over a tissue averages out. What it scores is the intensity map the model has learnt; the
    gap to the model's own scores is what its spatial detail adds, or costs.
    """
    results = {}
    for direction, generator in load_generators(run).items():
        seen = unscored_slices(source, TUTORIAL.source_side(direction))
        table = LookupTable(seen, translate_slices(generator, seen))
        results[direction] = score_pairs(source, direction, lambda images, t=table: [t(x) for x in images])
    return results


def pix2pix_scores(cyclegan: TrainOptions, direction: str, minutes: float, source: Source,
                   extra: Sequence[str]) -> dict:
    """pix2pix trained on the training pairs for ``direction`` within ``minutes``, scored on the test pairs.

    The result records the ``train.py`` flags the run was trained with, ``--holdout`` included."""
    out = f"{cyclegan.out}-pix2pix-{direction}"
    flags = [*PIX2PIX_FLAGS, *extra, "--direction", direction, "--out", out, "--data", cyclegan.data, "--holdout",
             "--verbose", str(cyclegan.verbose if cyclegan.verbose != "auto" else 2)]
    if cyclegan.seed is not None:
        flags += ["--seed", str(cyclegan.seed)]
    run, _, results = train_and_score(flags, minutes, source)
    epochs, spent = trained_so_far(run)
    return {**results[direction], "epochs": epochs, "minutes": spent, "flags": flags}


def ivan_scores(out: str, data: str, minutes: float, source: Source, extra: Sequence[str] = (),
                seed: int | None = None, verbose: int = 2) -> dict:
    """iVAN trained on the training pairs within ``minutes`` (``IVAN_FLAGS`` then ``extra``), scored in both
    directions on the test pairs: forward T1 -> T2, and T2 -> T1 by the same network's inverse.

    Each direction's result records the ``train.py`` flags the run was trained with, ``--holdout`` included."""
    flags = [*IVAN_FLAGS, *extra, "--out", out, "--data", data, "--holdout", "--verbose", str(verbose)]
    if seed is not None:
        flags += ["--seed", str(seed)]
    run, _, results = train_and_score(flags, minutes, source)
    epochs, spent = trained_so_far(run)
    return {direction: {**scores, "epochs": epochs, "minutes": spent, "flags": flags}
            for direction, scores in results.items()}


def ivan_fusion_scores(out: str, data: str, minutes: float, source: Source, extra: Sequence[str],
                       seed: int) -> dict:
    """An iVAN fusion run (``IVAN_FLAGS``, ``--task fusion``, then ``extra``) trained on the training pairs
    within ``minutes`` (resumed, or only scored, when it exists), scored on the test pairs beside the classical
    fusions; the result records its epochs, minutes and ``train.py`` flags."""
    flags = [*IVAN_FLAGS, "--task", "fusion", *extra, "--out", out, "--data", data, "--holdout",
             "--seed", str(seed), "--verbose", "2"]
    options = train_options(parse_train_args(budgeted(flags, minutes)))
    run = RunDir.at(out)
    train(options)
    epochs, spent = trained_so_far(run)
    return {**evaluate_fusion(run, source, trained_on(options))["fusion"], "epochs": epochs,
            "minutes": spent, "flags": flags}


def summary(values: Sequence[float]) -> dict:
    """Mean, range and sample standard deviation of one score over seeds, with the values themselves."""
    return {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan, "values": list(values)}


def with_curve(run: RunDir, results: dict, baselines: dict) -> dict:
    """``results`` with each direction's baselines, its time-to-quality curve (closed by the final scores)
    and the minutes to its milestones."""
    epochs, minutes = trained_so_far(run)
    curve = read_curve(run)
    if curve and curve[-1]["epoch"] < epochs:
        curve.append({"epoch": epochs, "minutes": round(minutes, 2),
                      **{d: {m: results[d][m] for m in ("psnr", "ssim")} for d in results}})
    for direction in results:
        results[direction]["baselines"] = baselines[direction]
        results[direction]["curve"] = [{"epoch": p["epoch"], "minutes": p["minutes"], **p[direction]}
                                       for p in curve]
        results[direction]["minutes_to"] = milestones(results[direction])
    return results


def over_seeds(per_seed: dict[int, dict]) -> dict:
    """Each direction's scores as their mean over seeds (what the report's tables show), with the spread of
    every score and of every milestone, and each seed's own results under ``seeds``."""
    first = next(iter(per_seed.values()))
    merged = {}
    for direction in first:
        runs = [results[direction] for results in per_seed.values()]
        spread = {m: summary([r[m] for r in runs]) for m in METRICS}
        reached = {k: [r["minutes_to"][k] for r in runs] for k in first[direction]["minutes_to"]}
        merged[direction] = {**{m: spread[m]["mean"] for m in METRICS}, "spread": spread,
                             "baselines": first[direction]["baselines"], "curve": first[direction]["curve"],
                             "minutes_to": first[direction]["minutes_to"], "minutes_to_per_seed": reached,
                             "seeds": {str(seed): {k: v for k, v in results[direction].items() if k != "baselines"}
                                       for seed, results in per_seed.items()}}
        if all("own_lookup_table" in r for r in runs):
            merged[direction]["own_lookup_table"] = {m: float(np.mean([r["own_lookup_table"][m] for r in runs]))
                                                     for m in METRICS}
    return merged


def seeds_markdown(results: dict, seeds: Sequence[int]) -> str:
    """The report's over-seeds section: each score's mean [min, max], and every seed's milestones and scores."""
    lines = [f"## Over seeds {', '.join(map(str, seeds))}", "",
             "The model's scores above are the means over the seeds; here each score's mean [min, max], and "
             "the minutes each seed took to reach the identity + 5 dB and the lookup table's PSNR "
             "(the curve and the figures are those of the first seed).", "",
             "| direction | PSNR (dB) | SSIM | NMSE | minutes to identity + 5 dB | minutes to lookup table PSNR |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for direction, r in results.items():
        cells = [f"{r['spread'][m]['mean']:.{k}f} [{r['spread'][m]['min']:.{k}f}, {r['spread'][m]['max']:.{k}f}]"
                 for m, k in (("psnr", 2), ("ssim", 3), ("nmse", 4))]
        reached = [", ".join("-" if v is None else f"{v:.1f}" for v in r["minutes_to_per_seed"][key])
                   for key in ("identity_plus_5db", "lookup_table_psnr")]
        lines.append(f"| {TITLES[direction]} | " + " | ".join(cells + reached) + " |")
    lines += ["", "| seed | epochs | minutes | " + " | ".join(TITLES[d] for d in results) + " |",
              "| ---: | ---: | ---: | " + " | ".join("---:" for _ in results) + " |"]
    first = next(iter(results.values()))
    for seed, own in first["seeds"].items():
        cells = [f"{r['seeds'][seed]['psnr']:.2f} / {r['seeds'][seed]['ssim']:.3f}" for r in results.values()]
        lines.append(f"| {seed} | {own['epochs']} | {own['minutes']:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build_parser(description: str | None = None, reports: str = "reports") -> argparse.ArgumentParser:
    """``bench/quality.py``'s parser (``description``: its help text; ``reports``: the default of
    ``--reports``). Unknown flags are ``train.py``'s: read them with ``parse_known_args``."""
    # train.py flags pass through: never read one (--seed) as an abbreviation of ours (--seeds).
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--out", default="output/quality", help="the run directory (default: %(default)s; with "
                        "--seeds, OUT-seedS for each seed S)")
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="minutes of training for each run, passed on as train.py's --minutes: counted "
                             "across resumes, training ends at the first step past it, and with --lr-schedule "
                             "linear the rate is planned to reach zero at its end; --epochs, when given, caps it "
                             "(default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="S",
                        help="train once per seed and report the mean and range of every score (one seed is "
                             "an anecdote); default: one run, with train.py's --seed if given")
    parser.add_argument("--pix2pix-minutes", type=float, default=10.0,
                        help="training time budget of each pix2pix reference run (0: no pix2pix rows)")
    parser.add_argument("--pix2pix-flags", default="", metavar="'FLAGS'",
                        help="train.py flags for the pix2pix runs, after " + " ".join(PIX2PIX_FLAGS)
                             + " (write --pix2pix-flags='--filters 16')")
    parser.add_argument("--ivan-minutes", type=float, default=0.0,
                        help="training time budget of the iVAN reference run (0: no iVAN rows)")
    parser.add_argument("--ivan-flags", default="", metavar="'FLAGS'",
                        help="train.py flags for the iVAN run, after " + " ".join(IVAN_FLAGS))
    parser.add_argument("--curve-every", type=float, default=5.0, metavar="MIN",
                        help="score the test pairs after each MIN minutes of training, for the time-to-quality "
                             "curve (0: only at the end; default: %(default)s)")
    parser.add_argument("--reports", default=reports, help="where the report goes")
    return parser


def main(argv: Sequence[str] | None = None, description: str | None = None, reports: str = "reports") -> int:
    """``bench/quality.py``: train, score and write the report (``argv``: its arguments, by default
    ``sys.argv[1:]``; ``description`` and ``reports`` as for ``build_parser``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(description, reports)
    args, train_flags = parser.parse_known_args(argv)
    if args.seeds and "--seed" in train_flags:
        parser.error("give the seeds with --seeds alone, not --seed as well")

    runs = ([(seed, [*train_flags, "--seed", str(seed), "--out", f"{args.out}-seed{seed}"]) for seed in args.seeds]
            if args.seeds else [(None, [*train_flags, "--out", args.out])])
    per_seed, source, baselines = {}, None, None
    for seed, flags in runs:
        run, source, results = train_and_score(flags, args.minutes, source, curve_every=args.curve_every)
        baselines = baselines or baseline_scores(source)
        for direction, scores in own_lookup_table_scores(run, source).items():
            results[direction]["own_lookup_table"] = {m: scores[m] for m in METRICS}
        per_seed[seed] = with_curve(run, results, baselines)
        epochs, minutes = trained_so_far(run)
        for direction in results:
            results[direction].update(epochs=epochs, minutes=minutes)
        if len(runs) > 1:
            print(f"seed {seed}: " + ", ".join(f"{TITLES[d]} {results[d]['psnr']:.2f} dB / {results[d]['ssim']:.3f}"
                                               for d in results), flush=True)
    options = train_options(parse_train_args(runs[0][1]))
    first_run = RunDir.at(options.out)
    results = over_seeds(per_seed) if args.seeds else per_seed[None]
    if args.pix2pix_minutes > 0:
        for direction in results:
            results[direction]["pix2pix"] = pix2pix_scores(options, direction, args.pix2pix_minutes, source,
                                                           args.pix2pix_flags.split())
    if args.ivan_minutes > 0:
        verbose = options.verbose if options.verbose != "auto" else 2
        for direction, scores in ivan_scores(f"{options.out}-ivan", options.data, args.ivan_minutes, source,
                                             args.ivan_flags.split(), options.seed, verbose).items():
            results[direction]["ivan"] = scores
    epochs, minutes = trained_so_far(first_run)

    folder = Path(args.reports)
    command = " ".join(["python bench/quality.py", *map(shlex.quote, argv)])
    markdown = report_markdown(results, command, epochs, minutes)
    if args.seeds:
        markdown += "\n" + seeds_markdown(results, args.seeds)
    write_atomic(folder / "quality.json", json.dumps({"command": command, **results}, indent=2) + "\n")
    write_atomic(folder / "quality.md", markdown)
    for direction in results:
        write_atomic(folder / f"quality_{direction}.png", examples_figure(first_run, source, direction))
    write_atomic(folder / "quality_losses.png", losses_figure(first_run))
    if any(r["curve"] for r in results.values()):
        write_atomic(folder / "quality_curve.png", curve_figure(results))
    print(markdown)
    return 0

