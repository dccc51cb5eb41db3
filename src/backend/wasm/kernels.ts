import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { kernelsFor, type WasmBackendLike, type WasmKernels } from './module';

/**
 * ferlab's training kernels for the tfjs wasm backend, registered under tfjs' own kernel names so that the standard
 * ops, gradients and Layers API use them unchanged:
 *
 * | kernel | what ferlab does | stock wasm backend |
 * |---|---|---|
 * | Conv2D, FusedConv2D | Winograd F(2x2, 3x3) for 3x3 stride 1, else implicit GEMM (4x8 FMA micro-kernel); XNNPACK up to 32 input channels x taps | XNNPACK |
 * | Conv2DBackpropInput | Winograd, else implicit GEMM over the transposed convolution | scalar loop (slow) |
 * | Conv2DBackpropFilter | Winograd F(3x3, 2x2) on maps up to 16x16, else a blocked GEMM over repacked pixel chunks, or explicit patches (1-3 channels, tiny maps) | missing (tfjs#8474) |
 * | BatchMatMul, _FusedMatMul | the same GEMMs, all transposes of 2-D operands | XNNPACK only when untransposed, else scalar |
 * | MaxPoolGrad | vectorised first-max scatter (one pass for 2x2 windows) | scalar |
 * | Sum over leading axes | chunked column sums | transpose + reduce |
 * | Identity | shares the data (reference count) | copies |
 *
 * plus ferlab kernels used by ferlab's layers and optimizer: FerlabBatchNormTrain / FerlabBatchNormGrad (batch
 * statistics, normalisation and its full backward pass), FerlabReluGrad, FerlabDropout, FerlabAdam (one fused
 * Adam/AdamW update). Each falls back to the stock kernel outside what it handles (NCHW, batched matmuls, ...).
 * Every one is checked against the cpu backend in test/backend/kernels.test.ts.
 */

type Args = { inputs: Record<string, TensorInfo | undefined>; attrs?: NamedAttrMap; backend: unknown };

const stock = new Map<string, KernelFunc>();
let registered = false;

