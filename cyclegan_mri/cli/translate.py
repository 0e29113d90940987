"""``python translate.py``: translate PNG slices or NIfTI volumes with a run's trained generator."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cyclegan_mri.cli.args import Parser, add_debug_argument, add_out_argument, add_window_argument
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.data.nifti import PLANES
from cyclegan_mri.errors import UserError
from cyclegan_mri.record import load_run_options, require_kind
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.specs import SLICES, VOLUMES


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="translate.py",
        description="Translate an image, a folder of images, a NIfTI volume (.nii, .nii.gz) or a folder of "
                    "volumes with a trained generator. Images come out as PNGs at their own size, gray or "
                    "colour as the run's --channels. A (grayscale) volume is translated slice by slice by a 2D "
                    "run and as a volume, window by window, by a 3D run; it comes out as a float32 volume with "
                    "the input's shape, affine and intensity range, so that it overlays the input in a viewer.")
    add_out_argument(p, "whose generators/ translate")
    p.add_argument("--input", required=True, metavar="PATH", help="an image, a volume, or a folder of either")
    p.add_argument("--output", required=True, metavar="PATH",
                   help="the file to write (.png for an image, .nii or .nii.gz for a volume), or a folder "
                        "for a folder input (same file names)")
    p.add_argument("--direction", default=None, metavar="A_to_B",
                   help="which generator, <source>_to_<target> in the run's domain names (t1_to_t2, "
                        "t2_to_t1, a_to_b, mri_to_ct...; default: the run's only one, or its first domain to "
                        "its second)")
    p.add_argument("--plane", choices=sorted(PLANES), default=None,
                   help="a 2D run: the anatomical plane a volume is cut along, found from its affine whatever the "
                        "voxel order (default: axial)")
    p.add_argument("--overlap", type=float, default=None,
                   help="a 3D run (--model cyclegan3d): the fraction by which neighbouring windows overlap "
                        "(default: 0.5)")
    p.add_argument("--blend", choices=("gaussian", "constant"), default=None,
                   help="a 3D run: how overlapping windows are averaged, weighted towards each window's centre "
                        "(gaussian) or evenly (constant) (default: gaussian)")
    add_window_argument(p, "a volume (a 3D run)", "multiples of 4 (the generator halves its input twice)")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="skip corrupt or unreadable images in a folder with a warning instead of stopping")
    add_debug_argument(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # TensorFlow loads once the flags are valid.
    from cyclegan_mri.networks.windows import check_window
    from cyclegan_mri.translation.inference import pick_generator, translate_path
    from cyclegan_mri.volumetric.inference import is_volumetric

    run = RunDir.at(args.out)
    saved = load_run_options(run.root)
    if saved is not None:
        require_kind(saved, run.root, (SLICES, VOLUMES), "translate.py")
    direction, generator = pick_generator(run, args.direction)
    volumetric = saved.kind == VOLUMES if saved is not None else is_volumetric(generator)
    if volumetric and args.plane is not None:
        raise UserError(f"--plane: the run in {run.root} translates volumes as volumes (3D), not slice by slice")
    if not volumetric and (args.overlap is not None or args.blend is not None or args.window is not None):
        raise UserError(f"--overlap, --blend and --window apply to 3D runs; the run in {run.root} translates slices (a volume "
                        "slice by slice along --plane)")
    window = None if args.window is None else tuple(args.window)  # None: the training patch
    if volumetric and window is not None:
        check_window(generator, window)  # before any volume is read
    written = translate_path(generator, args.input, args.output, args.plane or "axial", args.skip_bad_images,
                             spacing=saved.spacing if saved else None, overlap=args.overlap, blend=args.blend,
                             window=window)
    where = written[0] if len(written) == 1 else f"{len(written)} files under {args.output}"
    print(f"{direction}: wrote {where}")
    return 0


def cli() -> int:
    return run_main(main)
