import * as tf from '@tensorflow/tfjs';
import { DEFAULT_INPUT, inputBatches, type InputSpec } from '../data/input';

/**
 * Runs a model in inference mode (BatchNorm moving statistics, no dropout) over images of the dataset.
 *
 * @param pixels `[N, 48, 48]` uint8 dataset images. @param index `[m]` rows to predict, in order.
 * @param batchSize images per forward pass (memory vs. speed; 256 default).
 * @param input the model's input spec (src/data/input.ts; default DEFAULT_INPUT: `[48, 48, 1]`, pixel / 255): each
 *   image goes in as src/data/input.ts inputBatches writes it (the centre window for 'crop', no augmentation).
 * @returns `[m, C]` float32 model outputs (logits for ferlab's models).
 * @throws Error when the model's input is not `[size, size, 1]` of the spec.
 */
export function predictLogits(
  model: tf.LayersModel,
  pixels: Uint8Array,
  index: Int32Array,
  batchSize = 256,
  input: Readonly<InputSpec> = DEFAULT_INPUT,
): Float32Array {
  checkModelInput(model, input);
  const C = (model.outputs[0].shape[1] as number) ?? 0;
  const S = input.size;
  const out = new Float32Array(index.length * C);
  for (const b of inputBatches(pixels, index, batchSize, input)) {
    const y = tf.tidy(() => model.predict(tf.tensor4d(b.x, [b.n, S, S, 1])) as tf.Tensor);
    out.set(y.dataSync() as Float32Array, b.start * C);
    y.dispose();
  }
  return out;
}

/**
 * Checks that a model takes the inputs a spec makes: input shape `[batch, size, size, 1]` (dimensions the model
 * leaves open are accepted).
 * @throws Error naming both shapes and the spec when they differ.
 */
export function checkModelInput(model: tf.LayersModel, input: Readonly<InputSpec>): void {
  const shape = model.inputs[0].shape.slice(1);
  const want = [input.size, input.size, 1];
  if (shape.length !== 3 || shape.some((d, i) => d !== null && d !== want[i]))
    throw new Error(
      `the model takes inputs [batch, ${shape.join(', ')}] but its input spec ${JSON.stringify(input)} makes [batch, ${want.join(', ')}]: ` +
        'is the spec the one the model was trained with (config.json / ferlab.json inputSpec)?',
    );
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
