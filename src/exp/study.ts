import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { initBackend, type BackendChoice } from '../backend/select';
import { loadDataset, type FerDataset } from '../data/dataset';
import { buildLabelSet } from '../data/labels';
import { registeredModelStats } from '../models/stats';
import '../models';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { environment, type Environment } from '../util/env';
import { PROJECT_ROOT, defaultCacheDir, defaultDataDir, defaultRunsDir } from '../util/paths';
import { ConfigError, resolveRuns, type Experiment, type RunConfig } from './config';
import { ProgressView, formatSeconds } from './progress';
import { resultsMarkdown } from './results';
import { writeStudyReport } from './reports';
import { readFileSync } from 'node:fs';
import { runOne, type RunSummary } from './run';
import type { FromWorker, ToWorker, WorkerInit } from './worker';

/** Options of {@link runExperiment}. */
export interface ExperimentOptions {
  /** Run the experiment's quick variant (same code on a small slice). */
  quick?: boolean;
  /** `key=value` setting overrides for every run (strict, see config.ts). */
  overrides?: string[];
  /** Only these runs. */
  only?: string[];
  /** Trainings side by side; default: the experiment's `workers`, else the number of CPU cores. 1 = in this thread. */
  workers?: number;
  dataDir?: string;
  cacheDir?: string | false;
  /** Parent folder of study folders (default FERLAB_RUNS_DIR or runs/). */
  runsDir?: string;
  backend?: BackendChoice;
  /** Progress bars (default: when stdout is a terminal). */
  progress?: boolean;
  /** Where status lines go (default console.log). */
  log?: (line: string) => void;
}

/** What {@link runExperiment} produced. */
export interface StudyResult {
  experiment: string;
  quick: boolean;
  /** Study folder: study.json, results.md, results.json and one record folder per run. */
  dir: string;
  runs: RunSummary[];
  /** Wall time of the whole experiment (s). */
  wallSeconds: number;
  workers: number;
  environment: Environment;
}

/**
 * Loads an experiment definition by name from `experiments/<name>.ts` (or the compiled `dist/experiments/<name>.js`
 * when running from dist/).
 * @throws ConfigError naming the available experiments when there is no such file.
 */
