import { join } from 'node:path';
import { z } from 'zod';
import { MODEL_META_FILE, outputIsProbabilities } from './files';
import { readRecord, readRecordIfExists, writeRecord } from './io';
import { AccuracyIntervalSchema, ClassMetricsSchema, CrossEvaluationSchema, TTA_MODES } from './metrics';
import { EnvironmentSchema, InputSpecFieldSchema, LabelSetNameSchema, SliceSchema } from './run';

/**
 * The metadata of a ferlab model folder: `ferlab.json` beside model.json. A training run writes it into its record's
 * `model/` (src/exp/run.ts: {@link ModelMetaSchema} plus the run's config and environment); export copies it and adds
 * {@link ExportInfoSchema} (src/export/exporter.ts); `ferlab ensemble` writes one with {@link EnsembleInfoSchema}
 * (src/export/ensemble-make.ts); predict, the demo, the model card, releases and fine-tuning read it.
 */

/** File name of a model folder's metadata (in src/records/files.ts, which the browser demo imports without zod). */
export { MODEL_META_FILE };

/** Whether a model folder's output is probabilities rather than logits (src/records/files.ts, shared with the browser demo). */
export { outputIsProbabilities };

/** Accuracy of one exported format re-scored on the run's PrivateTest images. */
export const FormatCheckSchema = z.object({
  /** Fraction of PrivateTest images whose argmax equals the label. */
  privateTestAccuracy: z.number(),
  /** Images scored. */
  n: z.number(),
  /** max over images and classes of |logit of this format - logit of the run's float32 tfjs model|. */
  maxAbsLogitDiff: z.number(),
  /** Images whose argmax differs from the float32 tfjs model's. */
  changedPredictions: z.number(),
  /** Where it ran. */
  runtime: z.string(),
});
export type FormatCheck = z.infer<typeof FormatCheckSchema>;

/** The formats `ferlab export` writes (src/export/exporter.ts). */
export const EXPORT_FORMATS = ['tfjs', 'onnx', 'tflite'] as const;

/** One exported format in ferlab.json. */
export const ExportedFormatSchema = z.object({
  /** File name -> size in bytes. */
  files: z.record(z.string(), z.number()),
  bytes: z.number(),
  /** Storage of the weights: float32, float16 or uint8 (dequantized to float32 when loaded); model.tflite: float32, float16 or int8. */
  weights: z.enum(['float32', 'float16', 'uint8', 'int8']),
  /** Runtimes that load it. */
  loads: z.string(),
  /** ONNX only: the opset. */
  opset: z.number().optional(),
  /** The re-scoring check, or why it did not run. */
  check: z.union([FormatCheckSchema, z.object({ skipped: z.string() })]),
});
export type ExportedFormat = z.infer<typeof ExportedFormatSchema>;

/** How an ensemble combines its members' outputs (src/export/ensemble.ts): the mean of their logits or of their softmax probabilities. */
export const ENSEMBLE_COMBINES = ['logits', 'probs'] as const;
/** How an ensemble's members are chosen (src/export/ensemble-select.ts): greedy forward selection on PublicTest, or all candidates. */
export const ENSEMBLE_SELECTIONS = ['greedy', 'all'] as const;

/** One member of an ensemble (ferlab.json `ensemble.members`), from its own ferlab.json and folder. */
export const EnsembleMemberSchema = z.object({
  /** Run name (or folder name of an exported model): the graph's layers of this member are prefixed `m<k>_`, k its index here. */
  name: z.string(),
  /** The folder it was read from (relative to the project root when inside it). */
  source: z.string(),
  /** Registered architecture and label set (its ferlab.json `model`, `labelSet`). */
  model: z.string().optional(),
  labelSet: z.string().optional(),
  /** Its own input spec (src/data/input.ts), which the ensemble graph applies inside (a centre Cropping2D for 'crop'). */
  inputSpec: InputSpecFieldSchema,
  /** Times greedy selection picked it (with replacement): its weight in the mean is weight / sum of weights. */
  weight: z.number().int().positive(),
  /** Its own PrivateTest accuracy as its ferlab.json records it (reported only). */
  testAccuracy: z.number().optional(),
  /** Its PublicTest accuracy measured by the ensemble command (the selection data). */
  publicTestAccuracy: z.number(),
});
export type EnsembleMember = z.infer<typeof EnsembleMemberSchema>;

