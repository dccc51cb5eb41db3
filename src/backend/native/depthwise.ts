import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { NativeArgs, NativeContext } from './backend';
import { oneDnnConvArgs } from './geometry';

/**
 * Depthwise convolution kernels of the native backend on oneDNN (depthwise.cc): DepthwiseConv2dNative and its input
 * and filter gradients, NHWC activations and [KH, KW, C, M] filters read in place on the wasm heap. NCHW and
 * non-float32 go to the wasm kernels.
 */

/** The 17 integers depthwise.cc takes (geometry.ts; the channel multiplier M in place of the output channels), or null. */
function geometry(xShape: number[], filterShape: number[], attrs: Record<string, unknown>): number[] | null {
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  const c = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    (attrs.dilations as [number, number] | number) ?? 1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
  return oneDnnConvArgs(c, c.outChannels / c.inChannels);
}

/** The native depthwise kernels, by tfjs kernel name. */
export function depthwiseKernels(ctx: NativeContext): Record<string, KernelFunc> {
  /** DepthwiseConv2dNative: x [N, H, W, C], filter [KH, KW, C, M] -> [N, OH, OW, C*M]. */
  const forward = (args: NativeArgs): TensorInfo => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const g = x.dtype === 'float32' ? geometry(x.shape, filter.shape, args.attrs!) : null;
    if (!g) return ctx.fallback('DepthwiseConv2dNative')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const y = h.output([g[0], g[7], g[8], g[3] * g[6]]);
    ctx.addon.depthwiseForward(ctx.buffer(args.backend), h.ptr(x), h.ptr(filter), h.ptr(y), ...g);
    return y;
  };

  /** DepthwiseConv2dNativeBackpropInput: dy, filter -> dx of attrs.inputShape. */
  const backwardData = (args: NativeArgs): TensorInfo => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const inputShape = args.attrs!.inputShape as number[];
    const g = geometry(inputShape, filter.shape, args.attrs!);
    if (!g) return ctx.fallback('DepthwiseConv2dNativeBackpropInput')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const dx = h.output(inputShape);
    ctx.addon.depthwiseBackwardData(ctx.buffer(args.backend), h.ptr(dy), h.ptr(filter), h.ptr(dx), ...g);
    return dx;
  };

  /** DepthwiseConv2dNativeBackpropFilter: x, dy -> dW of attrs.filterShape [KH, KW, C, M]. */
  const backwardWeights = (args: NativeArgs): TensorInfo => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const filterShape = args.attrs!.filterShape as number[];
    const g = geometry(x.shape, filterShape, args.attrs!);
    if (!g) return ctx.fallback('DepthwiseConv2dNativeBackpropFilter')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const dw = h.output(filterShape);
    ctx.addon.depthwiseBackwardWeights(ctx.buffer(args.backend), h.ptr(x), h.ptr(dy), h.ptr(dw), ...g);
    return dw;
  };

  return {
    DepthwiseConv2dNative: forward as unknown as KernelFunc,
    DepthwiseConv2dNativeBackpropInput: backwardData as unknown as KernelFunc,
    DepthwiseConv2dNativeBackpropFilter: backwardWeights as unknown as KernelFunc,
  };
}
