"""``python make_gif.py``: assemble a run's per-epoch sample grids into ``training.gif``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cyclegan_mri.cli.args import Parser, add_debug_argument, add_out_argument, positive_int
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.errors import UserError
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.visualize import gif_frames, write_gif


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="make_gif.py",
        description="Make DIR/training.gif from the sample grids DIR/samples/image_at_epoch_NNNN.png, "
                    "in epoch order: every k-th grid plus the last.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_out_argument(p, "whose samples/ are assembled")
    p.add_argument("--every", type=positive_int, default=3, help="keep every k-th epoch's grid")
    p.add_argument("--duration", type=float, default=200.0, metavar="MS", help="milliseconds per frame")
    p.add_argument("--output", metavar="PATH", help="where to write the GIF (default: DIR/training.gif)")
    add_debug_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run = RunDir.at(args.out)
    frames = [path for _, path in run.sample_frames()]
    if not frames:
        raise UserError(f"{run.samples}: no sample grids (image_at_epoch_NNNN.png) to assemble; "
                        f"train first with `python train.py --out {run.root}`")
    chosen = gif_frames(frames, args.every)
    target = args.output or run.gif
    write_gif(chosen, target, duration_ms=args.duration)
    print(f"wrote {target}: {len(chosen)} frames from {len(frames)} epochs")
    return 0


def cli() -> int:
    return run_main(main)
