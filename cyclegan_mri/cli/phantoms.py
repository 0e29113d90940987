"""``python -m cyclegan_mri.phantoms``: write synthetic head volumes and BraTS-style cases."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cyclegan_mri.cli.args import Parser, add_debug_argument
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.data.phantoms import BRATS_FILES, DEFAULT_SHAPE, VOXEL_MM, write_brats_cases, write_volume_pairs


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog="python -m cyclegan_mri.phantoms",
                    description="Write synthetic head volumes for trying out and testing the 3D models.")
    commands = parser.add_subparsers(dest="command", required=True)
    volumes = commands.add_parser("volumes", help="write aligned T1/T2 phantom pairs as NIfTI volumes",
                                  description="Write DIR/t1/case{i}.nii.gz and DIR/t2/case{i}.nii.gz, the T1 and T2 "
                                              f"phantoms of one synthetic head each, with {VOXEL_MM:g} mm voxels.")
    volumes.add_argument("folder", metavar="DIR", help="where the t1/ and t2/ folders are written")
    brats = commands.add_parser("brats", help="write synthetic BraTS cases (T1, T1ce, T2, FLAIR and a tumour "
                                              "segmentation) as NIfTI volumes",
                                description="Write one folder per synthetic skull-stripped BraTS case: its T1, "
                                            "T1ce, T2 and FLAIR volumes and the segmentation of its tumour "
                                            "(necrosis 1, edema 2, enhancing tumour 4 with the 2020 naming or 3 "
                                            f"with the 2023 naming), with {VOXEL_MM:g} mm voxels.")
    brats.add_argument("folder", metavar="DIR", help="where the case folders are written")
    brats.add_argument("--naming", choices=sorted(BRATS_FILES), default="2020",
                       help="file naming and labels of BraTS 2020 (Phantom20_Case_001/..._t1ce.nii.gz, enhancing "
                            "tumour 4) or BraTS 2023 (Phantom-GLI-00001-000/...-t1c.nii.gz, enhancing tumour 3) "
                            "(default: %(default)s)")
    for command, what in ((volumes, "head"), (brats, "case")):
        command.add_argument("--cases", type=int, default=4, metavar="N",
                             help=f"how many {what}s (default: %(default)s)")
        command.add_argument("--shape", type=int, nargs=3, default=list(DEFAULT_SHAPE), metavar=("D", "H", "W"),
                             help="voxels along each axis: left-right, back-front, bottom-top (default: "
                                  f"{' '.join(map(str, DEFAULT_SHAPE))})")
        command.add_argument("--seed", type=int, default=0, metavar="S",
                             help=f"seed of the first {what}; {what} i is drawn from S + i (default: %(default)s)")
        add_debug_argument(command)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if args.command == "brats":
        written = write_brats_cases(args.folder, args.cases, args.shape, args.seed, args.naming)
        print(f"wrote {args.cases} BraTS {args.naming} case(s) of {'x'.join(map(str, args.shape))} voxels to "
              f"{folder} ({written[0].name} ... {written[-1].name})")
        return 0
    write_volume_pairs(args.folder, args.cases, args.shape, args.seed)
    print(f"wrote {args.cases} T1/T2 pair(s) of {'x'.join(map(str, args.shape))} voxels to {folder / 't1'} and "
          f"{folder / 't2'}")
    return 0



def cli() -> int:
    return run_main(main)


if __name__ == "__main__":
    raise SystemExit(cli())
