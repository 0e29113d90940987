"""A history of generated images for the discriminator updates (Shrivastava et al. 2017).

Showing the discriminator fakes from earlier steps as well as the newest ones
keeps it from chasing only the generator's latest mistakes. As in the
CycleGAN paper: until the pool is full every fake is stored and used; then
each fake is, with probability 1/2, swapped with a random stored one (the
stored one is used), or used as it is.
"""

from __future__ import annotations

import tensorflow as tf


class ImagePool(tf.Module):
    """A fixed-size buffer of images, held in variables so that checkpoints keep it."""

    def __init__(self, size: int, image_shape: tuple[int, int, int], name: str = "image_pool"):
        super().__init__(name=name)
        self.size = size
        self.images = tf.Variable(tf.zeros((size, *image_shape)), trainable=False, name="images")
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name="count")

    @tf.function  # converts the data-dependent loop even where the caller is not autograph-converted
    def query(self, images: tf.Tensor) -> tf.Tensor:
        """The images to show the discriminator in place of ``images`` (no gradient flows back)."""
        images = tf.stop_gradient(tf.cast(images, tf.float32))
        chosen = tf.TensorArray(tf.float32, size=tf.shape(images)[0])
        for i in tf.range(tf.shape(images)[0]):
            image = images[i]
            if self.count < self.size:
                self.images[self.count].assign(image)
                self.count.assign_add(1)
                out = image
            elif tf.random.uniform(()) < 0.5:
                slot = tf.random.uniform((), 0, self.size, dtype=tf.int32)
                out = tf.identity(self.images[slot])
                self.images[slot].assign(image)
            else:
                out = image
            chosen = chosen.write(i, out)
        return chosen.stack()
