"""The real-MRI benchmark: every model trained on real NIfTI volumes within one CPU budget, on one patient split,
and scored on the held-out patients beside training-free baselines.

What ``bench/real_mri.py`` runs. Each (model, seed) is one run directory under ``--out``
(``<entry>[-<variant>]-seed<S>``), trained with ``train.py`` flags (``entries``) until its process has spent the budget's
CPU minutes in training steps (``training.guards.CpuBudget``), then scored as ``evaluate.py`` scores it: 2D
runs on every kept slice of the held-out subjects (``translation.subjects``), the 3D CycleGAN on their whole
volumes, Vox2Vox by Dice and HD95 per region beside the FLAIR-threshold baseline. Each run keeps its result in
``real_mri.json``; a run whose budget is spent is only scored again, so an interrupted benchmark resumes, and
runs started as separate processes (one per core: ``taskset -c 0 ...``) share one report, rebuilt from every
finished run each time (``write_report``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import nibabel as nib
import numpy as np
from matplotlib.colors import ListedColormap

from cyclegan_mri.benchmarks.quality import figure_png, summary, trained_so_far
from cyclegan_mri.cli.train import parse_train_args, train_options
from cyclegan_mri.data.brats import case_classes, find_cases, read_case
from cyclegan_mri.data.subjects import find_subjects, subject_split
from cyclegan_mri.data.volume_slices import read_subject, windowed_slices
from cyclegan_mri.devices import cpu_info
from cyclegan_mri.domains import Domains
from cyclegan_mri.errors import UserError
from cyclegan_mri.record import TrainOptions, load_run_options
from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.segmentation.baselines import threshold_segmentation
from cyclegan_mri.segmentation.inference import SEGMENTATIONS, evaluate_segmentation
from cyclegan_mri.training.callbacks import read_history
from cyclegan_mri.training.guards import CpuBudget
from cyclegan_mri.training.trainer import train
from cyclegan_mri.translation.inference import load_generators, translate_slices
from cyclegan_mri.translation.subjects import evaluate_subjects
from cyclegan_mri.volumetric.subjects import evaluate_volume_subjects

RESULT = "real_mri.json"
CURVE = "real_mri_curve.json"
DOMAINS = ("T1", "T2")
# Training crops of the 2D models: a quarter of a 240x240 slice's pixels, where a step costs about 0.4 of a
# whole slice's; the generators are fully convolutional and translate whole slices.
CROP = 128
# The CPU flags that matter to convolution speed, said beside every figure.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
ANCHORS = """\
## Published results on real data, for orientation

Not comparable figure for figure: other cases, other data sizes and budgets of GPU-days, not CPU minutes.

| work | data | budget | result |
| --- | --- | --- | --- |
| Kiani Kalejahi et al., Biomimetics 2026 | BraTS 2019, T1 -> T2 | GPU | SSIM 0.82-0.85 unpaired CycleGAN; 0.90-0.92 paired CycleGAN; 0.93-0.95 conditional DDPM |
| SynDiff (Özbey et al., IEEE TMI 2023) | IXI T1 <-> T2, unpaired, 25 training subjects | 2-3 days on an RTX 3090 | diffusion with adversarial steps |
| Vox2Vox (Cirillo et al., 2021) | BraTS 2020 test, ensemble of 10 | GPU | Dice WT / TC / ET 87.20 / 81.14 / 78.67 %, HD95 6.44 / 24.36 / 18.95 mm |
| nnU-Net (BraTS 2020 winner) | BraTS 2020 test | GPU | Dice WT / TC / ET 88.95 / 85.06 / 82.03 % |
"""


@dataclass(frozen=True)
class Entry:
    """One model of the benchmark: its ``train.py`` flags (before the data, split, seed and run directory)."""

    name: str
    flags: tuple[str, ...]
    kind: str = "slices"  # "slices", "volumes" or "segmentation": how it is scored
    crop: bool = True  # 2D: train on CROP-sized crops of the slices

    def train_flags(self, data: str, holdout: int, seed: int, out: Path, image_size: tuple[int, int]) -> list[str]:
        flags = [*self.flags, "--data", data, "--holdout-cases", str(holdout), "--seed", str(seed),
                 "--out", str(out), "--verbose", "2"]
        if self.kind == "slices":
            flags += ["--image-size", *map(str, image_size)]
            if self.crop and max(image_size) > CROP:
                flags += ["--crop", *(str(min(CROP, s)) for s in image_size)]
        return flags


def entries(domains: Sequence[str] = DOMAINS) -> dict[str, Entry]:
    """The benchmark's models by entry name; pix2pix is one run per direction."""
    names = Domains.of(domains)
    on = ("--domains", *names.names)
    # Batch 1 (as CycleGAN's and CUT's papers train): four times the updates of batch 4 for the same pixels.
    slices = ("--preset", "cpu", *on, "--batch", "1")
    table = [Entry("cyclegan", ("--model", "cyclegan", *slices)),
             Entry("cut", ("--model", "cut", *slices)),
             Entry("fastcut", ("--model", "fastcut", *slices)),
             *(Entry(f"pix2pix-{d}", ("--model", "pix2pix", *slices, "--direction", d)) for d in names.directions),
             # iVAN's own CPU preset: 96x96 crops, 4 a step.
             Entry("ivan", ("--model", "ivan", "--preset", "cpu", *on), crop=False),
             Entry("cyclegan3d", ("--model", "cyclegan3d", "--preset", "cpu", *on), kind="volumes"),
             Entry("vox2vox", ("--model", "vox2vox", "--preset", "cpu"), kind="segmentation")]
    return {entry.name: entry for entry in table}


