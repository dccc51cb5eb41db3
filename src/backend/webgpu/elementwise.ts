import type { TensorInfo } from '@tensorflow/tfjs';
import { dispatch, flatGrid, FLAT_INDEX, FLAT_MAIN, size, type Args } from './shared';

/** Elementwise WGSL kernels: FerlabReluGrad and FerlabDropout (output and mask in one dispatch). */

/** FerlabReluGrad: dy, x (same shape, float32) -> dx = dy where x > 0, else 0 (tfjs-core gradients/Relu_grad.ts). */
export function reluGrad(args: Args): TensorInfo {
  const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
  const n = size(x.shape);
  const code = `
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
struct U { n: u32 };
@group(0) @binding(3) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.n) { return; }
  dx[i] = select(0.0, dy[i], x[i] > 0.0);
}`;
  return dispatch(args.backend, {
    key: 'FerlabReluGrad',
    code,
    outputs: [{ shape: x.shape }],
    inputs: [dy, x],
    uniforms: [['u32', n]],
    workgroups: flatGrid(n),
  })[0];
}

/**
 * WGSL: PCG hash (O'Neill's PCG-RXS-M-XS 32-bit output function, as in Jarzynski & Olano, "Hash Functions for GPU
 * Rendering", JCGT 2020), used as a counter-based random number generator: element i of a mask with seed s draws
 * pcg(i ^ pcg(s)).
 */
export const PCG_WGSL = `fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}`;

/**
 * The dropout mask that {@link dropout} draws, computed on the CPU (for tests): element i is kept when
 * (pcg(i ^ pcg(seed)) >> 8) / 2^24 >= rate.
 */
export function dropoutKeep(n: number, rate: number, seed: number): Uint8Array {
  const pcg = (v: number) => {
    const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
    const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
    return ((w >>> 22) ^ w) >>> 0;
  };
  const hs = pcg(seed >>> 0);
  const keep = new Uint8Array(n);
  for (let i = 0; i < n; i++) keep[i] = (pcg((i ^ hs) >>> 0) >>> 8) / 16777216 >= rate ? 1 : 0;
  return keep;
}

/**
 * FerlabDropout: x (float32) with attrs rate in [0, 1), seed uint32 -> [y, mask] (same shape): mask is 0 or
 * 1 / (1 - rate) per element, y = x * mask (inverted dropout, as tf.dropout). The mask comes from a counter-based
 * hash of (seed, element index) ({@link dropoutKeep}), so it is the same for a seed on every GPU; it differs from
 * the wasm kernel's and tf.dropout's masks (each backend has its own generator).
 */
export function dropout(args: Args): TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const rate = args.attrs!.rate as number;
  const seed = (args.attrs!.seed as number) >>> 0;
  const n = size(x.shape);
  const code = `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> mask: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
struct U { n: u32, seed: u32, rate: f32, scale: f32 };
@group(0) @binding(3) var<uniform> u: U;
${PCG_WGSL}
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.n) { return; }
  let r = f32(pcg(i ^ pcg(u.seed)) >> 8u) / 16777216.0;
  let m = select(0.0, u.scale, r >= u.rate);
  mask[i] = m;
  y[i] = x[i] * m;
}`;
  return dispatch(args.backend, {
    key: 'FerlabDropout',
    code,
    outputs: [{ shape: x.shape }, { shape: x.shape }],
    inputs: [x],
    uniforms: [
      ['u32', n],
      ['u32', seed],
      ['f32', rate],
      ['f32', 1 / (1 - rate)],
    ],
    workgroups: flatGrid(n),
  });
}
