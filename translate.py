"""Entry point: see `python translate.py --help` (the work lives in cyclegan_mri.cli.translate)."""

from cyclegan_mri.cli.translate import cli

if __name__ == "__main__":
    raise SystemExit(cli())
