import * as tf from '@tensorflow/tfjs';
import { FERLAB_KERNELS, wasmKernelsRegistered } from './wasm/kernels';

/**
 * Training-time ops with fused kernels on ferlab's wasm backend and a plain-tfjs fallback everywhere else
 * (tfjs-node, cpu), so every backend computes the same function.
 */

/** True when the active backend serves ferlab's own kernel `name`. */
export function hasFerlabKernel(name: string): boolean {
  return wasmKernelsRegistered() && tf.getBackend() === 'wasm' && tf.getKernel(name, 'wasm') !== undefined;
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
