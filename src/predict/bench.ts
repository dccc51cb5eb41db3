import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { initBackend, type BackendChoice } from '../backend/select';
import { FERPLUS_CLASSES } from '../data/classes';
import { DEFAULT_INPUT, describeInput } from '../data/input';
import { createModel, modelEntry } from '../models/registry';
import '../models';
import { loadFaceDetector } from './detect';
import { predictImage } from './image';
import { loadPredictModel, type PredictModel } from './model';

/**
 * End-to-end speed of `predict` on a photo, for `npm run bench`: read the file, decode (sharp), detect (face-api SSD
 * MobileNet v1), crop and convert each face (toFerPixels), classify the faces in one batch. Weights do not change the
 * speed, so by default a registered model with its initial weights stands in for a trained one.
 */

/** Default photo: node_modules/@vladmandic/face-api/demo/sample5.jpg, 1920x1398, five faces. */
export function defaultBenchPhoto(): string {
  return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample5.jpg');
}

/** Options of {@link benchPredict}. */
export interface PredictBenchOptions {
  /** Photo to run on (default {@link defaultBenchPhoto}). */
  image?: string;
  /** A model folder or run folder; default: registered model `model` with initial weights. */
  modelDir?: string;
  /** Registered model used when no modelDir is given (default `deep`, FER+ classes). */
  model?: string;
  /** Timed passes over the photo (default 5), after one untimed warm-up pass. */
  runs?: number;
  backend?: BackendChoice;
}

/** What {@link benchPredict} measured. */
export interface PredictBenchResult {
  image: string;
  model: string;
  backend: string;
  /** Faces found per pass. */
  faces: number;
  runs: number;
  /** Wall time of each timed pass, milliseconds. */
  msPerRun: number[];
  /** Faces per second over all timed passes (faces x runs / total seconds). */
  facesPerSec: number;
  /** Photos per second. */
  imagesPerSec: number;
}

/**
 * Measures end-to-end faces/s of `predict` on a multi-face photo (one process, backend as chosen).
 * @throws Error when the photo has no face (faces/s would mean nothing) or cannot be read.
 */
export async function benchPredict(opts: PredictBenchOptions = {}): Promise<PredictBenchResult> {
  const info = await initBackend(opts.backend);
  const image = opts.image ?? defaultBenchPhoto();
  let pm: PredictModel;
  if (opts.modelDir) pm = await loadPredictModel(opts.modelDir);
  else {
    const name = opts.model ?? 'deep';
    const classes = [...FERPLUS_CLASSES];
    const input = modelEntry(name).input ?? DEFAULT_INPUT;
    pm = {
      model: createModel(name, { numClasses: classes.length }),
      meta: { classes, preprocessing: describeInput(input), model: name },
      dir: `(registered '${name}', initial weights)`,
      input,
    };
  }
  await loadFaceDetector();
  const runs = opts.runs ?? 5;
  const warm = await predictImage(pm, readFileSync(image), {}, image);
  if (warm.faces.length === 0) throw new Error(`${image}: no face found; the predict benchmark needs a photo with faces`);
  const msPerRun: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await predictImage(pm, readFileSync(image), {}, image);
    msPerRun.push(performance.now() - t0);
  }
  pm.model.dispose();
  const seconds = msPerRun.reduce((a, b) => a + b, 0) / 1000;
  return {
    image,
    model: pm.meta.model ?? pm.dir,
    backend: info.description,
    faces: warm.faces.length,
    runs,
    msPerRun,
    facesPerSec: (warm.faces.length * runs) / seconds,
    imagesPerSec: runs / seconds,
  };
}
