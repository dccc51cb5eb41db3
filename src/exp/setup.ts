/**
 * The set-up every runner shares: experiments (src/exp/experiment.ts runExperiment / resumeExperiment) and sweeps
 * (src/sweep/runner.ts runSweep / resumeSweep). The options both take ({@link RunnerOptions}) are declared and
 * documented here once; {@link setUpRunner} turns them into the data and cache folders, the validated and initialised
 * tfjs backend, the loaded dataset (with the label sets the runs need checked) and the default worker count.
 *
 * A sweep on a remote queue (src/sweep/queue.ts) only resolves its options ({@link resolveRunnerOptions}): its remote
 * workers train with their own data and backend.
 */
import { availableParallelism } from 'node:os';
import { backendFromEnv, initBackend, parseBackendChoice, recordedBackend, type BackendChoice, type BackendInfo } from '../backend/select';
import { loadNativeAddon } from '../backend/native/addon';
import { loadDataset, type FerDataset } from '../data/dataset';
import { buildLabelSet, type LabelSetName } from '../data/labels';
import type { EpochRecord, StepProgress } from '../train/loop';
import { environment, type Environment } from '../util/env';
import { defaultCacheDir, defaultDataDir } from '../util/paths';

/** Options every runner takes (experiments: ExperimentOptions, src/exp/experiment.ts; sweeps: SweepOptions, src/sweep/runner.ts). */
export interface RunnerOptions {
  /**
   * Run the quick variant: the same code on a small slice (an experiment's `quick`, a sweep spec file's `quick`
   * export). On resume: refused when it differs from the stored variant (resume keeps it as it is).
   */
  quick?: boolean;
  /**
   * Trainings side by side on worker threads (src/exp/pool.ts). Default: one per CPU core on the single-threaded wasm
   * and cpu backends (an experiment's own `workers` setting first), cores / threads on native ({@link chooseWorkers}),
   * else 1 (tfjs-node uses every core, or the GPU, by itself); never more than the runs there are to train. An experiment with 1 trains in this thread. A sweep on a
   * remote queue: the number of trials queued or running at a time (default 2).
   */
  workers?: number;
  /** Folder of the data (default FERLAB_DATA_DIR, else data/: src/util/paths.ts defaultDataDir). */
  dataDir?: string;
  /** Folder of the parsed-data cache (default FERLAB_CACHE_DIR, else .cache/); false: no cache. */
  cacheDir?: string | false;
  /** Parent folder of experiment and sweep folders (default FERLAB_RUNS_DIR, else runs/). */
  runsDir?: string;
  /** tfjs backend (default FERLAB_BACKEND, else auto); validated (an Error names the valid choices). */
  backend?: BackendChoice;
  /** Where status lines go (default console.log). */
  log?: (line: string) => void;
  /** After every training step of a run or trial, with its name (progress bars: src/cli/progress.ts). */
  onStep?: (run: string, p: StepProgress) => void;
  /** After every epoch of a run or trial, with its name (default: a status line through `log`). */
  onEpoch?: (run: string, r: EpochRecord) => void;
}

/** The options of {@link RunnerOptions} that need no backend or data, resolved to their defaults. */
export interface ResolvedRunnerOptions {
  dataDir: string;
  cacheDir: string | false;
  /** The backend asked for: the option, else FERLAB_BACKEND, else `auto`. */
  backend: BackendChoice;
  /** The log function: the option, else console.log. */
  log: (line: string) => void;
}

/** What {@link setUpRunner} prepared for a runner. */
export interface RunnerSetup extends ResolvedRunnerOptions {
  /** The initialised backend (its name and start-up description). */
  backendInfo: BackendInfo;
  /**
   * The backend to hand to worker threads (src/exp/worker.ts WorkerInit): the one that was initialised (so `auto`
   * picks the same in every thread: `native` where its addon loads, each worker on FERLAB_NATIVE_THREADS oneDNN
   * threads, which worker threads read from their copy of this process's environment; the CLI's `--threads` sets it),
   * except tensorflow, where the choice asked for is kept.
   */
  workerBackend: BackendChoice;
  /** Whether trainings run one per core (wasm and cpu are single-threaded here). */
  perCore: boolean;
  /**
   * Worker count: the `workers` option, else (on a per-core backend) the runner's default, else one per CPU core
   * (availableParallelism), else 1; at least 1. The runner may lower it further (runs left to train, a sweep's budget).
   */
  workers: number;
  /** The dataset, loaded (from the cache when it is fresh). */
  dataset: FerDataset;
  /** The environment recorded in experiment.json / sweep.json, with the backend's description. */
  env: Environment;
}

/**
 * Resolves the options that need neither backend nor data: data and cache folders, backend choice, log.
 * @throws Error when `opts.backend` (or FERLAB_BACKEND) is not a valid backend choice.
 */
export function resolveRunnerOptions(opts: RunnerOptions): ResolvedRunnerOptions {
  return {
    dataDir: opts.dataDir ?? defaultDataDir(),
    cacheDir: opts.cacheDir ?? defaultCacheDir(),
    backend: opts.backend !== undefined ? parseBackendChoice(opts.backend, 'backend option') : backendFromEnv(),
    log: opts.log ?? ((l: string) => console.log(l)),
  };
}