function K(backend: unknown): WasmKernels {
  return kernelsFor(backend as WasmBackendLike);
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const round8 = (n: number) => (n + 7) & ~7;

/** A zero-filled scratch buffer of at least `floats` floats (for taps that fall in the padding). */
function zeros(k: WasmKernels, floats: number): number {
  return k.scratch('zeros', floats * 4, true);
}

interface ConvGeom {
  N: number;
  H: number;
  W: number;
  CI: number;
  KH: number;
  KW: number;
  CO: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pl: number;
}

function convGeom(xShape: number[], filterShape: number[], attrs: NamedAttrMap, withDilations: boolean): ConvGeom | null {
  const dataFormat = tf.backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW') ?? 'NHWC');
  if (dataFormat !== 'channelsLast') return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    withDilations ? ((attrs.dilations as [number, number] | number) ?? 1) : 1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    dataFormat,
  );
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    CI: info.inChannels,
    KH: info.filterHeight,
    KW: info.filterWidth,
    CO: info.outChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/** Input channels x taps up to which convolutions go through explicit patches (im2col) or XNNPACK. */
const IM2COL_MAX_K = 32;
/** Output maps up to this many pixels compute weight gradients on explicit patches (no per-image halo). */
const SMALL_MAP = 64;

/**
 * Largest output map (pixels) on which the weight gradient uses Winograd F(3x3, 2x2): on bigger maps with few
 * channels (24x24x32 -> 64) the transformed tiles cost more memory traffic than the 2.25x fewer multiplies save
 * (measured: 43 ms vs 39 ms direct at batch 64; 12x12: 29 ms vs 41 ms).
 */
const WINOGRAD_WGRAD_MAX_MAP = 256;

/**
 * Whether a convolution (or its input gradient) runs as Winograd F(2x2, 3x3): 3x3 filters, unit stride and
 * dilation, maps of at least 6x6 (on 3x3 maps most of each 4x4 tile would be padding) and channel counts that are
 * multiples of 4 (the transforms work on 4 channels at a time).
 */
function winogradFits(g: ConvGeom): boolean {
  return g.KH === 3 && g.KW === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1 && g.OH >= 6 && g.OW >= 6 && g.CI % 4 === 0 && g.CO % 4 === 0;
}

/**
 * Winograd F(2x2, 3x3) convolution of src [N, H, W, K] into a new [N, OH, OW, J] tensor: transformed filters,
 * transformed 4x4 input tiles, 16 GEMMs on igemm (one per transformed position), output transform.
 * transpose = 0: forward conv (K = CI, J = CO); 1: input gradient (src = dy, K = CO, J = CI, rotated filter).
 */
function winogradConv(
  k: WasmKernels,
  src: number,
  N: number,
  H: number,
  W: number,
  K: number,
  filter: number,
  CI: number,
  CO: number,
  transpose: number,
  J: number,
  OH: number,
  OW: number,
  pt: number,
  pl: number,
): TensorInfo {
  const TH = Math.ceil(OH / 2);
  const TW = Math.ceil(OW / 2);
  const TT = N * TH * TW;
  const panel = round8(J) * K * 4;
  const U = k.scratch('winoU', 16 * panel);
  const V = k.scratch('winoV', 16 * TT * K * 4);
  const M = k.scratch('winoM', 16 * TT * J * 4);
  const zero = zeros(k, K);
  const ptrs = k.scratch('ptrs', 16);
  const out = k.output([N, OH, OW, J]);
  k.exports.winoFilter(filter, CI, CO, transpose, U);
  k.exports.winoInput(src, N, H, W, K, pt, pl, TH, TW, V);
  for (let p = 0; p < 16; p++) {
    k.exports.igemm(0, V + p * TT * K * 4, 1, 1, TT, K, U + p * panel, 1, 1, J, M + p * TT * J * 4, 1, TT, 1, 1, 1, 1, 0, 0, zero, ptrs);
  }
  k.exports.winoOutput(M, N, TH, TW, OH, OW, J, k.ptr(out));
  return out;
}

/** Forward convolution into a new [N, OH, OW, CO] tensor (Winograd where it fits, else ferlab's implicit GEMM). */
function convForward(k: WasmKernels, x: TensorInfo, filter: TensorInfo, g: ConvGeom): TensorInfo {
  if (winogradFits(g) && process.env.FERLAB_WINOGRAD !== '0') {
    return winogradConv(k, k.ptr(x), g.N, g.H, g.W, g.CI, k.ptr(filter), g.CI, g.CO, 0, g.CO, g.OH, g.OW, g.pt, g.pl);
  }
  const T = g.KH * g.KW;
  const packed = k.scratch('wpack', T * g.CI * round8(g.CO) * 4);
  const out = k.output([g.N, g.OH, g.OW, g.CO]);
  k.exports.packWeights(k.ptr(filter), T, g.CI, g.CO, 0, packed);
  k.exports.igemm(
    0,
    k.ptr(x),
    g.N,
    g.H,
    g.W,
    g.CI,
    packed,
    g.KH,
    g.KW,
    g.CO,
    k.ptr(out),
    g.OH,
    g.OW,
    g.sh,
    g.sw,
    g.dh,
    g.dw,
    g.pt,
    g.pl,
    zeros(k, g.CI),
    k.scratch('ptrs', T * 16),
  );
  return out;
}

function conv2D(args: Args): TensorInfo {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const g = convGeom(x.shape, filter.shape, args.attrs!, true);
  // XNNPACK is faster for very few input channels (the first layer: 1 channel, 7 ms vs 12 ms at 64x48x48x32)
  if (!g || g.CI * g.KH * g.KW <= IM2COL_MAX_K) return stock.get('Conv2D')!(args as never) as TensorInfo;
  return convForward(K(args.backend), x, filter, g);
}

function fusedConv2D(args: Args): TensorInfo {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const activation = (args.attrs!.activation as string) ?? 'linear';
  const g = convGeom(x!.shape, filter!.shape, args.attrs!, true);
  if (
    !g ||
    g.CI * g.KH * g.KW <= IM2COL_MAX_K ||
    preluActivationWeights ||
    (activation !== 'linear' && activation !== 'relu') ||
    (bias && size(bias.shape) !== g.CO)
  ) {
    return stock.get('FusedConv2D')!(args as never) as TensorInfo;
  }
  const k = K(args.backend);
  const out = convForward(k, x!, filter!, g);
  if (bias || activation === 'relu') {
    const b = bias ? k.ptr(bias) : zeros(k, g.CO);
    k.exports.biasAct(k.ptr(out), g.N * g.OH * g.OW, g.CO, b, activation === 'relu' ? 1 : 0);
  }
  return out;
}

function conv2DBackpropInput(args: Args): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs!;
  const g = convGeom(attrs.inputShape as number[], filter.shape, attrs, false);
  if (!g) return stock.get('Conv2DBackpropInput')!(args as never) as TensorInfo;
  const k = K(args.backend);
  if (winogradFits(g) && process.env.FERLAB_WINOGRAD !== '0') {
    // the input gradient of a stride-1 3x3 conv is a 3x3 conv of dy with the rotated filter, padded 2 - pad
    return winogradConv(k, k.ptr(dy), g.N, g.OH, g.OW, g.CO, k.ptr(filter), g.CI, g.CO, 1, g.CI, g.H, g.W, 2 - g.pt, 2 - g.pl);
  }
  const T = g.KH * g.KW;
  const packed = k.scratch('wpack', T * g.CO * round8(g.CI) * 4);
  const zero = zeros(k, g.CO);
  const ptrs = k.scratch('ptrs', T * 16);
  const dx = k.output([g.N, g.H, g.W, g.CI]);
  k.exports.packWeights(k.ptr(filter), T, g.CI, g.CO, 1, packed);
  k.exports.igemm(1, k.ptr(dy), g.N, g.OH, g.OW, g.CO, packed, g.KH, g.KW, g.CI, k.ptr(dx), g.H, g.W, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, zero, ptrs);
  return dx;
}