/** ferlab.json `ensemble` of an ensemble model (src/export/ensemble-make.ts): members, combination, selection and scores. */
export const EnsembleInfoSchema = z.object({
  /** Mean of the members' logits (the output is logits) or of their probabilities (the output is probabilities). */
  combine: z.enum(ENSEMBLE_COMBINES),
  members: z.array(EnsembleMemberSchema).min(1, 'expected at least one member'),
  selection: z.object({
    method: z.enum(ENSEMBLE_SELECTIONS),
    /** What chose (always PublicTest): the criterion in words. */
    criterion: z.string(),
    /** Greedy steps in order: the candidate added and the PublicTest accuracy and NLL (nats) of the ensemble after it. */
    steps: z.array(z.object({ added: z.string(), publicTestAccuracy: z.number(), publicTestNll: z.number() })),
    /** Every candidate considered, with its own PublicTest accuracy. */
    candidates: z.array(z.object({ name: z.string(), source: z.string(), publicTestAccuracy: z.number() })),
  }),
  /**
   * The PublicTest accuracy of each (selection, combination) pair the command measured: what chose the combination
   * (`--combine auto`) and what shows greedy against all members.
   */
  publicTest: z.array(z.object({ select: z.enum(ENSEMBLE_SELECTIONS), combine: z.enum(ENSEMBLE_COMBINES), accuracy: z.number(), nll: z.number() })),
  /**
   * PrivateTest of the written graph (reported only): plain, and with the flip TTA (image and mirror, probabilities
   * averaged); `vsBestMember`: the candidate with the best PublicTest accuracy (first on ties) scored plain on the same
   * images, and McNemar's test of the ensemble against it (src/eval/stats.ts mcnemarTest: b = images only the
   * ensemble gets right, c = only the member; p > 0.05: the difference is within noise). Absent in folders written
   * before it was recorded.
   */
  privateTest: z.object({
    interval: AccuracyIntervalSchema,
    macroF1: z.number(),
    flipTta: AccuracyIntervalSchema,
    vsBestMember: z
      .object({
        name: z.string(),
        interval: AccuracyIntervalSchema,
        mcnemar: z.object({ b: z.number(), c: z.number(), method: z.enum(['exact', 'chi-square-cc']), pValue: z.number() }),
      })
      .optional(),
  }),
  /**
   * Test-time augmentation of the graph (src/eval/tta.ts), chosen on PublicTest: each mode measured (none, flip, and,
   * when members crop inside the graph, tencrop on shifted whole images with `shift` = their crop side) with its
   * PublicTest accuracy and its PrivateTest interval (reported only); `chosen`: the best PublicTest accuracy, ties to
   * fewer views. Absent in folders written before it was recorded.
   */
  tta: z
    .object({
      modes: z.array(
        z.object({ mode: z.enum(TTA_MODES), views: z.number(), shift: z.number().optional(), publicTestAccuracy: z.number(), privateTest: AccuracyIntervalSchema }),
      ),
      chosen: z.enum(TTA_MODES),
    })
    .optional(),
  /**
   * The written formats with their checks against the tfjs graph on PrivateTest (`check.maxAbsLogitDiff`: max |output of
   * this format - output of the tfjs graph|, of probabilities when `combine` is 'probs'), and the graph's own check
   * against the members' outputs averaged by hand on PublicTest.
   */
  formats: z.partialRecord(z.enum(EXPORT_FORMATS), ExportedFormatSchema),
  graphCheck: z.object({ maxAbsDiff: z.number(), images: z.number(), against: z.string() }),
  /** ISO time and the command line that wrote the folder. */
  date: z.string(),
  command: z.string(),
});
export type EnsembleInfo = z.infer<typeof EnsembleInfoSchema>;

