import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, type BackendChoice } from '../backend/select';
import { loadDataset } from '../data/dataset';
import { argmaxRows } from '../eval/metrics';
import { predictLogits } from '../eval/predict';
import type { RunConfig } from './config';
import { loadLayersModelFromDir } from './modelio';
import { runLabels } from './run';

/**
 * Reloads the model a run saved (model/ in its record) through tfjs' standard loader and re-scores it on the run's
 * PrivateTest images with the preprocessing the record states: the check that a saved model reproduces the reported
 * accuracy.
 * @returns accuracy now, the accuracy the record reported, and the number of images.
 */
export async function evaluateRunDir(
  dir: string,
  opts: { dataDir?: string; cacheDir?: string; backend?: BackendChoice } = {},
): Promise<{ accuracy: number; recorded: number; n: number }> {
  await initBackend(opts.backend ?? 'auto');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { run: RunConfig };
  const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { test: { accuracy: number } };
  const ds = await loadDataset({ dataDir: opts.dataDir, cacheDir: opts.cacheDir });
  const labels = runLabels(ds, config.run);
  const model = await loadLayersModelFromDir(join(dir, 'model'));
  const logits = predictLogits(model, ds.pixels, labels.test.index);
  const preds = argmaxRows(logits, labels.numClasses);
  let correct = 0;
  preds.forEach((p, i) => (correct += p === labels.test.label[i] ? 1 : 0));
  model.dispose();
  return { accuracy: correct / preds.length, recorded: metrics.test.accuracy, n: preds.length };
}
