"""Entry point: see `python segment.py --help` (the work lives in cyclegan_mri.cli.segment)."""

from cyclegan_mri.cli.segment import cli

if __name__ == "__main__":
    raise SystemExit(cli())
