import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { conv2DInfo } from '../wasm/kernels/conv';
import type { NativeArgs, NativeContext } from './backend';
import { oneDnnConvArgs } from './geometry';

/**
 * Convolution kernels of the native backend on oneDNN (conv.cc): Conv2D, FusedConv2D (bias and ReLU fused into the
 * primitive), Conv2DBackpropInput and Conv2DBackpropFilter, NHWC activations and HWIO filters read in place on the
 * wasm heap. NCHW, prelu and other activations go to the wasm kernels.
 */

/** tfjs' geometry of a convolution as the 17 integers conv.cc takes (geometry.ts), or null for NCHW or empty tensors. */
function geometry(xShape: number[], filterShape: number[], attrs: Record<string, unknown>, withDilations: boolean): number[] | null {
  const c = conv2DInfo(xShape, filterShape, attrs as NamedAttrMap, withDilations);
  return c && oneDnnConvArgs(c, c.outChannels);
}

/** The native convolution kernels, by tfjs kernel name. */
export function convKernels(ctx: NativeContext): Record<string, KernelFunc> {
  const forward = (args: NativeArgs, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, relu: boolean, g: number[]): TensorInfo => {
    const h = ctx.heap(args.backend);
    const y = h.output([g[0], g[7], g[8], g[6]]);
    ctx.addon.conv2dForward(ctx.buffer(args.backend), h.ptr(x), h.ptr(filter), bias ? h.ptr(bias) : -1, h.ptr(y), ...g, relu ? 1 : 0, ctx.anyLayout);
    return y;
  };

  /** Conv2D: x [N, H, W, CI], filter [KH, KW, CI, CO] -> [N, OH, OW, CO]. */
  const conv2D = (args: NativeArgs): TensorInfo => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const g = geometry(x.shape, filter.shape, args.attrs!, true);
    if (!g) return ctx.fallback('Conv2D')(args as never) as TensorInfo;
    return forward(args, x, filter, undefined, false, g);
  };

  /** FusedConv2D: Conv2D plus bias [CO] and linear/relu activation; prelu and other activations go to the wasm kernel. */
  const fusedConv2D = (args: NativeArgs): TensorInfo => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const activation = (args.attrs!.activation as string) ?? 'linear';
    const g = geometry(x!.shape, filter!.shape, args.attrs!, true);
    if (!g || preluActivationWeights || (activation !== 'linear' && activation !== 'relu') || (bias && tf.util.sizeFromShape(bias.shape) !== g[6])) {
      return ctx.fallback('FusedConv2D')(args as never) as TensorInfo;
    }
    return forward(args, x!, filter!, bias, activation === 'relu', g);
  };

  /** Conv2DBackpropInput: dy [N, OH, OW, CO], filter [KH, KW, CI, CO] -> dx of attrs.inputShape [N, H, W, CI]. */
  const conv2DBackpropInput = (args: NativeArgs): TensorInfo => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const inputShape = args.attrs!.inputShape as number[];
    const g = geometry(inputShape, filter.shape, args.attrs!, false);
    if (!g) return ctx.fallback('Conv2DBackpropInput')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const dx = h.output(inputShape);
    ctx.addon.conv2dBackwardData(ctx.buffer(args.backend), h.ptr(dy), h.ptr(filter), h.ptr(dx), ...g, ctx.anyLayout);
    return dx;
  };

  /** Conv2DBackpropFilter: x [N, H, W, CI], dy [N, OH, OW, CO] -> dW of attrs.filterShape [KH, KW, CI, CO]. */
  const conv2DBackpropFilter = (args: NativeArgs): TensorInfo => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const filterShape = args.attrs!.filterShape as number[];
    const g = geometry(x.shape, filterShape, args.attrs!, false);
    if (!g) return ctx.fallback('Conv2DBackpropFilter')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const dw = h.output(filterShape);
    ctx.addon.conv2dBackwardWeights(ctx.buffer(args.backend), h.ptr(x), h.ptr(dy), h.ptr(dw), ...g, ctx.anyLayout);
    return dw;
  };

  return {
    Conv2D: conv2D as unknown as KernelFunc,
    FusedConv2D: fusedConv2D as unknown as KernelFunc,
    Conv2DBackpropInput: conv2DBackpropInput as unknown as KernelFunc,
    Conv2DBackpropFilter: conv2DBackpropFilter as unknown as KernelFunc,
  };
}
