import * as tf from '@tensorflow/tfjs';
import { FERLAB_KERNELS, wasmKernelsRegistered } from './wasm/kernels';
import { webgpuKernelsRegistered } from './webgpu';

/**
 * Training-time ops with fused kernels on ferlab's wasm and webgpu backends and a plain-tfjs fallback everywhere else
 * (tfjs-node, cpu), so every backend computes the same function.
 */

/** True when the active backend (wasm, native or webgpu) serves ferlab's own kernel `name`. */
export function hasFerlabKernel(name: string): boolean {
  const b = tf.getBackend();
  // native is the wasm backend under a second name (src/backend/native/backend.ts), with the same ferlab kernels
  if (b === 'wasm' || b === 'native') return wasmKernelsRegistered() && tf.getKernel(name, b) !== undefined;
  if (b === 'webgpu') return webgpuKernelsRegistered() && tf.getKernel(name, 'webgpu') !== undefined;
  return false;
}

/** Output of {@link batchNormTrain}. */
export interface BatchNormTrainResult {
  /** `[..., C]` float32 normalised, scaled and shifted input (same shape as x). */
  y: tf.Tensor;
  /** `[C]` float32 batch mean over every axis but the last. */
  mean: tf.Tensor1D;
  /** `[C]` float32 biased batch variance (divided by the number of rows, as tf.moments). */
  variance: tf.Tensor1D;
}
// Note: `mean` and `variance` may be kept tensors (outside any tidy): callers dispose them when done.

/**
 * Training-mode batch normalisation over the last axis: y = gamma * (x - mean) / sqrt(variance + epsilon) + beta with
 * the batch mean and biased variance of x over all other axes, exactly what tfjs-layers' BatchNormalization computes
 * in training (`normalizeBatchInTraining`: tf.moments then tf.batchNorm), with its full gradient (through the batch
 * statistics) for x, gamma and beta.
 *
 * On ferlab's wasm backend (channels a multiple of 4) this is two fused kernels: statistics + affine forward, and a
 * two-pass backward (the tfjs graph spends most of its time in Tile/Sum kernels of the moments' gradient).
 *
 * @param x `[..., C]` float32. @param gamma `[C]`. @param beta `[C]`. @param epsilon added to the variance (tfjs
 *   default 1e-3).
 */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): BatchNormTrainResult {
  const C = x.shape[x.shape.length - 1];
  if (!hasFerlabKernel(FERLAB_KERNELS.batchNormTrain) || C % 4 !== 0) {
    const axes = x.shape.map((_, i) => i).slice(0, -1);
    const { mean, variance } = tf.moments(x, axes);
    const y = tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
    return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const f = tf.customGrad(((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, variance] = tf.engine().runKernel(FERLAB_KERNELS.batchNormTrain, { x: xs, gamma: g, beta: b }, { epsilon }) as tf.Tensor[];
    save([xs, mean, variance, g]);
    // customGrad runs this function inside a tidy that would dispose the statistics: keep them for the caller
    stats = [tf.keep(mean) as tf.Tensor1D, tf.keep(variance) as tf.Tensor1D];
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, smean, svar, sg] = saved;
        return tf.engine().runKernel(FERLAB_KERNELS.batchNormGrad, { dy, x: sx, mean: smean, variance: svar, gamma: sg }, { epsilon }) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = f(x, gamma, beta);
  return { y, mean: stats![0], variance: stats![1] };
}

/**
 * The moving-average update of batch-norm statistics that tfjs-layers' BatchNormalization applies in training
 * (tfjs-layers src/layers/normalization.ts, `doMovingAverage`): for the mean and the variance,
 *
 *   moving' = moving - (moving - batch) * decay,   decay = 1 - momentum.
 *
 * On webgpu with ferlab's kernels one dispatch (FerlabMovingStats) updates both (tfjs ops take 6 kernels per layer);
 * elsewhere exactly tfjs' ops in that order, so wasm results stay bit-identical to earlier runs.
 *
 * @param movingMean `[C]` float32. @param movingVariance `[C]` float32. @param mean `[C]` float32 batch mean.
 * @param variance `[C]` float32 biased batch variance. @param decay 1 - momentum, in [0, 1].
 * @returns the new `[C]` moving mean and moving variance (new tensors; the inputs are not modified).
 */
export function updateMovingStats(
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  decay: number,
): [tf.Tensor, tf.Tensor] {
  if (hasFerlabKernel(FERLAB_KERNELS.movingStats)) {
    const [m, v] = tf.engine().runKernel(FERLAB_KERNELS.movingStats, { movingMean, movingVariance, mean, variance }, { decay }) as tf.Tensor[];
    return [m, v];
  }
  const one = (orig: tf.Tensor, batch: tf.Tensor) => tf.tidy(() => tf.sub(orig, tf.mul(tf.sub(orig, batch), decay)));
  return [one(movingMean, mean), one(movingVariance, variance)];
}

/**
 * Inverted dropout for training: zeroes each element with probability `rate` and scales the kept ones by
 * 1 / (1 - rate), so inference needs no rescaling (as tf.dropout). The mask is drawn from `seed`: the same seed gives
 * the same mask. The gradient is dy * mask.
 *
 * @param x any shape, float32. @param rate in [0, 1). @param seed uint32.
 */
export function dropoutTrain(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (rate <= 0) return x;
  if (!hasFerlabKernel(FERLAB_KERNELS.dropout)) return tf.dropout(x, rate, undefined, seed);
  const f = tf.customGrad(((xs: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mask] = tf.engine().runKernel(FERLAB_KERNELS.dropout, { x: xs }, { rate, seed: seed >>> 0 }) as tf.Tensor[];
    save([mask]);
    return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[0])] };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}

let reluGradInstalled = false;

/**
 * Replaces the gradient of the Relu kernel (all backends) by one that runs ferlab's fused FerlabReluGrad kernel when
 * the wasm backend serves it, and tfjs' own formula `dy * step(x)` otherwise (tfjs-core gradients/Relu_grad.ts).
 */
export function installReluGradient(): void {
  if (reluGradInstalled) return;
  reluGradInstalled = true;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved;
      const g = dy as tf.Tensor;
      return {
        x: () =>
          hasFerlabKernel(FERLAB_KERNELS.reluGrad)
            ? (tf.engine().runKernel(FERLAB_KERNELS.reluGrad, { dy: g, x }) as tf.Tensor)
            : tf.mul(g, tf.cast(tf.step(x), 'float32')),
      };
    },
  });
}

