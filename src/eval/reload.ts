import { join } from 'node:path';
import { backendFromEnv, initBackend, type BackendChoice } from '../backend/select';
import { loadDataset } from '../data/dataset';
import { buildLabelSet, sliceLabelSet } from '../data/labels';
import { readSavedModelInfo } from '../models/init';
import { loadLayersModelFromDir } from '../models/io';
import { MODEL_SUBDIR, readRunConfigFile, readRunSummary } from '../records/run';
import { argmaxRows } from '../util/argmax';
import { predictLogits } from './predict';

/**
 * Reloads the model a run saved (model/ in its record) through tfjs' standard loader and re-scores it on the run's
 * PrivateTest images with the preprocessing the record states (model/ferlab.json `inputSpec`, src/data/input.ts;
 * absent = the default 48x48 pixel / 255): the check that a saved model reproduces the reported accuracy. Reads the
 * run's `config.json` (label set and slice) and `metrics.json`.
 *
 * @param opts.backend tfjs backend (default: FERLAB_BACKEND, else auto).
 * @returns accuracy now, the accuracy the record reported, and the number of images.
 * @throws Error naming the file (and the field, src/records/run.ts) when the record's config.json or metrics.json is
 *   missing or malformed, or it has no model or records an invalid input spec; Error for an unknown backend name.
 */
export async function evaluateRunDir(
  dir: string,
  opts: { dataDir?: string; cacheDir?: string | false; backend?: BackendChoice } = {},
): Promise<{ accuracy: number; recorded: number; n: number }> {
  await initBackend(opts.backend ?? backendFromEnv());
  const read = <T>(reader: () => T): T => {
    try {
      return reader();
    } catch (e) {
      throw new Error(`${(e as Error).message}; is ${dir} a finished run record?`);
    }
  };
  const config = read(() => readRunConfigFile(dir));
  const metrics = read(() => readRunSummary(dir));
  const ds = await loadDataset({ dataDir: opts.dataDir, cacheDir: opts.cacheDir });
  const labels = sliceLabelSet(buildLabelSet(ds, config.run.labels), config.run.slice);
  const { input } = readSavedModelInfo(join(dir, MODEL_SUBDIR));
  const model = await loadLayersModelFromDir(join(dir, MODEL_SUBDIR));
  const logits = predictLogits(model, ds.pixels, labels.test.index, 256, input);
  const preds = argmaxRows(logits, labels.numClasses);
  let correct = 0;
  preds.forEach((p, i) => (correct += p === labels.test.label[i] ? 1 : 0));
  model.dispose();
  return { accuracy: correct / preds.length, recorded: metrics.test.accuracy, n: preds.length };
}
