"""Translate a source with a run's generators and score the aligned pairs (``evaluate.py``).

Each direction's scores say whether they are held out: whether the run never
saw any image of the scored pairs. That is decided by content, not by names or
flags: the run's training slices (as its ``run.json`` selects them, asked of the
same code that chose them for training: ``data.protocol.trained_on``) are read
again and compared pixel for pixel with the scored ones, so it holds for the
dataset's pairs, ``--all-pairs`` and a user's own ``--pairs`` alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_mri.data import pairing
from cyclegan_mri.data.dataset import read_dataset
from cyclegan_mri.data.images import encode_png, to_uint8, with_channels
from cyclegan_mri.data.protocol import fingerprint
from cyclegan_mri.data.sources import Slice
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.metrics import summarize
from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.translation import baselines
from cyclegan_mri.translation.inference import load_generators, model_channels, translate_slices


@dataclass
class Source:
    """The slices of domains A and B to translate, the aligned (A, B) pairs among them to score, and the
    pairs baselines may fit on."""

    a: list[Slice]
    b: list[Slice]
    pairs: list[pairing.Pair]
    description: str
    training_pairs: list[pairing.Pair] = field(default_factory=list)
    domains: Domains = TUTORIAL


def user_pairs(folder: str | Path, domains: Domains | None = None, channels: int | None = None,
               skip_bad: bool = False) -> Source:
    """Aligned pairs from the domains' folders in ``folder`` (``t1/``, ``A/``, ``testA/``...), matched by
    file name."""
    images = pairing.folder_pairs(folder, domains, channels, skip_bad)
    pairs = pairing.matched_by_name(*images.test)
    return Source(*images.test, pairs, f"{len(pairs)} pairs from {folder}", domains=images.domains)


def dataset_source(data: str | Path, all_pairs: bool = False, accept_checksum: bool = False,
                   skip_bad: bool = False, domains: Domains | None = None, channels: int | None = None) -> Source:
    """The slices of ``data`` to translate and its aligned pairs to score: for the tutorial's dataset every
    slice and its 9 held-out pairs (or all 43); for a folder with test folders, its test images and their
    pairs of the same name; for one without, its images and no pairs."""
    path, images = read_dataset(data, accept_checksum, skip_bad, domains=domains, channels=channels)
    pairs = pairing.test_pairs(images, all_pairs)
    slices = images.test if images.has_test_split else images.train
    if not pairs:
        description = f"no aligned test pairs in {path}"
    elif images.tutorial:
        description = f"{len(pairs)} {'aligned pairs' if all_pairs else 'test pairs'} of {path}"
    else:
        description = f"{len(pairs)} test pairs (files of the same name in both test folders) of {path}"
    return Source(*slices, pairs, description, pairing.training_pairs(images), images.domains)


def unscored_slices(source: Source, side: int) -> list[np.ndarray]:
    """The images of one domain (``side`` 0: A, 1: B) outside the scored pairs."""
    held = {id(s) for pair in source.pairs for s in pair}
    return [s.image for s in (source.a, source.b)[side] if id(s) not in held]


def score_pairs(source: Source, direction: str,
                translate: Callable[[list[np.ndarray]], Sequence[np.ndarray]]) -> dict:
    """``summarize`` of ``translate`` (source-domain slices -> their translations) on the scored pairs."""
    side = source.domains.source_side(direction)
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
    if not source.pairs:
        return results
    for direction in source.domains.directions:
        side = source.domains.source_side(direction)
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
        side = source.domains.source_side(direction)
        inputs = (source.a, source.b)[side]
        translated = dict(zip((s.name for s in inputs), translate_slices(
            generator, [s.image for s in inputs], progress=source.domains.title(direction))))
        if write_translations:
            folder = run.translations / direction
            for name, image in translated.items():
                write_atomic(folder / f"{Path(name).stem}.png", encode_png(to_uint8(image)))
        names = [f"{a.name} -> {b.name}" if side == 0 else f"{b.name} -> {a.name}" for a, b in source.pairs]
        # Scored in the model's channels, whatever the targets were read in.
        targets = [with_channels(pair[1 - side].image, model_channels(generator))[0] for pair in source.pairs]
        predictions = [translated[pair[side].name] for pair in source.pairs]
        names_of = source.domains.source_and_target(direction)
        results[direction] = {"source": names_of[0], "target": names_of[1],
                              **summarize(names, targets, predictions)}
        if not source.pairs:
            results[direction]["held_out"] = None
        elif training is not None:
            for row, pair in zip(results[direction]["per_image"], source.pairs):
                row["seen_in_training"] = any(fingerprint(s.image) in training for s in pair)
            results[direction]["held_out"] = not any(row["seen_in_training"]
                                                     for row in results[direction]["per_image"])
        else:
            results[direction]["held_out"] = None
    return results


def held_out_note(results: dict) -> str:
    """One line saying whether the scores are held out, for the score table."""
    if not any(r["per_image"] for r in results.values()):
        return ("nothing scored: no aligned test pairs (put slices of the same names in testA/ and testB/, or "
                "pass --pairs DIR); the translations are written all the same")
    flags = {r.get("held_out") for r in results.values()}
    if flags == {True}:
        return "held out: the run never saw any image of these pairs"
    if False in flags:
        seen = max(sum(row.get("seen_in_training", False) for row in r["per_image"]) for r in results.values())
        total = max(len(r["per_image"]) for r in results.values())
        return (f"NOT held out: the run trained on images of {seen} of these {total} pairs, so these scores "
                "overstate its quality; keep the scored pairs out of the training data (--holdout for the "
                "tutorial's) for honest scores")
    return "held out: unknown (the run's training data could not be read again to check)"


def title(scores: dict) -> str:
    """``"T1 -> T2"``: the direction of a result, from its source and target names."""
    return f"{scores['source']} -> {scores['target']}"


def format_table(results: dict, per_image: bool = True) -> str:
    """The scores as a plain-text table: means per direction (and its baselines), then each image."""
    width = max([10, *(len(title(r)) for r in results.values())])
    lines = [f"{'direction':<{width}} {'method':<20} {'n':>3} {'PSNR (dB)':>10} {'SSIM':>7} {'NMSE':>8}"]
    number = lambda value, spec: "-".rjust(int(spec.split(".")[0])) if value is None else format(value, spec)  # noqa: E731
    for direction, r in results.items():
        rows = [("model", r), *r.get("baselines", {}).items()]
        for method, scores in rows:
            lines.append(f"{title(r):<{width}} {method:<20} {len(scores['per_image']):>3} "
                         f"{number(scores['psnr'], '10.2f')} {number(scores['ssim'], '7.3f')} "
                         f"{number(scores['nmse'], '8.4f')}")
    if per_image:
        for direction, r in results.items():
            if not r["per_image"]:
                continue
            lines.append(f"\n{title(r)} per image")
            for row in r["per_image"]:
                seen = "  (seen in training)" if row.get("seen_in_training") else ""
                lines.append(f"  {row['name']:<36} {row['psnr']:>7.2f} {row['ssim']:>7.3f} {row['nmse']:>8.4f}{seen}")
    return "\n".join(lines)


def save_results(path: Path, results: dict) -> None:
    write_atomic(path, json.dumps(results, indent=2, allow_nan=True) + "\n")
