"""``python train.py``: train (or resume) a run."""

from __future__ import annotations

from collections.abc import Sequence

from cyclegan_mri.cli.common import run_main
from cyclegan_mri.options import parse_train_args, train_options


def main(argv: Sequence[str] | None = None) -> int:
    options = train_options(parse_train_args(argv))
    from cyclegan_mri.training.trainer import train  # TensorFlow loads only once the flags are valid

    train(options)
    return 0


def cli() -> int:
    return run_main(main)
