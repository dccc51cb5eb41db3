import * as tf from '@tensorflow/tfjs';
import { IMAGE_PIXELS } from '../data/classes';
import { toFerCrops } from '../data/image';
import { DEFAULT_INPUT, InputWriter, type InputSpec } from '../data/input';
import { softmaxRows } from '../eval/predict';
import { outputIsProbabilities } from '../records/files';
import { argmaxRows } from '../util/argmax';
import type { Box } from './geometry';
import type { PredictModel } from './model';

/**
 * Face crops -> model inputs -> class probabilities. Every crop goes through the one conversion training data went
 * through (src/data/image.ts `toFerPixels`: 48x48 8-bit grayscale, as FER2013 stores its images) and then the input
 * transform of the model's input spec, written by the code evaluation uses (src/data/input.ts `InputWriter`; the
 * default spec: src/data/preprocess.ts `writeImage`, pixel / 255), so a photo's face reaches the model exactly as a
 * FER2013 image does in evaluation.
 */

/**
 * Cuts faces out of an image as FER2013-style pixels.
 * @param image encoded image bytes or a path (decoded with EXIF orientation applied, as detection saw it).
 * @param crops regions of the displayed image (src/predict/geometry.ts `faceCropBox`); `[undefined]` = the whole image
 *   is one face (an image that is already a face crop, such as a FER2013 image).
 * @returns `[crops.length, 48, 48]` uint8 grayscale, row-major.
 * @throws Error from toFerCrops when the image cannot be decoded or a crop lies outside it.
 */
export async function cropFaces(image: string | Buffer, crops: ReadonlyArray<Box | undefined>): Promise<Uint8Array> {
  const out = new Uint8Array(crops.length * IMAGE_PIXELS);
  if (!crops.length) return out;
  (await toFerCrops(image, crops)).pixels.forEach((p, i) => out.set(p, i * IMAGE_PIXELS));
  return out;
}

/**
 * The model input for `n` faces: `[n, size, size, 1]` float32 as the input spec makes it (src/data/input.ts
 * InputWriter.write, as evaluation: the centre window for 'crop', no augmentation); for the default spec `[n, 48, 48,
 * 1]` in [0, 1], written by training's own `writeImage`.
 * @param pixels `[n, 48, 48]` uint8 grayscale (from {@link cropFaces} or a dataset). @param input the model's input
 *   spec (PredictModel.input; default DEFAULT_INPUT).
 * @throws Error when pixels is not a whole number of 48x48 images, or the spec is invalid.
 */
export function modelInput(pixels: Uint8Array, input: Readonly<InputSpec> = DEFAULT_INPUT): Float32Array {
  const n = pixels.length / IMAGE_PIXELS;
  if (!Number.isInteger(n)) throw new Error(`pixels hold ${pixels.length} values, not a multiple of ${IMAGE_PIXELS} (48x48 images)`);
  const writer = new InputWriter(input);
  const x = new Float32Array(n * writer.pixels);
  for (let i = 0; i < n; i++) writer.write(pixels, i, x, i * writer.pixels);
  return x;
}

/** Class scores of `n` faces. */
export interface Classified {
  /** `[n, C]` float32 model outputs (logits; for an ensemble averaging probabilities, those probabilities). */
  logits: Float32Array;
  /** `[n, C]` float32 softmax probabilities of logits / T, T the model's fitted temperature (ferlab.json; 1 when absent). */
  probabilities: Float32Array;
  /** `[n]` index of the most probable class (first on ties). */
  labels: Uint8Array;
}

/**
 * Runs the classifier in inference mode on model inputs.
 * @param x `[n, size, size, 1]` float32 made by {@link modelInput} with `pm.input` (default spec: `[n, 48, 48, 1]` in
 *   [0, 1]); n may be 0.
 * @throws Error when x is not a whole number of size x size inputs.
 */
export function classify(pm: PredictModel, x: Float32Array): Classified {
  const S = (pm.input ?? DEFAULT_INPUT).size;
  const n = x.length / (S * S);
  if (!Number.isInteger(n)) throw new Error(`model inputs hold ${x.length} values, not a multiple of ${S * S} (${S}x${S} inputs)`);
  const C = pm.meta.classes.length;
  if (n === 0) return { logits: new Float32Array(0), probabilities: new Float32Array(0), labels: new Uint8Array(0) };
  const y = tf.tidy(() => pm.model.predict(tf.tensor4d(x, [n, S, S, 1])) as tf.Tensor);
  const logits = y.dataSync() as Float32Array;
  y.dispose();
  const T = pm.meta.temperature ?? 1;
  // an ensemble averaging probabilities outputs them already (ferlab.json `output`; readModelMeta refuses a temperature there)
  const probabilities = outputIsProbabilities(pm.meta)
    ? Float32Array.from(logits)
    : T === 1
      ? softmaxRows(logits, C)
      : softmaxRows(
          logits.map((v) => v / T),
          C,
        );
  return { logits, probabilities, labels: argmaxRows(logits, C) };
}
