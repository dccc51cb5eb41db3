import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { backendFromEnv, initBackend, parseBackendChoice, type BackendChoice } from '../backend/select';
import { loadDataset, type FerDataset } from '../data/dataset';
import { buildLabelSet } from '../data/labels';
import { registeredModelStats } from '../models/stats';
import '../models';
import type { EpochRecord, StepProgress } from '../train/loop';
import { z } from 'zod';
import { readRecord } from '../records/io';
import { METRICS_FILE, readRunSummary } from '../records/run';
import { STUDY_FILE, StudyRecordSchema, writeStudyRecord, writeStudyResult, type StudyRecord, type StudyResult } from '../records/study';
import { writeFileAtomic } from '../util/atomic';
import { environment } from '../util/env';
import { defaultCacheDir, defaultDataDir, defaultRunsDir } from '../util/paths';
import { applyOverrides, checkRunName, ConfigError, ExperimentSchema, resolveRuns, RunConfigSchema, type Experiment, type RunConfig } from './config';
import { loadHistory } from './records';
import { EXPERIMENT_ALIASES, isSweepSource, listSpecFiles, specFileOf, sweepsDir } from './specfiles';
import { resultsMarkdown } from './results';
import { writeStudyReport } from './reports';
import { runOne, type RunSummary } from './run';
import { readRunStatus, type FailedRun } from './status';
import { arrayQueue, runOnWorkers } from './pool';
import { runStamp } from '../util/time';

/**
 * Replicas of a one-run study by default. Fixed rather than the core count, so that the same command gives the same
 * numbers on every machine with 2 or more cores (the replica count changes the result a little: src/train/parallel.ts).
 */
export const AUTO_REPLICAS = 2;

/** Options of {@link runExperiment} and {@link resumeStudy}. */
export interface ExperimentOptions {
  /** Run the experiment's quick variant (same code on a small slice). */
  quick?: boolean;
  /** `key=value` setting overrides for every run (strict, see config.ts). */
  overrides?: string[];
  /** Only these runs. */
  only?: string[];
  /** Trainings side by side; default: the experiment's `workers`, else one per CPU core. 1 = in this thread. */
  workers?: number;
  /**
   * Data-parallel replicas per training (src/train/parallel.ts: one thread per replica, wasm and cpu backends).
   * Default: {@link AUTO_REPLICAS} for a study of one run on a machine with 2 or more cores, else 1 (one thread per
   * training; studies of several runs train them side by side instead).
   */
  replicas?: number;
  dataDir?: string;
  cacheDir?: string | false;
  /** Parent folder of study folders (default FERLAB_RUNS_DIR or runs/). */
  runsDir?: string;
  /** tfjs backend (default FERLAB_BACKEND, else auto); validated. */
  backend?: BackendChoice;
  /** Where status lines go (default console.log). */
  log?: (line: string) => void;
  /** After every training step of a run (progress bars: src/cli/progress.ts). */
  onStep?: (run: string, p: StepProgress) => void;
  /** After every epoch of a run (default: a status line through `log`). */
  onEpoch?: (run: string, r: EpochRecord) => void;
}

/** What {@link runExperiment} produced (results.json of the study folder): schema in src/records/study.ts. */
export type { StudyResult } from '../records/study';

/**
 * study.json of a study folder (src/records/study.ts StudyRecordSchema), with the experiment and the resolved runs as
 * this layer defines them (src/exp/config.ts).
 */
export type StudyFile = Omit<StudyRecord, 'experiment' | 'runs'> & { experiment: Experiment; runs: RunConfig[] };

/** {@link StudyFile}'s schema: the record's, its experiment and runs checked by src/exp/config.ts's own schemas. */
const StudyFileSchema = StudyRecordSchema.extend({ experiment: ExperimentSchema, runs: z.array(RunConfigSchema) });

