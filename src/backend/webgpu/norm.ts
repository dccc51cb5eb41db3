import type { TensorInfo } from '@tensorflow/tfjs';
import { dispatch, flatGrid, FLAT_INDEX, FLAT_MAIN, size, type Args } from './shared';

/**
 * Batch normalisation in training as WGSL: FerlabBatchNormTrain (statistics + affine, 3 dispatches) and
 * FerlabBatchNormGrad (full backward, 3 dispatches), instead of tfjs' moments + batchNorm graph and its gradient
 * (about 25 kernels with Tile/Sum/Mean chains). Each is: per-channel partial sums over row chunks (threads of a
 * workgroup read consecutive channels of a row: coalesced), one workgroup per channel reducing the partials in
 * shared memory, and one elementwise pass.
 */

/** Rows of x per partial sum: enough chunks to fill a GPU (~128k threads), at least 16 rows each. */
function splits(M: number, C: number): number {
  return Math.max(1, Math.min(Math.ceil(M / 16), Math.floor(131072 / C)));
}

/** WGSL of the final per-channel reduction: 256 threads sum a channel's S partials of `a` and `b` into sa, sb. */
const REDUCE_WG = 256;
const reduceSnippet = (a: string, b: string) => `
  var sa = 0.0;
  var sb = 0.0;
  for (var s = lid; s < u.S; s += ${REDUCE_WG}u) { sa += ${a}[s * u.C + c]; sb += ${b}[s * u.C + c]; }
  ra[lid] = sa;
  rb[lid] = sb;
  workgroupBarrier();
  for (var w = ${REDUCE_WG / 2}u; w > 0u; w >>= 1u) {
    if (lid < w) { ra[lid] += ra[lid + w]; rb[lid] += rb[lid + w]; }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  sa = ra[0];
  sb = rb[0];`;

/**
 * FerlabBatchNormTrain: inputs x [..., C], gamma [C], beta [C]; attrs epsilon. Outputs y, batch mean, biased batch
 * variance (as tf.moments). The variance is accumulated around the first row (shifted data) to avoid the
 * cancellation of E[x^2] - E[x]^2.
 */
export function batchNormTrain(args: Args): TensorInfo[] {
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const eps = args.attrs!.epsilon as number;
  const C = x.shape[x.shape.length - 1];
  const M = size(x.shape) / C;
  const S = splits(M, C);
  const rows = Math.ceil(M / S);
  const partial = `
@group(0) @binding(0) var<storage, read_write> psum: array<f32>;
@group(0) @binding(1) var<storage, read_write> psq: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
struct U { M: u32, C: u32, S: u32, rows: u32 };
@group(0) @binding(3) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.S * u.C) { return; }
  let c = i % u.C;
  let s = i / u.C;
  let k = x[c];
  var sum = 0.0;
  var sq = 0.0;
  let end = min(u.M, (s + 1u) * u.rows);
  for (var r = s * u.rows; r < end; r++) { let d = x[r * u.C + c] - k; sum += d; sq += d * d; }
  psum[i] = sum;
  psq[i] = sq;
}`;
  const [psum, psq] = dispatch(args.backend, {
    key: 'FerlabBatchNormTrain|partial',
    code: partial,
    outputs: [{ shape: [S, C] }, { shape: [S, C] }],
    inputs: [x],
    uniforms: [
      ['u32', M],
      ['u32', C],
      ['u32', S],
      ['u32', rows],
    ],
    workgroups: flatGrid(S * C),
  });
  const finalize = `
@group(0) @binding(0) var<storage, read_write> mean: array<f32>;
@group(0) @binding(1) var<storage, read_write> variance: array<f32>;
@group(0) @binding(2) var<storage, read_write> coef: array<f32>;
@group(0) @binding(3) var<storage, read> psum: array<f32>;
@group(0) @binding(4) var<storage, read> psq: array<f32>;
@group(0) @binding(5) var<storage, read> x: array<f32>;
@group(0) @binding(6) var<storage, read> gamma: array<f32>;
@group(0) @binding(7) var<storage, read> beta: array<f32>;
struct U { M: u32, C: u32, S: u32, eps: f32 };
@group(0) @binding(8) var<uniform> u: U;
var<workgroup> ra: array<f32, ${REDUCE_WG}>;
var<workgroup> rb: array<f32, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  ${reduceSnippet('psum', 'psq')}
  let d = sa / f32(u.M);
  let m = x[c] + d;
  let v = max(sb / f32(u.M) - d * d, 0.0);
  mean[c] = m;
  variance[c] = v;
  let scale = gamma[c] / sqrt(v + u.eps);
  coef[c] = scale;
  coef[u.C + c] = beta[c] - m * scale;
}`;
  const [mean, variance, coef] = dispatch(args.backend, {
    key: 'FerlabBatchNormTrain|finalize',
    code: finalize,
    outputs: [{ shape: [C] }, { shape: [C] }, { shape: [2 * C] }],
    inputs: [psum, psq, x, gamma, beta],
    uniforms: [
      ['u32', M],
      ['u32', C],
      ['u32', S],
      ['f32', eps],
    ],
    workgroups: [C, 1, 1],
  });
  const apply = `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
struct U { n: u32, C: u32 };
@group(0) @binding(3) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.n) { return; }
  let c = i % u.C;
  y[i] = x[i] * coef[c] + coef[u.C + c];
}`;
  const [y] = dispatch(args.backend, {
    key: 'FerlabBatchNormTrain|apply',
    code: apply,
    outputs: [{ shape: x.shape }],
    inputs: [x, coef],
    uniforms: [
      ['u32', M * C],
      ['u32', C],
    ],
    workgroups: flatGrid(M * C),
  });
  disposeAll(args.backend, [psum, psq, coef]);
  return [y, mean, variance];
}