def slice_size(data: str, domains: Sequence[str], plane: str = "axial") -> tuple[int, int]:
    """The (rows, cols) of the first subject's slices along ``plane``: the 2D models train at the volumes' own
    size (no resizing error)."""
    subject = find_subjects(data, Domains.of(domains))[0]
    slices, _ = windowed_slices(next(iter(subject.files.values())), plane)
    return int(slices.shape[1]), int(slices.shape[2])


class SubjectCurve(keras.callbacks.Callback):
    """Scores the held-out subjects (whole slices and brain, no baselines) with the generators as they are, at
    the end of each epoch after at least ``every`` more CPU minutes of training, into the run's curve file."""

    def __init__(self, run: RunDir, options: TrainOptions, budget: CpuBudget, every: float):
        super().__init__()
        self.run, self.options, self.budget, self.every = run, options, budget, every
        self.path = run.root / CURVE
        self.points = json.loads(self.path.read_text()) if self.path.exists() else []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        last = self.points[-1]["cpu_minutes"] if self.points else 0.0
        if self.budget.spent_minutes < last + self.every and not self.model.stop_training:
            return
        options = load_run_options(self.run.root) or self.options
        results, _ = evaluate_subjects(self.run, options, write_translations=False, baselines=False,
                                       generators=self.model.translators(), size=self.model.image_shape[:2])
        point = {"epoch": epoch + 1, "cpu_minutes": round(self.budget.spent_minutes, 2),
                 **{d: {"whole": r["whole"], "brain": r["brain"]} for d, r in results.items() if d != "subjects"}}
        self.points = [p for p in self.points if p["epoch"] <= epoch] + [point]
        write_atomic(self.path, json.dumps(self.points, indent=2) + "\n")
        print(f"after {point['cpu_minutes']:.1f} CPU min (epoch {epoch + 1}): " + ", ".join(
            f"{d} {r['whole']['psnr']:.2f} dB / {r['whole']['ssim']:.3f}" for d, r in point.items()
            if isinstance(r, dict)), flush=True)


def score_run(entry: Entry, run: RunDir, options: TrainOptions) -> dict:
    """``evaluate.py``'s scores of a finished run on its held-out subjects, without writing translations."""
    if entry.kind == "slices":
        results, _ = evaluate_subjects(run, options, write_translations=False)
        return results
    if entry.kind == "segmentation":
        return evaluate_segmentation(run, options.data, write_segmentations=True)[0]
    return evaluate_volume_subjects(run, options, write_translations=True)[0]


def run_entry(entry: Entry, data: str, holdout: int, seed: int, out: Path, minutes: float,
              curve_every: float, image_size: tuple[int, int], variant: str | None = None,
              extra: Sequence[str] = ()) -> dict:
    """Train one entry for one seed within ``minutes`` of CPU time (resuming what a run already spent), score it
    and keep the result in the run directory. A ``variant`` adds ``extra`` train.py flags, in its own runs."""
    folder = out / f"{entry.name}{'-' + variant if variant else ''}-seed{seed}"
    flags = [*entry.train_flags(data, holdout, seed, folder, image_size), *extra]
    options = train_options(parse_train_args(flags))
    run = RunDir.at(folder)
    path = run.root / RESULT
    previous = json.loads(path.read_text()) if path.exists() else {}
    spent, wall = previous.get("cpu_minutes", 0.0), previous.get("wall_minutes", 0.0)
    if spent < minutes or not run.generators.is_dir():
        budget = CpuBudget(minutes, spent)
        curve = [SubjectCurve(run, options, budget, curve_every)] if curve_every > 0 and entry.kind == "slices" else []
        started = time.monotonic()

        def tally(*_) -> None:  # after every epoch, so that a killed benchmark resumes with what it spent
            write_atomic(path, json.dumps({**previous, "cpu_minutes": budget.spent_minutes,
                                           "wall_minutes": wall + (time.monotonic() - started) / 60,
                                           "steps": previous.get("steps", 0) + budget.steps}, indent=2) + "\n")

        train(options, extra_callbacks=[budget, *curve, keras.callbacks.LambdaCallback(on_epoch_end=tally)])
        tally()
        spent, wall = budget.spent_minutes, wall + (time.monotonic() - started) / 60
    saved = load_run_options(run.root)
    result = {"entry": entry.name, "model": saved.model, "variant": variant, "run": folder.name, "seed": seed,
              "flags": flags, "budget_cpu_minutes": minutes, "curve_every": curve_every,
              "cpu_minutes": round(spent, 2), "wall_minutes": round(wall, 2), "epochs": trained_so_far(run)[0],
              "steps": json.loads(path.read_text()).get("steps") if path.exists() else None,
              "held_out": list(saved.held_out or ()), "scores": score_run(entry, run, saved)}
    if (run.root / CURVE).exists():
        result["curve"] = json.loads((run.root / CURVE).read_text())
    write_atomic(path, json.dumps(result, indent=2) + "\n")
    return result



