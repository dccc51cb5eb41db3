import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FERPLUS_CLASSES, FERPLUS_NUM_VOTES, USAGES } from '../data/classes';
import type { FerDataset } from '../data/dataset';
import { locateFerPlus } from '../data/ferplus';
import {
  describeFerPlusMatch,
  differingVotes,
  FERPLUS_TEST_LABEL_CANDIDATES,
  ferplusLabelUsage,
  matchFerPlusLabels,
  readFerPlusImageNames,
  readFerPlusLabelCsv,
  type FerPlusLabelMatch,
} from '../data/ferplus-label';
import { ferplusMajorityLabels, type SplitLabels } from '../data/labels';
import { DataError } from '../data/errors';
import { readSavedModelInfo } from '../models/init';
import { loadLayersModelFromDir } from '../models/io';
import { outputIsProbabilities, readPartialModelMeta } from '../records/model';
import { argmaxRows } from '../util/argmax';
import { computeMetrics, type Metrics } from './metrics';
import { predictLogits } from './predict';
import { bootstrapAccuracy, type AccuracyInterval } from './stats';
import { ensembleShift, predictProbabilitiesTTA, type TtaMode, type TtaRecord } from './tta';

/**
 * FER+ PrivateTest accuracy on either file of FER+ test labels: ferlab's own (majority labels of the repository's
 * fer2013new.csv, joined by row position) and the one the FER+ paper's trainer read (microsoft/FERPlus
 * `data/FER2013Test/label.csv`, joined by image name: src/data/ferplus-label.ts). Both through the same majority rule
 * (src/data/labels.ts ferplusMajorityLabels), the same metrics and the same bootstrap interval.
 */

/** Hard labels of the FER+ test images under one label file. */
export interface FerPlusTestLabelFile {
  /** Which file: `fer2013new.csv` or `label.csv`, and its path. */
  name: 'fer2013new.csv' | 'label.csv';
  path: string;
  /** The images with a majority label (dataset rows, FERPLUS_CLASSES indices) and how many were dropped. */
  labels: SplitLabels & { dropped: number };
}

/** Both FER+ test label files of a dataset, and how the label.csv was joined. */
export interface FerPlusTestLabels {
  files: [FerPlusTestLabelFile, FerPlusTestLabelFile];
  match: FerPlusLabelMatch;
  /** Matched label.csv rows whose votes differ from fer2013new.csv's. */
  differing: number;
}

/**
 * The label.csv of the test split in a data directory when none is named ({@link FERPLUS_TEST_LABEL_CANDIDATES}), or
 * undefined when there is none.
 */
export function defaultFerPlusTestLabelFile(dataDir: string): string | undefined {
  return FERPLUS_TEST_LABEL_CANDIDATES.map((c) => join(dataDir, c)).find((p) => existsSync(p));
}

/**
 * The two FER+ PrivateTest label files of a CSV dataset: fer2013new.csv's majority labels (every named PrivateTest
 * row: the test split of ferlab's FER+ label sets) and a label.csv's, matched to rows by image name.
 *
 * @param ds a FER2013 CSV dataset loaded with its FER+ votes. @param labelCsv path of the test split's label.csv.
 * @throws DataError when the dataset has no FER+ votes, the label.csv is malformed or names another split (by its
 *   path), or fer2013new.csv does not line up with the dataset.
 */