/** A study folder's study.json, checked by {@link StudyFileSchema}. @throws RecordError naming the file and field. */
function readStudyFile(dir: string): StudyFile {
  return readRecord(StudyFileSchema, join(dir, STUDY_FILE));
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
 * Runs every run of an experiment and writes the study folder: `study.json` (experiment, resolved runs,
 * environment), one record folder per run (see runOne: status.json, a per-epoch checkpoint, metrics, model...), then
 * `results.json` / `results.md` with the results table and the study report. With several workers, independent
 * trainings run side by side (one per core, longest first): Node's wasm backend is single-threaded, and separate
 * trainings need no gradient exchange, so two cores give close to 2x.
 *
 * A run that fails (NaN loss, out of memory, a worker thread that dies) is recorded as failed in its folder and in
 * the results; the other runs go on. An interrupted study (crash, reboot, Ctrl-C, SIGKILL) continues with
 * {@link resumeStudy}.
 *
 * @returns the study, with `failed` listing the runs that failed (the CLI exits non-zero for them).
 * @throws ConfigError for an invalid experiment or override; DataError for missing or bad data; Error for an unknown
 *   backend.
 */
export async function runExperiment(exp: Experiment, opts: ExperimentOptions = {}): Promise<StudyResult> {
  const quick = opts.quick ?? false;
  const runs = resolveRuns(exp, { quick, overrides: opts.overrides, only: opts.only });
  const dir = join(opts.runsDir ?? defaultRunsDir(), `${exp.name}${quick ? '-quick' : ''}-${runStamp()}`);
  return executeStudy(dir, { experiment: exp, quick, overrides: opts.overrides ?? [], runs }, runs, opts, false);
}

/**
 * Continues an interrupted study in its folder: finished runs are kept as they are, unfinished runs continue from
 * their last checkpoint (the same results as an uninterrupted study), runs never started are started, failed runs
 * are tried again. The resolved config is read from `study.json`.
 *
 * @param opts.overrides, opts.quick: refused when they would change the stored config (a ConfigError says which run
 *   and setting); `only` selects runs; `workers`, `backend`, data and cache folders may differ from the first start.
 * @throws ConfigError when `dir` has no study.json, a run name in it is not a safe folder name (config.ts
 *   checkRunName), or an override would change the config.
 */
export async function resumeStudy(dir: string, opts: ExperimentOptions = {}): Promise<StudyResult> {
  const file = join(dir, STUDY_FILE);
  if (!existsSync(file)) throw new ConfigError(`${dir} is not a study folder (no study.json): nothing to resume`);
  // run names become folder names: a study.json edited to hold '../x' must not make one outside the study (checked
  // before the rest of the record, so that no other problem hides this one)
  const names = readRecord(z.object({ runs: z.array(z.object({ name: z.unknown() })).optional() }), file);
  for (const run of names.runs ?? []) checkRunName(run.name, `run name in ${file}`);
  const study = readStudyFile(dir);
  if (opts.quick !== undefined && opts.quick !== study.quick)
    throw new ConfigError(`${dir} is a ${study.quick ? '--quick' : 'full'} study: --resume keeps it as it is (drop ${opts.quick ? '--quick' : 'the option'})`);
  for (const run of study.runs) {
    if (!opts.overrides?.length) break;
    const { experiment: _e, name: _n, model: _m, labels: _l, ...settings } = run;
    const changed = applyOverrides(settings, opts.overrides);
    const diff = Object.keys(changed).filter(
      (k) => JSON.stringify((changed as Record<string, unknown>)[k]) !== JSON.stringify((settings as Record<string, unknown>)[k]),
    );
    if (diff.length)
      throw new ConfigError(
        `--set ${opts.overrides.join(' --set ')} would change run '${run.name}' (${diff.join(', ')}): a resumed study keeps the config in ${file}; start a new study instead`,
      );
  }
  const only = opts.only ?? [];
  const unknown = only.filter((n) => !study.runs.some((r) => r.name === n));
  if (unknown.length) throw new ConfigError(`unknown run(s) ${unknown.join(', ')} in ${dir} (runs: ${study.runs.map((r) => r.name).join(', ')})`);
  const selected = study.runs.filter((r) => only.length === 0 || only.includes(r.name));
  return executeStudy(dir, study, selected, opts, true);
}

async function executeStudy(
  dir: string,
  study: Pick<StudyFile, 'experiment' | 'quick' | 'overrides' | 'runs'> & Partial<StudyFile>,
  runs: RunConfig[],
  opts: ExperimentOptions,
  resume: boolean,
): Promise<StudyResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((l: string) => console.log(l));
  const exp = study.experiment;
  const dataDir = opts.dataDir ?? defaultDataDir();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const backend = opts.backend !== undefined ? parseBackendChoice(opts.backend, 'backend option') : backendFromEnv();
  const info = await initBackend(backend);
  log(`ferlab: backend ${info.description}`);
  const ds = await loadDataset({ dataDir, cacheDir, log });
  for (const r of runs) buildLabelSet(ds, r.labels); // fail now, not in a worker, if FER+ votes are missing

  // finished runs of a resumed study are kept as they are
  const summaries = new Map<string, RunSummary>();
  for (const r of runs) {
    const rdir = join(dir, r.name);
    if (resume && readRunStatus(rdir)?.state === 'complete' && existsSync(join(rdir, METRICS_FILE))) summaries.set(r.name, readRunSummary(rdir));
  }
  const todo = runs.filter((r) => !summaries.has(r.name));
  // wasm and cpu are single-threaded here: one training per core. tfjs-node uses all cores (or the GPU) by itself.
  const perCore = info.name === 'wasm' || info.name === 'cpu';
  const workers = Math.max(1, Math.min(opts.workers ?? (perCore ? (exp.workers ?? availableParallelism()) : 1), Math.max(1, todo.length)));
  // data parallelism by default only for a one-run study, and then always 2 replicas (on any machine with 2+ cores):
  // the replica count changes the numbers (per-shard BatchNorm statistics, per-replica dropout), so the default must
  // not depend on the core count or on how many runs a resumed study has left; --replicas N asks for more
  const replicas = perCore ? Math.max(1, opts.replicas ?? exp.replicas ?? (runs.length === 1 && availableParallelism() >= 2 ? AUTO_REPLICAS : 1)) : 1;
  mkdirSync(dir, { recursive: true });
  const env = environment(info.description);
  if (resume) {
    const stored = readStudyFile(dir);
    writeStudyRecord(dir, { ...stored, resumed: [...(stored.resumed ?? []), new Date().toISOString()] });
  } else {
    writeStudyRecord(dir, { ...study, workers, environment: env, started: new Date().toISOString() } satisfies StudyFile);
  }
  log(
    `ferlab: ${resume ? 'resuming' : 'experiment'} '${exp.name}'${study.quick ? ' (quick)' : ''}: ${todo.length} run${todo.length === 1 ? '' : 's'} to train` +
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
      { dir, dataDir, cacheDir, backend: info.name === 'tensorflow' ? backend : (info.name as BackendChoice), ...(replicas > 1 ? { replicas } : {}) },
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
  const result: StudyResult = {
    experiment: exp.name,
    quick: study.quick,
    dir,
    runs: finished,
    failed: failures,
    wallSeconds: (performance.now() - t0) / 1000,
    ...(resume ? { resumed: true } : {}),
    workers,
    environment: env,
  };
  writeStudyResult(dir, result);
  writeFileAtomic(join(dir, 'results.md'), resultsMarkdown(result));
  writeStudyReport(
    result,
    finished.map((summary) => ({ summary, history: loadHistory(summary.dir) })),
    failures,
  );
  return result;
}
