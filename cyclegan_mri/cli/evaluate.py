"""``python evaluate.py``: translate a source with a run's generators and score aligned pairs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cyclegan_mri.cli.args import (
    Parser,
    add_data_arguments,
    add_debug_argument,
    add_out_argument,
    add_window_argument,
)
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.data.protocol import trained_on
from cyclegan_mri.data.subjects import is_volume_folder
from cyclegan_mri.data.volume_data import reads_subjects, volume_pairs
from cyclegan_mri.errors import UserError
from cyclegan_mri.record import TrainOptions, load_run_options
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.specs import FUSION, SEGMENTATION, SLICES, VOLUMES


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="evaluate.py",
        description="Translate the slices of a source with a run's trained generators, write the results as "
                    "PNGs to DIR/translations/<direction>/, and score PSNR, SSIM and NMSE on aligned pairs: the "
                    "tutorial dataset's 9 test pairs, or the files of the same name in testA/ and testB/ of "
                    "another --data folder (without them, nothing is scored). Says whether the run ever "
                    "trained on the scored images (held out or not). A segmentation run (--model vox2vox) "
                    "segments the labelled cases of --data (by default its held-out cases) and scores Dice and "
                    "HD95 in mm per region (whole tumour, tumour core, enhancing tumour), per case and on average. "
                    "Writes DIR/evaluation.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_out_argument(p, "whose generators/ are evaluated")
    add_data_arguments(p)
    p.set_defaults(data=None)
    p.add_argument("--all-pairs", action="store_true",
                   help="score all 43 aligned pairs of the dataset instead of the 9 held-out test pairs; for a "
                        "segmentation run (vox2vox), every case of its --data, not only the held-out ones")
    p.add_argument("--pairs", metavar="DIR",
                   help="score your own aligned pairs instead: DIR holds one folder per domain (t1/ and t2/, "
                        "A/ and B/, testA/ and testB/, or the domains' names) with files of the same names (any "
                        "size; translated at the model's size and resized back before scoring); for a 3D run, "
                        "NIfTI volumes, each pair on one grid")
    p.add_argument("--no-translations", action="store_true",
                   help="score only; do not write translated PNGs (or, for a segmentation run, "
                        "DIR/segmentations/<case>.nii.gz)")
    p.add_argument("--fusion", action="store_true",
                   help="score a fusion run (--model ivan --task fusion; its runs are scored this way with or "
                        "without the flag): fuse each aligned pair, score AG, SF, EN, Q_MI and Q_ABF beside the "
                        "average, maximum and Laplacian-pyramid fusions, and the PSNR and SSIM of the fused "
                        "slice's decomposition back into both sources")
    p.add_argument("--quiet", action="store_true", help="print only the mean scores, not each image")
    add_window_argument(p, "each volume of a 3D translation run on subjects' volumes or a segmentation run",
                        "multiples of the network's downsampling")
    add_debug_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)

    run = RunDir.at(args.out)
    saved = load_run_options(run.root)
    kind = FUSION if args.fusion else saved.kind if saved is not None else SLICES
    if args.window is not None and kind not in (VOLUMES, SEGMENTATION):
        raise UserError(f"--window applies to 3D runs (cyclegan3d, vox2vox); the run in {run.root} is not one")
    return EVALUATORS[kind](args, run, saved)


def evaluate_slice_run(args: argparse.Namespace, run, saved: TrainOptions | None) -> int:
    """``evaluate.py`` for a 2D translation run: translate the source's slices, score its aligned pairs beside
    the baselines."""
    from cyclegan_mri.translation.evaluation import baseline_scores, dataset_source, evaluate, user_pairs

    if not args.pairs and is_volume_folder(args.data or (saved.data if saved else TrainOptions.data)):
        return evaluate_subject_run(args, run, saved)
    # The run's domains and channels, so that its data is read as it was for training.
    domains, channels = (saved.run_domains, saved.channels) if saved else (None, None)
    if args.pairs:
        source = user_pairs(args.pairs, domains, channels, args.skip_bad_images)
    else:
        data = args.data or (saved.data if saved else TrainOptions.data)
        source = dataset_source(data, args.all_pairs, args.accept_checksum, args.skip_bad_images, domains,
                                channels)
    results = evaluate(run, source, write_translations=not args.no_translations,
                       training=trained_on(saved))
    for direction, scores in baseline_scores(source).items():
        if direction in results:
            results[direction]["baselines"] = scores
    return report(results, source.description, run, args.quiet)


def evaluate_subject_run(args: argparse.Namespace, run, saved: TrainOptions | None) -> int:
    """``evaluate.py`` for a 2D run on NIfTI volumes: score its held-out subjects (or every subject of another
    ``--data``), on whole slices and inside the brain mask, beside the baselines."""
    from cyclegan_mri.translation.evaluation import save_results
    from cyclegan_mri.translation.subjects import evaluate_subjects, format_subject_table, held_out_line

    if saved is None:
        raise UserError(f"{run.root}: no run.json, so the subjects the run trained on are unknown; score volumes "
                        "with the run directory that trained on them")
    if args.all_pairs:
        raise UserError("--all-pairs scores the tutorial dataset's pairs; a run on volumes scores its held-out "
                        "subjects, or every subject of another --data")
    results, description = evaluate_subjects(run, saved, args.data, write_translations=not args.no_translations)
    print(f"scored on {description} ({saved.plane} slices, 0-255 window of each volume's 0.5-99.5th percentiles)")
    print(held_out_line(results))
    print(format_subject_table(results, per_subject=not args.quiet))
    save_results(run.evaluation, results)
    print(f"wrote {run.evaluation}")
    return 0


def report(results: dict, description: str, run, quiet: bool) -> int:
    """Print the scores and whether they are held out, and write evaluation.json."""
    from cyclegan_mri.translation.evaluation import format_table, held_out_note, save_results

    print(f"scored on {description}")
    print(held_out_note(results))
    print(format_table(results, per_image=not quiet))
    save_results(run.evaluation, results)
    print(f"wrote {run.evaluation}")
    return 0


def evaluate_volume_run(args: argparse.Namespace, run, saved: TrainOptions) -> int:
    """``evaluate.py`` for a 3D run: aligned volume pairs from ``--pairs``, else the subjects of a folder read by
    subject (``evaluate_volume_subject_run``), else the test folders of the run's data (testA/ and testB/ ...),
    translated as volumes and scored."""
    from cyclegan_mri.volumetric.evaluation import evaluate_volumes

    if args.all_pairs:
        raise UserError("--all-pairs scores the tutorial dataset's pairs; a 3D run is scored on --pairs DIR, its "
                        "held-out subjects or every subject of another --data")
    domains = saved.run_domains
    if not args.pairs and reads_subjects(args.data or saved.data, domains):
        return evaluate_volume_subject_run(args, run, saved)
    if args.window is not None:
        raise UserError("--window applies to subjects' volumes (a --data folder of cases); aligned volume pairs "
                        "are translated at the training patch")
    folder, split = (args.pairs, None) if args.pairs else (args.data or saved.data, "test")
    pairs = volume_pairs(folder, domains, split)
    if args.pairs and not pairs:
        raise UserError(f"{folder}: no volume appears under the same name in both the {domains.a} and the "
                        f"{domains.b} folder; aligned pairs must share a name")
    results = evaluate_volumes(run, pairs, domains, saved.spacing, write_translations=not args.no_translations,
                               training=trained_on(saved))
    return report(results, f"{len(pairs)} aligned volume pairs of {folder}", run, args.quiet)


def window_of(args: argparse.Namespace) -> tuple[int, int, int] | None:
    """``--window`` as a tuple; None (the training patch, as translate.py and the flag's help say) when not given."""
    return None if args.window is None else tuple(args.window)


def evaluate_volume_subject_run(args: argparse.Namespace, run, saved: TrainOptions) -> int:
    """``evaluate.py`` for a 3D run on subjects' volumes: score its held-out subjects (or every subject of another
    ``--data``) on whole volumes and inside the brain mask, beside the baselines."""
    from cyclegan_mri.translation.evaluation import save_results
    from cyclegan_mri.translation.subjects import format_subject_table, held_out_line
    from cyclegan_mri.volumetric.subjects import SCALE, evaluate_volume_subjects

    results, description = evaluate_volume_subjects(run, saved, args.data,
                                                    write_translations=not args.no_translations,
                                                    window=window_of(args))
    print(f"scored on {description} (whole volumes, {SCALE}, data range 255)")
    print(held_out_line(results, unit="volume"))
    print(format_subject_table(results, per_subject=not args.quiet, unit="volume"))
    save_results(run.evaluation, results)
    print(f"wrote {run.evaluation}")
    return 0


def evaluate_fusion_run(args: argparse.Namespace, run, saved: TrainOptions | None) -> int:
    """``evaluate.py`` for an iVAN fusion run: fuse the aligned pairs, score them beside classical fusions."""
    from cyclegan_mri.fusion.inference import evaluate_fusion, format_fusion_table, load_fusion_networks
    from cyclegan_mri.translation.evaluation import dataset_source, save_results, user_pairs

    load_fusion_networks(run)  # a one-line error for a run that does not fuse, before reading any data
    if args.pairs:
        source = user_pairs(args.pairs, saved.run_domains, saved.channels, args.skip_bad_images)
    else:
        source = dataset_source(args.data or saved.data, args.all_pairs, args.accept_checksum,
                                args.skip_bad_images, saved.run_domains, saved.channels)
    if not source.pairs:

        raise UserError(f"nothing to fuse: {source.description}; pass --pairs DIR with aligned slices of the same "
                        "names in one folder per domain")
    results = evaluate_fusion(run, source, training=trained_on(saved))
    print(f"scored on {source.description}")
    held = results["fusion"]["held_out"]
    print({True: "held out: the run never saw any image of these pairs", None: "held out: unknown",
           False: "NOT held out: the run trained on some of these pairs (see per pair)"}[held])
    print(format_fusion_table(results, per_image=not args.quiet))
    save_results(run.evaluation, results)
    print(f"wrote {run.evaluation}")
    return 0


def evaluate_segmentation_run(args: argparse.Namespace, run, saved: TrainOptions) -> int:
    """``evaluate.py`` for a Vox2Vox run: segment labelled cases and score Dice and HD95 per region."""
    from cyclegan_mri.segmentation.inference import evaluate_segmentation, format_segmentation_table
    from cyclegan_mri.translation.evaluation import save_results

    if args.pairs:
        raise UserError("--pairs scores translations; a segmentation run is scored on the labelled cases of --data")
    results, description = evaluate_segmentation(run, args.data or saved.data, all_cases=args.all_pairs,
                                                 write_segmentations=not args.no_translations,
                                                 window=window_of(args))
    print(f"scored on {description}")
    print(format_segmentation_table(results, per_case=not args.quiet))
    save_results(run.evaluation, results)
    print(f"wrote {run.evaluation}")
    return 0


# How evaluate.py scores a run, by its kind.
EVALUATORS = {SLICES: evaluate_slice_run, VOLUMES: evaluate_volume_run, SEGMENTATION: evaluate_segmentation_run,
              FUSION: evaluate_fusion_run}


def cli() -> int:
    return run_main(main)