/**
 * dW = sum over output pixels of x patches (x) dy, via the chunked wgrad kernel; chunks of about 256 output pixels
 * (whole rows of a conv; 256 rows of a matrix) keep the repacked chunk in L1/L2.
 */
function weightGrad(k: WasmKernels, x: number, dy: number, g: ConvGeom, out: number): void {
  const CW = Math.min(g.OW, 256);
  const R = Math.max(1, Math.min(g.OH, Math.floor(256 / CW)));
  const bytes = k.exports.wgradScratchBytes(g.CI, g.CO, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, R, CW);
  const work = k.scratch('wgrad', bytes);
  k.exports.wgrad(x, g.N, g.H, g.W, g.CI, dy, g.OH, g.OW, g.CO, g.CO, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, R, CW, work, out);
}

function conv2DBackpropFilter(args: Args): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs!;
  const filterShape = attrs.filterShape as number[];
  const g = convGeom(x.shape, filterShape, attrs, false);
  if (!g) throw new Error('ferlab Conv2DBackpropFilter supports NHWC only');
  const k = K(args.backend);
  const out = k.output(filterShape);
  const T = g.KH * g.KW;
  if (winogradFits(g) && g.OH * g.OW <= WINOGRAD_WGRAD_MAX_MAP && process.env.FERLAB_WINOGRAD !== '0') {
    // Winograd F(3x3, 2x2): 16 GEMMs reducing over 2x2 tiles of dy and the 4x4 tiles of x under them
    const TH = Math.ceil(g.OH / 2);
    const TW = Math.ceil(g.OW / 2);
    const TT = g.N * TH * TW;
    const V = k.scratch('winoV', 16 * TT * g.CI * 4);
    const Ud = k.scratch('winoM', 16 * TT * g.CO * 4);
    const S = k.scratch('winoS', 16 * g.CI * g.CO * 4);
    k.exports.winoInput(k.ptr(x), g.N, g.H, g.W, g.CI, g.pt, g.pl, TH, TW, V);
    k.exports.winoDy(k.ptr(dy), g.N, g.OH, g.OW, g.CO, TH, TW, Ud);
    const flat: ConvGeom = { N: 1, H: 1, W: TT, CI: g.CI, KH: 1, KW: 1, CO: g.CO, OH: 1, OW: TT, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 };
    for (let p = 0; p < 16; p++) weightGrad(k, V + p * TT * g.CI * 4, Ud + p * TT * g.CO * 4, flat, S + p * g.CI * g.CO * 4);
    k.exports.winoWgradOutput(S, g.CI, g.CO, k.ptr(out));
    return out;
  }
  if ((g.CI < 4 && g.CI * T <= IM2COL_MAX_K) || g.OH * g.OW <= SMALL_MAP) {
    // Explicit patches, as a 1x1 weight gradient over all output pixels, when fewer than 4 input channels would
    // leave most of each 4-channel block empty (the T*CI patch columns fill them), or when maps are so small
    // (6x6, 3x3) that the per-image halo of the direct kernel costs more than building the patches
    const M = g.N * g.OH * g.OW;
    const cols = k.scratch('im2col', M * T * g.CI * 4);
    k.exports.im2col(k.ptr(x), g.N, g.H, g.W, g.CI, g.KH, g.KW, g.OH, g.OW, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, cols);
    const flat: ConvGeom = { N: 1, H: 1, W: M, CI: T * g.CI, KH: 1, KW: 1, CO: g.CO, OH: 1, OW: M, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 };
    weightGrad(k, cols, k.ptr(dy), flat, k.ptr(out));
    return out;
  }
  weightGrad(k, k.ptr(x), k.ptr(dy), g, k.ptr(out));
  return out;
}

