"""Segmenting whole cases with a trained Vox2Vox run, and scoring the segmentations per BraTS region.

A case goes through the training's map (``brats.read_case``: canonical voxel
order, each contrast z-scored over its brain), the segmenter slides over it in
windows (``networks.windows.DEFAULT_WINDOW`` by default, or its training patch;
several per network call; ``sliding_window.sliding_window_inference``,
padding with background, Gaussian blending of the class probabilities), each
voxel takes its most probable class, and the classes become label values in
the case's own convention (``brats.case_classes``: a run trained on 2020-named
cases writes enhancing tumour as 3 into a 2023-named case, and the reverse),
back in the input's voxel order. The result is a uint8 volume on the
input's exact grid, with its affine and header: it overlays the case in any
viewer and is what BraTS' evaluation expects.

Scores (``segmentation_metrics``): Dice and HD95 in mm per region, per case
and averaged, truth and segmentation both read in the case's own label values, with the run's held-out cases told apart from those it trained on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from cyclegan_mri.data.brats import Case, CaseVolumes, case_classes, default_classes, find_cases, read_case
from cyclegan_mri.data.nifti import is_nifti, save_volume, volume_like
from cyclegan_mri.data.protocol import trained_on
from cyclegan_mri.errors import UserError
from cyclegan_mri.models.vox2vox import SEGMENTER
from cyclegan_mri.networks import layers  # noqa: F401  registers the custom layers for loading
from cyclegan_mri.networks.windows import DEFAULT_BATCH, DEFAULT_WINDOW, check_window, fit_window, window_predictor
from cyclegan_mri.record import TrainOptions, load_run_options, require_kind
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.segmentation.baselines import keep_largest_tumour, threshold_segmentation
from cyclegan_mri.segmentation.metrics import mean_scores, regions_for, segmentation_scores
from cyclegan_mri.sliding_window import sliding_window_inference
from cyclegan_mri.specs import SEGMENTATION

DEFAULT_OVERLAP = 0.5
DEFAULT_BLEND = "gaussian"
#: The folder of a run where evaluate.py writes the segmentations it scores.
SEGMENTATIONS = "segmentations"


@dataclass
class Segmenter:
    """A run's trained segmentation network and the settings it was trained with."""

    network: keras.Model
    options: TrainOptions

    @property
    def patch(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.network.input_shape[1:4])

    def classes(self, image: np.ndarray, overlap: float = DEFAULT_OVERLAP, blend: str = DEFAULT_BLEND,
                batch_size: int = DEFAULT_BATCH, progress: str | None = None,
                window: Sequence[int] | None = DEFAULT_WINDOW) -> np.ndarray:
        """The most probable class of every voxel of a z-scored canonical (D, H, W, C) image, uint8 (D, H, W).

        ``window``: the (D, H, W) size of the windows, multiples of 16 for the U-Net of depth 4, shrunk where
        the image is smaller (``networks.windows``); None slides the training patch itself. ``batch_size``
        windows go through the network per call.
        """
        window = self.patch if window is None else fit_window(self.network, window, image.shape[:3])
        probabilities = sliding_window_inference(image, window, window_predictor(self.network, window),
                                                 overlap=overlap, blend=blend, batch_size=batch_size, pad_value=0.0,
                                                 progress=progress)
        return np.argmax(probabilities, axis=-1).astype(np.uint8)

    def segment(self, case: Case, overlap: float = DEFAULT_OVERLAP, blend: str = DEFAULT_BLEND,
                labels: bool = False, progress: str | None = None,
                window: Sequence[int] | None = DEFAULT_WINDOW) -> tuple[np.ndarray, CaseVolumes]:
        """The predicted classes of ``case`` in canonical order, and the case as read (with its truth when
        ``labels``)."""
        volumes = read_case(case, self.options.contrasts, self.case_classes(case), labels=labels)
        return self.classes(volumes.image, overlap, blend, progress=progress, window=window), volumes

    def case_classes(self, case: Case) -> tuple[int, ...]:
        """The run's classes in ``case``'s own label values (``brats.case_classes``); a run that recorded none
        takes the case's BraTS set."""
        return case_classes(self.options.classes or default_classes([case]), case)

    def label_values(self, classes: np.ndarray, case: Case) -> np.ndarray:
        """Class indices as ``case``'s label values (uint8)."""
        return np.asarray(self.case_classes(case), np.uint8)[classes]


