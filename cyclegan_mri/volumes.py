"""``python -m cyclegan_mri.volumes``: cut NIfTI volumes into PNG slices and back (the command lives in ``cli/volumes.py``)."""

if __name__ == "__main__":
    from cyclegan_mri.cli.volumes import cli

    raise SystemExit(cli())
