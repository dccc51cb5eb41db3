import * as tf from '@tensorflow/tfjs';
import type { LossKind } from '../data/labels';
import type { Batch } from './batches';
import { distillationLoss, lossFn } from './loss';
import type { Optimizer } from './optimizer';

/**
 * One training step, the single definition that the training loop (src/train/loop.ts) and the speed benchmark
 * (src/bench/steps.ts) both run, and the bookkeeping of its loss and accuracy without a host read-back per step.
 */

/** Steps between two reads of the training loss and accuracy (on every backend). */
export const READ_EVERY = 25;

/** What a training step needs besides the batch: the model, its trainable variables, the optimizer and the loss. */
export interface StepContext {
  /** Model with input `[batch, h, w, c]` float32 and output logits `[batch, numClasses]` float32. */
  model: tf.LayersModel;
  /** The variables the optimizer updates (the model's trainable weights). */
  vars: tf.Variable[];
  optimizer: Optimizer;
  /** Loss kind of the label set (src/train/loss.ts lossFn). */
  loss: LossKind;
  numClasses: number;
  /** Label smoothing epsilon in [0, 1) (cross-entropy only); 0 = off. */
  labelSmoothing?: number;
  /** `[numClasses]` float32 class weights of a class-weighted loss (kept by the caller), or none. */
  classWeights?: tf.Tensor1D;
  /**
   * Knowledge distillation (src/train/distill.ts): the loss becomes loss.ts distillationLoss of the usual loss and
   * `targets(b, x)`, the teachers' `[b.n, C]` float32 probabilities at `temperature` for the batch (`x` its input
   * tensor; called inside the step's tidy).
   */
  distill?: { temperature: number; alpha: number; targets: (b: Batch, x: tf.Tensor4D) => tf.Tensor2D };
}

/**
 * Runs one optimizer step on a batch: forward in training mode, loss (with `ctx.distill`: the distillation loss on
 * the teachers' targets for the batch), gradients of every variable, the optimizer's update with learning rate `lr`; then hands the step's mean loss and logits to `acc` (no read-back here).
 *
 * @param b the batch: `b.x` `[b.n, h, w, c]` float32 (the model's input shape), `b.y` `[b.n, numClasses]` float32
 *   targets, `b.label` `[b.n]` hard labels for the training accuracy.
 * @param lr learning rate of this step.
 */
export function trainingStep(ctx: StepContext, b: Batch, lr: number, acc: StepAccounting): void {
  const [, h, w, c] = ctx.model.inputs[0].shape as number[];
  tf.tidy(() => {
    const x = tf.tensor4d(b.x.subarray(0, b.n * h * w * c), [b.n, h, w, c]);
    const y = tf.tensor2d(b.y.subarray(0, b.n * ctx.numClasses), [b.n, ctx.numClasses]);
    let logits: tf.Tensor2D | undefined;
    // the teachers' targets, outside the gradient tape (no gradient flows into a teacher)
    const soft = ctx.distill?.targets(b, x);
    const { value, grads } = tf.variableGrads(() => {
      logits = tf.keep(ctx.model.apply(x, { training: true }) as tf.Tensor2D);
      const hard = lossFn(ctx.loss, logits, y, ctx.labelSmoothing ?? 0, ctx.classWeights);
      return ctx.distill ? distillationLoss(hard, logits, soft!, ctx.distill.temperature, ctx.distill.alpha) : hard;
    }, ctx.vars);
    ctx.optimizer.apply(ctx.vars, grads, lr);
    acc.add(value, logits!, b.label.subarray(0, b.n));
    logits!.dispose();
  });
}

/** Losses and correct predictions of the steps since the last read. */
export interface StepReading {
  /** `[steps]` float32 mean loss of each step, in order. */
  losses: Float32Array;
  /** Training predictions (argmax of the logits, first maximum on ties) equal to the hard label, summed over the steps. */
  correct: number;
}

/**
 * The training loss and accuracy of the steps, kept on the device and read back with one read every few steps
 * (READ_EVERY) instead of a synchronous read of the loss and the logits after every step, which would stall a GPU's
 * queue (webgpu, tfjs-node-gpu). Each step's mean loss is kept as it is (a `[]` float32 tensor) and the steps' losses
 * come back as one `[steps]` float32 array, so the epoch's mean loss, summed on the host in step order, is exactly
 * what a read after every step gave; the correct predictions add up on the device (integers below 2^24, exact in
 * float32). The argmax is tf.argMax, which takes the first maximum on ties, as src/util/argmax.ts argmaxRows does.
 */
export class StepAccounting {
  private losses: tf.Scalar[] = [];
  private correct: tf.Scalar | undefined;

  /** Steps added since the last {@link read}. */
  get pending(): number {
    return this.losses.length;
  }

  /**
   * Adds one step: its mean loss (`[]` float32) and the rows of `logits` (`[n, C]` float32) whose argmax equals
   * `label` (`[n]` class indices), plus `extraHits` correct predictions counted elsewhere (the other replicas of a
   * data-parallel step). Call inside a tidy: it keeps a copy of the loss and the running count only.
   */
  add(loss: tf.Scalar, logits: tf.Tensor2D, label: Uint8Array, extraHits = 0): void {
    let hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(Int32Array.from(label), 'int32')), 'float32')) as tf.Scalar;
    if (extraHits) hits = tf.add(hits, extraHits) as tf.Scalar;
    const c = this.correct ? (tf.add(this.correct, hits) as tf.Scalar) : hits;
    this.correct?.dispose();
    this.correct = tf.keep(c);
    this.losses.push(tf.keep(loss.clone()));
  }

  /** Reads and resets: every pending step's loss and the correct count (one asynchronous read of two tensors). */
  async read(): Promise<StepReading> {
    if (this.losses.length === 0) return { losses: new Float32Array(0), correct: 0 };
    const stacked = tf.stack(this.losses);
    const [l, c] = await Promise.all([stacked.data() as Promise<Float32Array>, this.correct!.data()]);
    stacked.dispose();
    this.dispose();
    return { losses: l, correct: Math.round(c[0]) };
  }

  /** Frees what is kept (pending steps are dropped). */
  dispose(): void {
    tf.dispose(this.losses);
    this.correct?.dispose();
    this.losses = [];
    this.correct = undefined;
  }
}
