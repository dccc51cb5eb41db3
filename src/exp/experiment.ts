import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { FerDataset } from '../data/dataset';
import { buildLabelSet } from '../data/labels';
import { registeredModelStats } from '../models/stats';
import '../models';
import type { EpochRecord } from '../train/loop';
import { z } from 'zod';
import { readRecord } from '../records/io';
import { METRICS_FILE, readRunSummary } from '../records/run';
import {
  experimentFilePath,
  ExperimentRecordSchema,
  writeExperimentRecord,
  writeExperimentResult,
  type ExperimentRecord,
  type ExperimentResult,
} from '../records/experiment';
import { writeFileAtomic } from '../util/atomic';
import { defaultRunsDir } from '../util/paths';
import { applyOverrides, checkRunName, ConfigError, ExperimentSchema, resolveRuns, RunConfigSchema, type Experiment, type RunConfig } from './config';
import { loadHistory } from './records';
import { EXPERIMENT_ALIASES, isSweepSource, listSpecFiles, specFileOf, sweepsDir } from './specfiles';
import { resultsMarkdown } from './results';
import { writeExperimentReport } from './reports';
import { runOne, type RunSummary } from './run';
import { readRunStatus, type FailedRun } from './status';
import { arrayQueue, runOnWorkers } from './pool';
import { resumeBackend, setUpRunner, type RunnerOptions } from './setup';
import { runStamp } from '../util/time';

/**
 * Replicas of a one-run experiment by default. Fixed rather than the core count, so that the same command gives the same
 * numbers on every machine with 2 or more cores (the replica count changes the result a little: src/train/parallel.ts).
 */
export const AUTO_REPLICAS = 2;

/**
 * Options of {@link runExperiment} and {@link resumeExperiment}: those every runner takes (quick, workers, data, cache
 * and runs folders, backend, log, onStep, onEpoch: src/exp/setup.ts RunnerOptions), and the experiment's own.
 */
export interface ExperimentOptions extends RunnerOptions {
  /** `key=value` setting overrides for every run (strict, see config.ts). */
  overrides?: string[];
  /** Only these runs. */
  only?: string[];
  /**
   * Data-parallel replicas per training (src/train/parallel.ts: one thread per replica, wasm and cpu backends).
   * Default: {@link AUTO_REPLICAS} for an experiment of one run on a machine with 2 or more cores, else 1 (one thread per
   * training; experiments of several runs train them side by side instead).
   */
  replicas?: number;
}

/** What {@link runExperiment} produced (results.json of the experiment folder): schema in src/records/experiment.ts. */
export type { ExperimentResult } from '../records/experiment';

/**
 * experiment.json of an experiment folder (src/records/experiment.ts ExperimentRecordSchema), with the experiment and the resolved runs as
 * this layer defines them (src/exp/config.ts).
 */
export type ExperimentFile = Omit<ExperimentRecord, 'experiment' | 'runs'> & { experiment: Experiment; runs: RunConfig[] };

/** {@link ExperimentFile}'s schema: the record's, its experiment and runs checked by src/exp/config.ts's own schemas. */
const ExperimentFileSchema = ExperimentRecordSchema.extend({ experiment: ExperimentSchema, runs: z.array(RunConfigSchema) });

/** An experiment folder's experiment.json, checked by {@link ExperimentFileSchema}. @throws RecordError naming the file and field. */
function readExperimentFile(dir: string): ExperimentFile {
  return readRecord(ExperimentFileSchema, experimentFilePath(dir));
}

/**
 * Loads an experiment definition by name from `experiments/<name>.ts` (or the compiled `dist/experiments/<name>.js`
 * when running from dist/). Only that file is imported: experiment files are code, so a mistyped name runs nothing
 * (the names listed in the error come from file names, src/exp/specfiles.ts).
 * @param dir the folder of spec files (default experiments/, see src/exp/specfiles.ts experimentsDir).
 * @throws ConfigError naming the file looked for and the available experiments when there is no such file, or
 *   pointing at `ferlab sweep` when the file is a sweep spec (src/sweep) rather than an experiment.
 */