def collect(out: Path) -> list[dict]:
    """The results of every scored run under ``out``, by entry then seed."""
    results = []
    for path in sorted(out.glob(f"*/{RESULT}")):
        result = json.loads(path.read_text())
        result.setdefault("variant", None)
        result.setdefault("run", path.parent.name)
        rows = read_history(RunDir.at(path.parent).history)
        if rows:  # the losses of the last epoch, for what the scores alone do not say
            result["last_losses"] = {k: float(v) for k, v in rows[-1].items() if k.endswith("_loss")}
        if "scores" in result:
            results.append(result)
    return sorted(results, key=lambda r: (list(entries()).index(r["entry"]) if r["entry"] in entries() else 99,
                                          r["seed"]))


def unfinished(out: Path) -> list[dict]:
    """The runs under ``out`` that have spent part of their budget and are not scored yet (stopped, or still
    training): what they spent and their held-out curve so far."""
    rows = []
    for path in sorted(out.glob(f"*/{RESULT}")):
        result = json.loads(path.read_text())
        if "scores" not in result:
            curve = path.parent / CURVE
            rows.append({"run": path.parent.name, "cpu_minutes": round(result.get("cpu_minutes", 0.0), 2),
                         "steps": result.get("steps"),
                         "curve": json.loads(curve.read_text()) if curve.exists() else []})
    return rows


def translation_rows(results: list[dict]) -> dict:
    """Per (model, direction): every score's summary over seeds (whole slice or volume, and brain), the CPU
    minutes and steps, and the mean over seeds of each held-out subject's scores."""
    rows: dict = {}
    for result in results:
        if result["entry"] == "vox2vox":
            continue
        for direction, scores in result["scores"].items():
            if direction == "subjects":
                continue
            label = label_of(result)
            row = rows.setdefault(f"{label} {direction}", {
                "model": label, "base_model": result["model"], "variant": result.get("variant"),
                "kind": kind_of(result),
                "direction": direction, "source": scores["source"],
                "target": scores["target"], "runs": []})
            row["runs"].append({"seed": result["seed"], "cpu_minutes": result["cpu_minutes"],
                                "steps": result.get("steps"), "epochs": result["epochs"],
                                "held_out": scores.get("held_out"),
                                **{region: scores[region] for region in ("whole", "brain") if region in scores},
                                "per_subject": scores.get("per_subject") or scores.get("per_image", [])})
    for row in rows.values():
        for region in ("whole", "brain"):
            if all(region in run for run in row["runs"]):
                row[region] = {key: summary([run[region][key] for run in row["runs"]])
                               for key in ("psnr", "ssim", "nmse")}
        row["cpu_minutes"] = summary([run["cpu_minutes"] for run in row["runs"]])
    return rows


def command_of(result: dict) -> str:
    """The benchmark command that trains and scores one run (its budget: the one recorded, else what it spent)."""
    budget = result.get("budget_cpu_minutes") or round(result["cpu_minutes"])
    words = ["python", "bench/real_mri.py", "--data", "DIR", "--models", result["entry"], "--seeds",
             str(result["seed"]), "--minutes", f"{budget:g}"]
    if "curve_every" in result:
        words += ["--curve-every", f"{result['curve_every']:g}"]
    if result.get("variant"):
        extra = result["flags"][result["flags"].index("--verbose") + 2:]
        words += ["--variant", result["variant"], f"--train-flags={shlex.join(extra)}"]
    return shlex.join(words)


def kind_of(result: dict) -> str:
    """How a run is scored: "slices" (2D models, per axial slice), "volumes" (3D models, whole volumes) or
    "segmentation"."""
    return entries()[result["entry"]].kind if result["entry"] in entries() else "slices"


def label_of(result: dict) -> str:
    """A run's model as the report names it: the model, and its variant if any."""
    return result["model"] + (f" {result['variant']}" if result.get("variant") else "")


