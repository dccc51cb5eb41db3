import { z } from 'zod';

/**
 * Schemas of the evaluation results that run records carry (metrics.json, init.json, exported ferlab.json): the shapes
 * src/eval computes (metrics.ts, calibration.ts, cross.ts, stats.ts, tta.ts, transfer.ts). Plain `z.object`s: a reader
 * tolerates fields they do not name (src/records/io.ts keeps them).
 */

/** Precision, recall, F1 and support of one class (src/eval/metrics.ts). */
export const ClassMetricsSchema = z.object({
  class: z.string(),
  /** TP / (TP + FP); 0 when the class is never predicted. */
  precision: z.number(),
  /** TP / (TP + FN); 0 when the class has no images. */
  recall: z.number(),
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: z.number(),
  /** Images whose true label is this class. */
  support: z.number(),
});

/** Classification metrics of one model on one labelled image set (src/eval/metrics.ts computeMetrics). */
export const MetricsSchema = z.object({
  /** Class names, in label order (rows and columns of `confusion`). */
  classes: z.array(z.string()),
  /** Number of images scored. */
  n: z.number(),
  /** Fraction of images whose argmax prediction equals the label, in [0, 1]. */
  accuracy: z.number(),
  /** Unweighted mean of the per-class F1 over classes with support > 0. */
  macroF1: z.number(),
  perClass: z.array(ClassMetricsSchema),
  /** `[C][C]` counts, rows = true class, columns = predicted class. */
  confusion: z.array(z.array(z.number())),
});

/** One bin of a reliability diagram (src/eval/calibration.ts). */
export const ReliabilityBinSchema = z.object({
  lower: z.number(),
  upper: z.number(),
  count: z.number(),
  meanConfidence: z.number(),
  accuracy: z.number(),
});

/** Calibration summary of n predictions (src/eval/calibration.ts: ECE, MCE, bins). */
export const CalibrationReportSchema = z.object({
  n: z.number(),
  numBins: z.number(),
  ece: z.number(),
  mce: z.number(),
  accuracy: z.number(),
  meanConfidence: z.number(),
  bins: z.array(ReliabilityBinSchema),
});

/** Scores against the other label set on the same PrivateTest images (src/eval/cross.ts). */
export const CrossEvaluationSchema = z.object({
  from: z.enum(['fer', 'ferplus']),
  to: z.enum(['fer', 'ferplus']),
  /** Images excluded because their target label has no counterpart (FER+ contempt). */
  excluded: z.number(),
  metrics: MetricsSchema,
});

/** A percentile-bootstrap confidence interval of an accuracy (src/eval/stats.ts bootstrapAccuracy). */
export const AccuracyIntervalSchema = z.object({
  accuracy: z.number(),
  n: z.number(),
  /** Confidence level, e.g. 0.95. */
  level: z.number(),
  lower: z.number(),
  upper: z.number(),
  method: z.literal('percentile bootstrap (Efron & Tibshirani 1993, ch. 13.3)'),
  resamples: z.number(),
  seed: z.number(),
});

/** What a test-time-augmented prediction did (src/eval/tta.ts). */
export const TtaRecordSchema = z.object({
  tta: z.enum(['none', 'flip', 'tencrop']),
  /** Model inputs per image: 1, 2 or 10. */
  views: z.number(),
  /** Side of the square model input, in pixels. */
  crop: z.number(),
  average: z.enum(['probabilities', 'logits']),
});

/** How a model's outputs line up with a dataset's classes (src/eval/transfer.ts). */
export const ClassMappingSchema = z.object({
  rows: z.array(z.object({ datasetClass: z.string(), modelClass: z.string().nullable(), modelIndex: z.number().nullable() })),
  shared: z.array(z.string()),
  sharedOutputs: z.array(z.number()),
  unusedOutputs: z.array(z.string()),
  identity: z.boolean(),
});
