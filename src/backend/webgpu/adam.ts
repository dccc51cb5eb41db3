import type { TensorInfo } from '@tensorflow/tfjs';
import { dispatch, flatGrid, FLAT_INDEX, FLAT_MAIN, size, type Args } from './shared';

/**
 * FerlabAdam: inputs x, m, v, g (same shape, float32); attrs lr, beta1, beta2, epsilon, weightDecay, step (>= 1).
 * Outputs the updated x, m, v in ONE dispatch (tfjs ops need about twelve), with the formula of src/backend/ops.ts
 * adamUpdate and the same flush of moments below 1e-30 to zero as the wasm kernel (adamStep in
 * src/backend/wasm/assembly/ops.ts), so both ferlab kernels compute the same function.
 */
export function adam(args: Args): TensorInfo[] {
  const { x, m, v, g } = args.inputs as Record<string, TensorInfo>;
  const a = args.attrs as Record<string, number>;
  const n = size(x.shape);
  const code = `
@group(0) @binding(0) var<storage, read_write> xo: array<f32>;
@group(0) @binding(1) var<storage, read_write> mo: array<f32>;
@group(0) @binding(2) var<storage, read_write> vo: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> m: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;
@group(0) @binding(6) var<storage, read> g: array<f32>;
struct U { n: u32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32 };
@group(0) @binding(7) var<uniform> u: U;
${FLAT_MAIN} {
  ${FLAT_INDEX}
  if (i >= u.n) { return; }
  let gi = g[i];
  var m1 = u.b1 * m[i] + (1.0 - u.b1) * gi;
  var v1 = u.b2 * v[i] + (1.0 - u.b2) * gi * gi;
  if (abs(m1) < 1e-30) { m1 = 0.0; }
  if (v1 < 1e-30) { v1 = 0.0; }
  let xi = x[i];
  let upd = (m1 / u.bc1) / (sqrt(v1 / u.bc2) + u.eps) + u.wd * xi;
  xo[i] = xi - u.lr * upd;
  mo[i] = m1;
  vo[i] = v1;
}`;
  return dispatch(args.backend, {
    key: 'FerlabAdam',
    code,
    outputs: [{ shape: x.shape }, { shape: x.shape }, { shape: x.shape }],
    inputs: [x, m, v, g],
    uniforms: [
      ['u32', n],
      ['f32', a.lr],
      ['f32', a.beta1],
      ['f32', a.beta2],
      ['f32', a.epsilon],
      ['f32', a.weightDecay],
      ['f32', 1 - Math.pow(a.beta1, a.step)],
      ['f32', 1 - Math.pow(a.beta2, a.step)],
    ],
    workgroups: flatGrid(n),
  });
}