export function loadExperiment(name: string, dir?: string): Experiment {
  if (!dir && EXPERIMENT_ALIASES[name]) name = EXPERIMENT_ALIASES[name];
  const { file, exists } = specFileOf(name, dir);
  if (!exists && !dir && specFileOf(name, sweepsDir().dir, sweepsDir().ext).exists)
    throw new ConfigError(`sweeps/${name} is a sweep spec, not an experiment: run it with npm run ferlab -- sweep ${name}`);
  if (!exists) throw new ConfigError(`no experiment '${name}' (looked for ${file}); available: ${listExperiments(dir).join(', ')}`);
  const sweepMessage = `experiments/${name} is a sweep spec, not an experiment: run it with npm run ferlab -- sweep ${name}`;
  if (isSweepSource(file)) throw new ConfigError(sweepMessage);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file);
  const exp = mod.default ?? mod.experiment;
  if (isSweepSpec(exp)) throw new ConfigError(sweepMessage);
  return exp as Experiment;
}

/** Whether a module's default export is a sweep spec (src/sweep/spec.ts: a search space and an objective), not an experiment. */
function isSweepSpec(v: unknown): boolean {
  return typeof v === 'object' && v !== null && 'space' in v && 'objective' in v && !('runs' in v);
}

/**
 * Names of the experiment files, from file names: sweep spec files (their source mentions `defineSweep`; for `ferlab
 * sweep`) are left out. Imports nothing (src/exp/specfiles.ts listSpecFiles).
 * @param dir default experiments/.
 */
export function listExperiments(dir?: string): string[] {
  return listSpecFiles(dir)
    .filter((f) => !f.sweep)
    .map((f) => f.name);
}

/** Relative training cost of a run (images x multiply-adds), to start the longest runs first. */
function cost(run: RunConfig, ds: FerDataset): number {
  const ls = buildLabelSet(ds, run.labels);
  const n = Math.min(ls.train.index.length, run.slice.train ?? Infinity);
  return run.epochs * n * registeredModelStats(run.model, ls.numClasses).macs;
}

/**
 * Runs every run of an experiment and writes the experiment folder: `experiment.json` (experiment, resolved runs,
 * environment), one record folder per run (see runOne: status.json, a per-epoch checkpoint, metrics, model...), then
 * `results.json` / `results.md` with the results table and the experiment report. With several workers, independent
 * trainings run side by side (one per core, longest first): Node's wasm backend is single-threaded, and separate
 * trainings need no gradient exchange, so two cores give close to 2x.
 *
 * A run that fails (NaN loss, out of memory, a worker thread that dies) is recorded as failed in its folder and in
 * the results; the other runs go on. An interrupted experiment (crash, reboot, Ctrl-C, SIGKILL) continues with
 * {@link resumeExperiment}.
 *
 * @returns the experiment, with `failed` listing the runs that failed (the CLI exits non-zero for them).
 * @throws ConfigError for an invalid experiment or override; DataError for missing or bad data; Error for an unknown
 *   backend.
 */
export async function runExperiment(exp: Experiment, opts: ExperimentOptions = {}): Promise<ExperimentResult> {
  const quick = opts.quick ?? false;
  const runs = resolveRuns(exp, { quick, overrides: opts.overrides, only: opts.only });
  const dir = join(opts.runsDir ?? defaultRunsDir(), `${exp.name}${quick ? '-quick' : ''}-${runStamp()}`);
  return executeExperiment(dir, { experiment: exp, quick, overrides: opts.overrides ?? [], runs }, runs, opts, false);
}

/**
 * Continues an interrupted experiment in its folder: finished runs are kept as they are, unfinished runs continue from
 * their last checkpoint (the same results as an uninterrupted experiment), runs never started are started, failed runs
 * are tried again. The resolved config is read from `experiment.json`.
 *
 * @param opts.overrides, opts.quick: refused when they would change the stored config (a ConfigError says which run
 *   and setting); `only` selects runs; `workers`, `backend`, data and cache folders may differ from the first start.
 * @throws ConfigError when `dir` has no experiment.json, a run name in it is not a safe folder name (config.ts
 *   checkRunName), or an override would change the config.
 */
