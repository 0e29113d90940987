"""``python -m cyclegan_mri.volumes``: cut NIfTI volumes into PNG slices, and put slices back into volumes."""

from __future__ import annotations

from collections.abc import Sequence

from cyclegan_mri.cli.args import Parser, add_debug_argument
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.data.nifti import GEOMETRY_FILE, PLANES, is_nifti, slice_volume, stack_slices
from cyclegan_mri.errors import UserError


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog="python -m cyclegan_mri.volumes",
                    description="Cut NIfTI volumes into PNG slices and put slices back into volumes.")
    commands = parser.add_subparsers(dest="command", required=True)
    cut = commands.add_parser("slice", help="write a volume's slices as 8-bit PNGs (with volume.json)")
    cut.add_argument("volume", help="a 3D .nii or .nii.gz file")
    cut.add_argument("folder", help="where slice_NNNN.png and volume.json are written")
    cut.add_argument("--plane", choices=sorted(PLANES), default="axial",
                     help="anatomical plane of the slices, found from the affine (default: %(default)s)")
    stack = commands.add_parser("stack", help="put slice_NNNN.png files back into a float32 volume")
    stack.add_argument("folder", help="a folder of slice_NNNN.png files (written by slice, or translated)")
    stack.add_argument("volume", help="the .nii or .nii.gz file to write")
    stack.add_argument("--geometry", metavar="JSON",
                       help="the volume.json written by slice (default: FOLDER/volume.json)")
    for sub in (cut, stack):
        add_debug_argument(sub)
    args = parser.parse_args(argv)
    if args.command == "slice":
        written = slice_volume(args.volume, args.folder, args.plane)
        print(f"wrote {len(written)} slices and {GEOMETRY_FILE} to {args.folder}")
    else:
        if not is_nifti(args.volume):
            raise UserError(f"{args.volume}: the output must end in .nii or .nii.gz")
        image = stack_slices(args.folder, args.volume, args.geometry)
        print(f"wrote {args.volume} ({'x'.join(map(str, image.shape))}, float32)")
    return 0



def cli() -> int:
    return run_main(main)


if __name__ == "__main__":
    raise SystemExit(cli())
