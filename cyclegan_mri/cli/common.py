"""What every entry point does around its work: quiet TensorFlow logs and one-line errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from cyclegan_mri.errors import UserError


def quiet_tensorflow() -> None:
    """Hide TensorFlow's start-up chatter (CUDA probing, CPU feature notes) unless the user asked for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run ``main``; a UserError becomes one line on stderr and exit code 2 (``--debug`` re-raises)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_tensorflow()
    try:
        return main(argv)
    except UserError as error:
        if "--debug" in argv:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        print("interrupted", file=sys.stderr)
        return 130
