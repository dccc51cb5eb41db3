import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import { K, type Args } from './shared';

/** MaxPoolGrad: scatters dy to the first maximum of each window (one vectorised pass for non-overlapping windows). */

/** MaxPoolGrad: dy [N, OH, OW, C], input [N, H, W, C] and its pooled output -> dx [N, H, W, C], dy to the first max of each window. */
export function maxPoolGrad(args: Args): TensorInfo {
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as Record<string, never>;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const k = K(args.backend);
  const dx = k.output(input.shape);
  const tiled =
    info.strideHeight === info.filterHeight &&
    info.strideWidth === info.filterWidth &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.inHeight === info.outHeight * info.filterHeight &&
    info.inWidth === info.outWidth * info.filterWidth &&
    info.inChannels % 4 === 0;
  if (tiled) {
    k.exports.maxPoolGradTiled(
      k.ptr(dy),
      k.ptr(input),
      k.ptr(output),
      info.batchSize,
      info.outHeight,
      info.outWidth,
      info.inChannels,
      info.filterHeight,
      info.filterWidth,
      k.ptr(dx),
    );
    return dx;
  }
  k.exports.maxPoolGrad(
    k.ptr(dy),
    k.ptr(input),
    k.ptr(output),
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    k.ptr(dx),
  );
  return dx;
}