/** C = op(A) @ op(B) for 2-D operands (leading batch dims all 1); null when another case is asked. */
function matMul2D(k: WasmKernels, a: TensorInfo, b: TensorInfo, tA: boolean, tB: boolean): TensorInfo | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (size(a.shape.slice(0, -2)) !== 1 || size(b.shape.slice(0, -2)) !== 1 || (tA && tB)) return null;
  const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = tB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (Ka !== Kb) return null;
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = k.output([...outer, M, N]);
  if (!tA) {
    const packed = k.scratch('wpack', Ka * round8(N) * 4);
    // B [K, N] as-is, or B [N, K] transposed into [K, N]
    if (tB) k.exports.packWeights(k.ptr(b), 1, N, Ka, 1, packed);
    else k.exports.packWeights(k.ptr(b), 1, Ka, N, 0, packed);
    k.exports.igemm(0, k.ptr(a), 1, 1, M, Ka, packed, 1, 1, N, k.ptr(out), 1, M, 1, 1, 1, 1, 0, 0, zeros(k, Ka), k.scratch('ptrs', 16));
  } else {
    // A^T B = sum over the K rows of A [K, M] (x) B [K, N]: a 1x1 "convolution" weight gradient over K pixels
    const g: ConvGeom = { N: 1, H: 1, W: Ka, CI: M, KH: 1, KW: 1, CO: N, OH: 1, OW: Ka, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 };
    weightGrad(k, k.ptr(a), k.ptr(b), g, k.ptr(out));
  }
  return out;
}

function batchMatMul(args: Args): TensorInfo {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const out = matMul2D(K(args.backend), a, b, !!args.attrs!.transposeA, !!args.attrs!.transposeB);
  return out ?? (stock.get('BatchMatMul')!(args as never) as TensorInfo);
}

function fusedMatMul(args: Args): TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const activation = (args.attrs!.activation as string) ?? 'linear';
  const k = K(args.backend);
  const N = args.attrs!.transposeB ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1];
  if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu') || (bias && size(bias.shape) !== N)) {
    return stock.get('_FusedMatMul')!(args as never) as TensorInfo;
  }
  const out = matMul2D(k, a!, b!, !!args.attrs!.transposeA, !!args.attrs!.transposeB);
  if (!out) return stock.get('_FusedMatMul')!(args as never) as TensorInfo;
  if (bias || activation === 'relu') {
    k.exports.biasAct(k.ptr(out), size(out.shape) / N, N, bias ? k.ptr(bias) : zeros(k, N), activation === 'relu' ? 1 : 0);
  }
  return out;
}

