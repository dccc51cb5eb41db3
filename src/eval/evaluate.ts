import * as tf from '@tensorflow/tfjs';
import type { FerDataset } from '../data/dataset';
import { DEFAULT_INPUT, type InputSpec } from '../data/input';
import type { SplitLabels } from '../data/labels';
import { argmaxRows } from '../util/argmax';
import { computeMetrics, type Metrics } from './metrics';
import { predictLogits } from './predict';

/** What {@link evaluateSplit} returns. */
export interface SplitEvaluation {
  /** Mean cross-entropy of the hard labels (nats). */
  loss: number;
  metrics: Metrics;
  /** `[m, C]` float32 logits, in the order of the split. */
  logits: Float32Array;
  /** `[m]` uint8 argmax predictions (the ones the metrics count). */
  preds: Uint8Array;
}

/**
 * Loss and metrics of a model on a labelled split, in inference mode (BatchNorm moving statistics, no dropout), with
 * the model's input spec (src/data/input.ts; default: the standard preprocessing of src/data/preprocess.ts).
 * @param classes class names in output order (`C` = classes.length). @param batchSize images per forward pass.
 * @param input the model's input spec (default DEFAULT_INPUT). @throws Error when the model does not take its inputs.
 */
export function evaluateSplit(
  model: tf.LayersModel,
  ds: FerDataset,
  split: SplitLabels,
  classes: readonly string[],
  batchSize: number,
  input: Readonly<InputSpec> = DEFAULT_INPUT,
): SplitEvaluation {
  const logits = predictLogits(model, ds.pixels, split.index, batchSize, input);
  const C = classes.length;
  let loss = 0;
  for (let i = 0; i < split.label.length; i++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[i * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[i * C + c] - m);
    loss += Math.log(s) + m - logits[i * C + split.label[i]];
  }
  const preds = argmaxRows(logits, C);
  const metrics = computeMetrics(split.label, preds, classes);
  return { loss: split.label.length ? loss / split.label.length : 0, metrics, logits, preds };
}
