"""Layers shared by every network of the package."""

from __future__ import annotations

import keras
import tensorflow as tf


def conv_init() -> keras.initializers.Initializer:
    """N(0, 0.02), the kernel initialisation of the tutorial and of the CycleGAN and pix2pix papers."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class InstanceNormalization(keras.layers.Layer):
    """Normalise each image's channels over its own spatial axes.

    ``y = scale * (x - mean) / sqrt(var + epsilon) + offset`` with mean and
    variance per image and channel, so the result never depends on the other
    images of the batch (batching several generator calls together changes
    nothing). Statistics are computed in float32 even under a mixed-precision
    policy: the variance of a large bf16/fp16 feature map loses too many bits.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(
            name="scale", shape=(channels,),
            initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02), trainable=True)
        self.offset = self.add_weight(name="offset", shape=(channels,), initializer="zeros", trainable=True)

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        spatial = list(range(1, len(x.shape) - 1))  # (1, 2) for images, (1, 2, 3) for volumes
        mean, variance = tf.nn.moments(x32, axes=spatial, keepdims=True)
        normalized = (x32 - mean) * tf.math.rsqrt(variance + self.epsilon)
        out = tf.cast(self.scale, tf.float32) * normalized + tf.cast(self.offset, tf.float32)
        return tf.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def _reflection_pads(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` from an int or that nested pair (lists too, as a loaded config has)."""
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    (top, bottom), (left, right) = padding
    return (int(top), int(bottom)), (int(left), int(right))


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class ReflectionPadding2D(keras.layers.Layer):
    """Pad the two spatial axes of NHWC images by mirroring them (edge pixel not repeated).

    Zero padding before a large convolution puts a black frame around each
    image that the generator learns to paint over, which leaves border
    artefacts; mirroring keeps the statistics at the border like those inside,
    as the CycleGAN reference implementation does. ``padding`` is an int for
    the same amount on every side, or ``((top, bottom), (left, right))``
    (used to bring an image to a multiple of a stride at the bottom/right).
    Each amount must be smaller than the size of its axis.
    """

    def __init__(self, padding: int | tuple[tuple[int, int], tuple[int, int]] = 1, **kwargs):
        super().__init__(**kwargs)
        self.pads = _reflection_pads(padding)
        if min(min(pair) for pair in self.pads) < 0:
            raise ValueError(f"padding must not be negative, got {padding!r}")
        self.padding = padding if isinstance(padding, int) else self.pads

    def call(self, x):
        (top, bottom), (left, right) = self.pads
        return tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        (top, bottom), (left, right) = self.pads
        batch, height, width, channels = input_shape
        return (batch,
                None if height is None else height + top + bottom,
                None if width is None else width + left + right,
                channels)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class LeakyReLU(keras.layers.Layer):
    """``max(x, negative_slope * x)``: Keras' LeakyReLU (for slopes below 1), in ops TensorFlow's remapper leaves alone.

    Grappler's remapper fuses a convolution, its bias and a following LeakyRelu into
    one op, but in a train step whose batch size is unknown (as Keras' ``fit``
    traces it) the gradient, LeakyReluGrad, still reads the bias output the fusion
    removed: the remapper then fails ("remapper failed: ... Mutation::Apply
    error", an E-level log line), and the whole step goes without its other
    fusions. Written as a maximum, the activation matches no fusion; the full
    tutorial step measured 8 % faster in bfloat16 on a CPU this way than with the
    failing remapper.
    """

    def __init__(self, negative_slope: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= negative_slope < 1:
            raise ValueError(f"negative_slope must be in [0, 1), got {negative_slope}")
        self.negative_slope = negative_slope

    def call(self, x):
        return tf.maximum(x, tf.cast(self.negative_slope, x.dtype) * x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


NORMS = ("instance", "batch")


def normalization(x, norm: str, name: str):
    """Instance or batch normalisation of ``x`` (the pix2pix option ``--norm``)."""
    if norm == "instance":
        return InstanceNormalization(name=name)(x)
    if norm != "batch":
        raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(NORMS)}")
    # PyTorch's BatchNorm2d defaults (momentum 0.1 there is 0.9 here), scale initialised like the convolutions.
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name,
                                           gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))(x)


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class PadToMultiple(keras.layers.Layer):
    """Pad images (NHWC) or volumes (NDHWC) at the end of each spatial axis, by reflection, to multiples of ``step``.

    The amounts are computed from each batch's own shape, so one network takes
    whole slices and the random crops of ``--crop`` alike. Each amount must be
    smaller than its axis (a reflection cannot repeat the image).
    """

    def __init__(self, step: int, **kwargs):
        super().__init__(**kwargs)
        if step < 1:
            raise ValueError(f"step must be at least 1, got {step}")
        self.step = step

    def call(self, x):
        shape = tf.shape(x)
        ends = [[0, -shape[axis] % self.step] for axis in range(1, len(x.shape) - 1)]
        return tf.pad(x, [[0, 0], *ends, [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        up = lambda n: None if n is None else n + (-n % self.step)  # noqa: E731
        return (input_shape[0], *(up(n) for n in input_shape[1:-1]), input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "step": self.step}


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class CropLike(keras.layers.Layer):
    """Crop ``[x, reference]`` to the start of each spatial axis of ``x``, ``reference``'s size: undoes PadToMultiple.

    Images and volumes alike: every axis between the batch and the channels is cropped.
    """

    def call(self, inputs):
        x, reference = inputs
        shape = tf.shape(reference)
        spatial = tuple(slice(0, shape[axis]) for axis in range(1, len(x.shape) - 1))
        return x[(slice(None), *spatial, slice(None))]

    def compute_output_shape(self, input_shapes):
        x, reference = input_shapes
        return (x[0], *reference[1:-1], x[-1])


def pad_to_multiple(x, step: int, name: str = "pad"):
    """Pad ``x`` (NHWC or NDHWC) at the end of each spatial axis, by reflection, to multiples of ``step``.

    Returns the padded tensor and the unpadded one, for :func:`crop_back`. Generators that downsample
    call it so that they take images of any size (the dataset's 217x181 among them) instead of needing a
    resize that costs detail. A fixed size that already fits adds no layer (the tutorial's 220x184); a
    size left open (``None``, for ``--crop``) always pads, by what each batch needs.
    """
    sizes = tuple(x.shape[1:-1])
    if all(n is not None for n in sizes):
        pads = tuple(-n % step for n in sizes)
        if not any(pads):
            return x, None
        if any(pad >= n for pad, n in zip(pads, sizes)):
            raise ValueError(f"{'x'.join(map(str, sizes))} is too small to pad by reflection to a multiple of {step}")
    return PadToMultiple(step, name=name)(x), x


def crop_back(x, unpadded, name: str = "crop"):
    """Undo :func:`pad_to_multiple`: drop what it added along each spatial axis (``unpadded`` is its 2nd result)."""
    return x if unpadded is None else CropLike(name=name)([x, unpadded])


PADDING_MODES = ("replicate", "reflect")


def _volume_pads(padding) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """``((front, back), (top, bottom), (left, right))`` from an int or that nested triple (lists from a config)."""
    if isinstance(padding, int):
        return ((padding, padding),) * 3
    pads = tuple((int(before), int(after)) for before, after in padding)
    if len(pads) != 3:
        raise ValueError(f"padding needs one (before, after) pair per axis of D, H and W, got {padding!r}")
    return pads


def _replicate(x, axis: int, before: int, after: int):
    """``x`` with its first slice along ``axis`` repeated ``before`` times in front and its last ``after`` behind."""
    if not before and not after:
        return x
    rank = len(x.shape)

    def edge(border: slice) -> tf.Tensor:
        # The border slice keeps its axis (length 1): sizes known only when the graph runs work too.
        return x[tuple(border if a == axis else slice(None) for a in range(rank))]

    # Repeated by concatenation rather than tf.tile, whose gradient takes an int32 path that oneDNN CPU builds
    # without AVX-512 int support report as an error line on every run.
    parts = [edge(slice(0, 1))] * before + [x] + [edge(slice(-1, None))] * after
    return tf.concat(parts, axis=axis)


@keras.saving.register_keras_serializable(package="cyclegan_mri")
class Padding3D(keras.layers.Layer):
    """Pad the three spatial axes of NDHWC volumes by replicating their edge ("replicate") or mirroring ("reflect").

    "replicate" repeats the border voxel, as PyTorch's ``ReplicationPad3d`` (the
    3D CycleGAN reference's choice); ``tf.pad`` has no such mode ("SYMMETRIC"
    mirrors including the edge, which differs from the second voxel on), so it
    is built from tiled border slices. "reflect" mirrors without repeating the
    edge (``tf.pad``'s "REFLECT", ``np.pad``'s "reflect"); each of its amounts
    must be smaller than its axis. ``padding`` is an int for every side, or
    ``((front, back), (top, bottom), (left, right))``.
    """

    def __init__(self, padding: int | tuple[tuple[int, int], tuple[int, int], tuple[int, int]] = 1,
                 mode: str = "replicate", **kwargs):
        super().__init__(**kwargs)
        if mode not in PADDING_MODES:
            raise ValueError(f"unknown padding mode {mode!r}; choose one of: {', '.join(PADDING_MODES)}")
        self.pads = _volume_pads(padding)
        if min(min(pair) for pair in self.pads) < 0:
            raise ValueError(f"padding must not be negative, got {padding!r}")
        self.padding = padding if isinstance(padding, int) else self.pads
        self.mode = mode

    def call(self, x):
        if self.mode == "reflect":
            return tf.pad(x, [[0, 0], *map(list, self.pads), [0, 0]], mode="REFLECT")
        for axis, (before, after) in enumerate(self.pads, 1):
            x = _replicate(x, axis, before, after)
        return x

    def compute_output_shape(self, input_shape):
        grown = (None if n is None else n + before + after for n, (before, after) in zip(input_shape[1:4], self.pads))
        return (input_shape[0], *grown, input_shape[4])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "mode": self.mode}
