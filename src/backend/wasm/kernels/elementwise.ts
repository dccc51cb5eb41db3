import type { TensorInfo } from '@tensorflow/tfjs';
import { K, size, type Args } from './shared';

/** Elementwise kernels: FerlabReluGrad, Identity (shares data, no copy) and FerlabDropout (output and mask). */

/** FerlabReluGrad: dy, x (same shape, float32) -> dx = dy where x > 0, else 0 (tfjs-core gradients/Relu_grad.ts). */
export function reluGrad(args: Args): TensorInfo {
  const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
  const k = K(args.backend);
  const dx = k.output(x.shape);
  k.exports.reluGrad(k.ptr(dy), k.ptr(x), size(x.shape), k.ptr(dx));
  return dx;
}

/**
 * Identity without a copy: the output shares the input's data (reference-counted), as tfjs' cpu backend does. The
 * stock wasm kernel copies, and tf.customGrad clones every tensor it saves for the backward pass through it.
 */
export function identity(args: Args): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * FerlabDropout: x (float32) with attrs rate in [0, 1), seed uint32 -> [y, mask] (same shape): mask is 0 or
 * 1 / (1 - rate) per element, y = x * mask (inverted dropout, as tf.dropout).
 */
export function dropout(args: Args): TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const k = K(args.backend);
  const y = k.output(x.shape);
  const mask = k.output(x.shape);
  k.exports.dropout(k.ptr(x), size(x.shape), args.attrs!.rate as number, (args.attrs!.seed as number) >>> 0, k.ptr(y), k.ptr(mask));
  return [y, mask];
}
