/**
 * Shared by the export tests: test images (the first rows of the real FER2013 file when it is there, see
 * test/helpers/realdata.ts, else deterministic pseudo-random pixels; pixels scaled to [0, 1] as ferlab feeds its
 * models) and {@link perturb}, which gives a model trained-like weights.
 */
import * as tf from '@tensorflow/tfjs';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { IMAGE_PIXELS, locateFer2013 } from '../../src/data';
import { realDataDir } from '../helpers/realdata';
import { values } from '../helpers/backends';
import { rng } from '../helpers/fixtures';

/** `n` images `[n, 48, 48, 1]` float32 in [0, 1] (row-major), and where they come from. */
export interface TestImages {
  x: Float32Array;
  n: number;
  source: string;
}

/** Reads the first `n` data rows of fer2013.csv(.gz) without parsing the rest of the file. */
async function firstRows(path: string, n: number): Promise<Float32Array> {
  const raw = createReadStream(path);
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  const x = new Float32Array(n * IMAGE_PIXELS);
  let row = -1;
  for await (const line of lines) {
    if (row >= 0) {
      const pixels = line.split(',')[1].split(' ').map(Number);
      if (pixels.length !== IMAGE_PIXELS || pixels.some((p) => !(p >= 0 && p <= 255))) throw new Error(`${path} row ${row + 2}: bad pixels`);
      pixels.forEach((p, i) => (x[row * IMAGE_PIXELS + i] = p / 255));
    }
    if (++row === n) break;
  }
  lines.close();
  raw.destroy();
  if (row < n) throw new Error(`${path} has only ${row} rows; expected at least ${n}`);
  return x;
}

/** `n` test images: real FER2013 rows when the data is present, else deterministic random pixels. */
export async function testImages(n: number): Promise<TestImages> {
  const dir = realDataDir();
  if (dir) {
    const path = locateFer2013(dir);
    return { x: await firstRows(path, n), n, source: `first ${n} rows of ${path}` };
  }
  return { x: values(n * IMAGE_PIXELS, 11).map((v) => (v + 1) / 2), n, source: 'deterministic random pixels' };
}

/**
 * Gives a model weights whose every rule matters, as a trained network has them: kernels (depthwise and pointwise
 * ones too) scaled by sqrt(6) (createModel draws them with variance 1/(3 fan_in), PyTorch's default; x sqrt(6) gives He's 2/fan_in, so without
 * BatchNorm the activations and logits stay O(1) instead of shrinking layer by layer), random biases, random BatchNorm
 * gamma/beta, and moving statistics near the real statistics of the layer's input on `x` (mean + U(-0.2, 0.2) std,
 * variance x U(0.5, 2)), so that normalised activations stay O(1) through the deep model and a wrong epsilon, a wrong
 * mean/variance order or a wrong channel axis moves the logits by far more than the tolerance.
 */
export function perturb(model: tf.LayersModel, seed: number, x: Float32Array, shape: number[]): void {
  const r = rng(seed);
  const u = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    let stats: { mean: Float32Array; variance: Float32Array } | undefined;
    if (layer.getClassName() === 'BatchNormalization') {
      // statistics of this layer's input over all but the channel axis, with the layers before it already perturbed
      const sub = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
      stats = tf.tidy(() => {
        const a = sub.predict(tf.tensor(x, shape)) as tf.Tensor;
        const m = tf.moments(a, [...Array(a.rank - 1).keys()]);
        return { mean: m.mean.dataSync() as Float32Array, variance: m.variance.dataSync() as Float32Array };
      });
    }
    const next = ws.map((w, i) => {
      const name = (layer.weights[i].originalName.split('/').pop() ?? '').replace(/_\d+$/, '');
      switch (name) {
        case 'kernel':
        case 'depthwise_kernel':
        case 'pointwise_kernel':
          return tf.mul(w, Math.sqrt(6));
        case 'bias':
        case 'beta':
          return tf.tensor(u(w.size, -0.2, 0.2), w.shape);
        case 'gamma':
          return tf.tensor(u(w.size, 0.5, 1.5), w.shape);
        case 'moving_mean': {
          const shift = u(w.size, -0.2, 0.2);
          return tf.tensor(
            stats!.mean.map((m, c) => m + shift[c] * Math.sqrt(stats!.variance[c])),
            w.shape,
          );
        }
        case 'moving_variance': {
          const factor = u(w.size, 0.5, 2);
          return tf.tensor(
            stats!.variance.map((v, c) => v * factor[c]),
            w.shape,
          );
        }
        default:
          throw new Error(`perturb: unexpected weight ${layer.weights[i].originalName}`);
      }
    });
    layer.setWeights(next);
  }
}