/** Hyper-parameters of one {@link adamUpdate} (all plain numbers; the caller keeps the step count). */
export interface AdamUpdateParams {
  /** Learning rate of this step (> 0). */
  lr: number;
  /** Exponential decay of the first moment, in [0, 1) (Adam default 0.9). */
  beta1: number;
  /** Exponential decay of the second moment, in [0, 1) (Adam default 0.999). */
  beta2: number;
  /** Added to sqrt(v_hat) in the denominator (> 0; PyTorch default 1e-8). */
  epsilon: number;
  /** Decoupled weight decay (AdamW) of this tensor, >= 0; 0 = plain Adam. */
  weightDecay: number;
  /** 1-based number of this update (t in the bias corrections 1 - beta^t); an integer >= 1. */
  step: number;
}

/**
 * One Adam / AdamW update of a tensor (Kingma & Ba, arXiv 1412.6980, Algorithm 1, with the decoupled weight decay of
 * Loshchilov & Hutter, arXiv 1711.05101):
 *
 *   m' = beta1 * m + (1 - beta1) * g
 *   v' = beta2 * v + (1 - beta2) * g^2
 *   x' = x - lr * ((m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + epsilon) + weightDecay * x)
 *
 * On ferlab's wasm backend this is one fused kernel (FerlabAdam, adamStep in src/backend/wasm/assembly/ops.ts: one
 * pass instead of about twelve elementwise ops), which flushes moments below 1e-30 to zero (|m'| < 1e-30 -> 0,
 * v' < 1e-30 -> 0): x86 subnormal arithmetic is ~35x slower and wasm cannot set flush-to-zero; such a moment moves its
 * weight by < lr * 1e-22. Elsewhere (cpu, tfjs-node) the same formula runs in tfjs ops, without the flush.
 *
 * The inputs are not modified or disposed; intermediate tensors are freed. The caller assigns x' (e.g.
 * `variable.assign(x1)`) and owns the three results.
 *
 * @param x weights, any shape, float32 (a tf.Variable is fine). @param m first moment, same shape, float32.
 * @param v second moment, same shape, float32. @param g gradient of the loss w.r.t. x, same shape, float32.
 * @returns `[x', m', v']`, new float32 tensors of x's shape.
 * @throws Error when m, v or g do not have x's shape, when a tensor is not float32, or when `step` is not an integer >= 1.
 */
export function adamUpdate(x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, p: AdamUpdateParams): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const inputs = { x, m, v, g };
  for (const [name, t] of Object.entries(inputs)) {
    if (!tf.util.arraysEqual(t.shape, x.shape)) throw new Error(`adamUpdate: ${name} has shape [${t.shape}], expected x's shape [${x.shape}]`);
    if (t.dtype !== 'float32') throw new Error(`adamUpdate: ${name} has dtype ${t.dtype}, expected float32`);
  }
  if (!Number.isInteger(p.step) || p.step < 1) throw new Error(`adamUpdate: step must be an integer >= 1 (1 = first update), got ${p.step}`);
  const { lr, beta1, beta2, epsilon, weightDecay, step } = p;
  if (hasFerlabKernel(FERLAB_KERNELS.adam)) {
    const [x1, m1, v1] = tf.engine().runKernel(FERLAB_KERNELS.adam, inputs, { lr, beta1, beta2, epsilon, weightDecay, step }) as tf.Tensor[];
    return [x1, m1, v1];
  }
  return tf.tidy(() => {
    const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    const mHat = tf.div(m1, 1 - Math.pow(beta1, step));
    const vHat = tf.div(v1, 1 - Math.pow(beta2, step));
    let upd = tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon));
    if (weightDecay > 0) upd = tf.add(upd, tf.mul(x, weightDecay));
    return [tf.sub(x, tf.mul(upd, lr)), m1, v1] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}
