import { join } from 'node:path';
import { z } from 'zod';
import type { InputSpec } from '../data/input';
import type { LabelSetName } from '../data/labels';
import type { Environment } from '../util/env';
import { parseRecord, readJsonLines, readRecord, readRecordIfExists, writeJsonLines, writeRecord } from './io';
import { AccuracyIntervalSchema, CalibrationReportSchema, ClassMappingSchema, CrossEvaluationSchema, MetricsSchema, TtaRecordSchema } from './metrics';

/**
 * The records of one run (a run record folder, written by src/exp/run.ts): config.json, status.json, epochs.jsonl,
 * metrics.json, predictions.json, init.json, and the per-epoch checkpoint's header (checkpoint.bin, src/train/
 * checkpoint.ts). For each: its file name, its schema, and a read / write pair (src/records/io.ts).
 */

/** File names inside a run record folder. */
export const CONFIG_FILE = 'config.json';
export const STATUS_FILE = 'status.json';
export const EPOCHS_FILE = 'epochs.jsonl';
export const METRICS_FILE = 'metrics.json';
export const PREDICTIONS_FILE = 'predictions.json';
export const INIT_FILE = 'init.json';
/** File name of a run's per-epoch checkpoint inside its record folder. */
export const CHECKPOINT_FILE = 'checkpoint.bin';
/** Subfolder of a run record holding the trained model (model.json, weights, ferlab.json). */
export const MODEL_SUBDIR = 'model';

/** A label set name (src/data/labels.ts LABEL_SETS); checked as a string here, the layer below knows the list. */
export const LabelSetNameSchema = z.custom<LabelSetName>((v) => typeof v === 'string' && v.length > 0, 'expected a label set name');
/** An object field whose content a lower layer checks (an input spec: src/data/input.ts recordedInputSpec). */
export const InputSpecFieldSchema = z.custom<InputSpec>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an input spec object');
/** The environment of a run or export (src/util/env.ts environment()). */
export const EnvironmentSchema = z.custom<Environment>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an environment object');
/** Images per split: a number, or null for all. */
export const SliceSchema = z.object({ train: z.number().nullable(), val: z.number().nullable(), test: z.number().nullable() });

// --- status.json -------------------------------------------------------------------------------------------------

/** The state of a run record (`status.json`). */
export const RunStatusSchema = z.object({
  /**
   * `running` (or interrupted: a killed run stays `running` until resumed), `complete`, `failed`, or `pruned` (stopped
   * early by a sweep's pruner after `epoch`: its record keeps config.json and epochs.jsonl, and has no metrics.json,
   * predictions or model).
   */
  state: z.enum(['running', 'complete', 'failed', 'pruned']),
  /** Last finished epoch (1-based; for `failed`, the epoch the error happened in; for `pruned`, the last epoch trained), null before the first. */
  epoch: z.number().int().nullable(),
  /** For `failed`: the error message. */
  error: z.string().optional(),
  /** ISO time of this status (always written by {@link writeRunStatus}; optional for hand-made records). */
  updated: z.string().optional(),
});
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** Writes `status.json` of a run record atomically, stamped with the time now (`updated`, ISO). */
export function writeRunStatus(dir: string, status: Omit<RunStatus, 'updated'>): void {
  writeRecord(join(dir, STATUS_FILE), { ...status, updated: new Date().toISOString() });
}

/** A run record's status, or undefined when it has none (never started). @throws RecordError for a malformed one. */
export function readRunStatus(dir: string): RunStatus | undefined {
  return readRecordIfExists(RunStatusSchema, join(dir, STATUS_FILE));
}

// --- epochs.jsonl ------------------------------------------------------------------------------------------------

/** Metrics of one epoch (a line of the run record's epochs.jsonl; src/train/loop.ts). */
export const EpochRecordSchema = z.object({
  /** 1-based epoch. */
  epoch: z.number().int().min(1),
  /** Mean training loss over the epoch's steps. */
  trainLoss: z.number(),
  /** Training accuracy (argmax vs. the hard label) over the epoch, with dropout and augmentation on. */
  trainAccuracy: z.number(),
  /** Validation (PublicTest) cross-entropy against hard labels. */
  valLoss: z.number(),
  valAccuracy: z.number(),
  valMacroF1: z.number(),
  /** Learning rate at the epoch's last step. */
  lr: z.number(),
  /** Wall time of the epoch's training steps (s) and of its validation (s). */
  trainSeconds: z.number(),
  valSeconds: z.number(),
  /** Training throughput over the epoch (images/s). */
  imagesPerSec: z.number(),
});
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