def baseline_rows(results: list[dict], kind: str = "slices") -> dict:
    """The baselines per direction as runs of ``kind`` are scored ("slices": per axial slice; "volumes": whole
    volumes), each from the first run that scored it (they depend on the split alone; runs scored before a
    baseline was added lack it)."""
    rows: dict = {}
    for result in results:
        if kind_of(result) == kind:
            for direction, scores in result["scores"].items():
                if direction != "subjects":
                    for name, baseline in scores.get("baselines", {}).items():
                        rows.setdefault(direction, {}).setdefault(name, baseline)
    return rows


def _mean_range(s: dict, digits: int) -> str:
    if len(s["values"]) == 1:
        return f"{s['mean']:.{digits}f}"
    return f"{s['mean']:.{digits}f} [{s['min']:.{digits}f}, {s['max']:.{digits}f}]"


def segmentation_rows(results: list[dict]) -> dict | None:
    """Vox2Vox's Dice and HD95 per region over seeds, one row per variant (raw, and with its largest tumour region
    only), and the FLAIR-threshold baseline's, on the held-out cases."""
    runs = [r for r in results if r["entry"] == "vox2vox"]
    if not runs:
        return None
    first = runs[0]["scores"]["segmentation"]
    regions = list(first["regions"])

    def over_seeds(group: list[dict], key: str | None) -> dict:
        means = [(r["scores"]["segmentation"][key] if key else r["scores"]["segmentation"])["mean"] for r in group]
        return {region: {metric: summary([m[region][metric] for m in means]) for metric in means[0][region]}
                for region in regions}

    rows = []
    for variant in sorted({r["variant"] for r in runs}, key=lambda v: (v is not None, v or "")):
        group = [r for r in runs if r["variant"] == variant]
        rows.append({"variant": variant, "seeds": [r["seed"] for r in group],
                     "cpu_minutes": summary([r["cpu_minutes"] for r in group]), "model": over_seeds(group, None),
                     # Runs scored before the largest-region row existed have none.
                     "largest_component": over_seeds(group, "largest_component") if all(
                         "largest_component" in r["scores"]["segmentation"] for r in group) else None,
                     "per_case": {str(r["seed"]): r["scores"]["segmentation"]["per_case"] for r in group}})
    return {"regions": regions, "rows": rows, "baseline": first.get("baselines", {}).get("flair_threshold")}


