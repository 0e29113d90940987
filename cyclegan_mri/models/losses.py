"""Loss terms as per-example values averaged over the *global* batch.

Every term is reduced per example first and then divided by the number of
examples in the whole (cross-replica) batch, so one step under
``tf.distribute`` equals one step on one device. ``keras.losses`` objects are
deliberately not used: since Keras 3.8 they rescale by the replica count on
their own, and mixed with hand-written means that silently reweights the terms.
"""

from __future__ import annotations

import tensorflow as tf


def global_mean(per_example: tf.Tensor) -> tf.Tensor:
    """Mean over the global batch of a per-example loss, from inside one replica.

    The batch size is summed across replicas rather than assumed, so uneven
    splits (the last partial batch of an epoch) are weighted exactly.
    """
    per_example = tf.cast(per_example, tf.float32)
    count = tf.cast(tf.shape(per_example)[0], tf.float32)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return tf.reduce_sum(per_example) / count


def _per_example(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.reshape(tf.cast(values, tf.float32), (tf.shape(values)[0], -1)), axis=1)


def bce_logits(logits: tf.Tensor, target: float) -> tf.Tensor:
    """Binary cross-entropy of patch logits against a constant label, averaged per example."""
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.constant(target, tf.float32))
    return global_mean(_per_example(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)))


def mean_absolute_error(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean |a - b| per example, averaged over the global batch."""
    return global_mean(_per_example(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32))))


def squared_error(scores: tf.Tensor, target: float) -> tf.Tensor:
    """Mean (score - target)^2 per example: the least-squares GAN objective (Mao et al. 2017)."""
    return global_mean(_per_example(tf.square(tf.cast(scores, tf.float32) - target)))


GAN_LOSSES = {"bce": bce_logits, "lsgan": squared_error}


def generator_adversarial(fake_scores: tf.Tensor, mode: str) -> tf.Tensor:
    """The generator wants its fakes judged real."""
    return GAN_LOSSES[mode](fake_scores, 1.0)


def discriminator_adversarial(real_scores: tf.Tensor, fake_scores: tf.Tensor, mode: str) -> tf.Tensor:
    """Half the sum of the real and fake terms, as the tutorial (it slows D against G)."""
    return 0.5 * (GAN_LOSSES[mode](real_scores, 1.0) + GAN_LOSSES[mode](fake_scores, 0.0))
