"""Entry point: see `python evaluate.py --help` (the work lives in cyclegan_mri.cli.evaluate)."""

from cyclegan_mri.cli.evaluate import cli

if __name__ == "__main__":
    raise SystemExit(cli())
