"""Translate a source with a run's generators and score the aligned pairs (``evaluate.py``).

Each direction's scores say whether they are held out: whether the run never
saw any image of the scored pairs. That is decided by content, not by names or
flags: the run's training slices (as its ``run.json`` selects them) are read
again and compared pixel for pixel with the scored ones, so it holds for the
dataset's pairs, ``--all-pairs`` and a user's own ``--pairs`` alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_mri import baselines
from cyclegan_mri.data import pairing
from cyclegan_mri.data.dataset import paired_slices, read_dataset, unpaired_slices
from cyclegan_mri.data.images import encode_png, to_uint8
from cyclegan_mri.data.sources import Slice
from cyclegan_mri.inference import load_generators, translate_slices
from cyclegan_mri.errors import UserError
from cyclegan_mri.metrics import summarize
from cyclegan_mri.options import TrainOptions
from cyclegan_mri.rundir import RunDir, write_atomic

SOURCE_DOMAIN = {"t1_to_t2": 0, "t2_to_t1": 1}  # index of the input side of a (T1, T2) pair
TITLES = {"t1_to_t2": "T1 -> T2", "t2_to_t1": "T2 -> T1"}


@dataclass
class Source:
    """The slices to translate, the aligned (T1, T2) pairs among them to score, and what baselines may fit on."""

    t1: list[Slice]
    t2: list[Slice]
    pairs: list[pairing.Pair]
    description: str
    training_pairs: list[pairing.Pair] = field(default_factory=list)


def user_pairs(folder: str | Path, skip_bad: bool = False) -> Source:
    """Aligned pairs from ``folder/t1`` and ``folder/t2``, matched by file name."""
    t1, t2, pairs = pairing.folder_pairs(folder, skip_bad)
    return Source(t1, t2, pairs, f"{len(pairs)} pairs from {folder}")


def dataset_source(data: str | Path, all_pairs: bool = False, accept_checksum: bool = False,
                   skip_bad: bool = False) -> Source:
    """Every slice of the dataset, scored on its 9 held-out pairs (or all 43)."""
    path, t1, t2 = read_dataset(data, accept_checksum, skip_bad)
    pairs = pairing.test_pairs(t1, t2, all_pairs)
    kind = "aligned pairs" if all_pairs else "test pairs"
    training = pairing.split_pairs(pairing.dataset_pairs(t1, t2))[0]
    return Source(t1, t2, pairs, f"{len(pairs)} {kind} of {path}", training)


def unscored_slices(source: Source, side: int) -> list[np.ndarray]:
    """The images of one domain (``side`` 0: T1, 1: T2) outside the scored pairs."""
    held = {id(s) for pair in source.pairs for s in pair}
    return [s.image for s in (source.t1, source.t2)[side] if id(s) not in held]


def score_pairs(source: Source, direction: str,
                translate: Callable[[list[np.ndarray]], Sequence[np.ndarray]]) -> dict:
    """``summarize`` of ``translate`` (source-domain slices -> their translations) on the scored pairs."""
    side = SOURCE_DOMAIN[direction]
    return summarize([pair[side].name for pair in source.pairs], [pair[1 - side].image for pair in source.pairs],
                     translate([pair[side].image for pair in source.pairs]))


def baseline_scores(source: Source) -> dict:
    """Scores of the simple baselines on the pairs of ``source``, by direction and baseline.

    Histogram matching uses the other domain's slices outside the scored pairs (and is left
    out where there are none); the lookup table is fitted on the training pairs (which
    --all-pairs also scores).
    Without a training split (a user's own pairs) only the identity is given.
    """
    results = {}
    for direction, side in SOURCE_DOMAIN.items():
        methods = {"identity": baselines.identity}
        if source.training_pairs:
            others = unscored_slices(source, 1 - side)
            if others:  # with --all-pairs every T1 slice is scored: nothing unscored to match T2 -> T1 onto
                methods["histogram_matching"] = baselines.HistogramMatching(others)
            methods["lookup_table"] = baselines.LookupTable([p[side].image for p in source.training_pairs],
                                                            [p[1 - side].image for p in source.training_pairs])
        results[direction] = {name: score_pairs(source, direction, lambda images, m=method: [m(x) for x in images])
                              for name, method in methods.items()}
    return results


def fingerprint(image: np.ndarray) -> str:
    """A digest of an 8-bit slice's pixels and shape: equal for the same image under any file name."""
    image = np.ascontiguousarray(image)
    return hashlib.sha256(repr(image.shape).encode() + image.tobytes()).hexdigest()


def training_fingerprints(options: TrainOptions | None) -> set[str] | None:
    """Fingerprints of every slice the run of ``options`` trains on, or None if they cannot be read again."""
    from cyclegan_mri.models import model_class

    if options is None:
        return None
    try:
        if model_class(options.model).paired:
            slices = [s for pair in paired_slices(options.data, options.holdout, options.pairs,
                                                  options.accept_checksum, options.skip_bad_images) for s in pair]
        else:
            t1, t2 = unpaired_slices(options.data, options.holdout, options.accept_checksum,
                                     options.skip_bad_images)
            slices = [*t1, *t2]
    except UserError:
        return None  # moved or deleted since: say "unknown" rather than guess
    return {fingerprint(s.image) for s in slices}


def evaluate(run: RunDir, source: Source, write_translations: bool = True,
             training: set[str] | None = None) -> dict:
    """Translate every slice of ``source`` with each generator of ``run`` and score the pairs.

    ``training`` holds the fingerprints of the run's training slices: each direction then
    says whether its scores are ``held_out`` (no scored image was trained on) and each
    pair whether it was ``seen_in_training``; without it, ``held_out`` is None (unknown).
    """
    generators = load_generators(run)
    results = {}
    for direction, generator in generators.items():
        side = SOURCE_DOMAIN[direction]
        inputs = (source.t1, source.t2)[side]
        translated = dict(zip((s.name for s in inputs),
                              translate_slices(generator, [s.image for s in inputs], progress=TITLES[direction])))
        if write_translations:
            folder = run.translations / direction
            for name, image in translated.items():
                write_atomic(folder / f"{Path(name).stem}.png", encode_png(to_uint8(image)))
        names = [f"{a.name} -> {b.name}" if side == 0 else f"{b.name} -> {a.name}" for a, b in source.pairs]
        targets = [pair[1 - side].image for pair in source.pairs]
        predictions = [translated[pair[side].name] for pair in source.pairs]
        results[direction] = summarize(names, targets, predictions)
        if training is not None:
            for row, pair in zip(results[direction]["per_image"], source.pairs):
                row["seen_in_training"] = any(fingerprint(s.image) in training for s in pair)
            results[direction]["held_out"] = not any(row["seen_in_training"]
                                                     for row in results[direction]["per_image"])
        else:
            results[direction]["held_out"] = None
    return results


def held_out_note(results: dict) -> str:
    """One line saying whether the scores are held out, for the score table."""
    flags = {r.get("held_out") for r in results.values()}
    if flags == {True}:
        return "held out: the run never saw any image of these pairs"
    if False in flags:
        seen = max(sum(row.get("seen_in_training", False) for row in r["per_image"]) for r in results.values())
        total = max(len(r["per_image"]) for r in results.values())
        return (f"NOT held out: the run trained on images of {seen} of these {total} pairs, so these scores "
                "overstate its quality; train with --holdout for honest scores")
    return "held out: unknown (the run's training data could not be read again to check)"


def format_table(results: dict, per_image: bool = True) -> str:
    """The scores as a plain-text table: means per direction (and its baselines), then each image."""
    lines = [f"{'direction':<10} {'method':<20} {'n':>3} {'PSNR (dB)':>10} {'SSIM':>7} {'NMSE':>8}"]
    for direction, r in results.items():
        rows = [("model", r), *r.get("baselines", {}).items()]
        for method, scores in rows:
            lines.append(f"{TITLES[direction]:<10} {method:<20} {len(scores['per_image']):>3} "
                         f"{scores['psnr']:>10.2f} {scores['ssim']:>7.3f} {scores['nmse']:>8.4f}")
    if per_image:
        for direction, r in results.items():
            lines.append(f"\n{TITLES[direction]} per image")
            for row in r["per_image"]:
                seen = "  (seen in training)" if row.get("seen_in_training") else ""
                lines.append(f"  {row['name']:<36} {row['psnr']:>7.2f} {row['ssim']:>7.3f} {row['nmse']:>8.4f}{seen}")
    return "\n".join(lines)


def save_results(path: Path, results: dict) -> None:
    write_atomic(path, json.dumps(results, indent=2, allow_nan=True) + "\n")

