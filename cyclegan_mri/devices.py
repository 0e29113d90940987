"""Device-dependent choices: numeric precision, XLA, and the tf.distribute strategy.

Precision: bfloat16 mixed precision on GPUs from Ampere on (tensor cores),
float16 with loss scaling on older GPUs. On a CPU, bfloat16 where the CPU has
bfloat16 units (AVX512-BF16 or AMX-BF16) and TensorFlow runs its oneDNN
kernels, float32 elsewhere. Whether bfloat16 pays on a CPU depends on those
units: with them, oneDNN's bfloat16 convolutions ran twice as fast as float32
ones on a 2-core AVX512-BF16 machine; with oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``)
they were no faster than float32, and with oneDNN capped below the bfloat16
instructions (``ONEDNN_MAX_CPU_ISA=AVX512_CORE``, as on a CPU without them)
2.8 times slower (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import warnings
from collections.abc import Iterator
from pathlib import Path

import keras
import tensorflow as tf

from cyclegan_mri.errors import UserError

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("default", "mirrored", "multiworker")
# /proc/cpuinfo flags of the units that run bfloat16 dot products natively.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_info(cpuinfo: str | Path = "/proc/cpuinfo") -> dict:
    """The CPU's model name and feature flags (Linux; empty elsewhere), for choices and benchmark records."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return {"model": platform.processor() or platform.machine(), "flags": []}
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return {"model": fields.get("model name", platform.machine()), "flags": sorted(fields.get("flags", "").split())}


def onednn_bf16_enabled(environ: dict | None = None) -> bool:
    """Whether TensorFlow may use oneDNN's bfloat16 kernels: oneDNN is on and its ISA is not capped below them."""
    environ = os.environ if environ is None else environ
    if environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() in ("0", "false", "off"):
        return False
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    return cap == "ALL" or "BF16" in cap or "AMX" in cap


def cpu_has_bf16(flags: list[str] | None = None, environ: dict | None = None) -> bool:
    """Whether bfloat16 is faster than float32 on this CPU: it has bfloat16 units and oneDNN may use them."""
    flags = cpu_info()["flags"] if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS) and onednn_bf16_enabled(environ)


def resolve_precision(requested: str) -> str:
    """The Keras dtype policy name for ``--precision`` (``auto`` picks per device)."""
    if requested not in PRECISIONS:
        raise UserError(f"--precision {requested!r}: choose one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        return "mixed_bfloat16" if capability >= (8, 0) else "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"


@contextlib.contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build networks under the Keras dtype policy ``policy``; the global policy is restored afterwards.

    Networks keep the policy they were built with, so nothing else in the process
    (a notebook's next model, an exported generator) inherits mixed precision.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def resolve_jit(requested: str) -> bool | str:
    """``--xla``: on, off, or Keras' own choice (on for GPUs without tf.distribute, off on CPUs)."""
    return {"on": True, "off": False, "auto": "auto"}[requested]


def is_xla_failure(error: BaseException) -> bool:
    """Whether an error raised by the first step comes from XLA being unavailable or unable to compile."""
    text = str(error)
    return isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                              tf.errors.NotFoundError, tf.errors.InternalError)) and (
        "XLA" in text or "xla" in text or "jit" in text.lower())


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy for ``--strategy``."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("--strategy multiworker needs TF_CONFIG describing the cluster and this worker's "
                            "index (see docs/performance.md, several GPUs and machines)")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError as error:
            raise UserError(f"TF_CONFIG is not valid JSON ({error})") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"--strategy {name!r}: choose one of {', '.join(STRATEGIES)}")


def warn_xla_fallback(error: BaseException) -> None:
    warnings.warn(f"XLA compilation failed ({str(error).splitlines()[0][:200]}); training without XLA",
                  stacklevel=2)