def segmentation_lines(seg: dict) -> list[str]:
    """The report's segmentation section: a row per Vox2Vox variant (and its largest-region row), the baseline,
    and the distance of the longest budget's whole tumour Dice to 80 %."""
    lines = ["## Tumour segmentation (Vox2Vox), held-out patients", "",
             "Dice (%) and HD95 (mm) per region, mean over the held-out cases; Vox2Vox over its seeds (mean "
             "[min, max]), as it segments and with only its largest connected tumour region kept "
             "(`segment.py --largest-component`, the clean-up the baseline applies to itself); the baseline "
             "needs no training (FLAIR z-score above 1 and its largest connected component for the whole "
             "tumour, T1ce above 1.25 for the enhancing tumour, `segmentation/baselines.py`).", "",
             "| method | seeds | CPU min | " + " | ".join(f"Dice {r}" for r in seg["regions"]) + " | "
             + " | ".join(f"HD95 {r}" for r in seg["regions"]) + " |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in seg["regions"] * 2) + " |"]

    def score_cells(scores: dict) -> str:
        return (" | ".join(_mean_range({k: 100 * v if k in ("mean", "min", "max") else v
                                        for k, v in scores[r]["dice"].items()}, 1) for r in seg["regions"])
                + " | " + " | ".join(_mean_range(scores[r]["hd95"], 1) for r in seg["regions"]))

    for row in seg["rows"]:
        name = "Vox2Vox" + (f" {row['variant']}" if row["variant"] else "")
        head = f"{len(row['seeds'])} | {row['cpu_minutes']['mean']:.0f}"
        lines.append(f"| {name} | {head} | {score_cells(row['model'])} |")
        if row["largest_component"]:
            lines.append(f"| {name}, largest region | {head} | {score_cells(row['largest_component'])} |")
    if seg["baseline"]:
        mean = seg["baseline"]["mean"]
        lines.append("| FLAIR threshold | - | 0 | " + " | ".join(f"{100 * mean[r]['dice']:.1f}" for r in seg["regions"])
                     + " | " + " | ".join(f"{mean[r]['hd95']:.1f}" for r in seg["regions"]) + " |")
    longest = max(seg["rows"], key=lambda row: row["cpu_minutes"]["mean"])
    budget = f"{longest['cpu_minutes']['mean']:.0f} CPU minutes"
    distances = []
    for what, scores in (("", longest["model"]), (", largest region", longest["largest_component"])):
        wt = (scores or {}).get("WT", {}).get("dice")
        if wt:
            distances.append(f"{100 * wt['mean']:.1f} %{what}, " + (
                f"{80 - 100 * wt['mean']:.1f} points short of 80 %" if wt["mean"] < 0.80 else "above 80 %"))
    if distances:
        lines += ["", f"Whole tumour Dice after {budget}: {'; '.join(distances)}."]
    lines.append("")
    return lines


def report_markdown(report: dict) -> str:
    """``reports/real_mri.md``: the tables of ``report`` (``reports/real_mri.json``) and its figures."""
    lines = ["# Real MRI: every model trained on real BraTS scans and scored on held-out patients", "",
             f"Rebuilt by `{report['command']}`; each run was trained and scored by the command beside it in the "
             "runs table at the end.", "",
             f"Machine: {report['machine']['cpu']} ({report['machine']['cores']} cores; "
             f"{', '.join(report['machine']['flags']) or 'none of ' + ', '.join(CPU_FLAGS)}), no GPU. "
             "Each run trained until it had spent its budget of CPU minutes (all its threads; the CPU min "
             "columns) in training steps; runs went one per core, side by side (`taskset`).", "",
             f"Data: {report['data']['subjects']} subjects of {report['data']['name']} (`DIR`); "
             f"held out, never trained on: {', '.join(report['data']['held_out'])}. Unpaired models take their two "
             "contrasts from disjoint training subjects; pix2pix and iVAN take both contrasts of every training "
             "subject. Axial slices with at least 10 % foreground; each volume mapped to 0-255 by its own "
             "0.5-99.5th percentiles (data range 255). Whole slice: every pixel; brain: inside the brain mask "
             "(foreground in either contrast, holes filled), where the background's easy zeros do not count.", ""]
    slices = {key: row for key, row in report["translation"].items() if row["kind"] == "slices"}
    if slices:
        lines += ["## Translation, mean over held-out patients", "",
                  "Models: mean over seeds [min, max]. The lookup table, histogram matching and the quantile map "
                  "are fitted on the training subjects (the table uses their pairing, which no unpaired model "
                  "sees; the quantile map, `--intensity-map auto`'s start, uses each contrast's histogram and "
                  "depth profile alone).", ""]
        lines += translation_table(slices, report["baselines"])
        lines += ["", *targets_lines(report), ""]
        lines += per_patient_lines(slices, report["baselines"], "whole slice")
        lines += curve_lines(report)
    volumes = {key: row for key, row in report["translation"].items() if row["kind"] == "volumes"}
    if volumes:
        lines += ["## Translation of whole volumes (3D models), mean over held-out patients", "",
                  "Each held-out volume translated whole (sliding windows) and scored as one volume: PSNR, 3D SSIM "
                  "and NMSE over the whole volume and inside the brain mask, beside the same baselines scored the "
                  "same way (the 2D table's figures are per axial slice, and do not compare with these).", ""]
        lines += translation_table(volumes, report.get("volume_baselines", {}), "volume")
        lines += [""] + per_patient_lines(volumes, report.get("volume_baselines", {}), "whole volume")
    if report.get("segmentation"):
        lines += segmentation_lines(report["segmentation"])
    lines += ["## Runs", "", "| run | seed | CPU min | wall min | steps | command |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {r['run']} | {r['seed']} | {r['cpu_minutes']:.1f} | {r['wall_minutes']:.1f} | {r.get('steps') or '-'} | "
              f"`{r['command']}` |" for r in report["runs"]]
    lines.append("")
    if report.get("unfinished"):
        lines += ["Not finished (stopped, or training when the report was rebuilt; run the same command to resume), "
                  "with the held-out whole-slice PSNR / SSIM they had reached:", ""]
        for r in report["unfinished"]:
            reached = "; ".join(f"{p['cpu_minutes']:.1f} CPU min: " + ", ".join(
                f"{d} {p[d]['whole']['psnr']:.2f} / {p[d]['whole']['ssim']:.3f}" for d in p
                if d not in ("epoch", "cpu_minutes")) for p in r["curve"]) or "not scored yet"
            lines.append(f"- {r['run']}: {r['cpu_minutes']:.1f} CPU minutes spent, {r['steps'] or 0} steps; {reached}.")
        lines.append("")
    for name, caption in report.get("figures", {}).items():
        lines += [f"![{caption}]({name})", "", caption, ""]
    lines.append(ANCHORS)
    return "\n".join(lines)


def translation_table(rows: dict, baselines: dict, unit: str = "slice") -> list[str]:
    """One markdown table of translation ``rows`` (models) and ``baselines`` per direction, scored per ``unit``."""
    lines = [f"| direction | method | seeds | CPU min | PSNR whole {unit} (dB) | SSIM whole {unit} | "
             f"NMSE whole {unit} | PSNR brain (dB) | SSIM brain |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for direction in sorted({row["direction"] for row in rows.values()}):
        title = None
        for row in (r for r in rows.values() if r["direction"] == direction and "whole" in r):
            title = f"{row['source']} -> {row['target']}"
            w, b = row["whole"], row.get("brain")
            lines.append(f"| {title} | {row['model']} | {len(row['runs'])} | "
                         f"{row['cpu_minutes']['mean']:.0f} | {_mean_range(w['psnr'], 2)} | "
                         f"{_mean_range(w['ssim'], 3)} | {_mean_range(w['nmse'], 4)} | "
                         + (f"{_mean_range(b['psnr'], 2)} | {_mean_range(b['ssim'], 3)} |" if b else "- | - |"))
        for name, scores in baselines.get(direction, {}).items():
            w, b = scores["whole"], scores["brain"]
            lines.append(f"| {title or direction} | {name.replace('_', ' ')} | - | 0 | {w['psnr']:.2f} | "
                         f"{w['ssim']:.3f} | {w['nmse']:.4f} | {b['psnr']:.2f} | {b['ssim']:.3f} |")
    return lines


def targets_lines(report: dict) -> list[str]:
    """Where the unpaired CycleGANs stand against the targets: SSIM 0.85 T1 -> T2 (whole slice or volume), and
    above histogram matching and the lookup table in PSNR both ways, each beside the baselines scored as it is."""
    rows = [r for r in report["translation"].values() if r["base_model"] in ("cyclegan", "cyclegan3d")
            and "whole" in r]
    lines = []
    for row in rows:
        volumes = row["kind"] == "volumes"
        base = report.get("volume_baselines" if volumes else "baselines", {}).get(row["direction"], {})
        w = row["whole"]
        checks = [f"PSNR {w['psnr']['mean']:.2f} dB vs lookup table {base['lookup_table']['whole']['psnr']:.2f}, "
                  f"histogram matching {base['histogram_matching']['whole']['psnr']:.2f}"] if base else []
        if row["source"].upper() == "T1":
            checks.insert(0, f"SSIM {w['ssim']['mean']:.3f} (worst seed {w['ssim']['min']:.3f}) vs target 0.85")
        scored = " (whole volumes)" if volumes else ""
        lines.append(f"- {row['model']} {row['source']} -> {row['target']}{scored}: " + "; ".join(checks) + ".")
    return lines


def per_patient_lines(translation: dict, baselines: dict, unit: str = "whole slice") -> list[str]:
    """Each held-out patient's ``unit`` PSNR / SSIM per method of ``translation`` rows and ``baselines`` (models:
    mean over seeds)."""
    lines = []
    for direction in sorted({row["direction"] for row in translation.values()}):
        rows = [r for r in translation.values() if r["direction"] == direction and "whole" in r]
        base = baselines.get(direction, {})
        names = [s["name"] for s in rows[0]["runs"][0]["per_subject"]] if rows else []
        if not names:
            continue
        methods = [(r["model"], [run["per_subject"] for run in r["runs"]]) for r in rows]
        methods += [(n.replace("_", " "), [b["per_subject"]]) for n, b in base.items()]
        lines += [f"### {rows[0]['source']} -> {rows[0]['target']} per held-out patient ({unit} PSNR / SSIM)",
                  "", "| patient | " + " | ".join(m for m, _ in methods) + " |",
                  "| --- | " + " | ".join("---:" for _ in methods) + " |"]
        for i, name in enumerate(names):
            cells = []
            for _, tables in methods:
                values = [t[i]["whole"] for t in tables if i < len(t)]
                cells.append(f"{np.mean([v['psnr'] for v in values]):.2f} / {np.mean([v['ssim'] for v in values]):.3f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def curve_lines(report: dict) -> list[str]:
    """The held-out whole-slice SSIM of each 2D run of the first seed as training went, by CPU minutes."""
    curves = report.get("curves", {})
    if not curves:
        return []
    lines = ["### Held-out whole-slice PSNR / SSIM as training went (first seed)", ""]
    for name, points in curves.items():
        directions = [k for k in points[0] if k not in ("epoch", "cpu_minutes")]
        lines += [f"{name}:", "", "| CPU min | epoch | " + " | ".join(directions) + " |",
                  "| ---: | ---: | " + " | ".join("---:" for _ in directions) + " |"]
        for p in points:
            lines.append(f"| {p['cpu_minutes']:.1f} | {p['epoch']} | " + " | ".join(
                f"{p[d]['whole']['psnr']:.2f} / {p[d]['whole']['ssim']:.3f}" for d in directions) + " |")
        lines.append("")
    return lines


def sanitised(value, paths: dict[str, str]):
    """``value`` with each machine path of ``paths`` written as its stand-in (no machine path in a report)."""
    if isinstance(value, str):
        for path, stand_in in paths.items():
            value = value.replace(path, stand_in)
        return value
    if isinstance(value, list):
        return [sanitised(v, paths) for v in value]
    if isinstance(value, dict):
        return {k: sanitised(v, paths) for k, v in value.items()}
    return value


def write_report(out: Path, reports: Path, data: str, holdout: int, command: str,
                 figures: bool = True, name: str | None = None) -> dict:
    """Rebuild ``reports/real_mri.json`` and ``.md`` (and the figures) from every finished run under ``out``."""
    results = collect(out)
    info = cpu_info()
    options = TrainOptions(data=data, domains=list(DOMAINS), holdout_cases=holdout)
    subjects, split = subject_split(options)
    report = {
        "command": command,
        "machine": {"cpu": info["model"], "cores": os.cpu_count(),
                    "flags": [f for f in CPU_FLAGS if f in info["flags"]]},
        "data": {"folder": "DIR", "name": name or Path(data).name, "subjects": len(subjects),
                 "held_out": list(split.held_out)},
        "translation": translation_rows(results), "baselines": baseline_rows(results),
        "volume_baselines": baseline_rows(results, "volumes"),
        "segmentation": segmentation_rows(results),
        "curves": {label_of(r): r["curve"] for r in results if r.get("curve") and r["seed"] == min(
            x["seed"] for x in results if x["run"].rsplit("-seed", 1)[0] == r["run"].rsplit("-seed", 1)[0])},
        "runs": [{**{k: v for k, v in r.items() if k not in ("scores", "curve")}, "command": command_of(r),
                  "flags": [f"OUT/{r['run']}" if i and r["flags"][i - 1] == "--out" else flag
                            for i, flag in enumerate(r["flags"])]} for r in results],
        "unfinished": unfinished(out)}
    reports.mkdir(parents=True, exist_ok=True)
    if figures:
        report["figures"] = write_figures(results, reports, data, out)
    report = sanitised(report, {str(out): "OUT", str(reports): reports.name, data.rstrip("/"): "DIR"})
    write_atomic(reports / "real_mri.json", json.dumps(report, indent=2) + "\n")
    write_atomic(reports / "real_mri.md", report_markdown(report))
    return report


def write_figures(results: list[dict], reports: Path, data: str, out: Path) -> dict[str, str]:
    """The report's figures, by file name: their captions."""
    figures = {}
    slices = [r for r in results if kind_of(r) == "slices"]
    if slices:
        (reports / "real_mri_translations.png").write_bytes(translations_figure(slices, data, out))
        figures["real_mri_translations.png"] = (
            "Held-out patients, the axial slice with the most brain: input, real target and each 2D model's "
            "translation (first seed), each direction.")
    segmentation = [r for r in results if r["entry"] == "vox2vox"]
    if segmentation:
        # The run with the largest budget: the best the report has to show.
        longest = max(segmentation, key=lambda r: r["cpu_minutes"])
        (reports / "real_mri_segmentation.png").write_bytes(segmentation_figure(longest, out))
        figures["real_mri_segmentation.png"] = (
            "Held-out patients, the axial slice with the most tumour: FLAIR, the expert labels, the training-free "
            f"FLAIR-threshold baseline and Vox2Vox as it segments (run {longest['run']}, the largest budget); red "
            "necrosis / non-enhancing core, green oedema, yellow enhancing tumour.")
    return figures


def segmentation_figure(result: dict, out: Path, patients: int = 2) -> bytes:
    """FLAIR with the expert labels, the threshold baseline and Vox2Vox's segmentation of the first held-out cases."""
    run = out / result["run"]
    options = load_run_options(run)
    contrasts = tuple(options.contrasts)
    cases = [c for c in find_cases(options.data) if c.name in set(options.held_out or ())][:patients]
    colours = ListedColormap(["red", "green", "yellow"])

    def panels(case):
        classes = case_classes(options.classes, case)
        volumes = read_case(case, contrasts, classes)
        predicted = nib.as_closest_canonical(nib.load(str(run / SEGMENTATIONS / f"{case.name}.nii.gz")))
        lookup = np.zeros(max(classes) + 1, np.uint8)
        lookup[list(classes)] = np.arange(len(classes))
        model = lookup[np.rint(np.asarray(predicted.dataobj)).astype(np.int64)]
        baseline = threshold_segmentation(volumes.image, contrasts, classes)
        z = int(np.argmax((volumes.classes > 0).sum(axis=(0, 1))))
        flair = volumes.image[..., contrasts.index("flair") if "flair" in contrasts else 0]
        return z, flair, {"expert": volumes.classes, "FLAIR threshold": baseline, "Vox2Vox": model}

    def draw(figure):
        for i, case in enumerate(cases):
            z, flair, labels = panels(case)
            shown = [("FLAIR", None), *labels.items()]
            for j, (title, volume) in enumerate(shown):
                axes = figure.add_subplot(len(cases), len(shown), i * len(shown) + j + 1)
                axes.imshow(np.rot90(flair[:, :, z]), cmap="gray")
                if volume is not None:
                    axial = np.rot90(volume[:, :, z]).astype(float)
                    axes.imshow(np.ma.masked_equal(axial, 0), cmap=colours, vmin=1, vmax=3, alpha=0.6,
                                interpolation="nearest")
                axes.set_title(f"{case.name}\n{title}" if j == 0 else title, fontsize=7)
                axes.axis("off")

    return figure_png(draw, size=(9, 2.6 * len(cases)))


def translations_figure(results: list[dict], data: str, out: Path, patients: int = 2) -> bytes:
    """Input, real target and each 2D model's translation of one slice of the first held-out patients."""
    first = {}
    for r in results:
        first.setdefault((r["entry"], r.get("variant")), r)
    options = load_run_options(out / results[0]["run"])
    _, split = subject_split(options)
    domains = options.run_domains
    chosen = split.test[:patients]
    reads = [read_subject(s, (0, 1), options.plane, options.min_foreground) for s in chosen]
    picks = [int(np.argmax(read.masks.sum(axis=(1, 2)))) for read in reads]
    translators: dict[str, dict] = {}  # by label; pix2pix's two runs give one label's two directions
    for r in first.values():
        translators.setdefault(label_of(r), {}).update(load_generators(RunDir.at(out / r["run"])))
    models = list(translators)
    rows = [(read, pick, direction) for read, pick in zip(reads, picks) for direction in domains.directions]

    def draw(figure):
        columns = 2 + len(models)
        for i, (read, pick, direction) in enumerate(rows):
            side = domains.source_side(direction)
            source, target = read.images[side][pick], read.images[1 - side][pick]
            panels = [(f"{read.subject.name}\n{domains.names[side]} (input)", source),
                      (f"{domains.names[1 - side]} (real)", target)]
            for model in models:
                generator = translators[model].get(direction)
                image = translate_slices(generator, [source])[0] if generator is not None else None
                panels.append((model, image))
            for j, (title, image) in enumerate(panels):
                axes = figure.add_subplot(len(rows), columns, i * columns + j + 1)
                if image is not None:
                    axes.imshow(image, cmap="gray", vmin=0, vmax=255)
                axes.set_title(title, fontsize=6)
                axes.axis("off")

    return figure_png(draw, size=(1.6 * (2 + len(models)), 1.8 * len(rows)))


def build_parser() -> argparse.ArgumentParser:
    """``bench/real_mri.py``'s parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="a folder of real NIfTI volumes with T1, T2 (and for Vox2Vox T1ce, FLAIR and labels) "
                             "per subject, e.g. BraTS case folders")
    parser.add_argument("--out", default="output/real_mri", help="where the runs go, one folder per model and "
                        "seed (default: %(default)s)")
    parser.add_argument("--models", nargs="+", choices=list(entries()), default=list(entries()), metavar="ENTRY",
                        help="which models to run (default: all of " + ", ".join(entries()) + ")")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], metavar="S",
                        help="one run per seed (default: 0 1)")
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="CPU minutes of training per run (all the process's threads; default: %(default)s)")
    parser.add_argument("--holdout-cases", type=int, default=4, metavar="K",
                        help="patients held out of every run, the same for every model and seed (default: 4)")
    parser.add_argument("--curve-every", type=float, default=10.0, metavar="MIN",
                        help="score the held-out patients after each MIN CPU minutes of a 2D run (0: at the end "
                             "only; default: %(default)s)")
    parser.add_argument("--variant", metavar="NAME",
                        help="a named variant of the models: its runs go to <entry>-NAME-seed<S> and its rows "
                             "beside the plain ones (give its flags with --train-flags)")
    parser.add_argument("--train-flags", default="", metavar="'FLAGS'",
                        help="train.py flags added to every run of --variant (write --train-flags='--lambda-identity 0')")
    parser.add_argument("--data-name", metavar="TEXT",
                        help="what the report calls the data (default: the --data folder's name)")
    parser.add_argument("--reports", default="reports", help="where the report goes (default: %(default)s)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: rebuild the report from the finished runs under --out")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``bench/real_mri.py``: train and score each model and seed, then rebuild the report."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if not Path(args.data).is_dir():
        raise UserError(f"--data {args.data}: not a folder (fetch the BraTS cases first, see docs/real_mri.md)")
    out, reports = Path(args.out), Path(args.reports)
    command = "python bench/real_mri.py " + shlex.join(argv)
    if bool(args.variant) != bool(args.train_flags):
        raise UserError("--variant and --train-flags go together: a variant is named by the flags it adds")
    if not args.report_only:
        size = slice_size(args.data, DOMAINS)
        for name in args.models:
            for seed in args.seeds:
                run_entry(entries()[name], args.data, args.holdout_cases, seed, out, args.minutes,
                          args.curve_every, size, args.variant, shlex.split(args.train_flags))
                write_report(out, reports, args.data, args.holdout_cases, command, figures=False,
                             name=args.data_name)
    report = write_report(out, reports, args.data, args.holdout_cases, command, name=args.data_name)
    print(f"wrote {reports / 'real_mri.md'} ({len(report['runs'])} runs)")
    return 0
