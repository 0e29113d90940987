"""Argument parsing that every command shares: one-line errors, value checks and the common flags."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from cyclegan_mri.data.fetch import DEFAULT_ARCHIVE


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where to look."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def image_size(text: str) -> int:
    """A side of an image in pixels: at least 8."""
    value = int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"{value} is too small: at least 8 pixels")
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def flag(setting: str) -> str:
    """The flag that gives a setting: ``lambda_nce`` -> ``--lambda-nce``."""
    return f"--{setting.replace('_', '-')}"


def as_flags(settings: Mapping[str, Any]) -> str:
    """Settings written as the flags that give them (``--filters 16 --augment``)."""
    def value(v):
        if v is True:
            return ""
        return " " + (" ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))
    return " ".join(f"{flag(k)}{value(v)}" for k, v in settings.items())


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data``, ``--accept-checksum`` and ``--skip-bad-images``."""
    parser.add_argument("--data", default=str(DEFAULT_ARCHIVE), metavar="PATH",
                        help="the dataset's RAR archive, or a folder of images of two domains: trainA/ and "
                             "trainB/ (with testA/ and testB/ for aligned test pairs of the same file names), "
                             "A/ and B/, Tr1/TrainT1 and Tr2/TrainT2 or t1/ and t2/, or folders named after "
                             "--domains (default: %(default)s, downloaded and verified when missing; "
                             "CYCLEGAN_MRI_ARCHIVE may name a local copy)")
    parser.add_argument("--accept-checksum", action="store_true",
                        help="use an archive whose sha256 differs from the published one (a warning is printed)")
    parser.add_argument("--skip-bad-images", action="store_true",
                        help="skip corrupt or unreadable images with a warning instead of stopping")


def add_out_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--out``: the run directory."""
    parser.add_argument("--out", default="output", metavar="DIR",
                        help=f"the run directory {what} (default: %(default)s)")


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug``: full tracebacks."""
    parser.add_argument("--debug", action="store_true", help="show full tracebacks instead of one-line errors")


def add_window_argument(parser: argparse.ArgumentParser, what: str, multiple: str) -> None:
    """``--window D H W``: the windows a 3D network slides over ``what`` in (default: its training patch)."""
    parser.add_argument("--window", type=int, nargs=3, default=None, metavar=("D", "H", "W"),
                        help=f"the size of the windows the network slides over {what} in, {multiple}, shrunk to "
                             "its size where it is smaller; larger windows than the training patch are faster and "
                             "give each voxel more context, which changes the output slightly "
                             "(docs/performance.md) (default: the training patch, the patch-by-patch result)")
