"""The quality protocol: train on the training pairs' slices only, score the 9 held-out pairs against baselines.

    python bench/quality.py [--out output/quality] [--minutes 60] [--pix2pix-minutes 10] [train.py flags ...]

Trains with ``--holdout`` (neither image of a test pair is ever seen) until
``--epochs`` or the time budget ends training at an epoch end, then writes
``reports/quality.json`` (the shape of ``evaluation.json``, with the baselines of
each direction under ``baselines``), ``reports/quality.md``, one figure per
direction (input, real target, translation, absolute error for three test
pairs) and the loss curves. Running it again resumes the same run.

For reference it also trains pix2pix, paired, on the 34 training pairs (one run
per direction, in ``OUT-pix2pix-DIRECTION``, ``PIX2PIX_FLAGS`` at the slices'
own size), and reports it under ``pix2pix`` beside the baselines.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cyclegan_mri.evaluation import (TITLES, SOURCE_DOMAIN, Source, baseline_scores, dataset_source,  # noqa: E402
                                     evaluate)
from cyclegan_mri.inference import load_generators, translate_slices  # noqa: E402
from cyclegan_mri.options import TrainOptions, parse_train_args, train_options  # noqa: E402
from cyclegan_mri.rundir import RunDir, write_atomic  # noqa: E402
from cyclegan_mri.training.guards import TimeBudget  # noqa: E402
from cyclegan_mri.training.trainer import train  # noqa: E402

FIGURE_PAIRS = 3
# A U-Net narrow enough for a CPU, at the slices' own size (no resizing error).
PIX2PIX_FLAGS = ["--model", "pix2pix", "--image-size", "217", "181", "--filters", "32", "--epochs", "100"]


def figure_png(draw) -> bytes:
    figure = Figure(dpi=100, figsize=(9, 7))
    draw(figure)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def examples_figure(run: RunDir, source, direction: str) -> bytes:
    side = SOURCE_DOMAIN[direction]
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
    lines = ["# Translation quality on the 9 held-out test pairs", "",
             f"Command: `{command}`. Trained {epochs} epoch{'s' * (epochs != 1)} in {minutes:.1f} minutes, "
             "without either image of "
             "any test pair. Scores on the 0-255 scale at 181x217 (PSNR and SSIM from scikit-image with "
             "`data_range=255`; NMSE = ||t - p||² / ||t||²).", ""]
    for direction, r in results.items():
        lines += [f"## {TITLES[direction]}", "", "| method | PSNR (dB) | SSIM | NMSE |", "| --- | ---: | ---: | ---: |"]
        references = [("pix2pix (paired)", r["pix2pix"])] if "pix2pix" in r else []
        for method, scores in [("model", r), *references, *r["baselines"].items()]:
            lines.append(f"| {method} | {scores['psnr']:.2f} | {scores['ssim']:.3f} | {scores['nmse']:.4f} |")
        if references:
            ref = r["pix2pix"]
            lines += ["", f"pix2pix: trained on the 34 training pairs for {ref['epochs']} "
                          f"epoch{'s' * (ref['epochs'] != 1)} in {ref['minutes']:.1f} minutes "
                          f"(`train.py {' '.join(ref['flags'])}`)."]
        lines += ["", f"![{direction}](quality_{direction}.png)", ""]
    lines += ["## Losses", "", "![losses](quality_losses.png)", ""]
    return "\n".join(lines)


def trained_so_far(run: RunDir) -> tuple[int, float]:
    """(epochs, minutes of training) in a run's history: a resumed run counts what it already spent."""
    if not run.history.exists():
        return 0, 0.0
    with run.history.open() as stream:
        rows = list(csv.DictReader(stream))
    return len(rows), sum(float(row["seconds"]) for row in rows) / 60


def train_and_score(flags: list[str], minutes: float, source: Source | None = None) -> tuple[RunDir, Source, dict]:
    """Train ``train.py`` ``flags`` with ``--holdout`` within ``minutes`` of training in all, and score the run."""
    options = train_options(parse_train_args([*flags, "--holdout"]))
    run = RunDir.at(options.out)
    left = minutes - trained_so_far(run)[1]
    if left > 0 or not run.generators.is_dir():
        train(options, extra_callbacks=[TimeBudget(max(left, 0.0))])
    source = source or dataset_source(options.data, accept_checksum=options.accept_checksum)
    return run, source, evaluate(run, source, write_translations=False)


def pix2pix_scores(cyclegan: TrainOptions, direction: str, minutes: float, source: Source, extra: list[str]) -> dict:
    """pix2pix trained on the training pairs for ``direction`` within ``minutes``, scored on the test pairs."""
    out = f"{cyclegan.out}-pix2pix-{direction}"
    flags = [*PIX2PIX_FLAGS, *extra, "--direction", direction, "--out", out, "--data", cyclegan.data,
             "--verbose", str(cyclegan.verbose if cyclegan.verbose != "auto" else 2)]
    if cyclegan.seed is not None:
        flags += ["--seed", str(cyclegan.seed)]
    run, _, results = train_and_score(flags, minutes, source)
    epochs, spent = trained_so_far(run)
    return {**results[direction], "epochs": epochs, "minutes": spent, "flags": flags}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="output/quality", help="the run directory (default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="training time budget, counting what a resumed run already spent; training ends "
                             "at the first epoch end past it")
    parser.add_argument("--pix2pix-minutes", type=float, default=10.0,
                        help="training time budget of each pix2pix reference run (0: no pix2pix rows)")
    parser.add_argument("--pix2pix-flags", default="", metavar="'FLAGS'",
                        help="train.py flags for the pix2pix runs, after " + " ".join(PIX2PIX_FLAGS)
                             + " (write --pix2pix-flags='--filters 16')")
    parser.add_argument("--reports", default=str(ROOT / "reports"), help="where the report goes")
    args, train_flags = parser.parse_known_args()

    run, source, results = train_and_score([*train_flags, "--out", args.out], args.minutes)
    options = train_options(parse_train_args([*train_flags, "--out", args.out]))
    for direction, scores in baseline_scores(source).items():
        results[direction]["baselines"] = scores
    if args.pix2pix_minutes > 0:
        for direction in results:
            results[direction]["pix2pix"] = pix2pix_scores(options, direction, args.pix2pix_minutes, source,
                                                           args.pix2pix_flags.split())
    epochs, minutes = trained_so_far(run)

    reports = Path(args.reports)
    command = " ".join(["python bench/quality.py", *sys.argv[1:]])
    write_atomic(reports / "quality.json", json.dumps(results, indent=2) + "\n")
    write_atomic(reports / "quality.md", report_markdown(results, command, epochs, minutes))
    for direction in results:
        write_atomic(reports / f"quality_{direction}.png", examples_figure(run, source, direction))
    write_atomic(reports / "quality_losses.png", losses_figure(run))
    print((reports / "quality.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