export async function loadFerPlusTestLabels(ds: FerDataset, labelCsv: string): Promise<FerPlusTestLabels> {
  const plus = ds.ferplus;
  if (ds.source.kind !== 'csv' || !plus)
    throw new DataError(ds.source.dataDir, undefined, 'FER+ test labels need the FER2013 CSV data with fer2013new.csv (the FER+ votes)');
  const usage = ferplusLabelUsage(labelCsv);
  if (usage !== undefined && usage !== 'PrivateTest')
    throw new DataError(labelCsv, undefined, `is the label file of ${usage} (by its name); the PrivateTest one is FER2013Test/label.csv`);
  const rows = readFerPlusLabelCsv(labelCsv);
  const plusPath = locateFerPlus(ds.source.dataDir);
  const names = await readFerPlusImageNames(plusPath);
  const match = matchFerPlusLabels(rows, 'PrivateTest', names, ds.usage);
  const test = USAGES.indexOf('PrivateTest');
  const named: number[] = [];
  for (let i = 0; i < ds.n; i++) if (ds.usage[i] === test && plus.named[i]) named.push(i);
  const index = Int32Array.from(named);
  const votes = new Uint8Array(index.length * FERPLUS_NUM_VOTES);
  index.forEach((r, k) => votes.set(plus.votes.subarray(r * FERPLUS_NUM_VOTES, (r + 1) * FERPLUS_NUM_VOTES), k * FERPLUS_NUM_VOTES));
  return {
    files: [
      { name: 'fer2013new.csv', path: plusPath, labels: ferplusMajorityLabels(index, votes) },
      { name: 'label.csv', path: labelCsv, labels: ferplusMajorityLabels(match.index, match.votes) },
    ],
    match,
    differing: differingVotes(match, plus.votes).length,
  };
}

/** Per-row predictions: dataset row and predicted class of each image. */
export interface PredictionTable {
  index: Int32Array;
  pred: Uint8Array;
}

/** Accuracy (with its 95% interval) and metrics of predictions on one set of labels. */
export interface LabelScore {
  metrics: Metrics;
  interval: AccuracyInterval;
}

/**
 * Scores a prediction table on labelled rows: every labelled row must have a prediction (extra predictions are
 * ignored). Metrics by src/eval/metrics.ts computeMetrics, interval by src/eval/stats.ts bootstrapAccuracy (95%
 * percentile bootstrap, 10,000 resamples, seed 20131: the intervals of run records).
 * @param classes class names of the label indices. @throws Error naming the first labelled rows without a prediction.
 */
export function scorePredictionTable(table: PredictionTable, labels: SplitLabels, classes: readonly string[]): LabelScore {
  if (table.index.length !== table.pred.length) throw new Error(`prediction table: ${table.index.length} rows but ${table.pred.length} predictions`);
  const at = new Map<number, number>();
  table.index.forEach((r, k) => at.set(r, table.pred[k]));
  const pred = new Uint8Array(labels.index.length);
  const without: number[] = [];
  labels.index.forEach((r, k) => {
    const p = at.get(r);
    if (p === undefined) without.push(r);
    else pred[k] = p;
  });
  if (without.length)
    throw new Error(
      `${without.length} labelled images have no prediction (dataset rows ${without.slice(0, 5).join(', ')}${without.length > 5 ? ', ...' : ''})`,
    );
  const metrics = computeMetrics(labels.label, pred, classes);
  const interval = bootstrapAccuracy(Array.from(pred, (p, k) => p === labels.label[k]));
  return { metrics, interval };
}

/** What {@link scoreFerPlusModel} measured. */
export interface FerPlusModelScores {
  modelDir: string;
  /** The TTA setting of the `tta` scores; null when TTA was not asked for. */
  tta: TtaRecord | null;
  /** Plain (one view) and TTA predictions on every row any label file names. */
  plain: PredictionTable;
  ttaPred: PredictionTable | null;
  /** Per label file (in the order given): the plain score and the TTA score (null without TTA). */
  scores: Array<{ file: FerPlusTestLabelFile; plain: LabelScore; tta: LabelScore | null }>;
}

/**
 * Predicts a saved FER+ model's classes for the images of the given label files (the union of their rows, one
 * forward pass per image, with the model's input spec), plain and with TTA, and scores both on each file.
 *
 * @param modelDir a model folder (model.json + ferlab.json: a run's model/, an exported or released model, an
 *   ensemble). @param opts.tta TTA mode ('none' = no TTA scores; default 'flip').
 * @throws Error when the model's classes are not the 8 FER+ classes in FERPLUS_CLASSES order, or it cannot be read.
 */
