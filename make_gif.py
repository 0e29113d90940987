"""Entry point: see `python make_gif.py --help` (the work lives in cyclegan_mri.cli.make_gif)."""

from cyclegan_mri.cli.make_gif import cli

if __name__ == "__main__":
    raise SystemExit(cli())
