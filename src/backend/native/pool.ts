import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { NativeArgs, NativeContext } from './backend';

/**
 * Max-pooling kernels of the native backend on oneDNN (pool.cc): MaxPool writes, beside its output, oneDNN's workspace
 * (where each window's maximum is), kept in a WeakMap keyed by the output's data id; MaxPoolGrad reads it to send dy
 * there. A MaxPoolGrad whose output has no workspace (pooled on another backend) goes to the wasm kernel, as do
 * NCHW, dilations and the other pooling kernels.
 */

/** The 14 integers pool.cc takes, or null for what it does not handle. */
function geometry(xShape: number[], attrs: Record<string, unknown>): number[] | null {
  const c = tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1 || tf.util.sizeFromShape(xShape) === 0 || c.outHeight * c.outWidth === 0) return null;
  const pb = (c.outHeight - 1) * c.strideHeight + c.filterHeight - c.inHeight - c.padInfo.top;
  const pr = (c.outWidth - 1) * c.strideWidth + c.filterWidth - c.inWidth - c.padInfo.left;
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.filterHeight,
    c.filterWidth,
    c.outHeight,
    c.outWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
    Math.max(0, pb),
    Math.max(0, pr),
  ];
}

/** The native max-pooling kernels, by tfjs kernel name. */
export function poolKernels(ctx: NativeContext): Record<string, KernelFunc> {
  /** Workspace of each MaxPool output (by data id) and the geometry it was made for. */
  const workspaces = new WeakMap<object, { ws: ArrayBuffer; key: string }>();

  /** MaxPool: x [N, H, W, C] -> [N, OH, OW, C]. */
  const maxPool = (args: NativeArgs): TensorInfo => {
    const { x } = args.inputs as { x: TensorInfo };
    const g = x.dtype === 'float32' ? geometry(x.shape, args.attrs!) : null;
    if (!g) return ctx.fallback('MaxPool')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const y = h.output([g[0], g[6], g[7], g[3]]);
    const ws = ctx.addon.maxPoolForward(ctx.buffer(args.backend), h.ptr(x), h.ptr(y), ...g);
    workspaces.set(y.dataId, { ws, key: g.join(',') });
    return y;
  };

  /** MaxPoolGrad: dy [N, OH, OW, C], input x, its pooled output -> dx [N, H, W, C]. */
  const maxPoolGrad = (args: NativeArgs): TensorInfo => {
    const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
    const g = geometry(input.shape, args.attrs!);
    const saved = workspaces.get(output.dataId);
    if (!g || !saved || saved.key !== g.join(',')) return ctx.fallback('MaxPoolGrad')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const dx = h.output(input.shape);
    ctx.addon.maxPoolBackward(ctx.buffer(args.backend), h.ptr(dy), h.ptr(dx), saved.ws, ...g);
    return dx;
  };

  return { MaxPool: maxPool as unknown as KernelFunc, MaxPoolGrad: maxPoolGrad as unknown as KernelFunc };
}
