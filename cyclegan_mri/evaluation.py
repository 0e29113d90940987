"""Translate a source with a run's generators and score the aligned pairs (``evaluate.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cyclegan_mri.data import pairing
from cyclegan_mri.data.dataset import read_dataset
from cyclegan_mri.data.images import encode_png
from cyclegan_mri.data.sources import Slice, load_folder
from cyclegan_mri.errors import DataError
from cyclegan_mri.inference import load_generators, translate_slices
from cyclegan_mri.metrics import summarize
from cyclegan_mri.rundir import RunDir, write_atomic

SOURCE_DOMAIN = {"t1_to_t2": 0, "t2_to_t1": 1}  # index of the input side of a (T1, T2) pair
TITLES = {"t1_to_t2": "T1 -> T2", "t2_to_t1": "T2 -> T1"}


@dataclass
class Source:
    """The slices to translate and the aligned (T1, T2) pairs among them to score."""

    t1: list[Slice]
    t2: list[Slice]
    pairs: list[pairing.Pair]
    description: str


def user_pairs(folder: str | Path, skip_bad: bool = False) -> Source:
    """Aligned pairs from ``folder/t1`` and ``folder/t2``, matched by file name."""
    root = Path(folder)
    t1, t2 = load_folder(root / "t1", skip_bad), load_folder(root / "t2", skip_bad)
    by_name = {s.name: s for s in t2}
    pairs = [(s, by_name[s.name]) for s in t1 if s.name in by_name]
    if not pairs:
        raise DataError(f"{root}: no file name appears in both t1/ and t2/; aligned pairs must share a name")
    return Source(t1, t2, pairs, f"{len(pairs)} pairs from {root}")


def dataset_source(data: str | Path, all_pairs: bool = False, accept_checksum: bool = False,
                   skip_bad: bool = False) -> Source:
    """Every slice of the dataset, scored on its 9 held-out pairs (or all 43)."""
    t1, t2 = read_dataset(data, accept_checksum, skip_bad)
    pairs = pairing.test_pairs(t1, t2, all_pairs)
    kind = "all aligned pairs" if all_pairs else "held-out test pairs"
    return Source(t1, t2, pairs, f"{len(pairs)} {kind} of {data}")


def evaluate(run: RunDir, source: Source, write_translations: bool = True) -> dict:
    """Translate every slice of ``source`` with each generator of ``run`` and score the pairs."""
    generators = load_generators(run)
    results = {}
    for direction, generator in generators.items():
        side = SOURCE_DOMAIN[direction]
        inputs = (source.t1, source.t2)[side]
        translated = dict(zip((s.name for s in inputs), translate_slices(generator, [s.image for s in inputs])))
        if write_translations:
            folder = run.translations / direction
            for name, image in translated.items():
                write_atomic(folder / f"{Path(name).stem}.png", encode_png(image))
        names = [f"{a.name} -> {b.name}" if side == 0 else f"{b.name} -> {a.name}" for a, b in source.pairs]
        targets = [pair[1 - side].image for pair in source.pairs]
        predictions = [translated[pair[side].name] for pair in source.pairs]
        results[direction] = summarize(names, targets, predictions)
    return results


def format_table(results: dict, per_image: bool = True) -> str:
    """The scores as a plain-text table: means per direction, then each image."""
    lines = [f"{'direction':<10} {'n':>3} {'PSNR (dB)':>10} {'SSIM':>7} {'NMSE':>8}"]
    for direction, r in results.items():
        lines.append(f"{TITLES[direction]:<10} {len(r['per_image']):>3} {r['psnr']:>10.2f} "
                     f"{r['ssim']:>7.3f} {r['nmse']:>8.4f}")
    if per_image:
        for direction, r in results.items():
            lines.append(f"\n{TITLES[direction]} per image")
            for row in r["per_image"]:
                lines.append(f"  {row['name']:<36} {row['psnr']:>7.2f} {row['ssim']:>7.3f} {row['nmse']:>8.4f}")
    return "\n".join(lines)


def save_results(path: Path, results: dict) -> None:
    write_atomic(path, json.dumps(results, indent=2, allow_nan=True) + "\n")

