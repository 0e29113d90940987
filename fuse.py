"""Entry point: see `python fuse.py --help` (the work lives in cyclegan_mri.cli.fuse)."""

from cyclegan_mri.cli.fuse import cli

if __name__ == "__main__":
    raise SystemExit(cli())
