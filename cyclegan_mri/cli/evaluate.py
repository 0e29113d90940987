"""``python evaluate.py``: translate a source with a run's generators and score aligned pairs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cyclegan_mri.cli.common import run_main
from cyclegan_mri.options import (Parser, TrainOptions, add_data_arguments, add_debug_argument, add_out_argument,
                                  load_run_options)


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="evaluate.py",
        description="Translate the slices of a source with a run's trained generators, write the results as "
                    "PNGs to DIR/translations/<direction>/, and score PSNR, SSIM and NMSE on aligned pairs: the "
                    "tutorial dataset's 9 test pairs, or the files of the same name in testA/ and testB/ of "
                    "another --data folder (without them, nothing is scored). Says whether the run ever "
                    "trained on the scored images (held out or not). Writes DIR/evaluation.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_out_argument(p, "whose generators/ are evaluated")
    add_data_arguments(p)
    p.set_defaults(data=None)
    p.add_argument("--all-pairs", action="store_true",
                   help="score all 43 aligned pairs of the dataset instead of the 9 held-out test pairs")
    p.add_argument("--pairs", metavar="DIR",
                   help="score your own aligned pairs instead: DIR holds one folder per domain (t1/ and t2/, "
                        "A/ and B/, testA/ and testB/, or the domains' names) with files of the same names (any "
                        "size; translated at the model's size and resized back before scoring)")
    p.add_argument("--no-translations", action="store_true", help="score only; do not write translated PNGs")
    p.add_argument("--quiet", action="store_true", help="print only the mean scores, not each image")
    add_debug_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from cyclegan_mri.evaluation import (baseline_scores, dataset_source, evaluate, format_table, held_out_note,
                                         save_results, training_fingerprints, user_pairs)
    from cyclegan_mri.rundir import RunDir

    run = RunDir.at(args.out)
    saved = load_run_options(run.root)
    # The run's domains and channels, so that its data is read as it was for training.
    domains, channels = (saved.run_domains, saved.channels) if saved else (None, None)
    if args.pairs:
        source = user_pairs(args.pairs, domains, channels, args.skip_bad_images)
    else:
        data = args.data or (saved.data if saved else TrainOptions.data)
        source = dataset_source(data, args.all_pairs, args.accept_checksum, args.skip_bad_images, domains,
                                channels)
    results = evaluate(run, source, write_translations=not args.no_translations,
                       training=training_fingerprints(saved))
    for direction, scores in baseline_scores(source).items():
        if direction in results:
            results[direction]["baselines"] = scores
    print(f"scored on {source.description}")
    print(held_out_note(results))
    print(format_table(results, per_image=not args.quiet))
    save_results(run.evaluation, results)
    print(f"wrote {run.evaluation}")
    return 0


def cli() -> int:
    return run_main(main)
