"""``python fuse.py``: fuse aligned slices of two contrasts with an iVAN fusion run."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cyclegan_mri.cli.args import Parser, add_debug_argument, add_out_argument
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.rundir import RunDir


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="fuse.py",
        description="Fuse an aligned pair of slices (a T1 and a T2 image of one slice, of one size) into one "
                    "8-bit PNG with a run trained with --model ivan --task fusion; or fuse two folders, each "
                    "slice with the slice of the same name (file stem) in the other folder. Each fused slice "
                    "has its pair's size.")
    add_out_argument(p, "whose fusion network fuses")
    p.add_argument("--t1", "--a", dest="a", required=True, metavar="PATH",
                   help="the first domain's image (T1 for the tutorial's data), or a folder of them")
    p.add_argument("--t2", "--b", dest="b", required=True, metavar="PATH",
                   help="the second domain's image (T2), or a folder of slices named as those of --t1")
    p.add_argument("--output", required=True, metavar="PATH",
                   help="the fused image to write (.png), or a folder for folder inputs (<name>.png)")
    add_debug_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from cyclegan_mri.fusion.inference import fuse_path  # TensorFlow loads only once flags are valid

    written = fuse_path(RunDir.at(args.out), args.a, args.b, args.output)
    print(f"fused: wrote {written[0] if len(written) == 1 else f'{len(written)} files under {args.output}'}")
    return 0


def cli() -> int:
    return run_main(main)
