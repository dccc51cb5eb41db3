import * as tf from '@tensorflow/tfjs';
import * as assert from 'uvu/assert';
import { initBackend } from '../../src/backend/select';

/** Deterministic values in [-1, 1) (a sine hash), so both backends see identical inputs. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    out[i] = 2 * (s - Math.floor(s)) - 1;
  }
  return out;
}

/** Float32Arrays of a function's outputs on one backend. */
export type Outputs = Float32Array[];

/**
 * Runs `f` on the cpu backend (the reference: tfjs' plain JavaScript kernels) and on the wasm backend with ferlab's
 * kernels, and returns both sets of outputs. `f` must build its inputs itself (from {@link values}).
 */
export async function onBothBackends(f: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Outputs; wasm: Outputs }> {
  const read = (r: tf.Tensor | tf.Tensor[]) => (Array.isArray(r) ? r : [r]).map((t) => Float32Array.from(t.dataSync()));
  await initBackend('cpu');
  const cpu = tf.tidy(() => read(f()));
  await initBackend('wasm');
  const wasm = tf.tidy(() => read(f()));
  return { cpu, wasm };
}

/** max |a - b| / max |b| (relative to the reference's scale; 0 when both are all zeros). */
export function maxRelError(got: Float32Array, ref: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Asserts every wasm output matches the cpu output within `tol` (max relative error), naming the case and output. */
export function assertClose(r: { cpu: Outputs; wasm: Outputs }, tol: number, what: string, names: string[] = []): number[] {
  assert.is(r.wasm.length, r.cpu.length, `${what}: number of outputs`);
  return r.cpu.map((ref, i) => {
    const name = names[i] ?? `output ${i}`;
    assert.is(r.wasm[i].length, ref.length, `${what} ${name}: length`);
    const err = maxRelError(r.wasm[i], ref);
    assert.ok(err <= tol, `${what} ${name}: max relative error ${err.toExponential(2)} exceeds ${tol.toExponential(0)}`);
    return err;
  });
}

/** A convolution case of the kernel tests: input shape [N, H, W, CI], square kernel size, output channels, stride, padding. */
export interface ConvCase {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number;
  pad: 'same' | 'valid';
}

/**
 * tf.conv2d on deterministic inputs ({@link values}, seeds 1-3) and its gradients: [y, dx, dw], where the gradients
 * are of sum(y * dyWeights) for fixed weights, so every output element has its own upstream gradient. Built inside
 * the caller's backend, for {@link onBothBackends} and the native kernel tests.
 */
export function convWithGrads(c: ConvCase): tf.Tensor[] {
  const ci = c.x[3];
  const x = tf.tensor4d(
    values(
      c.x.reduce((a, b) => a * b),
      1,
    ),
    c.x,
  );
  const w = tf.tensor4d(values(c.k * c.k * ci * c.co, 2), [c.k, c.k, ci, c.co]);
  const conv = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
  const y = conv(x, w);
  const dyWeights = tf.tensor(values(y.size, 3), y.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dyWeights)))([x, w]);
  return [y, dx, dw];
}