/**
 * The worker count of a runner, and for the native backend how the cores are divided: wasm and cpu train one run per
 * core; native runs each training on `backendInfo.threads` oneDNN threads (FERLAB_NATIVE_THREADS, `--threads`), so
 * its default is floor(cores / threads) workers (at least 1), keeping workers x threads <= cores (issue 28); other
 * backends (tfjs-node, webgpu) use the whole machine or the GPU per training: 1.
 *
 * @param opts.requested the `workers` option (wins when given); `runnerDefault` an experiment's own `workers`
 *   setting (per-core backends); `cores` the CPU cores (os.availableParallelism()).
 * @returns the count, and for native a line saying how it was chosen (a warning when workers x threads > cores).
 */
export function chooseWorkers(
  backendInfo: Pick<BackendInfo, 'name' | 'threads'>,
  opts: { requested?: number; runnerDefault?: number; cores: number },
): { workers: number; note?: string } {
  if (backendInfo.name === 'native') {
    const threads = backendInfo.threads ?? 1;
    const fit = Math.max(1, Math.floor(opts.cores / threads));
    const workers = Math.max(1, opts.requested ?? opts.runnerDefault ?? fit);
    const how =
      opts.requested !== undefined
        ? 'the workers option'
        : opts.runnerDefault !== undefined
          ? "the experiment's workers setting"
          : `floor(${opts.cores} cores / ${threads} threads)`;
    const over = workers * threads > opts.cores ? `: more threads than cores, which slows every training (set --threads or --workers)` : '';
    return {
      workers,
      note: `native: ${workers} worker${workers === 1 ? '' : 's'} x ${threads} oneDNN thread${threads === 1 ? '' : 's'} on ${opts.cores} cores (${how})${over}`,
    };
  }
  const perCore = backendInfo.name === 'wasm' || backendInfo.name === 'cpu';
  return { workers: Math.max(1, opts.requested ?? (perCore ? (opts.runnerDefault ?? opts.cores) : 1)) };
}

/**
 * Prepares a runner before it writes anything: resolves the options ({@link resolveRunnerOptions}), initialises the
 * backend (logging `ferlab: backend <description>`; `auto`: a hardware GPU, else native when its addon is built, else
 * wasm, src/backend/select.ts initBackend; the description is recorded in the environment), loads the dataset
 * (logging through `log`), checks that every label set in `labels` can be built from it (so that missing FER+ votes
 * fail now, not in a worker thread), and picks the worker count (see {@link RunnerSetup.workers}; on native
 * {@link chooseWorkers} divides the cores by the oneDNN threads).
 *
 * @param labels the label sets the runs will train on.
 * @param defaults.workers the runner's default worker count on a per-core backend (an experiment's `workers`
 *   setting); undefined: one per CPU core.
 * @throws Error for an invalid or unavailable backend; DataError for missing or bad data; Error naming the label set
 *   when it cannot be built.
 */
export async function setUpRunner(opts: RunnerOptions, labels: Iterable<LabelSetName>, defaults: { workers?: number } = {}): Promise<RunnerSetup> {
  const resolved = resolveRunnerOptions(opts);
  const { dataDir, cacheDir, backend, log } = resolved;
  const backendInfo = await initBackend(backend);
  log(`ferlab: backend ${backendInfo.description}`);
  const dataset = await loadDataset({ dataDir, cacheDir, log });
  for (const l of labels) buildLabelSet(dataset, l); // fail now, not in a worker, if FER+ votes are missing
  const perCore = backendInfo.name === 'wasm' || backendInfo.name === 'cpu';
  const { workers, note } = chooseWorkers(backendInfo, { requested: opts.workers, runnerDefault: defaults.workers, cores: availableParallelism() });
  if (note) log(`ferlab: ${note}`);
  return {
    ...resolved,
    backendInfo,
    workerBackend: backendInfo.name === 'tensorflow' ? backend : (backendInfo.name as BackendChoice),
    perCore,
    workers,
    dataset,
    env: environment(backendInfo.description),
  };
}

/**
 * The runner options of a resume (experiments and sweeps): a resumed run continues on the backend (and native thread count) its experiment
 * or sweep recorded (the `backend` of its environment), so that it ends with the numbers an uninterrupted run gives (backends differ in the last bits, and those
 * grow over epochs), unless a backend is asked for (`--backend`, FERLAB_BACKEND) or the recorded one is not
 * available here (then `auto`, and a line says so). Native's threads: the recorded count unless FERLAB_NATIVE_THREADS
 * (`--threads`) is set.
 */
export function resumeBackend<O extends RunnerOptions>(recorded: unknown, opts: O): O & { backend?: BackendChoice } {
  if (opts.backend !== undefined || process.env.FERLAB_BACKEND) return opts;
  const rec = recordedBackend(recorded);
  const log = opts.log ?? ((l: string) => console.log(l));
  if (!rec) return opts;
  if (rec.name === 'native') {
    const addon = loadNativeAddon();
    if ('error' in addon) {
      log(
        `ferlab: this experiment was trained on native, which is not available here (${addon.error}); resuming on auto: its numbers will differ from an uninterrupted run's`,
      );
      return opts;
    }
    if (rec.threads && !process.env.FERLAB_NATIVE_THREADS) process.env.FERLAB_NATIVE_THREADS = String(rec.threads);
  } else if (rec.name !== 'wasm' && rec.name !== 'cpu') {
    return opts; // GPU backends: auto finds the GPU again, or says why not
  }
  log(
    `ferlab: resuming on the recorded backend ${rec.name}${rec.name === 'native' ? ` (${process.env.FERLAB_NATIVE_THREADS} oneDNN thread(s))` : ''}; --backend chooses another`,
  );
  return { ...opts, backend: rec.name };
}
