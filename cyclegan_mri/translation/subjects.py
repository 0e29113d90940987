"""Scoring a 2D run trained on NIfTI volumes on held-out subjects (``evaluate.py``), beside simple baselines.

The scored subjects are the run's held-out ones (``--holdout-cases`` and any
test folder) when the run's own data is scored, else every subject of ``--data``
with both contrasts. Each subject's slices are cut and windowed exactly as for
training (``volume_slices.read_subject``: its plane, its ``--min-foreground``
rule), translated, and scored on the 0-255 scale of that window (``data_range``
255) twice: over the whole slice, and inside the brain mask (the pixels brighter
than background in either contrast, holes filled), where the background's easy
zeros do not inflate the scores. A subject's score is the mean over its slices;
the run's is the mean over subjects.

Baselines, scored the same way: the identity; histogram matching onto the
target contrast of the training subjects; and the per-intensity lookup table
fitted on the training subjects' aligned slices (it uses the pairing, which an
unpaired model never sees). Each subject says whether any of its slices was
trained on (by content, ``data.protocol.trained_on``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from cyclegan_mri.data.images import encode_png, to_uint8
from cyclegan_mri.data.protocol import fingerprint, trained_on
from cyclegan_mri.data.subjects import Subject, SubjectSplit, find_subjects, split_subjects
from cyclegan_mri.data.volume_slices import SubjectSlices, read_subject
from cyclegan_mri.errors import UserError
from cyclegan_mri.metrics import masked_score, score
from cyclegan_mri.record import TrainOptions
from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.translation.baselines import HistogramMatching, LookupTable, QuantileMap, identity
from cyclegan_mri.translation.inference import load_generators, translate_slices

if TYPE_CHECKING:
    import keras

KEYS = ("psnr", "ssim", "nmse")
# Reference slices for histogram matching and the lookup table: at most this many per training subject.
REFERENCE_SLICES = 40


def brain_masks(read: SubjectSlices) -> np.ndarray:
    """Each slice's brain mask: foreground in either contrast, holes filled (dark CSF and lesions inside)."""
    return np.stack([ndimage.binary_fill_holes(mask) for mask in read.masks])


def slice_split(options: TrainOptions) -> SubjectSplit | None:
    """The split a 2D run made of its data's subjects, or None when that folder is gone."""
    if not Path(options.data).is_dir():
        return None
    return split_subjects(find_subjects(options.data, options.run_domains), options.spec.paired,
                          options.same_subjects, tuple(options.held_out or ()))


def scored_subjects(options: TrainOptions, data: str | Path | None, split: SubjectSplit | None
                    ) -> tuple[list[Subject], str, list[str]]:
    """The subjects to score, what they are, and the names of the subjects the run trained on, from the run's
    ``split`` of its own data (None when that data is gone)."""
    domains = options.run_domains
    own = data is None or Path(data).resolve() == Path(options.data).resolve()
    folder = options.data if data is None else data
    trained = sorted({s.name for s, _ in split.training}) if split else []
    if own:
        if split is None or not split.test:
            raise UserError("the run held no subject out of its data (train with --holdout-cases K, or put "
                            "test subjects under a test/ folder), so nothing in its data can be scored honestly; "
                            "pass --data DIR with other subjects")
        return split.test, f"the run's {len(split.test)} held-out subjects of {folder}", trained
    subjects = [s for s in find_subjects(folder, domains) if s.complete]
    if not subjects:
        raise UserError(f"{folder}: no subject with both a {domains.a} and a {domains.b} volume to score")
    return subjects, f"{len(subjects)} subjects of {folder}", trained


def reference_slices(options: TrainOptions) -> list[SubjectSlices]:
    """Aligned slices of the training subjects with both contrasts (up to REFERENCE_SLICES each, evenly spread),
    for the baselines."""
    split = split_subjects(find_subjects(options.data, options.run_domains), True, False,
                           tuple(options.held_out or ()))
    references = []
    for subject, sides in split.training:
        read = read_subject(subject, sides, options.plane, options.min_foreground)
        keep = np.unique(np.linspace(0, len(read.indices) - 1, min(REFERENCE_SLICES, len(read.indices))).astype(int))
        references.append(SubjectSlices(subject, read.plane, read.indices[keep],
                                        {side: images[keep] for side, images in read.images.items()},
                                        read.masks[keep]))
    return references


def _subject_scores(targets: np.ndarray, predictions: Sequence[np.ndarray], masks: np.ndarray) -> dict:
    whole = [score(t, p) for t, p in zip(targets, predictions)]
    brain = [masked_score(t, p, m) for t, p, m in zip(targets, predictions, masks) if m.any()]
    return {"slices": len(whole), "whole": mean_scores(whole), "brain": mean_scores(brain)}


def mean_scores(rows: list[dict]) -> dict:
    """The mean of each score over ``rows`` (None for each when there are none)."""
    return {key: float(np.mean([row[key] for row in rows])) if rows else None for key in KEYS}


def overall_scores(per_subject: list[dict]) -> dict:
    """The means over subjects, whole and inside the brain, of the subjects that have a score there."""
    return {region: mean_scores([row[region] for row in per_subject if row[region]["psnr"] is not None])
            for region in ("whole", "brain")}


