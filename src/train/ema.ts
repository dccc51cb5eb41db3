import * as tf from '@tensorflow/tfjs';
import type { EmaConfig } from './settings';

/**
 * Exponential moving average of a model's weights (Polyak & Juditsky 1992), as timm's ModelEmaV2
 * (pytorch-image-models timm/utils/model_ema.py): after every optimizer step, for every weight of the model
 * (`model.weights`: the trainable ones and the BatchNorm moving mean and variance, as ModelEmaV2 averages the whole
 * state_dict, buffers included),
 *
 *   ema <- d * ema + (1 - d) * w,   d = decay, or min(decay, (1 + n) / (10 + n)) at the n-th update with `warmup`
 *   (tf.train.ExponentialMovingAverage's num_updates).
 *
 * In float32 on the backend, in this order of operations: mul(ema, d) + mul(w, 1 - d). The average starts from the
 * model's weights at construction (the initial or fine-tuning weights). The BatchNorm statistics are averaged like the
 * other weights (not recomputed): after many steps they are the moving statistics of the averaged steps, which
 * ModelEmaV2 relies on too.
 */
export class WeightEma {
  private readonly shadow: tf.Variable[];

  /** @param model the model being trained; its current weights start the average. */
  constructor(
    private readonly model: tf.LayersModel,
    readonly cfg: EmaConfig,
  ) {
    this.shadow = model.weights.map((w) => tf.variable(w.read().clone(), false));
  }

  /** The decay of the n-th update (n = 1 for the first step). */
  decayAt(n: number): number {
    return this.cfg.warmup ? Math.min(this.cfg.decay, (1 + n) / (10 + n)) : this.cfg.decay;
  }

  /** The n-th update (n = optimizer steps taken so far, 1-based), after the optimizer's step. */
  update(n: number): void {
    const d = this.decayAt(n);
    tf.tidy(() => {
      this.model.weights.forEach((w, i) => {
        this.shadow[i].assign(tf.add(tf.mul(this.shadow[i], d), tf.mul(w.read(), 1 - d)));
      });
    });
  }

  /** The averaged weights, in `model.weights` (= model.getWeights()) order; owned by this object. */
  get weights(): readonly tf.Tensor[] {
    return this.shadow;
  }

  /** Replaces the average by the model's current weights (a checkpoint's average written into the model first). */
  setFromModel(): void {
    this.model.weights.forEach((w, i) => this.shadow[i].assign(w.read()));
  }

  /**
   * Runs `fn` with the averaged weights in the model, then puts the trained weights back (exactly: they are copied
   * aside and restored).
   */
  withAveraged<T>(fn: () => T): T {
    const vars = this.model.weights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const live = vars.map((v) => tf.keep(v.clone()));
    try {
      vars.forEach((v, i) => v.assign(this.shadow[i]));
      return fn();
    } finally {
      vars.forEach((v, i) => v.assign(live[i]));
      tf.dispose(live);
    }
  }

  dispose(): void {
    tf.dispose(this.shadow);
  }
}