/** What a training run records about its model (src/exp/run.ts), and what prediction relies on (src/predict/model.ts). */
export const ModelMetaSchema = z.object({
  /** Run and experiment names. */
  run: z.string().optional(),
  experiment: z.string().optional(),
  /** Registered model name (src/models/registry.ts) and label set. */
  model: z.string().optional(),
  labelSet: z.string().optional(),
  /** Class names in output order, e.g. FER_CLASSES or FERPLUS_CLASSES. */
  classes: z.array(z.string()).min(2, 'expected a list of at least 2 class names'),
  /** The model input in words, e.g. `[batch, 48, 48, 1] float32`. */
  input: z.string().optional(),
  /**
   * The input transform the model was trained with, in words: without `inputSpec` it must equal PREPROCESSING
   * (src/data/preprocess.ts), the only transform before per-model inputs; with one it describes that spec.
   */
  preprocessing: z.string(),
  /**
   * The model's input spec (src/data/input.ts: side, crop or resize, normalisation; checked by recordedInputSpec),
   * which predict applies; absent = the default (48x48, pixel / 255), as in every ferlab.json written before
   * per-model inputs.
   */
  inputSpec: InputSpecFieldSchema.optional(),
  /**
   * What the output is: `logits [batch, C] float32; ...` for every ferlab model, or `probabilities [batch, C] float32;
   * ...` for an ensemble that averages probabilities (see {@link outputIsProbabilities}).
   */
  output: z.string().optional(),
  /** PrivateTest accuracy of the run. */
  testAccuracy: z.number().optional(),
  /**
   * Temperature T of temperature scaling (Guo et al. 2017), fitted on PublicTest by the training run: prediction
   * reports softmax(logits / T) as the probabilities (the predicted class does not change). Absent = 1.
   */
  temperature: z
    .number()
    .refine((t) => t > 0 && Number.isFinite(t), 'expected a positive number')
    .optional(),
  /** The PrivateTest images testAccuracy counts, in words. */
  testImages: z.string().optional(),
  /** The resolved run config (src/exp/config.ts RunConfig) and the training environment. */
  config: z.custom<object>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object').optional(),
  environment: EnvironmentSchema.optional(),
  /** Present for an ensemble (`ferlab ensemble`): its members and how they are combined. */
  ensemble: EnsembleInfoSchema.optional(),
});
export type ModelMeta = z.infer<typeof ModelMetaSchema>;

/** Writes a model folder's ferlab.json (the object as the caller built it, key order kept). */
export function writeModelMeta(dir: string, meta: ModelMeta | (ModelMeta & ExportInfo)): void {
  writeRecord(join(dir, MODEL_META_FILE), meta);
}

/** A model folder's ferlab.json. @throws RecordError naming the file and field when missing or malformed. */
export function readModelMeta(dir: string): ModelMeta {
  return readRecord(ModelMetaSchema, join(dir, MODEL_META_FILE));
}

/** A model folder's ferlab.json with every field optional, or undefined when there is none (fine-tuning sources). */
export const PartialModelMetaSchema = ModelMetaSchema.partial();
export function readPartialModelMeta(dir: string): z.infer<typeof PartialModelMetaSchema> | undefined {
  return readRecordIfExists(PartialModelMetaSchema, join(dir, MODEL_META_FILE));
}

// --- export info ---------------------------------------------------------------------------------------------------

/** ferlab.json `release` of a released model (models/<name>/, src/export/release.ts). */
export const ReleaseInfoSchema = z.object({
  /** Folder name under models/, e.g. `ferlab-ferplus`. */
  name: z.string(),
  /** One line: what the model is for. */
  summary: z.string(),
  /** The command that trains the run record it is built from. */
  trainCommand: z.string(),
  /** The command that rebuilds this folder from that run record (and checks it against the committed files). */
  buildCommand: z.string(),
});
export type ReleaseInfo = z.infer<typeof ReleaseInfoSchema>;

