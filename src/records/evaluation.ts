import { join } from 'node:path';
import { z } from 'zod';
import { readRecord, writeRecord } from './io';
import { ClassMappingSchema, MetricsSchema } from './metrics';
import { InputSpecFieldSchema, LabelSetNameSchema, METRICS_FILE, PREDICTIONS_FILE, TestPredictionsSchema } from './run';

/**
 * The records of a cross-dataset evaluation folder (`ferlab evaluate --model`, src/cli/evaluate.ts): metrics.json (the
 * model, data, mapping and metrics) and predictions.json (per image, with the image file for folder datasets). Same
 * file names as a run record's (src/records/run.ts METRICS_FILE, PREDICTIONS_FILE), other content.
 */

/** What ferlab knows of a saved model folder (src/models/init.ts readSavedModelInfo; metrics.json `model`, init.json). */
export const SavedModelInfoSchema = z.object({
  /** Folder holding model.json. */
  dir: z.string(),
  /** Class names in output order, or null when the folder does not say. */
  classes: z.array(z.string()).nullable(),
  /** Registered architecture (`deep`, `baseline`, ...), or null when unknown. */
  model: z.string().nullable(),
  /** Label set it was trained on (`fer`, `majority`, ...), or null. */
  labelSet: z.string().nullable(),
  /** SHA-1 of its weight files (in manifest order): identifies the weights a run started from. */
  weightsSha1: z.string(),
  /** The input spec it was trained with (ferlab.json `inputSpec`; absent = the default, 48x48 and pixel / 255). */
  input: InputSpecFieldSchema,
});
export type SavedModelInfo = z.infer<typeof SavedModelInfoSchema>;

/** metrics.json of an evaluation folder. */
export const EvalRecordSchema = z.object({
  /** The saved model scored. */
  model: SavedModelInfoSchema,
  /** Classes of the model's outputs, and whether they were assumed from the number of outputs. */
  modelClasses: z.array(z.string()),
  classesAssumed: z.boolean(),
  /** The dataset's provenance: CSV (MD5) or folder (layout, splits, class map, list SHA-1). */
  data: z.record(z.string(), z.unknown()),
  labels: LabelSetNameSchema,
  split: z.enum(['train', 'val', 'test', 'all']),
  /** `--limit`: first n images of the split, or null for all. */
  limit: z.number().nullable(),
  mapping: ClassMappingSchema,
  /** Images scored and images left out (true class not among the model's). */
  n: z.number(),
  excluded: z.number(),
  metrics: MetricsSchema,
});
export type EvalRecord = z.infer<typeof EvalRecordSchema>;

/** predictions.json of an evaluation folder: a run's per-image predictions plus, for folder datasets, the image files. */
export const EvalPredictionsSchema = TestPredictionsSchema.extend({ file: z.array(z.string()).optional() });
export type EvalPredictions = z.infer<typeof EvalPredictionsSchema>;

/** Writes an evaluation folder's metrics.json and predictions.json. */
export function writeEvalRecords(dir: string, record: EvalRecord, predictions: EvalPredictions): void {
  writeRecord(join(dir, METRICS_FILE), record);
  writeRecord(join(dir, PREDICTIONS_FILE), predictions);
}

/** An evaluation folder's metrics.json. @throws RecordError naming the file and field when missing or malformed. */
export function readEvalRecord(dir: string): EvalRecord {
  return readRecord(EvalRecordSchema, join(dir, METRICS_FILE));
}

/** An evaluation folder's predictions.json. @throws RecordError naming the file and field when missing or malformed. */
export function readEvalPredictions(dir: string): EvalPredictions {
  return readRecord(EvalPredictionsSchema, join(dir, PREDICTIONS_FILE));
}
