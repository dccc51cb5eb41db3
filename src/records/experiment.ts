import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readRecord, writeRecord } from './io';
import { EnvironmentSchema, RunIdentitySchema, RunSummarySchema } from './run';

/**
 * The records of an experiment folder (src/exp/experiment.ts): experiment.json (experiment, resolved runs, start and resume times)
 * and results.json (the finished and failed runs). One run record folder per run beside them (src/records/run.ts).
 */

/** File names of an experiment folder. */
export const EXPERIMENT_FILE = 'experiment.json';
/**
 * The same record's name in folders written before ferlab stopped calling an experiment's execution a "study"
 * (Optuna's word for a search, which ferlab calls a sweep; 2026-12-07): still read, and written back under this name
 * when such a folder is resumed, so an old folder never holds both.
 */
export const LEGACY_EXPERIMENT_FILE = 'study.json';

/** Path of an experiment folder's experiment.json, or of its legacy study.json when only that exists. */
export function experimentFilePath(dir: string): string {
  const file = join(dir, EXPERIMENT_FILE);
  const legacy = join(dir, LEGACY_EXPERIMENT_FILE);
  return !existsSync(file) && existsSync(legacy) ? legacy : file;
}

/** Whether `dir` is an experiment folder: it holds experiment.json (or a legacy study.json). */
export function isExperimentFolder(dir: string): boolean {
  return existsSync(experimentFilePath(dir));
}
/** results.json of an experiment folder (also of a sweep folder: src/records/sweep.ts SWEEP_RESULTS_FILE). */
export const RESULTS_FILE = 'results.json';

/**
 * experiment.json of an experiment folder. `experiment` is checked for its name and runs and `runs` for each run's identity
 * (src/records/run.ts RunIdentitySchema); their full types (src/exp/config.ts Experiment, RunConfig) belong to the
 * layer that defines experiments (src/exp/experiment.ts ExperimentFile).
 */
export const ExperimentRecordSchema = z.object({
  experiment: z.object({ name: z.string(), description: z.string().optional(), runs: z.array(z.object({ name: z.string() })) }),
  quick: z.boolean(),
  /** The `--set` overrides the experiment was started with. */
  overrides: z.array(z.string()),
  /** The resolved runs: the truth for a resumed experiment. */
  runs: z.array(RunIdentitySchema),
  workers: z.number(),
  environment: EnvironmentSchema,
  /** ISO time of the first start. */
  started: z.string(),
  /** ISO times of every --resume. */
  resumed: z.array(z.string()).optional(),
});
export type ExperimentRecord = z.infer<typeof ExperimentRecordSchema>;

/** Writes an experiment folder's experiment.json (its study.json in a legacy folder, see {@link experimentFilePath}). */
export function writeExperimentRecord(dir: string, experiment: ExperimentRecord): void {
  writeRecord(experimentFilePath(dir), experiment);
}

/** An experiment folder's experiment.json (or legacy study.json). @throws RecordError naming the file and field when missing or malformed. */
export function readExperimentRecord(dir: string): ExperimentRecord {
  return readRecord(ExperimentRecordSchema, experimentFilePath(dir));
}

/** A run that failed, as the results table and the experiment report show it. */
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

/** results.json of an experiment folder: what src/exp/experiment.ts runExperiment returns. */
export const ExperimentResultSchema = z.object({
  experiment: z.string(),
  quick: z.boolean(),
  /** Experiment folder: experiment.json, results.md, results.json and one record folder per run. */
  dir: z.string(),
  /** The runs that finished, in the experiment's order. */
  runs: z.array(RunSummarySchema),
  /** The runs that failed (their records say why); the others went on. */
  failed: z.array(FailedRunSchema),
  /** Wall time of this invocation (s; a resumed experiment counts from the resume). */
  wallSeconds: z.number(),
  /** True when this invocation was a `--resume`: wallSeconds then leaves out the time before it (absent otherwise). */
  resumed: z.boolean().optional(),
  workers: z.number(),
  environment: EnvironmentSchema,
});
export type ExperimentResult = z.infer<typeof ExperimentResultSchema>;

/** Writes an experiment folder's results.json. */
export function writeExperimentResult(dir: string, result: ExperimentResult): void {
  writeRecord(join(dir, RESULTS_FILE), result);
}

/** An experiment folder's results.json. @throws RecordError naming the file and field when missing or malformed. */
export function readExperimentResult(dir: string): ExperimentResult {
  return readRecord(ExperimentResultSchema, join(dir, RESULTS_FILE));
}
