import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { WasmKernels } from '../module';
import { weightGrad, weightGradRows, type ConvGeom } from './gemm';
import { K, round8, size, stock, zeros, type Args } from './shared';

/**
 * Convolution kernels: Conv2D, FusedConv2D (bias + relu), Conv2DBackpropInput and Conv2DBackpropFilter, as Winograd
 * F(2x2, 3x3) or F(4x4, 3x3) / F(3x3, 2x2) where it fits, else ferlab's implicit GEMM or explicit patches (im2col).
 */

/**
 * tfjs' geometry of a Conv2D / FusedConv2D / its gradients from the kernel's shapes and attributes
 * (tf.backend_util.computeConv2DInfo, the same rule as tfjs' own kernels), or null for NCHW. Shared with the native
 * backend's convolutions (src/backend/native/conv.ts).
 * @param withDilations false for the gradients, whose attributes carry no dilations in tfjs (taken as 1).
 */
export function conv2DInfo(
  xShape: number[],
  filterShape: number[],
  attrs: NamedAttrMap,
  withDilations: boolean,
): tf.backend_util.Conv2DInfo | null {
  const dataFormat = tf.backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW') ?? 'NHWC');
  if (dataFormat !== 'channelsLast') return null;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    withDilations ? ((attrs.dilations as [number, number] | number) ?? 1) : 1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    dataFormat,
  );
}

