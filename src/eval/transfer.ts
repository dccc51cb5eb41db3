import type * as tf from '@tensorflow/tfjs';
import { FER_CLASSES, FERPLUS_CLASSES } from '../data/classes';
import type { FerDataset } from '../data/dataset';
import { CLASS_ALIASES } from '../data/folder';
import { DEFAULT_INPUT, type InputSpec } from '../data/input';
import { buildLabelSet, sliceSplit, type LabelSetName, type SplitLabels } from '../data/labels';
import { loadLayersModelFromDir } from '../models/io';
import { readSavedModelInfo, resolveModelRef, type SavedModelInfo } from '../models/init';
import { outputIsProbabilities, readPartialModelMeta } from '../records/model';
import { argmaxRows } from '../util/argmax';
import { computeMetrics, type Metrics } from './metrics';
import { predictLogits, softmaxRows } from './predict';

/**
 * Cross-dataset evaluation: any saved model scored on any dataset (FER2013 CSV, FER+ labels, an image-folder dataset)
 * over the classes the two share, matched by emotion name (FER's angry = FER+'s anger, happy = happiness, sad =
 * sadness; the folder-name aliases of src/data/folder.ts CLASS_ALIASES). Model outputs without a counterpart are left
 * out of the argmax; images whose true class the model cannot predict are left out of the metrics and counted.
 * (For FER2013 vs FER+ on the same images, src/eval/cross.ts does the same for training runs.)
 */

/** Canonical emotion of a class name: `happiness` -> `happy`, `anger` -> `angry`, ...; other names lower-cased. */
export function canonicalEmotion(name: string): string {
  return CLASS_ALIASES[name.toLowerCase()] ?? name.toLowerCase();
}

/** How a model's outputs line up with a dataset's classes: a record type (metrics.json), schema in src/records/metrics.ts. */
import type { ClassMapping } from '../records/metrics';
export type { ClassMapping } from '../records/metrics';

/**
 * Matches model outputs to dataset classes by canonical emotion name.
 * @throws Error listing both class sets when they share no class.
 */
export function mapClasses(modelClasses: readonly string[], datasetClasses: readonly string[]): ClassMapping {
  const canon = modelClasses.map(canonicalEmotion);
  const rows = datasetClasses.map((d) => {
    const j = canon.indexOf(canonicalEmotion(d));
    return { datasetClass: d, modelClass: j >= 0 ? modelClasses[j] : null, modelIndex: j >= 0 ? j : null };
  });
  const shared = rows.filter((r) => r.modelIndex !== null);
  if (!shared.length) throw new Error(`the model's classes (${modelClasses.join(', ')}) and the dataset's (${datasetClasses.join(', ')}) share no emotion`);
  const used = new Set(shared.map((r) => r.modelIndex));
  return {
    rows,
    shared: shared.map((r) => r.datasetClass),
    sharedOutputs: shared.map((r) => r.modelIndex!),
    unusedOutputs: modelClasses.filter((_, j) => !used.has(j)),
    identity: modelClasses.length === datasetClasses.length && modelClasses.every((c, i) => c === datasetClasses[i]),
  };
}

/** A model scored on a dataset split through a {@link ClassMapping}. */
export interface DatasetEvaluation {
  mapping: ClassMapping;
  /** Images scored (true class shared) and images left out (true class not among the model's). */
  n: number;
  excluded: number;
  /** Metrics over `mapping.shared`, in dataset order; confusion rows = true class. */
  metrics: Metrics;
  /** Per scored image: dataset row, true and predicted class (indices into `mapping.shared`). */
  index: Int32Array;
  label: Uint8Array;
  pred: Uint8Array;
  /** `[n, shared.length]` softmax over the shared outputs (renormalised over those classes). */
  prob: Float32Array;
}

/**
 * Scores a model on labelled images of a dataset through the class mapping.
 * @param modelClasses the model's output classes. @param split rows and labels (label = index into `datasetClasses`).
 * @param batchSize images per forward pass. @param input the model's input spec (SavedModelInfo.input; default the
 *   default spec). @param outputs what the model outputs: 'logits' (default; `prob` is their softmax over the shared
 *   classes) or 'probabilities' (an ensemble averaging probabilities: `prob` is them renormalised over the shared classes).
 * @throws Error when the two class sets share no class, or the model does not take the spec's inputs.
 */
export function evaluateMapped(
  model: tf.LayersModel,
  modelClasses: readonly string[],
  pixels: Uint8Array,
  split: SplitLabels,
  datasetClasses: readonly string[],
  batchSize = 256,
  input: Readonly<InputSpec> = DEFAULT_INPUT,
  outputs: 'logits' | 'probabilities' = 'logits',
): DatasetEvaluation {
  const mapping = mapClasses(modelClasses, datasetClasses);
  const toShared = datasetClasses.map((c) => mapping.shared.indexOf(c));
  const keep: number[] = [];
  split.label.forEach((l, i) => {
    if (toShared[l] >= 0) keep.push(i);
  });
  const index = Int32Array.from(keep, (i) => split.index[i]);
  const label = Uint8Array.from(keep, (i) => toShared[split.label[i]]);
  const C = modelClasses.length;
  const logits = predictLogits(model, pixels, index, batchSize, input);
  const out = model.outputs[0].shape[1];
  if (out !== C) throw new Error(`the model has ${out} outputs but names ${C} classes (${modelClasses.join(', ')})`);
  const S = mapping.shared.length;
  const sub = new Float32Array(index.length * S);
  for (let i = 0; i < index.length; i++) for (let k = 0; k < S; k++) sub[i * S + k] = logits[i * C + mapping.sharedOutputs[k]];
  const pred = argmaxRows(sub, S);
  return {
    mapping,
    n: index.length,
    excluded: split.index.length - index.length,
    metrics: computeMetrics(label, pred, mapping.shared),
    index,
    label,
    pred,
    prob: outputs === 'probabilities' ? renormalizeRows(sub, S) : softmaxRows(sub, S),
  };
}