export async function resumeExperiment(dir: string, opts: ExperimentOptions = {}): Promise<ExperimentResult> {
  const file = experimentFilePath(dir);
  if (!existsSync(file)) throw new ConfigError(`${dir} is not an experiment folder (no experiment.json): nothing to resume`);
  // run names become folder names: an experiment.json edited to hold '../x' must not make one outside the experiment (checked
  // before the rest of the record, so that no other problem hides this one)
  const names = readRecord(z.object({ runs: z.array(z.object({ name: z.unknown() })).optional() }), file);
  for (const run of names.runs ?? []) checkRunName(run.name, `run name in ${file}`);
  const experiment = readExperimentFile(dir);
  if (opts.quick !== undefined && opts.quick !== experiment.quick)
    throw new ConfigError(
      `${dir} is a ${experiment.quick ? '--quick' : 'full'} experiment: --resume keeps it as it is (drop ${opts.quick ? '--quick' : 'the option'})`,
    );
  for (const run of experiment.runs) {
    if (!opts.overrides?.length) break;
    const { experiment: _e, name: _n, model: _m, labels: _l, ...settings } = run;
    const changed = applyOverrides(settings, opts.overrides);
    const diff = Object.keys(changed).filter(
      (k) => JSON.stringify((changed as Record<string, unknown>)[k]) !== JSON.stringify((settings as Record<string, unknown>)[k]),
    );
    if (diff.length)
      throw new ConfigError(
        `--set ${opts.overrides.join(' --set ')} would change run '${run.name}' (${diff.join(', ')}): a resumed experiment keeps the config in ${file}; start a new experiment instead`,
      );
  }
  const only = opts.only ?? [];
  const unknown = only.filter((n) => !experiment.runs.some((r) => r.name === n));
  if (unknown.length) throw new ConfigError(`unknown run(s) ${unknown.join(', ')} in ${dir} (runs: ${experiment.runs.map((r) => r.name).join(', ')})`);
  const selected = experiment.runs.filter((r) => only.length === 0 || only.includes(r.name));
  return executeExperiment(dir, experiment, selected, opts, true);
}