def load_segmenter(run: RunDir) -> Segmenter:
    """The segmenter of a Vox2Vox run, or a one-line error for any other run, or one not trained yet."""

    options = load_run_options(run.root)
    if options is None:
        raise UserError(f"{run.root}: no run.json, so no trained run; train one with `python train.py --model "
                        f"vox2vox --data BRATS_DIR --out {run.root}`")
    require_kind(options, run.root, (SEGMENTATION,), "segment.py")
    path = run.generator(SEGMENTER)
    if not path.is_file():
        raise UserError(f"{path}: missing; the run has not finished training (run the same train.py command to "
                        "resume, which exports it)")
    return Segmenter(keras.saving.load_model(path, compile=False), options)


def segmentation_image(labels: np.ndarray, reference):
    """A uint8 NIfTI image of ``labels`` with ``reference``'s affine and header."""

    return volume_like(labels, reference, np.uint8)


def output_path(case: Case, output: Path, single: bool) -> Path:
    """Where a case's segmentation goes: ``output`` itself for one case named as a file, else
    ``output/<case>.nii.gz`` (BraTS' submission naming)."""

    if single and is_nifti(output):
        return output
    return output / f"{case.name}.nii.gz"


def segment_path(segmenter: Segmenter, source: str | os.PathLike, output: str | os.PathLike,
                 overlap: float = DEFAULT_OVERLAP, blend: str = DEFAULT_BLEND,
                 window: Sequence[int] | None = DEFAULT_WINDOW, largest: bool = False) -> list[Path]:
    """Segment one case folder, or every case folder under ``source``; the files written. ``largest`` keeps only
    the largest connected tumour region (``baselines.keep_largest_tumour``)."""

    if window is not None:
        check_window(segmenter.network, window)  # before any case is looked for
    cases = find_cases(source, require_labels=False)
    output = Path(output)
    if len(cases) > 1 and is_nifti(output):
        raise UserError(f"--input {source} holds {len(cases)} cases; --output must be a folder, not a .nii file")
    for case in cases:  # every case is checked before any is segmented, so a bad one wastes no time
        for contrast in segmenter.options.contrasts:
            case.contrast_file(contrast)
    written = []
    for case in cases:
        predicted, volumes = segmenter.segment(case, overlap, blend, progress=f"segmenting {case.name}", window=window)
        if largest:
            predicted = keep_largest_tumour(predicted)
        target = output_path(case, output, len(cases) == 1)
        labels = volumes.to_source_grid(segmenter.label_values(predicted, case))
        save_volume(segmentation_image(labels, volumes.reference), target)
        written.append(target)
    return written


def cases_to_score(data: str | os.PathLike, options: TrainOptions, all_cases: bool) -> tuple[list[Case], str]:
    """The labelled cases ``evaluate.py`` scores, and a description: the run's held-out cases when ``data`` is the
    run's own data and it held some out (all of them with ``all_cases``), else every case of ``data``."""
    cases = find_cases(data)
    same = Path(data).resolve() == Path(options.data).resolve()
    held_out = set(options.held_out or ())
    if same and held_out and not all_cases:
        chosen = [case for case in cases if case.name in held_out]
        return chosen, f"the run's {len(chosen)} held-out cases of {data}"
    return cases, f"{len(cases)} cases of {data}"