/** Each row of `[n, S]` non-negative values divided by its sum (float64 sum). */
function renormalizeRows(p: Float32Array, S: number): Float32Array {
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i += S) {
    let s = 0;
    for (let k = 0; k < S; k++) s += p[i + k];
    for (let k = 0; k < S; k++) out[i + k] = s > 0 ? p[i + k] / s : 1 / S;
  }
  return out;
}

/** Splits {@link evaluateSavedModel} can score: a split of the label set, or every labelled image. */
export type EvalSplit = 'train' | 'val' | 'test' | 'all';

/** The label set a saved model is scored against on `ds`: FER+ majority labels for a FER+ model when the data has votes, else `fer`. */
export function defaultEvalLabels(ds: FerDataset, info: Pick<SavedModelInfo, 'labelSet' | 'classes'>): LabelSetName {
  const ferplusModel = (info.labelSet !== null && info.labelSet !== 'fer') || info.classes?.includes('contempt');
  return ferplusModel && ds.ferplus ? 'majority' : 'fer';
}

/** The labelled images of a split of a label set (`all`: every split, in row order), first `limit` when given. */
export function evalSplitLabels(
  ds: FerDataset,
  labels: LabelSetName,
  split: EvalSplit,
  limit: number | null = null,
): { classes: readonly string[]; split: SplitLabels } {
  const ls = buildLabelSet(ds, labels);
  let s: SplitLabels;
  if (split === 'all') {
    const parts = [ls.train, ls.val, ls.test];
    const idx = parts.flatMap((p) => Array.from(p.index));
    const lab = parts.flatMap((p) => Array.from(p.label));
    const order = idx.map((_, i) => i).sort((a, b) => idx[a] - idx[b]);
    s = { index: Int32Array.from(order, (i) => idx[i]), label: Uint8Array.from(order, (i) => lab[i]) };
  } else s = { index: ls[split].index, label: ls[split].label };
  return { classes: ls.classes, split: sliceSplit(s, limit, ls.numClasses) };
}

/** The classes of a saved model: its metadata, else 7 outputs = FER2013 classes, 8 = FER+ classes. */
export function savedModelClasses(info: SavedModelInfo, outputs: number): { classes: string[]; assumed: boolean } {
  if (info.classes) return { classes: info.classes, assumed: false };
  if (outputs === FER_CLASSES.length) return { classes: [...FER_CLASSES], assumed: true };
  if (outputs === FERPLUS_CLASSES.length) return { classes: [...FERPLUS_CLASSES], assumed: true };
  throw new Error(
    `${info.dir}: the model names no classes (no ferlab.json, no classes in model.json) and has ${outputs} outputs; cannot match them to the dataset`,
  );
}

/** What {@link evaluateSavedModel} returns. */
export interface SavedModelEvaluation extends DatasetEvaluation {
  model: SavedModelInfo;
  /** Classes of the model's outputs and whether they were assumed from the number of outputs. */
  modelClasses: string[];
  classesAssumed: boolean;
  labels: LabelSetName;
  split: EvalSplit;
}

/**
 * Loads a saved or exported model (a run folder, a model folder with model.json, models/<name>, or <experiment>/<run>:
 * src/models/init.ts resolveModelRef) and scores it on a split of a dataset through the class mapping.
 * @param opts.labels label set of the dataset (default {@link defaultEvalLabels}); opts.split default `test`;
 *   opts.limit first n images of the split; opts.batchSize images per forward pass.
 * @throws Error when the model cannot be found or read, or shares no class with the dataset; DataError for a FER+
 *   label set on data without votes.
 */
export async function evaluateSavedModel(
  ref: string,
  ds: FerDataset,
  opts: { labels?: LabelSetName; split?: EvalSplit; limit?: number | null; batchSize?: number; runsDirs?: string[] } = {},
): Promise<SavedModelEvaluation> {
  const dir = resolveModelRef(ref, { runsDirs: opts.runsDirs });
  const info = readSavedModelInfo(dir);
  const model = await loadLayersModelFromDir(dir);
  try {
    const { classes, assumed } = savedModelClasses(info, model.outputs[0].shape[1] as number);
    const labels = opts.labels ?? defaultEvalLabels(ds, info);
    const split = opts.split ?? 'test';
    const target = evalSplitLabels(ds, labels, split, opts.limit ?? null);
    const outputs = outputIsProbabilities(readPartialModelMeta(dir) ?? {}) ? 'probabilities' : 'logits';
    const ev = evaluateMapped(model, classes, ds.pixels, target.split, target.classes, opts.batchSize, info.input, outputs);
    return { ...ev, model: info, modelClasses: classes, classesAssumed: assumed, labels, split };
  } finally {
    model.dispose();
  }
}
