import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE } from '../data/classes';
import { evalBatches } from '../data/preprocess';

/**
 * Runs a model in inference mode (BatchNorm moving statistics, no dropout) over images of the dataset.
 *
 * @param pixels `[N, 48, 48]` uint8 dataset images. @param index `[m]` rows to predict, in order.
 * @param batchSize images per forward pass (memory vs. speed; 256 default).
 * @returns `[m, C]` float32 model outputs (logits for ferlab's models).
 */
export function predictLogits(model: tf.LayersModel, pixels: Uint8Array, index: Int32Array, batchSize = 256): Float32Array {
  const C = (model.outputs[0].shape[1] as number) ?? 0;
  const out = new Float32Array(index.length * C);
  for (const b of evalBatches(pixels, index, batchSize)) {
    const y = tf.tidy(() => model.predict(tf.tensor4d(b.x, [b.n, IMAGE_SIZE, IMAGE_SIZE, 1])) as tf.Tensor);
    out.set(y.dataSync() as Float32Array, b.start * C);
    y.dispose();
  }
  return out;
}

/** Softmax of each row of `[n, C]` logits, in float64 arithmetic; returns float32 probabilities. */
export function softmaxRows(logits: Float32Array, C: number): Float32Array {
  const p = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i += C) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[i + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[i + c] - m);
    for (let c = 0; c < C; c++) p[i + c] = Math.exp(logits[i + c] - m) / s;
  }
  return p;
}
