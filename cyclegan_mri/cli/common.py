"""What every entry point does around its work: quiet TensorFlow logs and one-line errors."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from cyclegan_mri.errors import TrainingStopped, UserError


def quiet_tensorflow() -> None:
    """Hide TensorFlow's start-up chatter (CPU feature notes) unless the user asked for it.

    On a machine with no GPU driver, TensorFlow's CUDA build still probes for
    one and logs the failure as an error (``E0000 ... failed call to cuInit``);
    since it could not use a GPU there anyway, it is told to look for CPUs only.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not accelerator_possible():
        os.environ.setdefault("TF_ENABLED_DEVICE_TYPES", "CPU")


def accelerator_possible() -> bool:
    """Whether TensorFlow might find an accelerator here: an NVIDIA or ROCm driver, or a device plugin.

    Only a Linux machine without any of them is known to have none (TensorFlow has
    no GPU support on Windows or macOS to probe for).
    """
    if not sys.platform.startswith("linux"):
        return True
    for library in ("libcuda.so.1", "libamdhip64.so"):
        try:
            ctypes.CDLL(library)
            return True
        except OSError:
            pass
    if Path("/dev/kfd").exists():
        return True
    # Pluggable devices (Intel XPU, Apple Metal, DirectML...) load from site-packages/tensorflow-plugins.
    spec = importlib.util.find_spec("tensorflow")
    if spec and spec.origin:
        plugins = Path(spec.origin).parent.parent / "tensorflow-plugins"
        if plugins.is_dir() and any(plugins.iterdir()):
            return True
    return False


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
