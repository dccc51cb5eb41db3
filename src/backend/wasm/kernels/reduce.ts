import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import { K, size, stock, type Args } from './shared';

/** Sum over leading axes (float32) as chunked column sums; other reductions go to the stock kernel. */

/** Sum: float32 sums over the leading axes (0..k-1) as column sums of an [M, C] matrix; other axes and dtypes go to the stock kernel. */
export function sum(args: Args): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const axes = tf.util.parseAxisParam(args.attrs!.axis as number | number[], x.shape).sort((p, q) => p - q);
  const leading = axes.every((ax, i) => ax === i);
  if (x.dtype !== 'float32' || !leading || axes.length === 0) return stock.get('Sum')!(args as never) as TensorInfo;
  const k = K(args.backend);
  const M = size(x.shape.slice(0, axes.length));
  const rest = x.shape.slice(axes.length);
  const C = size(rest);
  const shape = args.attrs!.keepDims ? [...axes.map(() => 1), ...rest] : rest;
  const out = k.output(shape);
  k.exports.sumRows(k.ptr(x), M, C, k.ptr(out), k.scratch('sums', C * 12));
  return out;
}
