"""A generator that starts from an intensity map: a fixed per-intensity table plus the network's correction.

Translating between MR contrasts keeps the anatomy and reassigns the tissues'
intensities. An unpaired CycleGAN started from the identity has to find that
reassignment through the adversarial loss alone, and on real scans it settles
next to its input instead (T1 -> T2 keeps T1's bright white matter). Started
from a map that already has the right order of tissues (an unpaired quantile
map, ``translation.baselines.QuantileMap``), it has only the correction left
to learn: context the map cannot see, edges, texture. The network's last layer
starts at zero, so training starts exactly at the map.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

LEVELS = 256


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class IntensityTable(keras.layers.Layer):
    """Maps each pixel through a fixed table of ``LEVELS`` values, linear between them, in the model's -1..1 range.

    The table is a non-trainable weight (identity until ``set_table``), so checkpoints and saved models carry it.
    """

    def build(self, input_shape):
        self.table = self.add_weight(name="table", shape=(LEVELS,), trainable=False, dtype="float32",
                                     initializer=keras.initializers.Constant(np.linspace(-1.0, 1.0, LEVELS)))

    def set_table(self, table: np.ndarray) -> None:
        """Take ``table``: the output (-1..1) at each of ``LEVELS`` input levels evenly spaced over -1..1."""
        table = np.asarray(table, np.float32)
        if table.shape != (LEVELS,):
            raise ValueError(f"an intensity table has {LEVELS} values, got shape {table.shape}")
        self.table.assign(table)

    def call(self, inputs):
        position = (ops.clip(ops.cast(inputs, "float32"), -1.0, 1.0) + 1.0) * (0.5 * (LEVELS - 1))
        low = ops.minimum(ops.floor(position), LEVELS - 2)
        weight = position - low
        low = ops.cast(low, "int32")
        return ops.take(self.table, low) * (1.0 - weight) + ops.take(self.table, low + 1) * weight

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class ClipToRange(keras.layers.Layer):
    """Clips to the model's -1..1 range (map plus correction may step outside it)."""

    def call(self, inputs):
        return ops.clip(inputs, -1.0, 1.0)


def over_intensity_map(network: keras.Model) -> keras.Model:
    """``network`` (one image in, one image out, in -1..1) as the correction to an ``IntensityTable`` of its input:
    output = clip(table(x) + network(x)). The network's last weighted layer is zeroed, so the output starts at
    the table's. One flat functional graph: the same layers, the same names, plus the table."""
    last = next(layer for layer in reversed(network.layers) if layer.weights)
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    inputs, correction = network.inputs[0], network.outputs[0]
    mapped = IntensityTable(dtype="float32", name="intensity_table")(inputs)
    total = keras.layers.Add(dtype="float32", name="map_plus_correction")([mapped, correction])
    return keras.Model(inputs, ClipToRange(dtype="float32", name="range")(total), name=network.name)


def intensity_table(network: keras.Model) -> IntensityTable | None:
    """The network's intensity table, or None for a generator without one."""
    return next((layer for layer in network.layers if isinstance(layer, IntensityTable)), None)