def evaluate_subjects(run: RunDir, options: TrainOptions, data: str | Path | None = None,
                      write_translations: bool = True, baselines: bool = True,
                      generators: Mapping[str, keras.Model] | None = None,
                      size: tuple[int, int] | None = None) -> tuple[dict, str]:
    """Translate and score each scored subject in every direction of the run; the results (as
    ``evaluation.json`` holds them) and a description of what was scored. ``generators`` (by direction) score
    networks in training instead of the run's exported ones, at ``size`` where they take any size."""
    subjects, description, trained_subjects = scored_subjects(options, data, slice_split(options))
    generators = generators or load_generators(run)
    domains = options.run_domains
    training = trained_on(options)
    reads = [read_subject(s, (0, 1), options.plane, options.min_foreground) for s in subjects]
    masks = [brain_masks(read) for read in reads]
    references = reference_slices(options) if baselines else []
    results: dict = {}
    for direction, generator in generators.items():
        side = domains.source_side(direction)
        methods: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
        if references:
            methods = {"identity": identity,
                       "histogram_matching": HistogramMatching([r.images[1 - side][r.masks.any(axis=(1, 2))]
                                                                for r in references]),
                       "lookup_table": LookupTable([r.images[side] for r in references],
                                                   [r.images[1 - side] for r in references]),
                       # Unpaired: the two contrasts' histograms and depth profiles, never their pairing.
                       "quantile_map": QuantileMap([r.images[side] for r in references],
                                                   [r.images[1 - side] for r in references])}
        rows, baseline_rows = [], {name: [] for name in methods}
        for read, mask in zip(reads, masks):
            sources, targets = read.images[side], read.images[1 - side]
            outputs = translate_slices(generator, list(sources), progress=None, size=size)
            row = {"name": read.subject.name, **_subject_scores(targets, outputs, mask)}
            if training is not None:
                row["seen_in_training"] = any(fingerprint(image) in training for image in (*sources, *targets))
            rows.append(row)
            for name, method in methods.items():
                baseline_rows[name].append({"name": read.subject.name,
                                            **_subject_scores(targets, [method(x) for x in sources], mask)})
            if write_translations:
                folder = run.translations / direction / read.subject.name
                for index, image in zip(read.indices, outputs):
                    write_atomic(folder / f"{read.plane}{int(index):03d}.png", encode_png(to_uint8(image)))
        source, target = domains.source_and_target(direction)
        results[direction] = {
            "source": source, "target": target, "data_range": 255.0, "plane": options.plane,
            **overall_scores(rows), "per_subject": rows,
            "held_out": None if training is None else not any(r["seen_in_training"] for r in rows),
            "baselines": {name: {**overall_scores(table), "per_subject": table}
                          for name, table in baseline_rows.items()}}
    results["subjects"] = {"scored": [s.name for s in subjects], "trained_on": trained_subjects}
    return results, description


def format_subject_table(results: dict, per_subject: bool = True, unit: str = "slice") -> str:
    """Means per direction and method over subjects (whole ``unit``, slice or volume, then brain mask), then each
    subject."""
    lines = [f"{'direction':<12} {'method':<20} {'PSNR whole':>10} {'SSIM':>6} {'NMSE':>7}   "
             f"{'PSNR brain':>10} {'SSIM':>6} {'NMSE':>7}"]
    number = lambda value, spec: "-".rjust(int(spec.split(".")[0])) if value is None else format(value, spec)  # noqa: E731
    directions = {k: v for k, v in results.items() if k != "subjects"}

    def row(title: str, method: str, scores: dict) -> str:
        w, b = scores["whole"], scores["brain"]
        return (f"{title:<12} {method:<20} {number(w['psnr'], '10.2f')} {number(w['ssim'], '6.3f')} "
                f"{number(w['nmse'], '7.4f')}   {number(b['psnr'], '10.2f')} {number(b['ssim'], '6.3f')} "
                f"{number(b['nmse'], '7.4f')}")

    for r in directions.values():
        title = f"{r['source']} -> {r['target']}"
        lines.append(row(title, "model", r))
        lines.extend(row(title, name, scores) for name, scores in r["baselines"].items())
    if per_subject:
        for r in directions.values():
            lines.append(f"\n{r['source']} -> {r['target']} per subject (whole {unit} | brain mask)")
            for s in r["per_subject"]:
                seen = "  (seen in training)" if s.get("seen_in_training") else ""
                size = f"{s['slices']:>4} slices" if "slices" in s else "x".join(map(str, s["shape"]))
                lines.append(f"  {s['name']:<28} {size:>11}  {number(s['whole']['psnr'], '6.2f')} "
                             f"{number(s['whole']['ssim'], '6.3f')} | {number(s['brain']['psnr'], '6.2f')} "
                             f"{number(s['brain']['ssim'], '6.3f')}{seen}")
    trained = results.get("subjects", {}).get("trained_on", [])
    if trained:
        lines.append(f"\ntrained on {len(trained)} subjects: {', '.join(trained)}")
    return "\n".join(lines)


def held_out_line(results: dict, unit: str = "slice") -> str:
    """One line saying whether the scored subjects are held out (the run trained on ``unit``s: slices or
    volumes)."""
    flags = {r.get("held_out") for k, r in results.items() if k != "subjects"}
    if flags == {True}:
        return f"held out: the run never saw any {unit} of these subjects"
    if False in flags:
        return (f"NOT held out: the run trained on {unit}s of some of these subjects (see per subject); these scores "
                "overstate its quality")
    return "held out: unknown (the run's training data could not be read again to check)"
