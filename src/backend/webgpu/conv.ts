import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { disposeAll } from './norm';
import { dispatch, flatGrid, FLAT_INDEX, FLAT_MAIN, size, type Args } from './shared';

/**
 * Conv2DBackpropFilter (the weight gradient of a convolution) as a tiled, split-K GEMM in WGSL:
 *
 *   dW[(kh, kw, ci), co] = sum over p = (n, oh, ow) of x[n, oh*sh - pt + kh, ow*sw - pl + kw, ci] * dy[p, co]
 *
 * a GEMM of R = KH*KW*CI rows by CO columns reducing over P = N*OH*OW, where P (147,456 for 48x48 maps at batch 64)
 * dwarfs R x CO (288 x 64). Each workgroup computes a 64 x 64 (or 64 x 32) tile of dW over one slice of P, gathering
 * the implicit patches of x and rows of dy into workgroup memory 16 pixels at a time, each thread accumulating a 4x4
 * block; a second pass sums the slices. tfjs' own webgpu kernel (conv_backprop_webgpu.ts Conv2DDerFilterProgram)
 * runs one thread per weight looping over all of P: 16-58 ms per call at batch 64 on an H100.
 */

/** The stock webgpu kernels replaced by ferlab's, for the cases ferlab's do not handle (filled at registration). */
export const stockWebgpu = new Map<string, KernelFunc>();

/** Rows (R) and columns (CO) of a workgroup's output tile, pixels per step of the reduction. */
const TR = 64;
const KC = 16;
/** Workgroups to aim for (8 per SM of a 132-SM H100; more only adds partial sums). */
const TARGET_GROUPS = 1024;

