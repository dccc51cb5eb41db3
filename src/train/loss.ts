import * as tf from '@tensorflow/tfjs';
import type { LossKind } from '../data/labels';

/**
 * Training losses of the label sets (microsoft/FERPlus `src/train.py` `cost_func`):
 * - `crossentropy` (fer, majority, probability, crossentropy modes): mean over the batch of
 *   -sum_i t_i * log softmax(z)_i, for one-hot or soft targets t;
 * - `multi_target`: mean over the batch of -log(max_i t_i * softmax(z)_i), where t is the 0/1 acceptance mask
 *   smoothed by 0.001 (votes.ts `multiTargetMask`): the prediction is rewarded for any accepted class.
 *
 * @param logits `[batch, C]` float32. @param targets `[batch, C]` float32 (rows sum to 1, or the multi-target mask).
 * @param labelSmoothing for `crossentropy` only: targets become (1 - s) * t + s / C (0 = off).
 * @param classWeights optional `[C]` float32 class weights (crossentropy only): example i weighs w_i = sum_c t_ic w_c
 *   (its unsmoothed target's class weight) and the loss is sum_i w_i ce_i / sum_i w_i, as PyTorch's
 *   CrossEntropyLoss(weight=w) for hard targets. @throws Error for `multi_target` with class weights.
 * @returns scalar float32 loss.
 */
export function lossFn(kind: LossKind, logits: tf.Tensor2D, targets: tf.Tensor2D, labelSmoothing = 0, classWeights?: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    if (classWeights) {
      if (kind === 'multi_target') throw new Error('classWeights: class-weighted loss is defined for cross-entropy label sets, not multi_target');
      const C = logits.shape[1];
      const t = labelSmoothing > 0 ? tf.add(tf.mul(targets, 1 - labelSmoothing), labelSmoothing / C) : targets;
      // per-example weight: the weight of the (soft) target class, sum_c t_c w_c; PyTorch CrossEntropyLoss(weight) divides by sum w
      const w = tf.sum(tf.mul(targets, classWeights), 1);
      const ce = tf.neg(tf.sum(tf.mul(t, tf.logSoftmax(logits)), 1));
      return tf.div(tf.sum(tf.mul(ce, w)), tf.maximum(tf.sum(w), 1e-12)) as tf.Scalar;
    }
    if (kind === 'multi_target') {
      const p = tf.softmax(logits);
      return tf.neg(tf.mean(tf.log(tf.max(tf.mul(targets, p), 1)))) as tf.Scalar;
    }
    return tf.losses.softmaxCrossEntropy(targets, logits, undefined, labelSmoothing) as tf.Scalar;
  });
}

/**
 * Balanced class weights from the training labels: w_c = n / (C * n_c) (scikit-learn compute_class_weight
 * 'balanced'; King & Zeng 2001), 0 for a class without training images.
 * @param labels `[n]` hard labels in [0, C). @returns `[C]` weights (mean over the images = 1).
 */
export function balancedClassWeights(labels: ArrayLike<number>, numClasses: number): Float32Array {
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return Float32Array.from(counts, (c) => (c > 0 ? labels.length / (numClasses * c) : 0));
}

/**
 * Knowledge-distillation loss (Hinton, Vinyals & Dean 2015, arXiv 1503.02531, section 2):
 * alpha * hard + (1 - alpha) * T^2 * mean_i( -sum_c q_ic log softmax(z_i / T)_c ), i.e. the cross-entropy of the
 * student's softened distribution against the teacher's softened one q = softmax(t / T), scaled by T^2 so that its
 * gradients keep their size as T changes (Hinton et al.: "multiply them by T^2"). A cross-entropy, not a KL
 * divergence: the two differ by the teacher's entropy, a constant of the student (same gradients), so the loss value
 * includes it.
 * @param hard scalar float32 loss on the true targets (lossFn). @param logits `[n, C]` float32 student logits.
 * @param soft `[n, C]` float32 teacher probabilities at temperature T (rows sum to 1).
 * @param temperature T > 0. @param alpha weight of `hard`, in [0, 1].
 * @returns scalar float32.
 */
export function distillationLoss(hard: tf.Scalar, logits: tf.Tensor2D, soft: tf.Tensor2D, temperature: number, alpha: number): tf.Scalar {
  return tf.tidy(() => {
    const kd = tf.mean(tf.neg(tf.sum(tf.mul(soft, tf.logSoftmax(tf.div(logits, temperature))), 1)));
    return tf.add(tf.mul(hard, alpha), tf.mul(kd, (1 - alpha) * temperature * temperature)) as tf.Scalar;
  });
}