/**
 * FerlabBatchNormGrad: inputs dy, x, mean, variance, gamma; attrs epsilon. Outputs dx, dgamma, dbeta of
 * y = gamma * (x - mean) / sqrt(variance + eps) + beta with mean and (biased) variance taken over the batch:
 * dx = gamma*r*dy - gamma*r/M * sum(dy) - (x - mean) * gamma*r^3/M * sum(dy*(x - mean)), r = 1/sqrt(var + eps)
 * (the same formula as the wasm kernel, src/backend/wasm/kernels/norm.ts).
 */
export function batchNormGrad(args: Args): TensorInfo[] {
  const { dy, x, mean, variance, gamma } = args.inputs as Record<string, TensorInfo>;
  const eps = args.attrs!.epsilon as number;
  const C = x.shape[x.shape.length - 1];
  const M = size(x.shape) / C;
  const S = splits(M, C);
  const rows = Math.ceil(M / S);
  const partial = `
@group(0) @binding(0) var<storage, read_write> pdy: array<f32>;
@group(0) @binding(1) var<storage, read_write> pdyx: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
struct U { M: u32, C: u32, S: u32, rows: u32 };
@group(0) @binding(5) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.S * u.C) { return; }
  let c = i % u.C;
  let s = i / u.C;
  let m = mean[c];
  var sd = 0.0;
  var sdx = 0.0;
  let end = min(u.M, (s + 1u) * u.rows);
  for (var r = s * u.rows; r < end; r++) { let j = r * u.C + c; let g = dy[j]; sd += g; sdx += g * (x[j] - m); }
  pdy[i] = sd;
  pdyx[i] = sdx;
}`;
  const [pdy, pdyx] = dispatch(args.backend, {
    key: 'FerlabBatchNormGrad|partial',
    code: partial,
    outputs: [{ shape: [S, C] }, { shape: [S, C] }],
    inputs: [dy, x, mean],
    uniforms: [
      ['u32', M],
      ['u32', C],
      ['u32', S],
      ['u32', rows],
    ],
    workgroups: flatGrid(S * C),
  });
  const finalize = `
@group(0) @binding(0) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(1) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(2) var<storage, read_write> coef: array<f32>;
@group(0) @binding(3) var<storage, read> pdy: array<f32>;
@group(0) @binding(4) var<storage, read> pdyx: array<f32>;
@group(0) @binding(5) var<storage, read> variance: array<f32>;
@group(0) @binding(6) var<storage, read> gamma: array<f32>;
struct U { M: u32, C: u32, S: u32, eps: f32 };
@group(0) @binding(7) var<uniform> u: U;
var<workgroup> ra: array<f32, ${REDUCE_WG}>;
var<workgroup> rb: array<f32, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  ${reduceSnippet('pdy', 'pdyx')}
  let r = 1.0 / sqrt(variance[c] + u.eps);
  let g = gamma[c];
  let fm = f32(u.M);
  coef[c] = g * r;
  coef[u.C + c] = -g * r * r * r * sb / fm;
  coef[2u * u.C + c] = -g * r * sa / fm;
  dgamma[c] = sb * r;
  dbeta[c] = sa;
}`;
  const [dgamma, dbeta, coef] = dispatch(args.backend, {
    key: 'FerlabBatchNormGrad|finalize',
    code: finalize,
    outputs: [{ shape: [C] }, { shape: [C] }, { shape: [3 * C] }],
    inputs: [pdy, pdyx, variance, gamma],
    uniforms: [
      ['u32', M],
      ['u32', C],
      ['u32', S],
      ['f32', eps],
    ],
    workgroups: [C, 1, 1],
  });
  const apply = `
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> coef: array<f32>;
struct U { n: u32, C: u32 };
@group(0) @binding(5) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.n) { return; }
  let c = i % u.C;
  dx[i] = coef[c] * dy[i] + coef[u.C + c] * (x[i] - mean[c]) + coef[2u * u.C + c];
}`;
  const [dx] = dispatch(args.backend, {
    key: 'FerlabBatchNormGrad|apply',
    code: apply,
    outputs: [{ shape: x.shape }],
    inputs: [dy, x, mean, coef],
    uniforms: [
      ['u32', M * C],
      ['u32', C],
    ],
    workgroups: flatGrid(M * C),
  });
  disposeAll(args.backend, [pdy, pdyx, coef]);
  return [dx, dgamma, dbeta];
}