function maxPoolGrad(args: Args): TensorInfo {
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

function sum(args: Args): TensorInfo {
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

/** FerlabBatchNormTrain: inputs x [..., C], gamma [C], beta [C]; attrs epsilon. Outputs y, batch mean, batch variance. */
function batchNormTrain(args: Args): TensorInfo[] {
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const eps = args.attrs!.epsilon as number;
  const k = K(args.backend);
  const C = x.shape[x.shape.length - 1];
  const M = size(x.shape) / C;
  const mean = k.output([C]);
  const variance = k.output([C]);
  const y = k.output(x.shape);
  const coef = k.scratch('bncoef', C * 8);
  k.exports.bnStats(k.ptr(x), M, C, k.ptr(mean), k.ptr(variance), k.scratch('sums', C * 12));
  const mu = k.heapF32(k.ptr(mean), C);
  const v = k.heapF32(k.ptr(variance), C);
  const g = k.heapF32(k.ptr(gamma), C);
  const b = k.heapF32(k.ptr(beta), C);
  const scale = k.heapF32(coef, C);
  const shift = k.heapF32(coef + C * 4, C);
  for (let c = 0; c < C; c++) {
    scale[c] = g[c] / Math.sqrt(v[c] + eps);
    shift[c] = b[c] - mu[c] * scale[c];
  }
  k.exports.affineRows(k.ptr(x), M, C, coef, coef + C * 4, 0, k.ptr(y));
  return [y, mean, variance];
}

/**
 * FerlabBatchNormGrad: inputs dy, x, mean, variance, gamma; attrs epsilon. Outputs dx, dgamma, dbeta of
 * y = gamma * (x - mean) / sqrt(variance + eps) + beta with mean and (biased) variance taken over the batch:
 * dx = gamma*r*dy - gamma*r/M * sum(dy) - (x - mean) * gamma*r^3/M * sum(dy*(x - mean)), r = 1/sqrt(var + eps).
 */
function batchNormGrad(args: Args): TensorInfo[] {
  const { dy, x, mean, variance, gamma } = args.inputs as Record<string, TensorInfo>;
  const eps = args.attrs!.epsilon as number;
  const k = K(args.backend);
  const C = x.shape[x.shape.length - 1];
  const M = size(x.shape) / C;
  const dx = k.output(x.shape);
  const dgamma = k.output([C]);
  const dbeta = k.output([C]);
  const work = k.scratch('bnwork', C * 20);
  k.exports.bnGradSums(k.ptr(dy), k.ptr(x), M, C, k.ptr(mean), work, work + C * 4, k.scratch('bnsums', C * 24));
  const f = k.heapF32(work, C * 5);
  const v = k.heapF32(k.ptr(variance), C);
  const g = k.heapF32(k.ptr(gamma), C);
  const dg = k.heapF32(k.ptr(dgamma), C);
  const db = k.heapF32(k.ptr(dbeta), C);
  for (let c = 0; c < C; c++) {
    const sumDy = f[c];
    const sumDyXc = f[C + c];
    const r = 1 / Math.sqrt(v[c] + eps);
    f[2 * C + c] = g[c] * r; // k1
    f[3 * C + c] = (-g[c] * r * r * r * sumDyXc) / M; // k2
    f[4 * C + c] = (-g[c] * r * sumDy) / M; // k3
    dg[c] = sumDyXc * r;
    db[c] = sumDy;
  }
  k.exports.bnGradApply(k.ptr(dy), k.ptr(x), M, C, k.ptr(mean), work + 2 * C * 4, work + 3 * C * 4, work + 4 * C * 4, k.ptr(dx));
  return [dx, dgamma, dbeta];
}

function reluGrad(args: Args): TensorInfo {
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
function identity(args: Args): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function dropout(args: Args): TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const k = K(args.backend);
  const y = k.output(x.shape);
  const mask = k.output(x.shape);
  k.exports.dropout(k.ptr(x), size(x.shape), args.attrs!.rate as number, (args.attrs!.seed as number) >>> 0, k.ptr(y), k.ptr(mask));
  return [y, mask];
}

/**
 * FerlabAdam: inputs x, m, v, g (same shape, float32); attrs lr, beta1, beta2, epsilon, weightDecay, step (>= 1).
 * Outputs the updated x, m, v (see adamStep in assembly/ops.ts).
 */
function adam(args: Args): TensorInfo[] {
  const { x, m, v, g } = args.inputs as Record<string, TensorInfo>;
  const a = args.attrs as Record<string, number>;
  const k = K(args.backend);
  const xo = k.output(x.shape);
  const mo = k.output(x.shape);
  const vo = k.output(x.shape);
  const bc1 = 1 - Math.pow(a.beta1, a.step);
  const bc2 = 1 - Math.pow(a.beta2, a.step);
  k.exports.adamStep(
    k.ptr(x),
    k.ptr(m),
    k.ptr(v),
    k.ptr(g),
    size(x.shape),
    a.lr,
    a.beta1,
    a.beta2,
    a.epsilon,
    a.weightDecay,
    bc1,
    bc2,
    k.ptr(xo),
    k.ptr(mo),
    k.ptr(vo),
  );
  return [xo, mo, vo];
}

/** Names of ferlab's own kernels (registered for the wasm backend only). */
export const FERLAB_KERNELS = {
  batchNormTrain: 'FerlabBatchNormTrain',
  batchNormGrad: 'FerlabBatchNormGrad',
  reluGrad: 'FerlabReluGrad',
  dropout: 'FerlabDropout',
  adam: 'FerlabAdam',
} as const;

const overrides: Record<string, KernelFunc> = {
  Conv2D: conv2D as unknown as KernelFunc,
  FusedConv2D: fusedConv2D as unknown as KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as unknown as KernelFunc,
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as KernelFunc,
  BatchMatMul: batchMatMul as unknown as KernelFunc,
  _FusedMatMul: fusedMatMul as unknown as KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as KernelFunc,
  Sum: sum as unknown as KernelFunc,
  Identity: identity as unknown as KernelFunc,
  [FERLAB_KERNELS.batchNormTrain]: batchNormTrain as unknown as KernelFunc,
  [FERLAB_KERNELS.batchNormGrad]: batchNormGrad as unknown as KernelFunc,
  [FERLAB_KERNELS.reluGrad]: reluGrad as unknown as KernelFunc,
  [FERLAB_KERNELS.dropout]: dropout as unknown as KernelFunc,
  [FERLAB_KERNELS.adam]: adam as unknown as KernelFunc,
};

/**
 * Registers ferlab's kernels for the `wasm` backend (idempotent). The stock kernels they replace are kept and used
 * for the cases ferlab's do not handle. Set `FERLAB_KERNELS=off` to keep the stock wasm backend (for comparisons);
 * it then still lacks Conv2DBackpropFilter and cannot train convolutions.
 * @returns the kernel names now served by ferlab.
 */
export function registerWasmKernels(): string[] {
  if (process.env.FERLAB_KERNELS === 'off') return [];
  if (registered) return Object.keys(overrides);
  for (const [name, fn] of Object.entries(overrides)) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing) {
      stock.set(name, existing.kernelFunc);
      tf.unregisterKernel(name, 'wasm');
    }
    // keep the stock setup (it binds the C++ entry points the fallback path calls)
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn, setupFunc: existing?.setupFunc } as KernelConfig);
  }
  registered = true;
  return Object.keys(overrides);
}

/** True once {@link registerWasmKernels} has run (and ferlab's kernels serve the wasm backend). */
export function wasmKernelsRegistered(): boolean {
  return registered;
}