/** Conv2DBackpropFilter: x [N, H, W, CI], dy [N, OH, OW, CO] -> dW of attrs.filterShape [KH, KW, CI, CO] (NHWC). */
export function conv2DBackpropFilter(args: Args): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs!;
  const filterShape = attrs.filterShape as [number, number, number, number];
  const dataFormat = tf.backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW') ?? 'NHWC');
  if (dataFormat !== 'channelsLast') return stockWebgpu.get('Conv2DBackpropFilter')!(args as never) as TensorInfo;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    dataFormat,
  );
  const [KH, KW, CI, CO] = filterShape;
  const R = KH * KW * CI;
  const P = info.batchSize * info.outHeight * info.outWidth;
  const TC = CO <= 32 ? 32 : 64;
  const TX = TC / 4;
  const threads = TX * (TR / 4);
  const tiles = Math.ceil(R / TR) * Math.ceil(CO / TC);
  const chunks = Math.ceil(P / KC);
  // at least 8 reduction steps per slice, about TARGET_GROUPS workgroups in all
  const S = Math.max(1, Math.min(Math.ceil(TARGET_GROUPS / tiles), Math.ceil(chunks / 8)));
  const perSlice = Math.ceil(chunks / S) * KC;
  const slices = Math.ceil(P / perSlice);
  const kstep = threads / TR;
  const code = `
@group(0) @binding(0) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
struct U { P: u32, R: u32, CO: u32, perSlice: u32, H: i32, W: i32, CI: i32, KW: i32, OH: i32, OW: i32, SH: i32, SW: i32, PT: i32, PL: i32 };
@group(0) @binding(3) var<uniform> u: U;
var<workgroup> As: array<f32, ${KC * TR}>;
var<workgroup> Bs: array<f32, ${KC * TC}>;
// per pixel of the chunk: image offset n*H*W, top row and left column of its receptive field (rows < 0: no pixel)
var<workgroup> pd: array<vec3<i32>, ${KC}>;
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r0 = wid.y * ${TR}u;
  let c0 = wid.x * ${TC}u;
  let pStart = wid.z * u.perSlice;
  let pEnd = min(u.P, pStart + u.perSlice);
  let tx = lid % ${TX}u;
  let ty = lid / ${TX}u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let ohw = u.OH * u.OW;
  // the row of dW this thread loads patches for (the same in every chunk): tap (kh, kw) and input channel
  let rr = lid % ${TR}u;
  let kk0 = lid / ${TR}u;
  let r = r0 + rr;
  let rOk = r < u.R;
  let ci = i32(r) % u.CI;
  let tap = i32(r) / u.CI;
  let kh = tap / u.KW;
  let kw = tap % u.KW;
  for (var p0 = pStart; p0 < pEnd; p0 += ${KC}u) {
    if (lid < ${KC}u) {
      let p = p0 + lid;
      var d = vec3<i32>(0, -1000000, -1000000);
      if (p < pEnd) {
        let pi = i32(p);
        let n = pi / ohw;
        let rem = pi - n * ohw;
        let oh = rem / u.OW;
        d = vec3<i32>(n * u.H * u.W, oh * u.SH - u.PT, (rem - oh * u.OW) * u.SW - u.PL);
      }
      pd[lid] = d;
    }
    workgroupBarrier();
    for (var j = 0u; j < ${KC / kstep}u; j++) {
      let kk = kk0 + j * ${kstep}u;
      let d = pd[kk];
      let ih = d.y + kh;
      let iw = d.z + kw;
      var v = 0.0;
      if (rOk && ih >= 0 && ih < u.H && iw >= 0 && iw < u.W) { v = x[(d.x + ih * u.W + iw) * u.CI + ci]; }
      As[kk * ${TR}u + rr] = v;
    }
    for (var e = lid; e < ${KC * TC}u; e += ${threads}u) {
      let p = p0 + e / ${TC}u;
      let c = c0 + e % ${TC}u;
      var v = 0.0;
      if (p < pEnd && c < u.CO) { v = dy[p * u.CO + c]; }
      Bs[e] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${KC}u; k++) {
      let a = ty * 4u + k * ${TR}u;
      let bi = tx * 4u + k * ${TC}u;
      let b = vec4<f32>(Bs[bi], Bs[bi + 1u], Bs[bi + 2u], Bs[bi + 3u]);
      acc0 += As[a] * b;
      acc1 += As[a + 1u] * b;
      acc2 += As[a + 2u] * b;
      acc3 += As[a + 3u] * b;
    }
    workgroupBarrier();
  }
  let base = wid.z * u.R * u.CO;
  let c = c0 + tx * 4u;
  var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + ty * 4u + i;
    if (r < u.R) {
      for (var j = 0u; j < 4u; j++) { if (c + j < u.CO) { part[base + r * u.CO + c + j] = rows[i][j]; } }
    }
  }
}`;
  const [part] = dispatch(args.backend, {
    key: `Conv2DBackpropFilter|gemm2|${TC}`,
    name: 'Conv2DBackpropFilter',
    code,
    outputs: [{ shape: slices === 1 ? filterShape : [slices, R, CO] }],
    inputs: [x, dy],
    uniforms: [
      ['u32', P],
      ['u32', R],
      ['u32', CO],
      ['u32', perSlice],
      ...([info.inHeight, info.inWidth, CI, KW, info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left].map(
        (v) => ['i32', v],
      ) as Array<['i32', number]>),
    ],
    workgroups: [Math.ceil(CO / TC), Math.ceil(R / TR), slices],
  });
  if (slices === 1) return part;
  const sum = `
@group(0) @binding(0) var<storage, read_write> dw: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
struct U { n: u32, S: u32 };
@group(0) @binding(2) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.n) { return; }
  var s = 0.0;
  for (var z = 0u; z < u.S; z++) { s += part[z * u.n + i]; }
  dw[i] = s;
}`;
  const n = size(filterShape);
  const [dw] = dispatch(args.backend, {
    key: 'Conv2DBackpropFilter|sum',
    name: 'Conv2DBackpropFilter',
    code: sum,
    outputs: [{ shape: filterShape }],
    inputs: [part],
    uniforms: [
      ['u32', n],
      ['u32', slices],
    ],
    workgroups: flatGrid(n),
  });
  disposeAll(args.backend, [part]);
  return dw;
}