/**
 * FerlabMovingStats: inputs movingMean, movingVariance, mean, variance (each `[C]` float32); attrs decay (1 -
 * momentum). Outputs the new moving mean and moving variance, moving - (moving - batch) * decay, in one dispatch
 * (tfjs ops need three kernels per statistic: sub, mul, sub). Same formula as src/backend/ops.ts updateMovingStats.
 */
export function movingStats(args: Args): TensorInfo[] {
  const { movingMean, movingVariance, mean, variance } = args.inputs as Record<string, TensorInfo>;
  const C = size(movingMean.shape);
  const code = `
@group(0) @binding(0) var<storage, read_write> mo: array<f32>;
@group(0) @binding(1) var<storage, read_write> vo: array<f32>;
@group(0) @binding(2) var<storage, read> mm: array<f32>;
@group(0) @binding(3) var<storage, read> mv: array<f32>;
@group(0) @binding(4) var<storage, read> m: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;
struct U { n: u32, decay: f32 };
@group(0) @binding(6) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.n) { return; }
  mo[i] = mm[i] - (mm[i] - m[i]) * u.decay;
  vo[i] = mv[i] - (mv[i] - v[i]) * u.decay;
}`;
  return dispatch(args.backend, {
    key: 'FerlabMovingStats',
    code,
    outputs: [{ shape: movingMean.shape }, { shape: movingVariance.shape }],
    inputs: [movingMean, movingVariance, mean, variance],
    uniforms: [
      ['u32', C],
      ['f32', args.attrs!.decay as number],
    ],
    workgroups: flatGrid(C),
  });
}

/** Frees intermediate tensors of a kernel (tfjs defers the release until the queued commands using them are submitted). */
export function disposeAll(backend: unknown, ts: TensorInfo[]): void {
  const b = backend as { disposeData(dataId: object, force?: boolean): boolean };
  for (const t of ts) b.disposeData(t.dataId);
}