/** Writes a run's epochs.jsonl (one compact JSON line per epoch), replacing it. */
export function writeEpochs(dir: string, history: readonly EpochRecord[]): void {
  writeJsonLines(join(dir, EPOCHS_FILE), history);
}

/** Per-epoch records of a run (its epochs.jsonl). @throws RecordError naming file:line and field for a bad line. */
export function readEpochs(dir: string): EpochRecord[] {
  return readJsonLines(EpochRecordSchema, join(dir, EPOCHS_FILE));
}

// --- predictions.json --------------------------------------------------------------------------------------------

/** Per-image PrivateTest predictions of a run (predictions.json), for galleries and confusion analysis. */
export const TestPredictionsSchema = z.object({
  classes: z.array(z.string()),
  /** Dataset row of each test image. */
  index: z.array(z.number()),
  label: z.array(z.number()),
  pred: z.array(z.number()),
  /** Softmax probabilities, rounded to 4 decimals, `[n][C]`. */
  prob: z.array(z.array(z.number())),
});
export type TestPredictions = z.infer<typeof TestPredictionsSchema>;

/** Writes a run's predictions.json. */
export function writePredictions(dir: string, predictions: TestPredictions): void {
  writeRecord(join(dir, PREDICTIONS_FILE), predictions);
}

/** A run's predictions.json. @throws RecordError naming the file and field when missing or malformed. */
export function readPredictions(dir: string): TestPredictions {
  return readRecord(TestPredictionsSchema, join(dir, PREDICTIONS_FILE));
}

// --- init.json ---------------------------------------------------------------------------------------------------

/**
 * The start of a fine-tuning run (`init.json` of its record, and `init` in metrics.json): the saved model its weights
 * came from, and that model's scores on the run's own PublicTest (val) and PrivateTest (test) images before any
 * training (cross-dataset, zero-shot: its outputs matched to the run's classes by emotion name, src/eval/transfer.ts).
 */
export const RunInitSchema = z.object({
  /** The `initFrom` setting and the model folder it resolved to. */
  ref: z.string(),
  dir: z.string(),
  /** SHA-1 of the saved weights, its architecture, label set and classes. */
  weightsSha1: z.string(),
  model: z.string().nullable(),
  labelSet: z.string().nullable(),
  classes: z.array(z.string()),
  /** Whether the classifier head started fresh (the saved model's classes differ from the run's). */
  headReplaced: z.boolean(),
  /** The `freeze` setting. */
  freeze: z.string(),
  /** Zero-shot scores of the saved model on this run's images, over the shared classes; null when none are shared. */
  before: z
    .object({
      mapping: ClassMappingSchema,
      val: MetricsSchema,
      test: MetricsSchema,
      excluded: z.object({ val: z.number(), test: z.number() }),
    })
    .nullable(),
});
export type RunInit = z.infer<typeof RunInitSchema>;

/** Writes a run's init.json. */
export function writeRunInit(dir: string, init: RunInit): void {
  writeRecord(join(dir, INIT_FILE), init);
}

/** A run's init.json, or undefined when it has none. @throws RecordError for a malformed one. */
export function readRunInit(dir: string): RunInit | undefined {
  return readRecordIfExists(RunInitSchema, join(dir, INIT_FILE));
}

// --- metrics.json ------------------------------------------------------------------------------------------------