function convGeom(xShape: number[], filterShape: number[], attrs: NamedAttrMap, withDilations: boolean): ConvGeom | null {
  const info = conv2DInfo(xShape, filterShape, attrs, withDilations);
  if (!info) return null;
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
/**
 * Output maps up to this many pixels compute weight gradients on gathered rows per tap (explicit patches for fewer
 * than 4 input channels; no per-image halo), and their implicit-GEMM convolutions take rows position-major (igemm
 * mode | 2) so that padding taps are skipped.
 */
const SMALL_MAP = 64;

/**
 * Largest output map (pixels) on which the weight gradient uses Winograd F(3x3, 2x2): on bigger maps with few
 * channels (24x24x32 -> 64) the transformed tiles cost more memory traffic than the 2.25x fewer multiplies save
 * (measured: 43 ms vs 39 ms direct at batch 64; 12x12: 29 ms vs 41 ms).
 */
const WINOGRAD_WGRAD_MAX_MAP = 256;

/**
 * Whether a convolution (or its input gradient) runs as Winograd: 3x3 filters, unit stride and dilation, maps of at
 * least 6x6 (on 3x3 maps most of each 4x4 tile would be padding) and channel counts that are multiples of 4 (the
 * transforms work on 4 channels at a time).
 */
function winogradFits(g: ConvGeom): boolean {
  return g.KH === 3 && g.KW === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1 && g.OH >= 6 && g.OW >= 6 && g.CI % 4 === 0 && g.CO % 4 === 0;
}

/** Smallest output map side on which F(4x4, 3x3) is used when enabled: on 6x6 maps its 8x8 of tiles would be 44% padding. */
const WINOGRAD4_MIN_SIDE = 8;

/**
 * Output tile side of the Winograd convolution for an output map of OH x OW: 4 = F(4x4, 3x3) (winograd4.ts), 2 =
 * F(2x2, 3x3) (winograd.ts). `FERLAB_WINOGRAD=4` turns F(4x4) on for maps of at least 8x8; the default is F(2x2),
 * whose numbers the committed results were measured with.
 */
function winogradTile(OH: number, OW: number): 2 | 4 {
  return process.env.FERLAB_WINOGRAD === '4' && OH >= WINOGRAD4_MIN_SIDE && OW >= WINOGRAD4_MIN_SIDE ? 4 : 2;
}

/**
 * Bytes of transformed tiles and their products per block of images in winogradConv (about a core's L2 cache): the
 * three stages run block by block so each block's tiles are still cached when the GEMMs and the output transform read
 * them. Measured on deep's Winograd layers at batch 64 (AMD EPYC, min of 10; scratch): forward + input gradient of
 * the 24x24, 12x12 and 6x6 layers 96.7 ms unblocked, 93.6 / 90.3 / 89.5 / 90.1 ms with 256 KiB / 512 KiB / 1 MiB /
 * 2 MiB blocks. Blocks change no result: every output still sums over its input channels in the same order.
 */
const WINOGRAD_BLOCK_BYTES = 1 << 20;

/**
 * Winograd convolution of src [N, H, W, K] into a new [N, OH, OW, J] tensor: transformed filters, then per block of
 * images (WINOGRAD_BLOCK_BYTES) transformed input tiles, one GEMM on igemm per transformed position ((tile + 2)^2 of
 * them) and the output transform.
 * tile = 2: F(2x2, 3x3) on 4x4 input tiles; 4: F(4x4, 3x3) on 6x6 input tiles.
 * transpose = 0: forward conv (K = CI, J = CO); 1: input gradient (src = dy, K = CO, J = CI, rotated filter).
 */
function winogradConv(
  k: WasmKernels,
  tile: 2 | 4,
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
  const P = (tile + 2) * (tile + 2);
  const TH = Math.ceil(OH / tile);
  const TW = Math.ceil(OW / tile);
  // images per block: the block's transformed tiles (V) and products (M) stay in cache between the three stages
  const perImage = P * TH * TW * (K + J) * 4;
  const NB = Math.max(1, Math.min(N, Math.floor(WINOGRAD_BLOCK_BYTES / perImage)));
  const TB = NB * TH * TW;
  const panel = round8(J) * K * 4;
  const U = k.scratch('winoU', P * panel);
  const V = k.scratch('winoV', P * TB * K * 4);
  const M = k.scratch('winoM', P * TB * J * 4);
  const zero = zeros(k, K);
  const ptrs = k.scratch('ptrs', 16);
  const out = k.output([N, OH, OW, J]);
  const e = k.exports;
  (tile === 4 ? e.winoFilter4 : e.winoFilter)(filter, CI, CO, transpose, U);
  for (let n0 = 0; n0 < N; n0 += NB) {
    const nb = Math.min(NB, N - n0);
    const tb = nb * TH * TW;
    (tile === 4 ? e.winoInput4 : e.winoInput)(src + n0 * H * W * K * 4, nb, H, W, K, pt, pl, TH, TW, V);
    for (let p = 0; p < P; p++) {
      e.igemm(0, V + p * tb * K * 4, 1, 1, tb, K, U + p * panel, 1, 1, J, M + p * tb * J * 4, 1, tb, 1, 1, 1, 1, 0, 0, zero, ptrs);
    }
    (tile === 4 ? e.winoOutput4 : e.winoOutput)(M, nb, TH, TW, OH, OW, J, k.ptr(out) + n0 * OH * OW * J * 4);
  }
  return out;
}

/** Forward convolution into a new [N, OH, OW, CO] tensor (Winograd where it fits, else ferlab's implicit GEMM). */
function convForward(k: WasmKernels, x: TensorInfo, filter: TensorInfo, g: ConvGeom): TensorInfo {
  if (winogradFits(g) && process.env.FERLAB_WINOGRAD !== '0') {
    return winogradConv(k, winogradTile(g.OH, g.OW), k.ptr(x), g.N, g.H, g.W, g.CI, k.ptr(filter), g.CI, g.CO, 0, g.CO, g.OH, g.OW, g.pt, g.pl);
  }
  const T = g.KH * g.KW;
  const packed = k.scratch('wpack', T * g.CI * round8(g.CO) * 4);
  const out = k.output([g.N, g.OH, g.OW, g.CO]);
  k.exports.packWeights(k.ptr(filter), T, g.CI, g.CO, 0, packed);
  k.exports.igemm(
    g.OH * g.OW <= SMALL_MAP ? 2 : 0,
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

/** Conv2D: x [N, H, W, CI], filter [KH, KW, CI, CO] -> [N, OH, OW, CO] (NHWC; XNNPACK for CI x taps <= 32 or NCHW). */
export function conv2D(args: Args): TensorInfo {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const g = convGeom(x.shape, filter.shape, args.attrs!, true);
  // XNNPACK is faster for very few input channels (the first layer: 1 channel, 7 ms vs 12 ms at 64x48x48x32)
  if (!g || g.CI * g.KH * g.KW <= IM2COL_MAX_K) return stock.get('Conv2D')!(args as never) as TensorInfo;
  return convForward(K(args.backend), x, filter, g);
}

/** FusedConv2D: Conv2D plus bias [CO] and linear/relu activation; other activations and prelu go to the stock kernel. */
export function fusedConv2D(args: Args): TensorInfo {
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

/** Conv2DBackpropInput: dy [N, OH, OW, CO], filter [KH, KW, CI, CO] -> dx of attrs.inputShape [N, H, W, CI]. */
export function conv2DBackpropInput(args: Args): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs!;
  const g = convGeom(attrs.inputShape as number[], filter.shape, attrs, false);
  if (!g) return stock.get('Conv2DBackpropInput')!(args as never) as TensorInfo;
  const k = K(args.backend);
  if (winogradFits(g) && process.env.FERLAB_WINOGRAD !== '0') {
    // the input gradient of a stride-1 3x3 conv is a 3x3 conv of dy with the rotated filter, padded 2 - pad
    return winogradConv(k, winogradTile(g.H, g.W), k.ptr(dy), g.N, g.OH, g.OW, g.CO, k.ptr(filter), g.CI, g.CO, 1, g.CI, g.H, g.W, 2 - g.pt, 2 - g.pl);
  }
  const T = g.KH * g.KW;
  const packed = k.scratch('wpack', T * g.CO * round8(g.CI) * 4);
  const zero = zeros(k, g.CO);
  const ptrs = k.scratch('ptrs', T * 16);
  const dx = k.output([g.N, g.H, g.W, g.CI]);
  k.exports.packWeights(k.ptr(filter), T, g.CI, g.CO, 1, packed);
  k.exports.igemm(
    g.H * g.W <= SMALL_MAP ? 3 : 1,
    k.ptr(dy),
    g.N,
    g.OH,
    g.OW,
    g.CO,
    packed,
    g.KH,
    g.KW,
    g.CI,
    k.ptr(dx),
    g.H,
    g.W,
    g.sh,
    g.sw,
    g.dh,
    g.dw,
    g.pt,
    g.pl,
    zero,
    ptrs,
  );
  return dx;
}

/**
 * Conv2DBackpropFilter: x [N, H, W, CI], dy [N, OH, OW, CO] -> dW of attrs.filterShape [KH, KW, CI, CO].
 * @throws Error for NCHW (the stock wasm backend has no kernel to fall back on, tfjs#8474).
 */
export function conv2DBackpropFilter(args: Args): TensorInfo {
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
    for (let p = 0; p < 16; p++) weightGradRows(k, V + p * TT * g.CI * 4, Ud + p * TT * g.CO * 4, TT, g.CI, g.CO, S + p * g.CI * g.CO * 4);
    k.exports.winoWgradOutput(S, g.CI, g.CO, k.ptr(out));
    return out;
  }
  if (g.CI === 1 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1 && g.CO % 8 === 0) {
    // one input channel (a first layer on grayscale faces): 3x8 tiles straight from dy over a zero-padded image plane
    const xp = k.scratch('planeC1', (g.OH + g.KH - 1) * (g.OW + g.KW - 1) * 4);
    k.exports.wgradC1(k.ptr(x), g.N, g.H, g.W, k.ptr(dy), g.OH, g.OW, g.CO, g.KH, g.KW, g.pt, g.pl, xp, k.ptr(out));
    return out;
  }
  if (g.CI >= 4 && g.OH * g.OW <= SMALL_MAP) {
    // Small maps (6x6, 3x3), where the per-image halo of the direct kernel costs more than copying rows: per tap, a 1x1
    // weight gradient over the output pixels whose tap reads inside the image (on a 3x3 map with 'same' padding 49 of
    // 81 pixel-taps). Each tap's slice out[t] = [CI, CO] sums the same terms in the same order as explicit patches
    // would, without the padding's zeros.
    const M = g.N * g.OH * g.OW;
    const xo = k.scratch('tapX', M * g.CI * 4);
    const dyo = k.scratch('tapDy', M * g.CO * 4);
    for (let kh = 0; kh < g.KH; kh++) {
      for (let kw = 0; kw < g.KW; kw++) {
        const slice = k.ptr(out) + (kh * g.KW + kw) * g.CI * g.CO * 4;
        const rows = k.exports.gatherTap(k.ptr(x), g.N, g.H, g.W, g.CI, k.ptr(dy), g.OH, g.OW, g.CO, kh, kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, xo, dyo);
        if (rows === 0) {
          k.heapF32(slice, g.CI * g.CO).fill(0);
          continue;
        }
        weightGradRows(k, xo, dyo, rows, g.CI, g.CO, slice);
      }
    }
    return out;
  }
  if (g.CI < 4 && (g.CI * T <= IM2COL_MAX_K || g.OH * g.OW <= SMALL_MAP)) {
    // Explicit patches, as a 1x1 weight gradient over all output pixels, when fewer than 4 input channels would
    // leave most of each 4-channel block empty (the T*CI patch columns fill them); small maps with 4 or more input
    // channels took the per-tap path above
    const M = g.N * g.OH * g.OW;
    const cols = k.scratch('im2col', M * T * g.CI * 4);
    k.exports.im2col(k.ptr(x), g.N, g.H, g.W, g.CI, g.KH, g.KW, g.OH, g.OW, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, cols);
    weightGradRows(k, cols, k.ptr(dy), M, T * g.CI, g.CO, k.ptr(out));
    return out;
  }
  weightGrad(k, k.ptr(x), k.ptr(dy), g, k.ptr(out));
  return out;
}
