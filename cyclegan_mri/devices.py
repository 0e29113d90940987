"""Device-dependent choices: numeric precision, XLA, and the tf.distribute strategy.

Precision: bfloat16 mixed precision on GPUs from Ampere on (tensor cores),
float16 with loss scaling on older GPUs, float32 on CPUs. On a CPU with
AVX512-BF16 (no AMX) TensorFlow's bfloat16 convolutions measured 1.5-1.7x
*slower* than float32 (bench/train_speed.py), so CPUs keep float32.
"""

from __future__ import annotations

import json
import os
import warnings

import keras
import tensorflow as tf

from cyclegan_mri.errors import UserError

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("default", "mirrored", "multiworker")


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
    return "float32"


def apply_precision(policy: str) -> None:
    """Set the global policy before any network is built (networks keep the policy they were built with)."""
    keras.mixed_precision.set_global_policy(policy)


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
                            "index (see the README)")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError as error:
            raise UserError(f"TF_CONFIG is not valid JSON ({error})") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"--strategy {name!r}: choose one of {', '.join(STRATEGIES)}")


def warn_xla_fallback(error: BaseException) -> None:
    warnings.warn(f"XLA compilation failed ({str(error).splitlines()[0][:200]}); training without XLA",
                  stacklevel=2)