/** The final numbers of one run (metrics.json of its record, and a row of the experiment table). */
export const RunSummarySchema = z.object({
  name: z.string(),
  /** The run spec of a multi-seed run (`seeds`): its runs are summarised as mean +- std. */
  group: z.string().optional(),
  model: z.string(),
  labels: LabelSetNameSchema,
  /** Images per split actually used (after the slice). */
  sizes: z.object({ train: z.number(), val: z.number(), test: z.number() }),
  epochs: z.number(),
  bestEpoch: z.number(),
  stoppedEarly: z.boolean(),
  /** Training-step time (s), total run time including evaluation and saving (s), and training images/s. */
  trainSeconds: z.number(),
  wallSeconds: z.number(),
  imagesPerSec: z.number(),
  /** Data-parallel replicas the run trained with (src/train/parallel.ts); absent = 1. */
  replicas: z.number().optional(),
  /** Best-epoch validation (PublicTest) and test (PrivateTest) metrics. */
  val: MetricsSchema,
  test: MetricsSchema,
  /** Scored against the other label set on the same PrivateTest images; null without FER+ votes (or with the run's `evaluators` setting leaving out 'cross'). */
  cross: CrossEvaluationSchema.nullable(),
  /** Folder of the run record. */
  dir: z.string(),
  /** 95% percentile-bootstrap interval of the PrivateTest accuracy (src/eval/stats.ts bootstrapAccuracy). */
  testInterval: AccuracyIntervalSchema.optional(),
  /**
   * Calibration (Guo et al. 2017): the temperature T fitted on PublicTest logits (never PrivateTest), PublicTest NLL
   * before and after, and PrivateTest reliability (ECE, MCE, bins) of softmax(logits) and of softmax(logits / T).
   * T is stored with the model (ferlab.json `temperature`) and prediction uses it.
   */
  calibration: z
    .object({
      temperature: z.number(),
      fittedOn: z.literal('PublicTest'),
      valNllBefore: z.number(),
      valNllAfter: z.number(),
      test: CalibrationReportSchema,
      testScaled: CalibrationReportSchema,
    })
    .optional(),
  /**
   * Test-time augmentation (setting `tta`): the PublicTest and PrivateTest metrics of the TTA-averaged probabilities
   * of the same best-epoch model; `val` / `test` above stay the plain single-view scores.
   */
  tta: TtaRecordSchema.extend({ val: MetricsSchema, test: MetricsSchema, testInterval: AccuracyIntervalSchema }).optional(),
  /** Folder datasets: unreadable images skipped with --skip-bad (their list is in config.json). */
  skippedImages: z.number().optional(),
  /** Fine-tuning runs (`initFrom`): the model started from and its zero-shot scores before training. */
  init: RunInitSchema.optional(),
  /**
   * Setting `ema` (src/train/ema.ts): the saved model, `val` (and the best epoch's selection) and `test` are those of
   * the exponential moving average of the weights, after `updates` optimizer steps.
   */
  ema: z.object({ decay: z.number(), warmup: z.boolean(), updates: z.number(), finalModel: z.literal('averaged weights') }).optional(),
  /**
   * Setting `distill` (src/train/distill.ts): the teacher models used (folder, SHA-1 of their weights, input spec),
   * how their targets were made and combined, and for 'cached' the seconds their predictions of the training split
   * took in the last session.
   */
  distill: z
    .object({
      teachers: z.array(z.object({ dir: z.string(), weightsSha1: z.string(), inputSpec: z.object({ size: z.number(), resize: z.string(), normalize: z.string() }) })),
      mode: z.enum(['cached', 'batch']),
      temperature: z.number(),
      alpha: z.number(),
      combine: z.literal('log of the mean probability'),
      cacheSeconds: z.number().optional(),
    })
    .optional(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** Writes a run's metrics.json. */
export function writeRunSummary(dir: string, summary: RunSummary): void {
  writeRecord(join(dir, METRICS_FILE), summary);
}

/** A run's metrics.json. @throws RecordError naming the file and field when missing or malformed. */
export function readRunSummary(dir: string): RunSummary {
  return readRecord(RunSummarySchema, join(dir, METRICS_FILE));
}

// --- config.json -------------------------------------------------------------------------------------------------

/**
 * What every reader of config.json `run` relies on: the run's identity, label set and slice. The full resolved run
 * (src/exp/config.ts RunConfig, its settings) is checked by the layer that knows the settings: pass its schema to
 * {@link readRunConfigFile}.
 */
export const RunIdentitySchema = z.object({
  experiment: z.string(),
  name: z.string(),
  model: z.string(),
  labels: LabelSetNameSchema,
  slice: SliceSchema,
});

/**
 * The least a config.json `run` names: experiment, run name and slice, each optional (for readers that only look
 * for a run, such as src/export/release.ts, and tolerate records that lack them).
 */
export const RunRefSchema = z.object({
  experiment: z.string().optional(),
  name: z.string().optional(),
  slice: z.record(z.string(), z.number().nullable()).optional(),
});

/** A run record's config.json, with `run` checked by `run` (see {@link RunConfigFileSchema}). */
export function runConfigFileSchema<R extends z.ZodType>(run: R) {
  return z.object({
    /** The resolved run (src/exp/config.ts RunConfig). */
    run,
    model: z.object({ name: z.string(), description: z.string() }).optional(),
    labelSet: z
      .object({
        name: z.string(),
        classes: z.array(z.string()),
        loss: z.string(),
        sampleOneHot: z.boolean(),
        sizes: z.object({ train: z.number(), val: z.number(), test: z.number() }),
      })
      .optional(),
    /** The input transform in words (src/data/input.ts describeInput). */
    preprocessing: z.string().optional(),
    /** The model's input spec, when not the default. */
    inputSpec: InputSpecFieldSchema.optional(),
    /** Data provenance: the CSV files' MD5 and stamps, or a folder dataset's (src/exp/run.ts dataProvenance). */
    data: z.record(z.string(), z.unknown()).optional(),
    /** Fine-tuning runs: init.json with `before` reduced to the val / test accuracies. */
    init: z.record(z.string(), z.unknown()).optional(),
    environment: EnvironmentSchema.optional(),
  });
}

/** config.json of a run record, `run` checked for its identity, label set and slice ({@link RunIdentitySchema}). */
export const RunConfigFileSchema = runConfigFileSchema(RunIdentitySchema);
export type RunConfigFile = z.infer<typeof RunConfigFileSchema>;

/** Writes a run's config.json (the object as built by src/exp/run.ts, key order kept). */
export function writeRunConfigFile(dir: string, config: { run: unknown } & Record<string, unknown>): void {
  writeRecord(join(dir, CONFIG_FILE), config);
}

/**
 * A run record's config.json, its `run` checked by `runSchema` (default {@link RunIdentitySchema}).
 * @throws RecordError naming the file and field when missing or malformed.
 */
export function readRunConfigFile(dir: string): RunConfigFile;
export function readRunConfigFile<R extends z.ZodType>(dir: string, runSchema: R): z.infer<ReturnType<typeof runConfigFileSchema<R>>>;
export function readRunConfigFile(dir: string, runSchema: z.ZodType = RunIdentitySchema): unknown {
  return readRecord(runConfigFileSchema(runSchema), join(dir, CONFIG_FILE));
}

// --- checkpoint.bin header ---------------------------------------------------------------------------------------

/**
 * The JSON header of a checkpoint.bin (src/train/checkpoint.ts): the run's state at the end of an epoch, arrays
 * replaced by indices into `blobs` (their dtype and length, in file order) and the SHA-1 of the arrays' bytes.
 */
export const CheckpointHeaderSchema = z.object({
  fingerprint: z.string(),
  epoch: z.number().int(),
  step: z.number().int(),
  stopped: z.boolean(),
  trainSeconds: z.number(),
  images: z.number(),
  history: z.array(z.unknown()),
  weights: z.array(z.number().int()),
  optimizer: z.object({ step: z.number(), m: z.array(z.number().int()), v: z.array(z.number().int()) }),
  batches: z.object({ order: z.number().int(), rng: z.tuple([z.number(), z.number(), z.number(), z.number()]) }),
  dropout: z.array(z.number()),
  best: z.object({ epoch: z.number(), accuracy: z.number(), metrics: z.unknown(), weights: z.array(z.number().int()) }),
  replicas: z.number().int().optional(),
  /** Setting `ema`: blob indices of the averaged weights (src/train/ema.ts), layer by layer. */
  ema: z.array(z.number().int()).optional(),
  blobs: z.array(z.object({ dtype: z.enum(['float32', 'int32']), length: z.number().int().min(0) })),
  sha1: z.string(),
});
export type CheckpointHeader = z.infer<typeof CheckpointHeaderSchema>;

/** Checks a checkpoint header parsed from `file`. @throws RecordError naming the file and field. */
export function parseCheckpointHeader(value: unknown, file: string): CheckpointHeader {
  return parseRecord(CheckpointHeaderSchema, value, file);
}
