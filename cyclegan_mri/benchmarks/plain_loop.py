"""The tutorial's training step as it was written: the yardstick the fast path is measured against.

Six separate generator calls and four discriminator calls, ``keras.losses``
binary cross-entropy and ``tf.reduce_mean`` L1 terms, a persistent tape and
four ``apply_gradients``, float32 and no XLA unless asked. Only ``bench/train_speed.py``
and the equivalence test (``tests/test_fast_path.py``) use it; training never does.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from cyclegan_mri.models.cyclegan import CycleGAN


def make_plain_step(model: CycleGAN, jit_compile: bool = False) -> tf.types.experimental.PolymorphicFunction:
    """A ``tf.function`` performing the tutorial's step on ``model``'s networks and optimizers: called with a
    batch of each domain, it updates all four networks and returns the four losses by the model's names."""
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    g, f = model.generator_g, model.generator_f
    d_x, d_y = model.discriminator_x, model.discriminator_y
    lambda_cycle, lambda_identity = model.lambda_cycle, model.lambda_identity

    def generator_loss(fake):
        return bce(tf.ones_like(fake), fake)

    def discriminator_loss(real, fake):
        return 0.5 * (bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake))

    def l1(a, b):
        return tf.reduce_mean(tf.abs(a - b))

    @tf.function(jit_compile=jit_compile)
    def step(real_x, real_y):
        with tf.GradientTape(persistent=True) as tape:
            real_x, real_y = tf.cast(real_x, tf.float32), tf.cast(real_y, tf.float32)
            fake_y = g(real_x, training=True)
            cycled_x = f(fake_y, training=True)
            fake_x = f(real_y, training=True)
            cycled_y = g(fake_x, training=True)
            same_x = f(real_x, training=True)
            same_y = g(real_y, training=True)
            disc_real_x = d_x(real_x, training=True)
            disc_real_y = d_y(real_y, training=True)
            disc_fake_x = d_x(fake_x, training=True)
            disc_fake_y = d_y(fake_y, training=True)
            cycle = lambda_cycle * l1(real_x, cycled_x) + lambda_cycle * l1(real_y, cycled_y)
            gen_g = generator_loss(disc_fake_y) + cycle + lambda_identity * l1(real_y, same_y)
            gen_f = generator_loss(disc_fake_x) + cycle + lambda_identity * l1(real_x, same_x)
            disc_x = discriminator_loss(disc_real_x, disc_fake_x)
            disc_y = discriminator_loss(disc_real_y, disc_fake_y)
            updates = [(gen_g, g, model.generator_g_optimizer), (gen_f, f, model.generator_f_optimizer),
                       (disc_x, d_x, model.discriminator_x_optimizer),
                       (disc_y, d_y, model.discriminator_y_optimizer)]
            # The identity except under float16 loss scaling, which the tutorial never used.
            scaled = [optimizer.scale_loss(loss) for loss, _, optimizer in updates]
        for loss, (_, network, optimizer) in zip(scaled, updates):
            gradients = tape.gradient(loss, network.trainable_variables)
            optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        names = model.loss_names  # the model's own names of these four losses
        return {names["gen_g"]: gen_g, names["gen_f"]: gen_f, names["disc_x"]: disc_x, names["disc_y"]: disc_y}

    return step
