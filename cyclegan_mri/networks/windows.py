"""Running a 3D network trained on patches over windows of another size, several windows per call.

Both 3D generators (the ResNet of the 3D CycleGAN and the Vox2Vox U-Net) are fully convolutional: their
weights do not depend on the input's size. An exported generator is saved with its training patch as its
input shape, and Keras refuses other shapes, so the network is cloned onto an input of the window's shape
with the same layers' weights. Sizes must survive the network's stride-2 steps and come back: each must
be a multiple of the product of the strides of its (non-transposed) convolutions, 4 for the ResNet and
16 for the Vox2Vox U-Net of depth 4 (a network that pads its input to that multiple itself, the ResNet
trained on odd patch sizes, takes any size).

What a larger window changes: the instance normalisations compute their statistics over the whole window
instead of one patch, and a voxel sees its full receptive field more often (fewer voxels lie near a window's
border), so outputs differ slightly from those in patch-sized windows; docs/performance.md gives the
measured effect on scores.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from cyclegan_mri.errors import UserError
from cyclegan_mri.networks.layers import PadToMultiple

#: The window of whole-volume inference (``--window``; None: the training patch, whose output is the
#: patch-by-patch one) and the windows per network call (``batch_size``, which leaves the output unchanged).
#: Larger windows are opt-in until bench/volume_inference.py has measured their speed and scores at full size.
DEFAULT_WINDOW = None
DEFAULT_BATCH = 4


def downsampling_factor(network: keras.Model) -> int:
    """The multiple every spatial size of the network's input must be: the product of the strides of its
    convolutions (transposed ones bring the size back), or 1 when the network pads its input to that itself."""
    if any(isinstance(layer, PadToMultiple) for layer in network.layers):
        return 1
    factor = 1
    for layer in network.layers:
        # Conv3DTranspose is not a Conv3D subclass in Keras 3; the check below says so for older versions too.
        if isinstance(layer, keras.layers.Conv3D) and not isinstance(layer, keras.layers.Conv3DTranspose):
            factor *= int(layer.strides[0])  # cubic strides in both networks
    return factor


def training_patch(network: keras.Model) -> tuple[int, int, int]:
    """The (D, H, W) input size the network was exported with: its training patch."""
    return tuple(int(n) for n in network.input_shape[1:4])


def check_window(network: keras.Model, window: Sequence[int]) -> tuple[int, int, int]:
    """``window`` as three whole sizes the network takes, or a one-line error naming the multiple it needs."""
    sizes = tuple(window)
    shown = " ".join(map(str, sizes))
    if len(sizes) != 3 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in sizes):
        raise UserError(f"--window {shown}: give three whole sizes, D H W")
    factor = downsampling_factor(network)
    if min(sizes) < factor or any(n % factor for n in sizes):
        raise UserError(f"--window {shown}: this network halves its input {int(math.log2(factor))} times, so "
                        f"every size must be a multiple of {factor} (the training patch is "
                        f"{' '.join(map(str, training_patch(network)))})")
    return tuple(int(n) for n in sizes)


def fit_window(network: keras.Model, window: Sequence[int], volume: Sequence[int]) -> tuple[int, int, int]:
    """``window`` (checked) shrunk along each axis where the volume is smaller, to the volume's size rounded up
    to the network's multiple: a window larger than the volume would only add padding to compute."""
    window = check_window(network, window)
    factor = downsampling_factor(network)
    return tuple(min(w, -(-int(n) // factor) * factor) for w, n in zip(window, volume))


def at_window(network: keras.Model, window: Sequence[int]) -> keras.Model:
    """The network with an input of (``window``, C): itself at its own size, else a clone sharing its weights'
    values."""
    window = tuple(int(n) for n in window)
    if training_patch(network) == window:
        return network
    inputs = keras.Input(shape=(*window, network.input_shape[-1]), name=network.inputs[0].name)
    copy = keras.models.clone_model(network, input_tensors=inputs)
    copy.set_weights(network.get_weights())
    return copy


# Predictors by network and window, so that a folder of volumes traces each graph once, not once a volume.
_PREDICTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def window_predictor(network: keras.Model, window: Sequence[int]) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a float32 batch (B, *window, C) to the network's output as a numpy array.

    Traced once into a graph (and once more for a last, smaller batch): calling a Keras model eagerly runs
    its layers one by one from Python, which costs more than the computation for small windows.
    """
    window = tuple(int(n) for n in window)
    cached = _PREDICTORS.setdefault(network, {})
    if window not in cached:
        cached[window] = _predictor(at_window(network, window))
    return cached[window]


def _predictor(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    call = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)

    def predict(batch: np.ndarray) -> np.ndarray:
        return call(tf.convert_to_tensor(batch, tf.float32)).numpy()

    return predict
