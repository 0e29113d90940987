"""Fetch and verify the tutorial's MRI dataset archive by hand.

Usage: python datasets/fetch.py [--dest PATH] [--accept-checksum]

Prints the archive's path and sha256. A problem is printed as one line on
stderr and the exit status is 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

try:
    import cyclegan_mri  # noqa: F401
except ImportError:
    # Run straight from a checkout, the package is not on sys.path yet.
    sys.path.insert(0, str(REPO_ROOT))

from cyclegan_mri.data.fetch import (  # noqa: E402
    ARCHIVE_ENV,
    ARCHIVE_SHA256,
    ARCHIVE_URL,
    download,
    ensure_archive,
    sha256_of,
)
from cyclegan_mri.errors import DataError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Download (if missing) and verify MRI+T1_T2+Dataset.RAR. Without "
            f"--dest it goes to datasets/ of this checkout, or ${ARCHIVE_ENV} "
            "names a local copy."
        )
    )
    parser.add_argument(
        "--dest", type=Path, default=None,
        help="where the archive is or should be downloaded to",
    )
    parser.add_argument(
        "--accept-checksum", action="store_true",
        help="warn instead of failing when the sha256 differs",
    )
    args = parser.parse_args(argv)
    try:
        if args.dest is None:
            # DEFAULT_ARCHIVE is relative to the working directory.
            os.chdir(REPO_ROOT)
            path = ensure_archive(None, accept_mismatch=args.accept_checksum)
        else:
            if not args.dest.exists():
                download(
                    ARCHIVE_URL, args.dest,
                    sha256=None if args.accept_checksum else ARCHIVE_SHA256,
                )
            path = ensure_archive(args.dest, accept_mismatch=args.accept_checksum)
        path = path.resolve()
        print(path)
        print(f"sha256 {sha256_of(path)}" if path.is_file() else "sha256 - (a folder)")
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
