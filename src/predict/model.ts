import type * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { recordedInputSpec, type InputSpec } from '../data/input';
import { PREPROCESSING } from '../data/preprocess';
import { loadLayersModelFromDir } from '../models/io';
import { MODEL_META_FILE, outputIsProbabilities, readModelMeta as readModelMetaRecord, type ModelMeta } from '../records/model';

/**
 * The classifier `predict` and the browser demo run: a ferlab model folder (`model.json` + weights + `ferlab.json`,
 * as `npm run exp` saves in every run record's `model/` and as exported models are laid out).
 */

/**
 * A model folder's `ferlab.json` (src/exp/run.ts writes it): classes, preprocessing or input spec, output, temperature
 * and the run's names; its schema, file name and reader are in src/records/model.ts.
 */
export type { ModelMeta } from '../records/model';

/** A loaded classifier. */
export interface PredictModel {
  /** Input `[batch, size, size, 1]` float32 as `input` makes it; output logits `[batch, classes.length]` float32. */
  model: tf.LayersModel;
  meta: ModelMeta;
  /** The input spec every face goes through (ferlab.json `inputSpec`; absent there = the default). Absent = the default. */
  input?: InputSpec;
  /** The folder holding model.json (a run folder's `model/` when a run folder was given). */
  dir: string;
}

/**
 * The model folder behind `path`: `path` itself when it holds model.json, else `path/model` (a run record folder).
 * @throws Error naming the path and what was expected when neither holds model.json.
 */
export function resolveModelDir(path: string): string {
  const dir = resolve(path);
  if (existsSync(join(dir, 'model.json'))) return dir;
  if (existsSync(join(dir, 'model', 'model.json'))) return join(dir, 'model');
  if (!existsSync(dir)) throw new Error(`model folder ${path} does not exist (expected models/<name> or a run folder runs/<experiment>/<run>)`);
  throw new Error(`${path} is not a model folder: no model.json in it or in ${join(path, 'model')} (expected model.json + weights + ferlab.json)`);
}

/**
 * Reads and checks a model folder's ferlab.json (classes, input spec or preprocessing, output).
 * @param dir a model folder (see {@link resolveModelDir}).
 * @throws Error naming the file when ferlab.json is missing; RecordError naming the file and field when it is not JSON
 *   or not of the record's shape (src/records/model.ts: at least 2 class names, a preprocessing string, a positive
 *   temperature); Error naming the file when its `inputSpec` is invalid, when it has none and `preprocessing` is not the
 *   PREPROCESSING that predict implements, when `output` says neither logits nor probabilities (an ensemble averaging
 *   probabilities, src/export/ensemble.ts), or when a model that outputs probabilities records a temperature.
 */
export function readModelMeta(dir: string): ModelMeta {
  const file = join(dir, MODEL_META_FILE);
  if (!existsSync(file)) throw new Error(`${file} is missing: predict needs the model's classes and preprocessing (ferlab.json beside model.json)`);
  const meta = readModelMetaRecord(dir);
  if (meta.inputSpec !== undefined) meta.inputSpec = recordedInputSpec(meta, file);
  else if (meta.preprocessing !== PREPROCESSING)
    throw new Error(`${file}: preprocessing '${meta.preprocessing}' is not the one predict implements ('${PREPROCESSING}') and there is no inputSpec`);
  const probabilities = outputIsProbabilities(meta);
  if (meta.output !== undefined && !/^logits\b/.test(meta.output) && !probabilities)
    throw new Error(
      `${file}: output '${meta.output}' is neither logits nor probabilities; predict applies softmax to logits and takes probabilities as they are`,
    );
  if (probabilities && meta.temperature !== undefined && meta.temperature !== 1)
    throw new Error(`${file}: output '${meta.output}' is probabilities, which a temperature (${meta.temperature}) cannot rescale`);
  return meta;
}

/**
 * Loads a model folder or a run record folder for prediction and checks that its input is the one its ferlab.json
 * states and its output size matches its classes.
 * @param path `models/<name>` or a run folder (its `model/` is used).
 * @throws Error (see {@link resolveModelDir}, {@link readModelMeta}), or when the model's input is not
 *   `[batch, size, size, 1]` of its input spec (`[batch, 48, 48, 1]` without one) or its output width differs from
 *   the number of classes.
 */
export async function loadPredictModel(path: string): Promise<PredictModel> {
  const dir = resolveModelDir(path);
  const meta = readModelMeta(dir);
  const input = recordedInputSpec(meta, join(dir, MODEL_META_FILE));
  const model = await loadLayersModelFromDir(dir);
  const inShape = model.inputs[0].shape.slice(1).join('x');
  const outWidth = model.outputs[0].shape[1];
  const S = input.size;
  if (inShape !== `${S}x${S}x1`)
    throw new Error(
      `${join(dir, 'model.json')}: input shape [batch, ${inShape.replace(/x/g, ', ')}], expected [batch, ${S}, ${S}, 1] (ferlab.json input spec ${JSON.stringify(input)})`,
    );
  if (outWidth !== meta.classes.length)
    throw new Error(`${join(dir, 'model.json')}: ${outWidth} outputs but ferlab.json lists ${meta.classes.length} classes (${meta.classes.join(', ')})`);
  return { model, meta, dir, input };
}
