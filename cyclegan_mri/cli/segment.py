"""``python segment.py``: segment BraTS-style cases with a trained Vox2Vox run."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cyclegan_mri.cli.args import Parser, add_debug_argument, add_out_argument, add_window_argument
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.rundir import RunDir


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="segment.py",
        description="Segment a case folder (its contrasts as <case>_t1.nii.gz, _t1ce, _t2, _flair or "
                    "<case>-t1n.nii.gz, -t1c, -t2w, -t2f), or every case folder under a folder, with a run "
                    "trained by `train.py --model vox2vox`. Each segmentation is a uint8 NIfTI volume in the "
                    "case's own label values (enhancing tumour as 4 in a 2020-named case, as 3 in a 2023-named one, "
                    "whichever naming the run trained on), on the input's exact grid and affine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_out_argument(p, "whose generators/segmenter.keras segments")
    p.add_argument("--input", required=True, metavar="PATH", help="a case folder, or a folder of case folders")
    p.add_argument("--output", required=True, metavar="PATH",
                   help="the .nii.gz file to write for one case, or a folder that receives <case>.nii.gz for each")
    p.add_argument("--overlap", type=float, default=0.5,
                   help="the fraction by which neighbouring windows overlap")
    p.add_argument("--blend", choices=("gaussian", "constant"), default="gaussian",
                   help="how overlapping windows' class probabilities are averaged: weighted towards each "
                        "window's centre (gaussian) or evenly (constant)")
    add_window_argument(p, "a case", "multiples of 16 (the U-Net halves its input 4 times)")
    p.add_argument("--largest-component", action="store_true",
                   help="keep only the largest connected tumour region and set scattered tumour voxels elsewhere "
                        "to background (evaluate.py scores a Vox2Vox run both with and without it)")
    add_debug_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from cyclegan_mri.segmentation.inference import (  # TensorFlow loads once flags are valid
        load_segmenter,
        segment_path,
    )

    segmenter = load_segmenter(RunDir.at(args.out))
    written = segment_path(segmenter, args.input, args.output, args.overlap, args.blend, window=args.window,
                           largest=args.largest_component)
    print(f"wrote {written[0] if len(written) == 1 else f'{len(written)} segmentations to {args.output}'}")
    return 0


def cli() -> int:
    return run_main(main)
