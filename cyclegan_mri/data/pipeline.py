"""tf.data input pipelines over slices already decoded into memory.

Images are decoded and resized once (``images.to_model_range``); each epoch only
shuffles and batches the cached tensors, so the input never waits on disk or PNG
decoding.

Unpaired epochs zip the two domains as the tutorial does: each domain is
shuffled and batched on its own and the epoch ends with the shorter one. With 43
T1 and 46 T2 images at batch 4 that is 11 steps: the last step pairs the 3
remaining T1 images with a full batch of 4 T2 images, and the 12th T2 batch (2
images, different ones each epoch) is not used in that epoch.

Paired epochs (pix2pix) shuffle the aligned pairs together, and augment both
images of a pair with the same flip and shift so that they stay aligned.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cyclegan_mri.errors import UserError


def augment(image: tf.Tensor, max_shift: int = 8, seed: int | None = None) -> tf.Tensor:
    """A random left-right flip and a random shift of up to ``max_shift`` pixels, filling with background (-1)."""
    image = tf.image.random_flip_left_right(image, seed=seed)
    height, width = image.shape[0], image.shape[1]
    padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]], constant_values=-1.0)
    return tf.image.random_crop(padded, (height, width, image.shape[2]), seed=seed)


def check_batch_size(batch_size: int, domain_sizes: dict[str, int]) -> None:
    """Refuse a batch that no epoch could fill once (one message for every caller)."""
    if batch_size < 1:
        raise UserError(f"--batch must be at least 1, got {batch_size}")
    for name, size in domain_sizes.items():
        if batch_size > size:
            raise UserError(f"--batch {batch_size} is larger than the {size} {name} images; "
                            f"use --batch {size} or less")


def domain_dataset(images: np.ndarray, batch_size: int, seed: int | None = None,
                   shuffle: bool = True, drop_remainder: bool = False, augmented: bool = False) -> tf.data.Dataset:
    """Shuffled (every epoch) batches of one domain, optionally with ``augment`` applied afresh each epoch."""
    check_batch_size(batch_size, {"domain": len(images)})
    dataset = tf.data.Dataset.from_tensor_slices(images).cache()
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if augmented:
        dataset = dataset.map(lambda image: augment(image, seed=seed), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)


def unpaired_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None,
                     drop_remainder: bool = False, augmented: bool = False) -> tf.data.Dataset:
    """One epoch of (x batch, y batch) steps, the two domains zipped as the tutorial does."""
    other_seed = None if seed is None else seed + 1
    zipped = tf.data.Dataset.zip((domain_dataset(x, batch_size, seed, drop_remainder=drop_remainder,
                                                 augmented=augmented),
                                  domain_dataset(y, batch_size, other_seed, drop_remainder=drop_remainder,
                                                 augmented=augmented)))
    return zipped.prefetch(tf.data.AUTOTUNE)


def paired_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None,
                   drop_remainder: bool = False, augmented: bool = False) -> tf.data.Dataset:
    """One epoch of (x batch, y batch) steps of aligned pairs, shuffled together."""
    if len(x) != len(y):
        raise ValueError(f"paired data needs as many T1 as T2 images, got {len(x)} and {len(y)}")
    check_batch_size(batch_size, {"aligned pair": len(x)})
    channels = x.shape[-1]
    # Stacked on the channel axis, a pair is one image: shuffling and augmenting cannot separate it.
    dataset = tf.data.Dataset.from_tensor_slices(np.concatenate([x, y], axis=-1)).cache()
    dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if augmented:
        dataset = dataset.map(lambda pair: augment(pair, seed=seed), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.map(lambda pairs: (pairs[..., :channels], pairs[..., channels:])).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(n_x: int, n_y: int, batch_size: int, drop_remainder: bool = False) -> int:
    """How many steps ``unpaired_dataset`` yields per epoch."""
    per = (lambda n: n // batch_size) if drop_remainder else (lambda n: -(-n // batch_size))
    return min(per(n_x), per(n_y))
