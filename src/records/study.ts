import { join } from 'node:path';
import { z } from 'zod';
import { readRecord, writeRecord } from './io';
import { EnvironmentSchema, RunIdentitySchema, RunSummarySchema } from './run';

/**
 * The records of a study folder (src/exp/study.ts): study.json (experiment, resolved runs, start and resume times)
 * and results.json (the finished and failed runs). One run record folder per run beside them (src/records/run.ts).
 */

/** File names of a study folder. */
export const STUDY_FILE = 'study.json';
/** results.json of a study folder (also of a sweep folder: src/records/sweep.ts SWEEP_RESULTS_FILE). */
export const RESULTS_FILE = 'results.json';

/**
 * study.json of a study folder. `experiment` is checked for its name and runs and `runs` for each run's identity
 * (src/records/run.ts RunIdentitySchema); their full types (src/exp/config.ts Experiment, RunConfig) belong to the
 * layer that defines experiments (src/exp/study.ts StudyFile).
 */
export const StudyRecordSchema = z.object({
  experiment: z.object({ name: z.string(), description: z.string().optional(), runs: z.array(z.object({ name: z.string() })) }),
  quick: z.boolean(),
  /** The `--set` overrides the study was started with. */
  overrides: z.array(z.string()),
  /** The resolved runs: the truth for a resumed study. */
  runs: z.array(RunIdentitySchema),
  workers: z.number(),
  environment: EnvironmentSchema,
  /** ISO time of the first start. */
  started: z.string(),
  /** ISO times of every --resume. */
  resumed: z.array(z.string()).optional(),
});
export type StudyRecord = z.infer<typeof StudyRecordSchema>;

/** Writes a study folder's study.json. */
export function writeStudyRecord(dir: string, study: StudyRecord): void {
  writeRecord(join(dir, STUDY_FILE), study);
}

/** A study folder's study.json. @throws RecordError naming the file and field when missing or malformed. */
export function readStudyRecord(dir: string): StudyRecord {
  return readRecord(StudyRecordSchema, join(dir, STUDY_FILE));
}

/** A run that failed, as the results table and the study report show it. */
export const FailedRunSchema = z.object({
  name: z.string(),
  model: z.string(),
  /** Label set name. */
  labels: z.string(),
  state: z.literal('failed'),
  /** Epoch the error happened in (1-based), or null when it failed before or after training. */
  epoch: z.number().nullable(),
  error: z.string(),
  /** Folder of the run record. */
  dir: z.string(),
});
export type FailedRun = z.infer<typeof FailedRunSchema>;

/** results.json of a study folder: what src/exp/study.ts runExperiment returns. */
export const StudyResultSchema = z.object({
  experiment: z.string(),
  quick: z.boolean(),
  /** Study folder: study.json, results.md, results.json and one record folder per run. */
  dir: z.string(),
  /** The runs that finished, in the experiment's order. */
  runs: z.array(RunSummarySchema),
  /** The runs that failed (their records say why); the others went on. */
  failed: z.array(FailedRunSchema),
  /** Wall time of this invocation (s; a resumed study counts from the resume). */
  wallSeconds: z.number(),
  /** True when this invocation was a `--resume`: wallSeconds then leaves out the time before it (absent otherwise). */
  resumed: z.boolean().optional(),
  workers: z.number(),
  environment: EnvironmentSchema,
});
export type StudyResult = z.infer<typeof StudyResultSchema>;

/** Writes a study folder's results.json. */
export function writeStudyResult(dir: string, result: StudyResult): void {
  writeRecord(join(dir, RESULTS_FILE), result);
}

/** A study folder's results.json. @throws RecordError naming the file and field when missing or malformed. */
export function readStudyResult(dir: string): StudyResult {
  return readRecord(StudyResultSchema, join(dir, RESULTS_FILE));
}