async function executeExperiment(
  dir: string,
  experiment: Pick<ExperimentFile, 'experiment' | 'quick' | 'overrides' | 'runs'> & Partial<ExperimentFile>,
  runs: RunConfig[],
  opts: ExperimentOptions,
  resume: boolean,
): Promise<ExperimentResult> {
  const t0 = performance.now();
  const exp = experiment.experiment;
  const labels = runs.map((r) => r.labels);
  const setup = await setUpRunner(resume ? resumeBackend(experiment.environment?.backend, opts) : opts, labels, { workers: exp.workers });
  const { log, dataset: ds, env, perCore } = setup;

  // finished runs of a resumed experiment are kept as they are
  const summaries = new Map<string, RunSummary>();
  for (const r of runs) {
    const rdir = join(dir, r.name);
    if (resume && readRunStatus(rdir)?.state === 'complete' && existsSync(join(rdir, METRICS_FILE))) summaries.set(r.name, readRunSummary(rdir));
  }
  const todo = runs.filter((r) => !summaries.has(r.name));
  // one training per core on wasm / cpu (setup.ts), never more workers than runs to train
  const workers = Math.min(setup.workers, Math.max(1, todo.length));
  // native: fewer runs left than cores to share means idle cores; the thread count is fixed per process (it changes the
  // numbers in the last bits), so say how to use them rather than change it
  const threads = setup.backendInfo.threads ?? 1;
  const cores = availableParallelism();
  if (setup.backendInfo.name === 'native' && todo.length > 0 && workers * threads < cores)
    log(
      `ferlab: native: ${workers} training${workers === 1 ? '' : 's'} x ${threads} oneDNN thread${threads === 1 ? '' : 's'} leave${workers * threads === 1 ? 's' : ''} ${cores - workers * threads} of ${cores} cores idle; --threads ${Math.floor(cores / workers)} gives each training more (deep: 1.8x on 2 threads, bench/results/latest.md)`,
    );

  // data parallelism by default only for a one-run experiment, and then always 2 replicas (on any machine with 2+ cores):
  // the replica count changes the numbers (per-shard BatchNorm statistics, per-replica dropout), so the default must
  // not depend on the core count or on how many runs a resumed experiment has left; --replicas N asks for more
  const replicas = perCore ? Math.max(1, opts.replicas ?? exp.replicas ?? (runs.length === 1 && availableParallelism() >= 2 ? AUTO_REPLICAS : 1)) : 1;
  if (!perCore && (opts.replicas ?? 1) > 1) {
    const threads = setup.backendInfo.name === 'native' ? ' (on native, --threads gives a training more cores)' : '';
    log(`ferlab: --replicas ${opts.replicas} ignored on the ${setup.backendInfo.name} backend: data-parallel replicas run on wasm and cpu only${threads}`);
  }
  mkdirSync(dir, { recursive: true });
  if (resume) {
    const stored = readExperimentFile(dir);
    writeExperimentRecord(dir, { ...stored, resumed: [...(stored.resumed ?? []), new Date().toISOString()] });
  } else {
    writeExperimentRecord(dir, { ...experiment, workers, environment: env, started: new Date().toISOString() } satisfies ExperimentFile);
  }
  log(
    `ferlab: ${resume ? 'resuming' : 'experiment'} '${exp.name}'${experiment.quick ? ' (quick)' : ''}: ${todo.length} run${todo.length === 1 ? '' : 's'} to train` +
      `${summaries.size ? ` (${summaries.size} finished before)` : ''} on ${workers} worker${workers > 1 ? 's' : ''}` +
      `${replicas > 1 ? ` x ${replicas} data-parallel replicas` : ''} -> ${dir}`,
  );

  const order = [...todo].sort((a, b) => cost(b, ds) - cost(a, ds));
  const failed = new Map<string, FailedRun>();
  const lastEpoch = new Map<string, number>();
  const onEpoch = (run: string, e: EpochRecord) => {
    lastEpoch.set(run, e.epoch);
    if (opts.onEpoch) opts.onEpoch(run, e);
    else
      log(
        `  ${run}: epoch ${e.epoch} loss ${e.trainLoss.toFixed(3)} val acc ${(100 * e.valAccuracy).toFixed(2)}% (${e.imagesPerSec.toFixed(0)} img/s, ${e.trainSeconds.toFixed(1)} s)`,
      );
  };
  const fail = (run: string, error: string, epoch: number | null) => {
    const cfg = runs.find((r) => r.name === run);
    failed.set(run, { name: run, model: cfg?.model ?? '?', labels: cfg?.labels ?? '?', state: 'failed', epoch, error, dir: join(dir, run) });
    log(`  ${run}: FAILED${epoch !== null ? ` in epoch ${epoch}` : ''}: ${error.split('\n')[0]}`);
  };
  const done = (s: RunSummary) => {
    summaries.set(s.name, s);
    log(`  ${s.name}: done, test accuracy ${(100 * s.test.accuracy).toFixed(2)}%`);
  };

  if (workers === 1) {
    for (const run of order) {
      try {
        done(
          await runOne(run, ds, {
            dir: join(dir, run.name),
            env,
            onStep: (p) => opts.onStep?.(run.name, p),
            onEpoch: (e) => onEpoch(run.name, e),
            ...(replicas > 1 ? { replicas } : {}),
          }),
        );
      } catch (e) {
        fail(run.name, (e as Error).message, readRunStatus(join(dir, run.name))?.epoch ?? null);
      }
    }
  } else {
    await runOnWorkers(
      arrayQueue(order),
      workers,
      { dir, dataDir: setup.dataDir, cacheDir: setup.cacheDir, backend: setup.workerBackend, ...(replicas > 1 ? { replicas } : {}) },
      {
        onStep: (run, p) => opts.onStep?.(run, p),
        onEpoch,
        done,
        fail: (run, error, statusEpoch) => fail(run, error, statusEpoch ?? lastEpoch.get(run) ?? null),
      },
    );
  }

  const finished = runs.map((r) => summaries.get(r.name)).filter((s): s is RunSummary => s !== undefined);
  const failures = runs.map((r) => failed.get(r.name)).filter((f): f is FailedRun => f !== undefined);
  const result: ExperimentResult = {
    experiment: exp.name,
    quick: experiment.quick,
    dir,
    runs: finished,
    failed: failures,
    wallSeconds: (performance.now() - t0) / 1000,
    ...(resume ? { resumed: true } : {}),
    workers,
    environment: env,
  };
  writeExperimentResult(dir, result);
  writeFileAtomic(join(dir, 'results.md'), resultsMarkdown(result));
  writeExperimentReport(
    result,
    finished.map((summary) => ({ summary, history: loadHistory(summary.dir) })),
    failures,
  );
  return result;
}