def evaluate_segmentation(run: RunDir, data: str | os.PathLike, all_cases: bool = False,
                          write_segmentations: bool = True, overlap: float = DEFAULT_OVERLAP,
                          window: Sequence[int] | None = DEFAULT_WINDOW) -> tuple[dict, str]:
    """Segment and score the cases ``cases_to_score`` picks; the results (as ``evaluation.json`` holds them) and
    a description of what was scored."""

    segmenter = load_segmenter(run)
    options = segmenter.options
    cases, description = cases_to_score(data, options, all_cases)
    trained = trained_on(options) or set()  # case names; empty when the run's data has moved
    regions = regions_for(options.classes)
    rows, baseline_rows, largest_rows = [], [], []
    for case in cases:
        predicted, volumes = segmenter.segment(case, overlap, labels=True, progress=f"segmenting {case.name}",
                                               window=window)
        # Both in canonical order, where ``spacing`` gives each axis's voxel size, and in the case's own label
        # values, whose regions are the run's regions in that convention (ET is 3 or 4).
        case_regions = regions_for(segmenter.case_classes(case))
        truth = segmenter.label_values(volumes.classes, case)
        scores = segmentation_scores(truth, segmenter.label_values(predicted, case), case_regions, volumes.spacing)
        largest_rows.append({"name": case.name, **segmentation_scores(
            truth, segmenter.label_values(keep_largest_tumour(predicted), case), case_regions, volumes.spacing)})
        baseline = threshold_segmentation(volumes.image, options.contrasts, segmenter.case_classes(case))
        if baseline is not None:
            baseline_rows.append({"name": case.name, **segmentation_scores(
                truth, segmenter.label_values(baseline, case), case_regions, volumes.spacing)})
        rows.append({"name": case.name, "seen_in_training": case.name in trained, **scores})
        if write_segmentations:
            labels = volumes.to_source_grid(segmenter.label_values(predicted, case))
            save_volume(segmentation_image(labels, volumes.reference),
                        run.root / SEGMENTATIONS / f"{case.name}.nii.gz")
    results = {"segmentation": {"regions": {name: list(values) for name, values in regions.items()},
                                "mean": mean_scores([{r: row[r] for r in regions} for row in rows]),
                                "per_case": rows,
                                "held_out": not any(row["seen_in_training"] for row in rows) if rows else None,
                                # The same segmentations with only their largest tumour region (segment.py
                                # --largest-component), as the baseline keeps only its own.
                                "largest_component": {
                                    "mean": mean_scores([{r: row[r] for r in regions} for row in largest_rows]),
                                    "per_case": largest_rows}}}
    if baseline_rows:
        # The training-free reference (segmentation.baselines), scored on the same cases.
        results["segmentation"]["baselines"] = {"flair_threshold": {
            "mean": mean_scores([{r: row[r] for r in regions} for row in baseline_rows]), "per_case": baseline_rows}}
    return results, description


def format_segmentation_table(results: dict, per_case: bool = True) -> str:
    """Dice (%) and HD95 (mm) per region: a row per case (with ``per_case``), then the mean."""
    table = results["segmentation"]
    regions = list(table["regions"])
    header = f"{'case':<28}" + "".join(f"{'Dice ' + r:>12}" for r in regions) + "".join(
        f"{'HD95 ' + r:>12}" for r in regions)
    def row(name: str, scores: dict) -> str:
        dice = "".join(f"{100 * scores[r]['dice']:>12.2f}" if scores[r]["dice"] is not None else f"{'-':>12}"
                       for r in regions)
        hd = "".join(f"{scores[r]['hd95']:>12.2f}" if scores[r]["hd95"] is not None else f"{'-':>12}"
                     for r in regions)
        return f"{name:<28}" + dice + hd
    lines = [header]
    if per_case:
        lines += [row(r["name"] + (" *" if r["seen_in_training"] else ""), r) for r in table["per_case"]]
    if table["per_case"]:
        lines.append(row(f"mean of {len(table['per_case'])}", table["mean"]))
        if "largest_component" in table:
            lines.append(row("largest component only", table["largest_component"]["mean"]))
        for name, baseline in table.get("baselines", {}).items():
            lines.append(row(f"{name} (no training)", baseline["mean"]))
    else:
        lines.append("no labelled cases scored")
    if any(r["seen_in_training"] for r in table["per_case"]):
        lines.append("* trained on: not a held-out score")
    return "\n".join(lines)
