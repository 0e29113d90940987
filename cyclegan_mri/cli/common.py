"""What every entry point does around its work: quiet TensorFlow logs and one-line errors."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Sequence

from cyclegan_mri.errors import TrainingStopped, UserError


def quiet_tensorflow() -> None:
    """Hide TensorFlow's start-up chatter (CUDA probing, CPU feature notes) unless the user asked for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def one_line_warnings() -> None:
    """Show warnings as ``warning: ...`` on one line, without the source line Python adds."""
    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run ``main``; a UserError becomes one line on stderr and a non-zero exit (``--debug`` re-raises)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_tensorflow()
    one_line_warnings()
    try:
        return main(argv)
    except UserError as error:
        if "--debug" in argv:
            raise
        print(f"{'stopped' if isinstance(error, TrainingStopped) else 'error'}: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 2)
    except Exception as error:
        # TensorFlow's out-of-memory error, named so that TensorFlow need not be imported here.
        if type(error).__name__ != "ResourceExhaustedError" or "--debug" in argv:
            raise
        print("error: out of memory; lower --batch or --image-size (or --filters)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        print("interrupted", file=sys.stderr)
        return 130
