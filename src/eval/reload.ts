import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendFromEnv, initBackend, type BackendChoice } from '../backend/select';
import { loadDataset } from '../data/dataset';
import { buildLabelSet, sliceLabelSet, type LabelSetName, type SplitSlice } from '../data/labels';
import { readSavedModelInfo } from '../models/init';
import { loadLayersModelFromDir } from '../models/io';
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
 * @throws Error naming the file when the record has no config.json, metrics.json or model, or records an invalid input
 *   spec; Error for an unknown backend name.
 */
export async function evaluateRunDir(
  dir: string,
  opts: { dataDir?: string; cacheDir?: string | false; backend?: BackendChoice } = {},
): Promise<{ accuracy: number; recorded: number; n: number }> {
  await initBackend(opts.backend ?? backendFromEnv());
  const read = <T>(name: string): T => {
    try {
      return JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
    } catch (e) {
      throw new Error(`${join(dir, name)}: cannot read it (${(e as Error).message}); is ${dir} a finished run record?`);
    }
  };
  const config = read<{ run: { labels: LabelSetName; slice: SplitSlice } }>('config.json');
  const metrics = read<{ test: { accuracy: number } }>('metrics.json');
  const ds = await loadDataset({ dataDir: opts.dataDir, cacheDir: opts.cacheDir });
  const labels = sliceLabelSet(buildLabelSet(ds, config.run.labels), config.run.slice);
  const { input } = readSavedModelInfo(join(dir, 'model'));
  const model = await loadLayersModelFromDir(join(dir, 'model'));
  const logits = predictLogits(model, ds.pixels, labels.test.index, 256, input);
  const preds = argmaxRows(logits, labels.numClasses);
  let correct = 0;
  preds.forEach((p, i) => (correct += p === labels.test.label[i] ? 1 : 0));
  model.dispose();
  return { accuracy: correct / preds.length, recorded: metrics.test.accuracy, n: preds.length };
}
