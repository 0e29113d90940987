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


def mean_squared_error(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean (a - b)^2 per example, averaged over the global batch."""
    return global_mean(_per_example(tf.square(tf.cast(a, tf.float32) - tf.cast(b, tf.float32))))


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


def generalized_dice(target: tf.Tensor, probabilities: tf.Tensor, class_weights) -> tf.Tensor:
    """The generalized Dice loss of Vox2Vox: ``1 - 2 sum_c w_c sum(y p) / (sum_c w_c sum(y + p) + 1e-5)``.

    ``target`` one-hot and ``probabilities`` (B, ..., K); the sums run over the batch and every voxel, so the
    loss is one overlap of the whole batch, not a mean of per-example ones. Under ``tf.distribute`` the sums are
    those of the global batch; each replica's share of the value is ``1 / replicas`` of it, and its gradient
    flows through its own voxels only, so the gradients the replicas sum are those of the global loss.
    """
    target = tf.cast(target, tf.float32)
    probabilities = tf.cast(probabilities, tf.float32)
    weights = tf.cast(tf.convert_to_tensor(class_weights), tf.float32)
    axes = list(range(len(target.shape) - 1))
    overlap = tf.reduce_sum(target * probabilities, axis=axes)
    total = tf.reduce_sum(target + probabilities, axis=axes)
    replicas = 1
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        replicas = context.num_replicas_in_sync
        # The other replicas' sums enter as constants.
        overlap += tf.stop_gradient(context.all_reduce(tf.distribute.ReduceOp.SUM, overlap) - overlap)
        total += tf.stop_gradient(context.all_reduce(tf.distribute.ReduceOp.SUM, total) - total)
    loss = 1.0 - 2.0 * tf.reduce_sum(weights * overlap) / (tf.reduce_sum(weights * total) + 1e-5)
    if replicas == 1:
        return loss
    return loss - tf.stop_gradient(loss * (1.0 - 1.0 / replicas))
