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
export type ClassMetrics = z.infer<typeof ClassMetricsSchema>;
export type Metrics = z.infer<typeof MetricsSchema>;

/** One bin of a reliability diagram (Guo et al. 2017 fig. 1, bottom; src/eval/calibration.ts): confidence interval (lower, upper]. */
export const ReliabilityBinSchema = z.object({
  /** Bin edges in [0, 1]: the bin holds confidences in (lower, upper] (the first bin also holds 0). */
  lower: z.number(),
  upper: z.number(),
  /** Predictions whose confidence falls in the bin. */
  count: z.number(),
  /** Mean confidence of those predictions, conf(B); 0 for an empty bin. */
  meanConfidence: z.number(),
  /** Fraction of them that are correct, acc(B); 0 for an empty bin. */
  accuracy: z.number(),
});
export type ReliabilityBin = z.infer<typeof ReliabilityBinSchema>;

/** Calibration summary of n predictions (src/eval/calibration.ts); plain numbers, ready for metrics.json and for plotting. */
export const CalibrationReportSchema = z.object({
  /** Number of predictions. */
  n: z.number(),
  /** Number of equal-width bins M. */
  numBins: z.number(),
  /** Expected calibration error, sum_b |B_b| / n * |acc(B_b) - conf(B_b)|, in [0, 1]. */
  ece: z.number(),
  /** Maximum calibration error, max over non-empty bins of |acc(B_b) - conf(B_b)|, in [0, 1]. */
  mce: z.number(),
  /** Overall accuracy and mean confidence, in [0, 1]. */
  accuracy: z.number(),
  meanConfidence: z.number(),
  /** `[M]` bins, lowest confidence first; their counts sum to n. */
  bins: z.array(ReliabilityBinSchema),
});
export type CalibrationReport = z.infer<typeof CalibrationReportSchema>;

/**
 * Scores against the other label set on the same PrivateTest images (src/eval/cross.ts crossEvaluate): metrics over
 * the 7 shared classes, in the target label set's class order and names.
 */
export const CrossEvaluationSchema = z.object({
  /** Label set the model was trained on and the one it is scored against. */
  from: z.enum(['fer', 'ferplus']),
  to: z.enum(['fer', 'ferplus']),
  /** Images excluded because their target label has no counterpart (FER+ contempt). */
  excluded: z.number(),
  metrics: MetricsSchema,
});
export type CrossEvaluation = z.infer<typeof CrossEvaluationSchema>;

/** A percentile-bootstrap confidence interval of an accuracy (src/eval/stats.ts bootstrapAccuracy). */
export const AccuracyIntervalSchema = z.object({
  /** Accuracy on the images, in [0, 1]. */
  accuracy: z.number(),
  /** Number of images. */
  n: z.number(),
  /** Confidence level, e.g. 0.95. */
  level: z.number(),
  /** Interval bounds, in [0, 1]. */
  lower: z.number(),
  upper: z.number(),
  method: z.literal('percentile bootstrap (Efron & Tibshirani 1993, ch. 13.3)'),
  resamples: z.number(),
  seed: z.number(),
});
export type AccuracyInterval = z.infer<typeof AccuracyIntervalSchema>;

/** The test-time augmentation modes (src/eval/tta.ts). */
export const TTA_MODES = ['none', 'flip', 'tencrop'] as const;

/** What a TTA prediction did, for metrics.json (src/eval/tta.ts): e.g. `{ tta: 'flip', views: 2, crop: 48, average: 'probabilities' }`. */
export const TtaRecordSchema = z.object({
  tta: z.enum(TTA_MODES),
  /** Model inputs per image: 1, 2 or 10. */
  views: z.number(),
  /** Side of the square model input, in pixels. */
  crop: z.number(),
  /** How the views' predictions are combined (src/eval/tta.ts). */
  average: z.enum(['probabilities', 'logits']),
  /**
   * Present for shifted views (src/eval/tta.ts): the side of the centre window the model crops inside its graph; the
   * views are the whole image translated so that the mode's windows of this side land on that centre window.
   */
  shift: z.number().optional(),
});
export type TtaRecord = z.infer<typeof TtaRecordSchema>;

/** How a model's outputs line up with a dataset's classes (src/eval/transfer.ts). */
export const ClassMappingSchema = z.object({
  /** One row per dataset class (dataset order): the model output of the same emotion, or null when the model lacks it. */
  rows: z.array(z.object({ datasetClass: z.string(), modelClass: z.string().nullable(), modelIndex: z.number().nullable() })),
  /** Dataset classes the model can predict (dataset order): the classes of the metrics. */
  shared: z.array(z.string()),
  /** Model output index of each shared class. */
  sharedOutputs: z.array(z.number()),
  /** Model outputs with no dataset counterpart (never predicted here). */
  unusedOutputs: z.array(z.string()),
  /** True when the model's classes are the dataset's, in the same order (a plain evaluation). */
  identity: z.boolean(),
});
export type ClassMapping = z.infer<typeof ClassMappingSchema>;
