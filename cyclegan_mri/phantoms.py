"""``python -m cyclegan_mri.phantoms``: write synthetic head volumes and BraTS-style cases (the command lives in ``cli/phantoms.py``)."""

if __name__ == "__main__":
    from cyclegan_mri.cli.phantoms import cli

    raise SystemExit(cli())