/** What export adds to the run's model/ferlab.json (its `export`, `io`, `labels`, `data` and `evaluation` keys). */
export const ExportInfoSchema = z.object({
  export: z.object({
    /** ISO time. */
    date: z.string(),
    command: z.string(),
    /** The folder given, the run exported (relative to the project root when inside it, util/paths.ts projectRelative), and how it was chosen. */
    source: z.object({
      folder: z.string(),
      /** What the folder was; models exported before 2026-12-07 say 'study' for 'experiment' (read as 'experiment'). */
      kind: z.preprocess((v) => (v === 'study' ? 'experiment' : v), z.enum(['run', 'experiment', 'folder'])),
      run: z.string(),
      runDir: z.string(),
      criterion: z.string(),
      reason: z.string(),
      candidates: z.array(
        z.object({ run: z.string(), model: z.string(), labels: LabelSetNameSchema, publicTestAccuracy: z.number(), privateTestAccuracy: z.number() }),
      ),
      /** Subfolders that did not compete (unfinished or failed runs, other label sets) and why. */
      skipped: z.array(z.object({ name: z.string(), why: z.string() })),
      notes: z.array(z.string()),
    }),
    /** The exporting process (commit, backend, CPU); the training one is `environment`. */
    environment: EnvironmentSchema,
    formats: z.partialRecord(z.enum(EXPORT_FORMATS), ExportedFormatSchema),
    /** The run's own float32 tfjs model re-scored here: the reference of the format checks. */
    reference: z.object({
      privateTestAccuracy: z.number(),
      publicTestAccuracy: z.number(),
      recordedPrivateTestAccuracy: z.number(),
      recordedPublicTestAccuracy: z.number(),
    }),
  }),
  io: z.object({
    /**
     * The model input: shape `[null, size, size, 1]` of the run's input spec (ferlab.json `inputSpec`, src/data/input.ts;
     * absent = 48x48, pixel / 255), value range ([0, 1], or null for per-image standardised inputs), the preprocessing
     * in words, and the photo conversion to 48x48 grayscale that comes before it.
     */
    input: z.object({
      name: z.string(),
      shape: z.tuple([z.null(), z.number(), z.number(), z.literal(1)]),
      layout: z.literal('NHWC'),
      dtype: z.literal('float32'),
      range: z.tuple([z.literal(0), z.literal(1)]).nullable(),
      preprocessing: z.string(),
      imageConversion: z.string(),
    }),
    output: z.object({ name: z.string(), shape: z.tuple([z.null(), z.number()]), meaning: z.string(), classes: z.array(z.string()) }),
  }),
  labels: z.object({ set: LabelSetNameSchema, ferplus: z.boolean(), rule: z.string(), evaluationLabels: z.string() }),
  data: z.object({
    /** config.json `data` of the run (fer2013Md5, official, source files). */
    record: z.record(z.string(), z.unknown()),
    /** Training images per class (the run's slice) and, when sliced, of the whole training split. */
    trainCounts: z.record(z.string(), z.number()),
    fullTrainCounts: z.record(z.string(), z.number()).optional(),
    slice: SliceSchema,
  }),
  evaluation: z.object({
    publicTest: z.object({ role: z.string(), interval: AccuracyIntervalSchema, macroF1: z.number() }),
    privateTest: z.object({
      role: z.string(),
      interval: AccuracyIntervalSchema,
      macroF1: z.number(),
      perClass: z.array(ClassMetricsSchema),
      confusion: z.array(z.array(z.number())),
    }),
    cross: CrossEvaluationSchema.nullable(),
    /**
     * The run's test-time augmentation (metrics.json `tta`): the same model's TTA-averaged scores, which the exported
     * files do not compute by themselves (the caller averages the views); absent when the run used none.
     */
    tta: z
      .object({
        mode: z.string(),
        views: z.number(),
        average: z.string(),
        publicTestAccuracy: z.number(),
        privateTest: z.object({ interval: AccuracyIntervalSchema, macroF1: z.number(), perClass: z.array(ClassMetricsSchema) }),
      })
      .optional(),
    /** The run's temperature scaling (metrics.json `calibration`: fitted on PublicTest, PrivateTest ECE before and after). */
    calibration: z
      .object({ temperature: z.number(), fittedOn: z.literal('PublicTest'), privateTestEce: z.number(), privateTestEceScaled: z.number(), bins: z.number() })
      .optional(),
  }),
  /** Present for the released models under models/ (src/export/release.ts). */
  release: ReleaseInfoSchema.optional(),
});
export type ExportInfo = z.infer<typeof ExportInfoSchema>;

/** An exported model folder's ferlab.json: the run's model metadata plus what export added. */
export const ExportedModelMetaSchema = ModelMetaSchema.extend(ExportInfoSchema.shape);
export type ExportedModelMeta = z.infer<typeof ExportedModelMetaSchema>;

/** An exported model folder's ferlab.json. @throws RecordError naming the file and field when missing or malformed. */
export function readExportedModelMeta(dir: string): ExportedModelMeta {
  return readRecord(ExportedModelMetaSchema, join(dir, MODEL_META_FILE));
}
