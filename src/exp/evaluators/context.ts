import type * as tf from '@tensorflow/tfjs';
import type { FerDataset } from '../../data/dataset';
import type { InputSpec } from '../../data/input';
import type { LabelSet } from '../../data/labels';
import { evaluateSplit, type SplitEvaluation } from '../../eval/evaluate';
import { softmaxRows } from '../../eval/predict';
import type { TestPredictions } from '../../records/run';
import type { RunConfig } from '../config';

/**
 * What an evaluator may read: the trained (best-epoch) model, the dataset and the run's label set, the run config and
 * the resolved model input, the run's record folder, and the plain PublicTest / PrivateTest evaluations and PrivateTest
 * predictions, each computed once on first use and shared by every evaluator that reads it.
 */
export interface EvalContext {
  /** The trained model (best-epoch weights); evaluators only run inference on it and never dispose it. */
  model: tf.LayersModel;
  ds: FerDataset;
  /** The run's label set with its slice applied (src/exp/run.ts runLabels). */
  labels: LabelSet;
  run: RunConfig;
  /** The model input spec with the run's `input` over it (src/models/registry.ts resolveInputSpec). */
  input: InputSpec;
  /** The run's record folder. */
  dir: string;
  /** Plain (single-view) evaluation of the PrivateTest split: logits `[m, C]`, argmax predictions, metrics. */
  test(): SplitEvaluation;
  /** Plain evaluation of the PublicTest split (the selection split). */
  val(): SplitEvaluation;
  /** PrivateTest predictions as predictions.json holds them (softmax of `test()` logits rounded to 4 decimals). */
  predictions(): TestPredictions;
}

/** Rounds a probability to 4 decimals, as predictions.json stores them. */
const round4 = (p: number) => Math.round(p * 1e4) / 1e4;

/**
 * The context of a run's evaluators, its split evaluations memoised (each forward pass over a split at most once,
 * and only when an evaluator reads it).
 */
export function evalContext(fields: Pick<EvalContext, 'model' | 'ds' | 'labels' | 'run' | 'input' | 'dir'>): EvalContext {
  const { model, ds, labels, run, input } = fields;
  const once = <T>(f: () => T): (() => T) => {
    let v: { value: T } | undefined;
    return () => (v ??= { value: f() }).value;
  };
  const test = once(() => evaluateSplit(model, ds, labels.test, labels.classes, run.evalBatchSize, input));
  const val = once(() => evaluateSplit(model, ds, labels.val, labels.classes, run.evalBatchSize, input));
  const predictions = once((): TestPredictions => {
    const C = labels.numClasses;
    const t = test();
    const prob = softmaxRows(t.logits, C);
    return {
      classes: [...labels.classes],
      index: Array.from(labels.test.index),
      label: Array.from(labels.test.label),
      pred: Array.from(t.preds),
      prob: Array.from({ length: labels.test.index.length }, (_, i) => Array.from(prob.subarray(i * C, (i + 1) * C), round4)),
    };
  });
  return { ...fields, test, val, predictions };
}
