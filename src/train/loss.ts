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
 * @returns scalar float32 loss.
 */
export function lossFn(kind: LossKind, logits: tf.Tensor2D, targets: tf.Tensor2D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    if (kind === 'multi_target') {
      const p = tf.softmax(logits);
      return tf.neg(tf.mean(tf.log(tf.max(tf.mul(targets, p), 1)))) as tf.Scalar;
    }
    return tf.losses.softmaxCrossEntropy(targets, logits, undefined, labelSmoothing) as tf.Scalar;
  });
}
