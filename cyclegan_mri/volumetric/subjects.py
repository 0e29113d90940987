"""Scoring a 3D run on the whole volumes of held-out subjects (``evaluate.py``), beside simple baselines.

The scored subjects are chosen as for a 2D run (``translation.subjects.scored_subjects``): the run's held-out
ones (``--holdout-cases`` and any test folder) when its own data is scored, else every subject of ``--data``
with both contrasts. A subject's two volumes are prepared as for training (``volume_data.prepare_volume``:
canonical voxel order, the run's ``--spacing``, each volume's own 0.5-99.5th percentile window, read here on
its 0-255 scale) and must share one grid. The source volume is translated whole, window by window
(``volumetric.inference.predict_volume``), and scored against the subject's other contrast on that scale
(``data_range`` 255): PSNR, 3D SSIM and NMSE over the whole volume, and inside the brain mask (the voxels
brighter than background in either contrast, holes filled), where the background's easy zeros do not inflate
the scores. The run's score is the mean over subjects.

Baselines, scored the same way: the identity; histogram matching onto the target contrast of the training
subjects; the per-intensity lookup table fitted on the training subjects' aligned volumes (it uses the
pairing, which an unpaired model never sees); and the unpaired quantile map that ``--intensity-map`` starts from
(histograms and depth profiles of the axial planes, no pairing). All are fitted on a regular subsample of each
training volume
(at most ``REFERENCE_VOXELS`` voxels). Each subject says whether the run trained on either of its volumes (by
content, ``data.protocol.trained_on``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from cyclegan_mri.data.nifti import float32_like, read_volume, save_volume
from cyclegan_mri.data.protocol import fingerprint, trained_on
from cyclegan_mri.data.subjects import Subject, SubjectSplit
from cyclegan_mri.data.volume_data import PreparedVolume, prepare_volume, volume_split
from cyclegan_mri.data.volume_slices import FOREGROUND
from cyclegan_mri.errors import DataError
from cyclegan_mri.metrics import DATA_RANGE, masked_score, score
from cyclegan_mri.networks.windows import DEFAULT_WINDOW
from cyclegan_mri.record import TrainOptions
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.translation.baselines import HistogramMatching, LookupTable, QuantileMap, identity
from cyclegan_mri.translation.inference import load_generators
from cyclegan_mri.translation.subjects import KEYS, overall_scores, scored_subjects
from cyclegan_mri.volumetric.inference import predict_volume

# The baselines are fitted on at most this many voxels of each training volume: a 240x240x155 volume holds 9
# million, and a regular subsample of them describes its intensities as well.
REFERENCE_VOXELS = 1_000_000
SCALE = "each volume's 0.5-99.5th percentile window mapped to 0-255"


@dataclass
class SubjectVolumes:
    """One subject's two contrasts prepared as for training, their 0-255 arrays and the brain mask."""

    subject: Subject
    #: The NIfTI images, on whose grids translations are written.
    images: tuple = field(repr=False)
    prepared: tuple[PreparedVolume, PreparedVolume] = field(repr=False)

    def scaled(self, side: int) -> np.ndarray:
        """The volume of ``side`` on its 0-255 scale, (D, H, W) float32."""
        return to_255(self.prepared[side].data)


def to_255(model_range: np.ndarray) -> np.ndarray:
    """A volume in the networks' [-1, 1] range on the 0-255 scale it was windowed to."""
    return np.clip((np.asarray(model_range, np.float32) + 1.0) * 127.5, 0.0, 255.0)


def read_subject_volumes(subject: Subject, spacing: tuple[float, float, float] | None = None) -> SubjectVolumes:
    """Both contrasts of a subject, prepared as for training; a one-line DataError when they are not on one grid."""
    images = tuple(read_volume(subject.files[side]) for side in (0, 1))
    prepared = tuple(prepare_volume(image, spacing, subject.files[side]) for side, image in enumerate(images))
    a, b = prepared
    if a.data.shape != b.data.shape or not np.allclose(a.affine, b.affine, atol=1e-3):
        raise DataError(f"{subject.files[1]}: not on the grid of {subject.files[0]} (shape "
                        f"{'x'.join(map(str, b.data.shape))} vs {'x'.join(map(str, a.data.shape))} in canonical order, "
                        "or another affine); the contrasts of a subject must be co-registered to be scored voxel by "
                        "voxel")
    return SubjectVolumes(subject, images, prepared)