export function loadExperiment(name: string): Experiment {
  const fromSource = __filename.endsWith('.ts');
  const dir = fromSource ? join(PROJECT_ROOT, 'experiments') : join(PROJECT_ROOT, 'dist', 'experiments');
  const file = join(dir, `${name}${fromSource ? '.ts' : '.js'}`);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || !existsSync(file)) {
    throw new ConfigError(`no experiment '${name}' (looked for ${file}); available: ${listExperiments().join(', ')}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file);
  return (mod.default ?? mod.experiment) as Experiment;
}

/** Names of the experiment files. */
export function listExperiments(): string[] {
  const fromSource = __filename.endsWith('.ts');
  const dir = fromSource ? join(PROJECT_ROOT, 'experiments') : join(PROJECT_ROOT, 'dist', 'experiments');
  if (!existsSync(dir)) return [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  return readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => f.replace(/\.(ts|js)$/, ''))
    .sort();
}

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Relative training cost of a run (images x multiply-adds), to start the longest runs first. */
function cost(run: RunConfig, ds: FerDataset): number {
  const ls = buildLabelSet(ds, run.labels);
  const n = Math.min(ls.train.index.length, run.slice.train ?? Infinity);
  return run.epochs * n * registeredModelStats(run.model, ls.numClasses).macs;
}

function workerCode(): string {
  const ts = __filename.endsWith('.ts');
  const file = join(__dirname, ts ? 'worker.ts' : 'worker.js');
  return ts ? `require('tsx/cjs'); require(${JSON.stringify(file)});` : `require(${JSON.stringify(file)});`;
}

/**
 * Runs every run of an experiment and writes the study folder: `study.json` (experiment, resolved runs,
 * environment), one record folder per run (see runOne), then `results.json` / `results.md` with the results table.
 * With several workers, independent trainings run side by side (one per core, longest first): Node's wasm backend
 * is single-threaded, and separate trainings need no gradient exchange, so two cores give close to 2x.
 *
 * @throws ConfigError for an invalid experiment or override; DataError for missing or bad data; Error when a run
 *   fails (after the other runs finished and their records were written).
 */
export async function runExperiment(exp: Experiment, opts: ExperimentOptions = {}): Promise<StudyResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((l: string) => console.log(l));
  const quick = opts.quick ?? false;
  const runs = resolveRuns(exp, { quick, overrides: opts.overrides, only: opts.only });
  const dataDir = opts.dataDir ?? defaultDataDir();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const backend = opts.backend ?? ((process.env.FERLAB_BACKEND as BackendChoice) || 'auto');
  const info = await initBackend(backend);
  log(`ferlab: backend ${info.description}`);
  const ds = await loadDataset({ dataDir, cacheDir, log });
  for (const r of runs) buildLabelSet(ds, r.labels); // fail now, not in a worker, if FER+ votes are missing
  // wasm and cpu are single-threaded here: one training per core. tfjs-node uses all cores (or the GPU) by itself.
  const perCore = info.name === 'wasm' || info.name === 'cpu';
  const workers = Math.max(1, Math.min(opts.workers ?? (perCore ? (exp.workers ?? availableParallelism()) : 1), runs.length));
  const dir = join(opts.runsDir ?? defaultRunsDir(), `${exp.name}${quick ? '-quick' : ''}-${stamp()}`);
  mkdirSync(dir, { recursive: true });
  const env = environment(info.description);
  writeJsonAtomic(join(dir, 'study.json'), {
    experiment: exp,
    quick,
    overrides: opts.overrides ?? [],
    runs,
    workers,
    environment: env,
    started: new Date().toISOString(),
  });
  log(`ferlab: experiment '${exp.name}'${quick ? ' (quick)' : ''}: ${runs.length} runs on ${workers} worker${workers > 1 ? 's' : ''} -> ${dir}`);

  const order = [...runs].sort((a, b) => cost(b, ds) - cost(a, ds));
  const view = new ProgressView(opts.progress, log);
  const summaries = new Map<string, RunSummary>();
  const failures: string[] = [];
  const onEpoch = (run: string, e: { epoch: number; valAccuracy: number; trainLoss: number; imagesPerSec: number; trainSeconds: number }) =>
    view.log(
      `  ${run}: epoch ${e.epoch} loss ${e.trainLoss.toFixed(3)} val acc ${(100 * e.valAccuracy).toFixed(2)}% (${e.imagesPerSec.toFixed(0)} img/s, ${formatSeconds(e.trainSeconds)})`,
    );

  if (workers === 1) {
    for (const run of order) {
      try {
        const s = await runOne(run, ds, { dir: join(dir, run.name), env, onStep: (p) => view.update(run.name, p), onEpoch: (e) => onEpoch(run.name, e) });
        summaries.set(run.name, s);
        view.log(`  ${run.name}: done, test accuracy ${(100 * s.test.accuracy).toFixed(2)}%`);
      } catch (e) {
        failures.push(`${run.name}: ${(e as Error).stack ?? e}`);
      }
    }
  } else {
    const queue = [...order];
    await Promise.all(
      Array.from(
        { length: workers },
        () =>
          new Promise<void>((resolve) => {
            const init: WorkerInit = { backend: info.name === 'tensorflow' ? backend : (info.name as BackendChoice), dataDir, cacheDir };
            const w = new Worker(workerCode(), { eval: true, workerData: init });
            let current: string | undefined;
            const next = () => {
              const run = queue.shift();
              if (!run) {
                w.postMessage({ type: 'exit' } satisfies ToWorker);
                return;
              }
              current = run.name;
              w.postMessage({ type: 'run', run, dir: join(dir, run.name) } satisfies ToWorker);
            };
            w.on('message', (m: FromWorker) => {
              if (m.type === 'ready') next();
              else if (m.type === 'step') view.update(m.run, m);
              else if (m.type === 'epoch') onEpoch(m.run, m.record);
              else if (m.type === 'done') {
                summaries.set(m.run, m.summary);
                view.log(`  ${m.run}: done, test accuracy ${(100 * m.summary.test.accuracy).toFixed(2)}%`);
                next();
              } else if (m.type === 'failed') {
                failures.push(`${m.run}: ${m.error}`);
                if (m.run === '*') w.terminate();
                else next();
              }
            });
            w.on('error', (e) => {
              failures.push(`${current ?? 'worker'}: ${e.stack ?? e}`);
              resolve();
            });
            w.on('exit', () => resolve());
          }),
      ),
    );
  }
  view.stop();
  const done = runs.map((r) => summaries.get(r.name)).filter((s): s is RunSummary => s !== undefined);
  const result: StudyResult = { experiment: exp.name, quick, dir, runs: done, wallSeconds: (performance.now() - t0) / 1000, workers, environment: env };
  writeJsonAtomic(join(dir, 'results.json'), result);
  writeFileAtomic(join(dir, 'results.md'), resultsMarkdown(result));
  if (done.length) {
    const readHistory = (d: string) =>
      readFileSync(join(d, 'epochs.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    writeStudyReport(
      result,
      done.map((summary) => ({ summary, history: readHistory(summary.dir) })),
    );
  }
  if (failures.length) throw new Error(`${failures.length} run(s) failed (records of the others are in ${dir}):\n${failures.join('\n')}`);
  return result;
}
