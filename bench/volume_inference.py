"""Whole-volume inference of the 3D CycleGAN and Vox2Vox: the old path (training-patch windows, one per eager
network call) against batched windows and larger windows, timed side by side, and scored on trained runs.

    python bench/volume_inference.py                                          # 240x240x155, the CPU presets
    python bench/volume_inference.py --shape 96 112 80 --repeats 3 --windows 64 128
    python bench/volume_inference.py --cyclegan-run RUN3D --cyclegan-data VOLS --vox2vox-run RUNV2V \\
        --vox2vox-data CASES                                                  # adds the scores

Timing: random-weight generators at the ``--preset cpu`` sizes (ResNet6 3D with 8 filters, 32^3 patches;
Vox2Vox U-Net with 8 filters, 32^3 patches, 4 contrasts; the cost of a network does not depend on its
weights) translate or segment one random volume of ``--shape``. Each setting's output is first compared with
the old path's on a small volume (``max_abs_diff_vs_old``), untimed; then the settings take turns, ``--repeats`` rounds of A, B, C, ..., so that a slower machine moment falls on
all of them alike; the report gives each setting's seconds per volume (the median) and its speed-up over
the old path measured in the same round.

Scores: with a trained run and its held-out data, each setting translates (3D CycleGAN: PSNR/SSIM on the
aligned pairs, as ``evaluate.py``) or segments (Vox2Vox: Dice per region) the same volumes.

Writes ``reports/volume_inference.json`` (the command, the CPU model and flags) and ``reports/volume_inference.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: The flags of the CPU that matter to convolution speed, said beside every figure.
FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu() -> dict:
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), "flags": [f for f in FLAGS if f in flags]}


def settings(windows: list[int], batches: list[int], window_batches: list[int]) -> list[dict]:
    """Old path first; then the training patch batched (graph call), then each larger window."""
    rows = [{"name": "old: 32^3 windows, 1 per eager call", "window": None, "batch": 1, "eager": True}]
    rows += [{"name": f"32^3 windows, {b} per call", "window": None, "batch": b, "eager": False} for b in batches]
    rows += [{"name": f"{w}^3 windows, {b} per call", "window": (w, w, w), "batch": b, "eager": False}
             for w in windows for b in window_batches if w != 32]
    return rows


def networks() -> dict:
    from cyclegan_mri.networks.volumetric import resnet_generator_3d
    from cyclegan_mri.networks.vox2vox import vox2vox_generator

    return {"cyclegan3d": resnet_generator_3d((32, 32, 32, 1), filters=8, n_blocks=6),
            "vox2vox": vox2vox_generator((32, 32, 32, 4), filters=8)}


def infer(network, volume, setting: dict, pad_value: float):
    """The network over ``volume`` (D, H, W, C) as ``setting`` says; the old path as the code was before."""
    import numpy as np

    from cyclegan_mri.networks.windows import fit_window, training_patch, window_predictor
    from cyclegan_mri.sliding_window import sliding_window_inference

    if setting["eager"]:
        window = training_patch(network)
        predict = lambda batch: np.asarray(network(batch, training=False))  # noqa: E731
    else:
        window = (training_patch(network) if setting["window"] is None
                  else fit_window(network, setting["window"], volume.shape[:3]))
        predict = window_predictor(network, window)
    return sliding_window_inference(volume, window, predict, overlap=0.5, batch_size=setting["batch"],
                                    pad_value=pad_value)


def time_settings(rows: list[dict], shape: list[int], repeats: int, models: list[str]) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    results = {}
    for name, network in networks().items():
        if name not in models:
            continue
        channels = int(network.input_shape[-1])
        volume = rng.uniform(-1, 1, (*shape, channels)).astype(np.float32)
        # Untimed, on a small volume (48x56x40, the phantoms' size; the windows shrink to it): each setting's
        # output against the old path's.
        small = rng.uniform(-1, 1, (48, 56, 40, channels)).astype(np.float32)
        pad = -1.0 if name == "cyclegan3d" else 0.0
        times = {row["name"]: [] for row in rows}
        reference = None
        for row in rows:
            out = infer(network, small, row, pad)
            if reference is None:
                reference = out
            row_diff = float(np.abs(out - reference).max())
            times[row["name"] + " max_abs_diff"] = row_diff
        for _ in range(repeats):
            for row in rows:
                started = time.perf_counter()
                infer(network, volume, row, pad)
                times[row["name"]].append(time.perf_counter() - started)
                print(f"{name} {row['name']}: {times[row['name']][-1]:.1f} s", flush=True)
        table = []
        old = times[rows[0]["name"]]
        for row in rows:
            seconds = times[row["name"]]
            table.append({**{k: row[k] for k in ("name", "window", "batch")}, "seconds": seconds,
                          "median_s": statistics.median(seconds),
                          "speedup_vs_old": statistics.median(o / s for o, s in zip(old, seconds)),
                          "max_abs_diff_vs_old": times[row["name"] + " max_abs_diff"]})
        results[name] = table
    return results


def score_cyclegan(run: str, data: str, rows: list[dict]) -> list[dict]:
    from cyclegan_mri.data.volume_data import reads_subjects
    from cyclegan_mri.record import load_run_options
    from cyclegan_mri.rundir import RunDir
    from cyclegan_mri.translation.inference import pick_generator
    from cyclegan_mri.volumetric.inference import score_pair

    options = load_run_options(Path(run))
    if reads_subjects(data, options.run_domains):
        return score_cyclegan_subjects(run, data, rows)
    direction, generator = pick_generator(RunDir.at(run), None)
    source_dir, target_dir = (Path(data) / d for d in direction.split("_to_"))
    names = sorted(p.name for p in source_dir.glob("*.nii*"))
    table = []
    for row in rows:
        if row["eager"]:
            continue  # the batched 32^3 rows give the old path's output to float rounding (see max_abs_diff)
        psnr, ssim = [], []
        for name in names:
            scores = score_pair(generator, source_dir / name, target_dir / name, options.spacing,
                                window=row["window"])["model"]
            psnr.append(scores["psnr"])
            ssim.append(scores["ssim"])
        table.append({"name": row["name"], "window": row["window"], "direction": direction, "volumes": len(names),
                      "psnr": statistics.mean(psnr), "ssim": statistics.mean(ssim)})
    return table


def score_cyclegan_subjects(run: str, data: str, rows: list[dict]) -> list[dict]:
    """The 3D run's held-out subjects of ``data`` (all of them when ``data`` is another folder), both directions,
    whole volumes, for each window setting."""
    from cyclegan_mri.record import load_run_options
    from cyclegan_mri.rundir import RunDir
    from cyclegan_mri.volumetric.subjects import evaluate_volume_subjects

    options = load_run_options(Path(run))
    own = Path(data).resolve() == Path(options.data).resolve()
    table = []
    for row in rows:
        if row["eager"]:
            continue
        results, _ = evaluate_volume_subjects(RunDir.at(run), options, None if own else data,
                                              write_translations=False, baselines=False, window=row["window"])
        for direction, r in results.items():
            if direction != "subjects":
                table.append({"name": row["name"], "window": row["window"], "direction": direction,
                              "volumes": len(r["per_subject"]), "psnr": r["whole"]["psnr"],
                              "ssim": r["whole"]["ssim"]})
    return table


def score_vox2vox(run: str, data: str, rows: list[dict]) -> list[dict]:
    from cyclegan_mri.rundir import RunDir
    from cyclegan_mri.segmentation.inference import evaluate_segmentation

    table = []
    for row in rows:
        if row["eager"]:
            continue
        results, _ = evaluate_segmentation(RunDir.at(run), data, all_cases=True, write_segmentations=False,
                                           window=row["window"])
        mean = results["segmentation"]["mean"]
        table.append({"name": row["name"], "window": row["window"], "cases": len(results["segmentation"]["per_case"]),
                      "dice": {region: mean[region]["dice"] for region in mean}})
    return table


def markdown(report: dict) -> str:
    c = report["cpu"]
    lines = ["# Whole-volume inference: batched and larger windows", "",
             f"`{report['command']}`", "",
             f"CPU: {c['model']}, {c['cores']} cores, flags {' '.join(c['flags'])}; TensorFlow {report['tensorflow']}. "
             f"Random-weight networks at the CPU presets on one {'x'.join(map(str, report['shape']))} volume, "
             f"overlap 0.5, Gaussian blending; {report['repeats']} interleaved round(s), graph tracing included (median; the speed-up is the "
             "median of the per-round ratios to the old path).", ""]
    for model, table in report["timing"].items():
        lines += [f"## {model}: seconds per volume", "", "| setting | seconds | speed-up | max abs diff vs old (48x56x40) |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {r['name']} | {r['median_s']:.1f} | {r['speedup_vs_old']:.2f}x | {r['max_abs_diff_vs_old']:.2g} |"
                  for r in table]
        lines.append("")
    if report.get("scores", {}).get("cyclegan3d"):
        s = report["scores"]["cyclegan3d"]
        lines += [f"## cyclegan3d: scores ({s[0]['volumes']} held-out volumes, whole volume)", "",
                  "| setting | direction | PSNR | SSIM |", "| --- | --- | ---: | ---: |"]
        lines += [f"| {r['name']} | {r['direction']} | {r['psnr']:.3f} | {r['ssim']:.4f} |" for r in s]
        lines.append("")
    if report.get("scores", {}).get("vox2vox"):
        s = report["scores"]["vox2vox"]
        regions = list(s[0]["dice"])
        lines += [f"## vox2vox: Dice (%) on {s[0]['cases']} held-out cases", "",
                  "| setting | " + " | ".join(regions) + " |", "| --- |" + " ---: |" * len(regions)]
        lines += [f"| {r['name']} | " + " | ".join(f"{100 * r['dice'][g]:.2f}" for g in regions) + " |" for r in s]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", type=int, nargs=3, default=[240, 240, 155], metavar=("D", "H", "W"))
    p.add_argument("--windows", type=int, nargs="+", default=[64, 128, 160],
                   help="cubic window sizes to try beside the 32^3 patch (multiples of 16)")
    p.add_argument("--batches", type=int, nargs="+", default=[4],
                   help="32^3 windows per network call to try (the old path, 1 per eager call, always runs)")
    p.add_argument("--window-batches", type=int, nargs="+", default=[1],
                   help="larger windows per network call to try")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--models", nargs="+", default=["cyclegan3d", "vox2vox"], choices=["cyclegan3d", "vox2vox"])
    p.add_argument("--cyclegan-run"), p.add_argument("--cyclegan-data")
    p.add_argument("--vox2vox-run"), p.add_argument("--vox2vox-data")
    p.add_argument("--no-timing", action="store_true", help="scores only")
    p.add_argument("--output", default=str(ROOT / "reports" / "volume_inference.json"))
    args = p.parse_args(argv)
    import tensorflow as tf

    rows = settings(args.windows, args.batches, args.window_batches)
    report = {"command": "python bench/volume_inference.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
              "cpu": cpu(), "tensorflow": tf.__version__, "shape": args.shape, "repeats": args.repeats,
              "timing": {}, "scores": {}}
    if not args.no_timing:
        report["timing"] = time_settings(rows, args.shape, args.repeats, args.models)
    if args.cyclegan_run:
        report["scores"]["cyclegan3d"] = score_cyclegan(args.cyclegan_run, args.cyclegan_data, rows)
    if args.vox2vox_run:
        report["scores"]["vox2vox"] = score_vox2vox(args.vox2vox_run, args.vox2vox_data, rows)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    output.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
