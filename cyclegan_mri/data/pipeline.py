"""tf.data input pipelines over slices already decoded into memory.

Images are decoded and resized once (``images.to_model_range``); each epoch only
permutes, augments and batches the in-memory tensors, so the input never waits
on disk or PNG decoding.

Every epoch's order and augmentation are a function of the run's seed and the
epoch's number alone (stateless random ops): a run resumed at epoch ``k``
sees exactly the data an uninterrupted run would have seen from epoch ``k``
on, and every worker of a multi-worker run sees the same order.

Unpaired epochs zip the two domains as the tutorial does: each domain is
shuffled and batched on its own and the epoch ends with the shorter one. With 43
T1 and 46 T2 images at batch 4 that is 11 steps: the last step pairs the 3
remaining T1 images with a full batch of 4 T2 images, and the 12th T2 batch (2
images, different ones each epoch) is not used in that epoch.

Paired epochs (pix2pix) shuffle the aligned pairs together, and augment (and
crop) both images of a pair with the same flip, shift and window so that they
stay aligned.

``crop`` trains on random windows of the slices (``--crop``), drawn after the
augmentation, each image its own window.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from cyclegan_mri.errors import UserError

# Salts that give each stream of random numbers of an epoch its own seed.
_DOMAIN_X, _DOMAIN_Y, _PAIRS, _CROP = 1, 2, 3, 4


def stream_seed(seed: int | tf.Tensor, epoch: int | tf.Tensor, stream: int) -> tf.Tensor:
    """The stateless seed of one random stream (a domain's order, say) of one epoch of a run."""
    base = tf.stack([tf.cast(seed, tf.int64), tf.cast(stream, tf.int64)])
    return tf.random.experimental.stateless_fold_in(base, tf.cast(epoch, tf.int64))


def augment(image: tf.Tensor, seed: tf.Tensor, max_shift: int = 8) -> tf.Tensor:
    """A left-right flip (with probability 1/2) and a shift of up to ``max_shift`` pixels, filling with
    background (-1), drawn from the stateless ``seed``: the same seed gives the same result."""
    flip_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    height, width = image.shape[0], image.shape[1]
    padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]], constant_values=-1.0)
    return tf.image.stateless_random_crop(padded, (height, width, image.shape[2]), crop_seed)


def check_batch_size(batch_size: int, domain_sizes: dict[str, int]) -> None:
    """Refuse a batch that no epoch could fill once (one message for every caller)."""
    if batch_size < 1:
        raise UserError(f"--batch must be at least 1, got {batch_size}")
    for name, size in domain_sizes.items():
        if batch_size > size:
            raise UserError(f"--batch {batch_size} is larger than the {size} {name} images; "
                            f"use --batch {size} or less")


def random_crop(image: tf.Tensor, size: tuple[int, int], seed: tf.Tensor) -> tf.Tensor:
    """A ``size`` window of an HWC image at a place drawn from the stateless ``seed`` (every channel alike)."""
    return tf.image.stateless_random_crop(image, (*size, image.shape[-1]), seed)


def _one_epoch(images: tf.Tensor, seed: tf.Tensor, batch_size: int, drop_remainder: bool,
               augmented: bool, crop: tuple[int, int] | None = None) -> tf.data.Dataset:
    """One epoch of one set of images: permuted by ``seed``, optionally augmented and cropped, batched."""
    order = tf.random.experimental.stateless_shuffle(tf.range(tf.shape(images)[0], dtype=tf.int64), seed)
    dataset = tf.data.Dataset.from_tensor_slices(order).enumerate()

    def pick(i, k):
        image = tf.gather(images, k)
        item_seed = tf.random.experimental.stateless_fold_in(seed, i)
        if augmented:
            image = augment(image, item_seed)
        if crop is not None:
            image = random_crop(image, crop, tf.random.experimental.stateless_fold_in(item_seed, _CROP))
        return image

    return dataset.map(pick, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=drop_remainder)


def _epochs(make_epoch: Callable[[tf.Tensor], tf.data.Dataset], first_epoch: int, epochs: int) -> tf.data.Dataset:
    """``epochs`` consecutive epochs, the first being epoch index ``first_epoch`` (the count of epochs before it)."""
    return tf.data.Dataset.range(first_epoch, first_epoch + epochs).flat_map(make_epoch).prefetch(tf.data.AUTOTUNE)


def _run_seed(seed: int | None) -> int:
    return int(np.random.default_rng().integers(2**31)) if seed is None else int(seed)


def unpaired_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None,
                     drop_remainder: bool = False, augmented: bool = False, first_epoch: int = 0,
                     epochs: int = 1, crop: tuple[int, int] | None = None) -> tf.data.Dataset:
    """``epochs`` epochs of (x batch, y batch) steps from epoch index ``first_epoch`` on, the two domains zipped
    as the tutorial does; each domain's order (augmentation, ``crop`` windows) is drawn from ``seed`` and the
    epoch index."""
    check_batch_size(batch_size, {"T1": len(x), "T2": len(y)})
    seed = _run_seed(seed)
    x, y = tf.constant(x), tf.constant(y)

    def epoch(index):
        return tf.data.Dataset.zip((
            _one_epoch(x, stream_seed(seed, index, _DOMAIN_X), batch_size, drop_remainder, augmented, crop),
            _one_epoch(y, stream_seed(seed, index, _DOMAIN_Y), batch_size, drop_remainder, augmented, crop)))

    return _epochs(epoch, first_epoch, epochs)


def paired_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None,
                   drop_remainder: bool = False, augmented: bool = False, first_epoch: int = 0,
                   epochs: int = 1, crop: tuple[int, int] | None = None) -> tf.data.Dataset:
    """``epochs`` epochs of (x batch, y batch) steps of aligned pairs, shuffled (augmented, cropped) together."""
    if len(x) != len(y):
        raise ValueError(f"paired data needs as many T1 as T2 images, got {len(x)} and {len(y)}")
    check_batch_size(batch_size, {"aligned pair": len(x)})
    seed = _run_seed(seed)
    channels = x.shape[-1]
    # Stacked on the channel axis, a pair is one image: shuffling and augmenting cannot separate it.
    pairs = tf.constant(np.concatenate([x, y], axis=-1))

    def epoch(index):
        batches = _one_epoch(pairs, stream_seed(seed, index, _PAIRS), batch_size, drop_remainder, augmented, crop)
        return batches.map(lambda stacked: (stacked[..., :channels], stacked[..., channels:]))

    return _epochs(epoch, first_epoch, epochs)


def steps_per_epoch(n_x: int, n_y: int, batch_size: int, drop_remainder: bool = False) -> int:
    """How many steps an epoch of ``unpaired_dataset`` (or of ``paired_dataset``, with ``n_x == n_y``) has."""
    per = (lambda n: n // batch_size) if drop_remainder else (lambda n: -(-n // batch_size))
    return min(per(n_x), per(n_y))
