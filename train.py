"""Entry point: see `python train.py --help` (the work lives in cyclegan_mri.cli.train)."""

from cyclegan_mri.cli.train import cli

if __name__ == "__main__":
    raise SystemExit(cli())