export async function scoreFerPlusModel(
  modelDir: string,
  ds: FerDataset,
  files: readonly FerPlusTestLabelFile[],
  opts: { tta?: TtaMode; batchSize?: number } = {},
): Promise<FerPlusModelScores> {
  const info = readSavedModelInfo(modelDir);
  if (!info.classes || info.classes.join() !== FERPLUS_CLASSES.join())
    throw new Error(
      `${modelDir}: FER+ test labels score a model of the 8 FER+ classes (${FERPLUS_CLASSES.join(', ')}); this one has ${info.classes?.join(', ') ?? 'no class names'}`,
    );
  const rows = Int32Array.from(new Set(files.flatMap((f) => Array.from(f.labels.index)))).sort();
  const meta = readPartialModelMeta(modelDir);
  const outputs = outputIsProbabilities(meta ?? {}) ? 'probabilities' : 'logits';
  const model = await loadLayersModelFromDir(modelDir);
  try {
    const C = FERPLUS_CLASSES.length;
    const plain: PredictionTable = { index: rows, pred: argmaxRows(predictLogits(model, ds.pixels, rows, opts.batchSize ?? 256, info.input), C) };
    const mode = opts.tta ?? 'flip';
    let tta: TtaRecord | null = null;
    let ttaPred: PredictionTable | null = null;
    if (mode !== 'none') {
      // an ensemble's ten-crop: shifted whole images under its members' inner centre crop (src/eval/tta.ts)
      const shift = mode === 'tencrop' && meta?.ensemble ? ensembleShift(meta.ensemble.members.map((m) => m.inputSpec)) : undefined;
      const r = predictProbabilitiesTTA(model, ds.pixels, rows, mode, shift !== undefined ? { shift, outputs } : { input: info.input, outputs });
      tta = r.record;
      ttaPred = { index: rows, pred: argmaxRows(r.probabilities, C) };
    }
    const scores = files.map((file) => ({
      file,
      plain: scorePredictionTable(plain, file.labels, FERPLUS_CLASSES),
      tta: ttaPred ? scorePredictionTable(ttaPred, file.labels, FERPLUS_CLASSES) : null,
    }));
    return { modelDir, tta, plain, ttaPred, scores };
  } finally {
    model.dispose();
  }
}

/** The lines that report {@link scoreFerPlusModel}'s scores: one per label file, naming the file, then how label.csv was joined. */
export function describeFerPlusScores(s: FerPlusModelScores, labels: FerPlusTestLabels): string[] {
  const p = (x: number) => `${(100 * x).toFixed(2)}%`;
  const score = (l: LabelScore) => `${p(l.interval.accuracy)} (${p(l.interval.lower)}-${p(l.interval.upper)}), macro-F1 ${l.metrics.macroF1.toFixed(3)}`;
  const what = {
    'fer2013new.csv': "ferlab's labels (repository's current votes, joined by row)",
    'label.csv': "the FER+ paper's trainer's labels (joined by image name)",
  };
  const lines = s.scores.map(
    (x) =>
      `  ${x.file.name} (${what[x.file.name]}; ${x.file.path}): ${x.file.labels.index.length} images (${x.file.labels.dropped} without a majority emotion dropped); plain ${score(x.plain)}` +
      (x.tta ? `; TTA ${s.tta!.tta} ${score(x.tta)}` : ''),
  );
  return [
    `FER+ PrivateTest accuracy of ${s.modelDir} on two test label files (95% bootstrap intervals, 10,000 resamples):`,
    ...lines,
    `  label.csv: ${describeFerPlusMatch(labels.match)}; ${labels.differing} matched images have other votes than in fer2013new.csv`,
  ];
}