def brain_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The brain of two aligned 0-255 volumes: foreground in either, holes filled (dark CSF and lesions inside)."""
    return ndimage.binary_fill_holes((a > FOREGROUND) | (b > FOREGROUND))


def volume_scores(target: np.ndarray, prediction: np.ndarray, mask: np.ndarray) -> dict:
    """Whole-volume and in-mask scores of one prediction (``metrics.score`` and ``metrics.masked_score``)."""
    return {"whole": score(target, prediction, channel_axis=None),
            "brain": masked_score(target, prediction, mask) if mask.any() else {key: None for key in KEYS}}


def subsample(volume: np.ndarray, voxels: int = REFERENCE_VOXELS) -> np.ndarray:
    """Every k-th voxel along each axis, k the smallest step that leaves at most ``voxels`` of them."""
    step = max(1, math.ceil((volume.size / voxels) ** (1 / 3)))
    return np.ascontiguousarray(volume[::step, ::step, ::step])


def reference_volumes(split: SubjectSplit, spacing: tuple[float, float, float] | None = None
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two contrasts, subsampled on 0-255, of every training subject that has both, for the baselines."""
    references = []
    for subject, _ in split.training:
        if subject.complete:
            read = read_subject_volumes(subject, spacing)
            references.append((subsample(read.scaled(0)), subsample(read.scaled(1))))
    return references


def baseline_methods(references: list[tuple[np.ndarray, np.ndarray]], side: int
                     ) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The baselines translating domain ``side`` into the other, fitted on the reference volumes."""
    if not references:
        return {}
    return {"identity": identity,
            "histogram_matching": HistogramMatching([r[1 - side] for r in references]),
            "lookup_table": LookupTable([r[side] for r in references], [r[1 - side] for r in references]),
            # Unpaired, as --intensity-map fits it: histograms and depth profiles of the axial planes.
            "quantile_map": QuantileMap([np.moveaxis(r[side], 2, 0) for r in references],
                                        [np.moveaxis(r[1 - side], 2, 0) for r in references])}


def evaluate_volume_subjects(run: RunDir, options: TrainOptions, data: str | Path | None = None,
                             write_translations: bool = True, baselines: bool = True,
                             window: Sequence[int] | None = DEFAULT_WINDOW) -> tuple[dict, str]:
    """Translate each scored subject's volume whole in every direction of the 3D run and score it; the results
    (as ``evaluation.json`` holds them) and a description of what was scored. Translations go to
    ``translations/<direction>/<subject>.nii.gz`` on the source volume's grid; ``window`` is the inference
    window (``networks.windows``)."""
    split = volume_split(options)[1] if Path(options.data).is_dir() else None
    subjects, description, trained_subjects = scored_subjects(options, data, split)
    generators = load_generators(run)
    domains = options.run_domains
    training = trained_on(options)
    references = reference_volumes(split, options.spacing) if baselines and split else []
    methods = {direction: baseline_methods(references, domains.source_side(direction)) for direction in generators}
    rows: dict[str, list[dict]] = {direction: [] for direction in generators}
    baseline_rows = {direction: {name: [] for name in methods[direction]} for direction in generators}
    # Subject by subject, so that only one subject's volumes are held at a time.
    for subject in subjects:
        read = read_subject_volumes(subject, options.spacing)
        mask = brain_mask(read.scaled(0), read.scaled(1))
        for direction, generator in generators.items():
            side = domains.source_side(direction)
            source, target = read.scaled(side), read.scaled(1 - side)
            translated = predict_volume(generator, read.prepared[side].data, window=window,
                                        progress=f"translating {subject.name} ({domains.title(direction)})")
            row = {"name": subject.name, "shape": list(source.shape), **volume_scores(target, to_255(translated), mask)}
            if training is not None:
                row["seen_in_training"] = any(fingerprint(p.data) in training for p in read.prepared)
            rows[direction].append(row)
            for name, method in methods[direction].items():
                baseline_rows[direction][name].append({"name": subject.name,
                                                       **volume_scores(target, method(source), mask)})
            if write_translations:
                save_volume(float32_like(read.prepared[side].to_source_grid(translated), read.images[side]),
                            run.translations / direction / f"{subject.name}.nii.gz")
    results: dict = {}
    for direction in generators:
        source_name, target_name = domains.source_and_target(direction)
        table = rows[direction]
        results[direction] = {
            "source": source_name, "target": target_name, "data_range": DATA_RANGE, "scale": SCALE,
            "spacing": None if options.spacing is None else list(options.spacing),
            **overall_scores(table), "per_subject": table,
            "held_out": None if training is None or not table else not any(r["seen_in_training"] for r in table),
            "baselines": {name: {**overall_scores(scores), "per_subject": scores}
                          for name, scores in baseline_rows[direction].items()}}
    results["subjects"] = {"scored": [s.name for s in subjects], "trained_on": trained_subjects}
    return results, description
