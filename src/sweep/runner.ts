import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { backendFromEnv, initBackend, parseBackendChoice, type BackendChoice } from '../backend/select';
import { loadDataset } from '../data/dataset';
import { buildLabelSet } from '../data/labels';
import { ConfigError, isSafeRunName, RunConfigSchema, SettingsSchema, type RunConfig } from '../exp/config';
import { loadHistory } from '../exp/records';
import type { RunSummary } from '../exp/run';
import { CHECKPOINT_FILE, readRunStatus, writeRunStatus } from '../exp/status';
import { runOnWorkers, type PoolEvents, type RunQueue } from '../exp/pool';
import '../models';
import { loadCheckpoint, removeCheckpoint } from '../train/checkpoint';
import type { EpochRecord, StepProgress } from '../train/loop';
import { readRecord } from '../records/io';
import { EPOCHS_FILE, METRICS_FILE, readRunConfigFile, readRunSummary, writeEpochs } from '../records/run';
import {
  SWEEP_FILE,
  SweepRecordSchema,
  writeSweepRecord,
  writeSweepResult,
  type BestTrial,
  type SplitScore,
  type SweepRecord,
  type SweepResultRecord,
  type TrialRow,
} from '../records/sweep';
import { writeFileAtomic } from '../util/atomic';
import { environment, type Environment } from '../util/env';
import { formatSeconds, pct } from '../util/format';
import { defaultCacheDir, defaultDataDir, defaultRunsDir } from '../util/paths';
import { SweepEngine, type Trial } from './engine';
import { JournalWriteError, type TrialRecord, type TrialState } from './journal';
import { resolveSweep, sweepLabels, type ResolvedSweep, type SweepQuick, type SweepSlice } from './load';
import { reproduceRun, type Reproduction } from './reproduce';
import type { Params } from './space';
import { SweepSpecSchema, type SweepSpec, type SweepSpecInput } from './spec';
import { runOnQueue } from './queue';
import { assertRedisReachable, redactRedisUrl } from './redis';
import { writeSweepReport } from './report';
import { runStamp } from '../util/time';

/**
 * Runs sweeps for real: the ask-and-tell engine (engine.ts) drives trainings on the local worker pool of the
 * experiment runner (src/exp/pool.ts runOnWorkers, one training per core on worker threads).
 *
 * A sweep folder (`runs/<sweep>[-quick]-<timestamp>/`) holds:
 * - `sweep.json`: the resolved spec, the slice, the environment, the command, the state (`running`, `complete` or
 *   `failed`; `complete` only once every trial is finished and the budget or the sampler said stop);
 * - `journal.jsonl`: the engine's journal, the truth about trials (journal.ts);
 * - one run record per trial, `trial-0007/`, exactly what runOne (src/exp/run.ts) writes for an experiment's run: config.json,
 *   status.json, epochs.jsonl, metrics.json, predictions.json, model/, report.html; a pruned trial keeps config.json and
 *   epochs.jsonl, with status.json `pruned`;
 * - `results.json` / `results.md`: the leaderboard of trials and the best one with how to reproduce it (rewritten after
 *   every finished trial).
 *
 * Each trial's settings are the defaults, then the spec's base, then the trial's params (then the quick slice),
 * validated by the experiment config schema (SettingsSchema). After every epoch the worker waits while the coordinator
 * journals the epoch's PublicTest objective (`valAccuracy` or `valMacroF1` of the epoch record) with engine.report and
 * asks the pruner: a pruned trial stops after that epoch (its worker is replaced, see runOnWorkers). A complete trial's
 * objective is that of the run's selected epoch (the best PublicTest accuracy, metrics.json `val`): for the macroF1
 * objective, the macro-F1 of the accuracy-selected epoch. PrivateTest is only reported.
 *
 * Failures: a run that throws or whose worker dies goes to engine.retryOrFail; a retry continues from the trial's
 * per-epoch checkpoint when there is one (runOne resumes from it), else starts over. A diverged training (TrainError,
 * a NaN loss) is deterministic and is failed without a retry.
 *
 * Crash safety: after a SIGKILL of the coordinator, {@link resumeSweep} keeps complete, pruned and failed trials as they
 * are, continues the trials that were running from their last checkpoint with the same params (epochs the journal
 * missed are reported first, from the checkpoint), and rebuilds the sampler from the journal, so the sweep proposes
 * what it would have proposed. With several workers, which trials exist when a trial is asked for (TPE) or reports
 * (pruning) depends on timing; random and grid sampling without pruning do not.
 */

/** Options of {@link runSweep} and {@link resumeSweep}. */
export interface SweepOptions {
  /** Run the spec file's quick variant (runSweep only; resume keeps the stored variant). */
  quick?: boolean;
  /** Budget overrides: each replaces its own field of the spec's budget (also on resume). */
  trials?: number;
  minutes?: number;
  /** Trainings side by side (worker threads); default: one per CPU core on wasm / cpu, else 1. */
  workers?: number;
  dataDir?: string;
  cacheDir?: string | false;
  /** Parent folder of sweep folders (default FERLAB_RUNS_DIR or runs/). */
  runsDir?: string;
  /** tfjs backend (default FERLAB_BACKEND, else auto); validated. */
  backend?: BackendChoice;
  /** The command line recorded in sweep.json (default: a description of the API call). */
  command?: string;
  /**
   * Train the trials on remote workers through BullMQ on this Redis (`redis://[:password@]host:port`, `rediss://` for
   * TLS; `npm run ferlab -- worker --queue <url>` on each machine, src/sweep/queue.ts) instead of local worker
   * threads; `workers` then is the number of trials queued or running at a time (default 2). The password never
   * reaches logs or sweep.json.
   */
  queue?: string;
  /** Where status lines go (default console.log). */
  log?: (line: string) => void;
  /** After every training step of a trial (progress bars). */
  onStep?: (run: string, p: StepProgress) => void;
  /** After every epoch of a trial (default: a status line through `log`). */
  onEpoch?: (run: string, r: EpochRecord) => void;
}

/**
 * The records of a sweep folder: sweep.json (SweepInfo), the leaderboard results.json (SweepResult) and its trial
 * records (TrialRow, BestTrial, SplitScore). Schemas, file names and readers / writers: src/records/sweep.ts; the
 * sweep.json `spec` and results.json `objective` are this layer's (src/sweep/spec.ts).
 */
export type SweepInfo = Omit<SweepRecord, 'spec'> & { spec: SweepSpec };
export type SweepResult = Omit<SweepResultRecord, 'objective'> & { objective: SweepSpec['objective'] };
export type { BestTrial, SplitScore, TrialRow } from '../records/sweep';
export { SWEEP_FILE } from '../records/sweep';

/** {@link SweepInfo}'s schema: the record's, its `spec` checked by the sweep spec schema. */
const SweepInfoSchema = SweepRecordSchema.extend({ spec: SweepSpecSchema });

/** The run record folder name of trial `n`: `trial-0007`. */
export function trialRunName(n: number): string {
  return `trial-${String(n).padStart(4, '0')}`;
}

/** Compact text of params: `lr=0.00123 batchSize=64`. */
export function paramsText(p: Params): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(3)) : v}`)
    .join(' ');
}

/**
 * The resolved run of a trial: the defaults, the spec's base and the trial's params (engine's settings diff), and the
 * slice, validated by the experiment config schema.
 * @throws ConfigError naming the trial and its params when the settings are invalid.
 */
export function trialRunConfig(spec: SweepSpec, slice: SweepSlice, trial: Pick<Trial, 'trial' | 'params' | 'settingsDiff'>): RunConfig {
  const r = SettingsSchema.safeParse({ ...(trial.settingsDiff as Record<string, unknown>), slice });
  if (!r.success)
    throw new ConfigError(
      `sweep '${spec.name}' trial ${trial.trial} (${JSON.stringify(trial.params)}): invalid settings: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return { experiment: spec.name, name: trialRunName(trial.trial), model: spec.model, labels: sweepLabels(spec), ...r.data };
}

/**
 * Starts a sweep: resolves the spec (quick variant, budget overrides) and checks it, the backend and the data (label
 * set) before anything is written, then creates the sweep folder `<runsDir>/<name>[-quick]-<timestamp>` and runs the
 * trials until the budget or the sampler says stop (see the module comment).
 *
 * @param def a loaded spec file (loadSweep), or `{ spec, quick? }` with a spec (validated here) and its quick variant.
 * @returns the results (also in results.json); trials that failed are in it (state failed), not thrown.
 * @throws SweepSpecError naming the parameter or field for an invalid spec (no folder is created); DataError for
 *   missing or bad data; Error for an unknown backend, or when the sweep cannot go on (no worker thread starts, the
 *   sampler proposes params that give invalid settings): sweep.json then says `failed`.
 */
export async function runSweep(def: { spec: SweepSpec | SweepSpecInput; quick?: SweepQuick; file?: string }, opts: SweepOptions = {}): Promise<SweepResult> {
  const resolved = resolveSweep(def, { quick: opts.quick, trials: opts.trials, minutes: opts.minutes });
  const { spec } = resolved;
  const log = opts.log ?? ((l: string) => console.log(l));
  const ctx = await prepare(resolved, opts, log);
  const parent = opts.runsDir ?? defaultRunsDir();
  let dir = join(parent, `${spec.name}${resolved.quick ? '-quick' : ''}-${runStamp()}`);
  for (let i = 2; existsSync(dir); i++) dir = join(parent, `${spec.name}${resolved.quick ? '-quick' : ''}-${runStamp()}-${i}`);
  const command = opts.command ?? `runSweep('${spec.name}'${resolved.quick ? ', { quick: true }' : ''})`;
  mkdirSync(dir, { recursive: true });
  const info: SweepInfo = {
    kind: 'sweep',
    name: spec.name,
    ...(spec.question ? { question: spec.question } : {}),
    quick: resolved.quick,
    spec,
    slice: resolved.slice,
    source: def.file ?? null,
    command,
    workers: ctx.workers,
    ...(opts.queue ? { queue: redactRedisUrl(opts.queue) } : {}),
    environment: ctx.env,
    started: new Date().toISOString(),
    state: 'running',
  };
  writeSweepRecord(dir, info);
  const engine = SweepEngine.create(dir, spec);
  log(
    `ferlab: sweep '${spec.name}'${resolved.quick ? ' (quick)' : ''}: ${budgetText(spec)}, ${spec.sampler.name} sampler, ${prunerText(spec)}, ${ctx.workers} worker${ctx.workers > 1 ? 's' : ''} -> ${dir}`,
  );
  return execute(dir, info, engine, [], ctx, opts, log);
}

/**
 * Reads a sweep folder's sweep.json.
 * @throws ConfigError when the folder has none; RecordError naming the file and field when it is malformed.
 */
export function loadSweepInfo(dir: string): SweepInfo {
  const file = join(dir, SWEEP_FILE);
  if (!existsSync(file)) throw new ConfigError(`${dir} is not a sweep folder (no ${SWEEP_FILE}): nothing to resume`);
  return readRecord(SweepInfoSchema, file);
}

/**
 * Continues an interrupted sweep in its folder (after a crash, reboot, Ctrl-C or SIGKILL of the coordinator), with the
 * spec stored in sweep.json: complete, pruned and failed trials are kept as they are (never run again); trials that
 * were running continue from their last checkpoint with the same params; then new trials are asked for from the
 * sampler rebuilt from the journal, until the budget (which `opts.trials` / `opts.minutes` may raise) says stop.
 * A finished sweep can be resumed with a larger budget.
 *
 * @param opts.quick refused when it differs from the stored variant; workers, backend, data and cache folders may
 *   differ from the first start.
 * @throws ConfigError when `dir` is no sweep folder, or --quick differs; Error when the journal does not match the
 *   stored spec or is corrupt (naming file and line); the errors of {@link runSweep}.
 */
export async function resumeSweep(dir: string, opts: SweepOptions = {}): Promise<SweepResult> {
  const stored = loadSweepInfo(dir);
  if (opts.quick !== undefined && opts.quick !== stored.quick)
    throw new ConfigError(`${dir} is a ${stored.quick ? '--quick' : 'full'} sweep: --resume keeps it as it is (drop ${opts.quick ? '--quick' : 'the option'})`);
  const resolved: ResolvedSweep = {
    ...resolveSweep({ spec: stored.spec }, { trials: opts.trials, minutes: opts.minutes }),
    quick: stored.quick,
    slice: stored.slice,
  };
  const spec = resolved.spec;
  const log = opts.log ?? ((l: string) => console.log(l));
  const { engine, interrupted } = SweepEngine.resume(dir, spec);
  const ctx = await prepare(resolved, opts, log);
  const info: SweepInfo = {
    ...stored,
    spec,
    workers: ctx.workers,
    ...(opts.queue ? { queue: redactRedisUrl(opts.queue) } : {}),
    state: 'running',
    resumed: [...(stored.resumed ?? []), { time: new Date().toISOString(), command: opts.command ?? `resumeSweep('${dir}')` }],
  };
  delete info.stopReason;
  delete info.finished;
  delete info.error;
  writeSweepRecord(dir, info);
  const done = engine.trials().filter((t) => t.state !== 'running').length;
  log(
    `ferlab: resuming sweep '${spec.name}'${stored.quick ? ' (quick)' : ''}: ${done} trial${done === 1 ? '' : 's'} finished before, ${interrupted.length} to continue, ` +
      `${budgetText(spec)}, ${ctx.workers} worker${ctx.workers > 1 ? 's' : ''} -> ${dir}`,
  );
  fixPrunedRecords(dir, engine);
  return execute(dir, info, engine, interrupted, ctx, opts, log);
}

function budgetText(spec: SweepSpec): string {
  const b = spec.budget;
  return `budget ${[b.trials !== undefined ? `${b.trials} trials` : '', b.minutes !== undefined ? `${b.minutes} min` : ''].filter(Boolean).join(' / ')}`;
}

function prunerText(spec: SweepSpec): string {
  const p = spec.pruner;
  if (p.name === 'none') return 'no pruning';
  if (p.name === 'median') return `median pruning (after ${p.startupTrials} trials, epochs > ${p.warmupEpochs})`;
  return `ASHA pruning (rungs from epoch ${p.minEpochs}, x${p.reductionFactor}${p.maxEpochs !== undefined ? `, below ${p.maxEpochs}` : ''})`;
}

interface Context {
  workers: number;
  env: Environment;
  dataDir: string;
  cacheDir: string | false;
  backend: BackendChoice;
}

/** Backend, data and label set checked before a sweep folder is written; the number of workers. */
async function prepare(resolved: ResolvedSweep, opts: SweepOptions, log: (l: string) => void): Promise<Context> {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const backend = opts.backend !== undefined ? parseBackendChoice(opts.backend, 'backend option') : backendFromEnv();
  if (opts.queue) {
    // remote workers train with their own data and backend: here only the queue must answer
    await assertRedisReachable(opts.queue);
    log(`ferlab: trials go to the BullMQ queue on ${redactRedisUrl(opts.queue)} (start workers with: npm run ferlab -- worker --queue <url>)`);
    return { workers: Math.max(1, opts.workers ?? 2), env: environment(`remote workers via ${redactRedisUrl(opts.queue)}`), dataDir, cacheDir, backend };
  }
  const info = await initBackend(backend);
  log(`ferlab: backend ${info.description}`);
  const ds = await loadDataset({ dataDir, cacheDir, log });
  buildLabelSet(ds, sweepLabels(resolved.spec)); // fail now, not in a worker, if FER+ votes are missing
  const perCore = info.name === 'wasm' || info.name === 'cpu';
  const workers = Math.max(1, opts.workers ?? (perCore ? availableParallelism() : 1));
  return { workers, env: environment(info.description), dataDir, cacheDir, backend: info.name === 'tensorflow' ? backend : (info.name as BackendChoice) };
}

/** The objective of a set of PublicTest metrics. */
function objectiveOf(spec: SweepSpec, m: SplitScore): number {
  return spec.objective.metric === 'accuracy' ? m.accuracy : m.macroF1;
}

/** The epoch an unfinished run would select (best PublicTest accuracy, first on ties), or undefined without epochs. */
function selectedEpoch(history: readonly EpochRecord[]): EpochRecord | undefined {
  let best: EpochRecord | undefined;
  for (const h of history) if (!best || h.valAccuracy > best.valAccuracy) best = h;
  return best;
}

/** Records pruned trials as such: status.json `pruned`, checkpoint removed (fixes a record a SIGKILL left `running`). */
function finishPrunedRecord(rdir: string, history?: readonly EpochRecord[]): void {
  if (!existsSync(rdir)) return;
  if (history?.length) writeEpochs(rdir, history);
  const epoch = history?.length ?? (existsSync(join(rdir, EPOCHS_FILE)) ? loadHistory(rdir).length : null);
  writeRunStatus(rdir, { state: 'pruned', epoch });
  removeCheckpoint(join(rdir, CHECKPOINT_FILE));
}

/** Pruned trials whose run record does not say so yet (the coordinator died between the journal and the worker). */
function fixPrunedRecords(dir: string, engine: SweepEngine): void {
  for (const t of engine.trials()) {
    if (t.state !== 'pruned') continue;
    // records are written here only in a run folder the runner names (a journal edited to name '../x' writes nothing)
    const rdir = join(dir, isSafeRunName(t.runDir) ? t.runDir : trialRunName(t.trial));
    const status = readRunStatus(rdir);
    if (status && status.state !== 'pruned' && status.state !== 'complete') {
      let history: EpochRecord[] | undefined;
      try {
        history = loadCheckpoint<unknown, EpochRecord>(join(rdir, CHECKPOINT_FILE))?.history;
      } catch {
        history = undefined;
      }
      finishPrunedRecord(rdir, history);
    }
  }
}

async function execute(
  dir: string,
  info: SweepInfo,
  engine: SweepEngine,
  interrupted: Trial[],
  ctx: Context,
  opts: SweepOptions,
  log: (l: string) => void,
): Promise<SweepResult> {
  const t0 = performance.now();
  const spec = info.spec;
  const rec = (t: number): TrialRecord => engine.trials()[t];
  const running = (t: number) => rec(t)?.state === 'running';
  const byName = new Map<string, number>();
  const pending: Trial[] = [...interrupted];
  let fatal: Error | undefined;
  let saidNoMore = false;
  /** A journal append that failed (disk full, ...) stops the sweep: no new trial; it ends `failed` with that error. */
  const stopOnJournalError = (e: JournalWriteError): void => {
    if (!fatal) log(`ferlab: sweep stops: ${e.message}`);
    fatal ??= e;
    pending.length = 0;
  };
  const journaled =
    <A extends unknown[]>(f: (...a: A) => void) =>
    (...a: A): void => {
      try {
        f(...a);
      } catch (e) {
        if (!(e instanceof JournalWriteError)) throw e;
        stopOnJournalError(e);
      }
    };
  // no more workers than trials the budget still allows (a worker loads the data before it can take one)
  const { trials: maxTrials, minutes } = spec.budget;
  let capacity = maxTrials === undefined ? Infinity : pending.length + Math.max(0, maxTrials - engine.trials().length);
  if (minutes !== undefined && engine.elapsedMs() >= minutes * 60_000) capacity = pending.length;
  const workers = Math.min(ctx.workers, capacity);
  const results = () => writeResults(dir, info, engine, Math.max(1, workers), (performance.now() - t0) / 1000, log);

  /** Journals the epochs of `history` that the journal lacks (or has with another value). @returns 'prune' when pruned. */
  const catchUp = (t: number, history: readonly EpochRecord[]): 'continue' | 'prune' => {
    for (const h of history) {
      if (!running(t)) return 'prune';
      const v = objectiveOf(spec, { accuracy: h.valAccuracy, macroF1: h.valMacroF1 });
      if (rec(t).intermediates.get(h.epoch) === v) continue;
      if (engine.report(t, h.epoch, v) === 'prune') return 'prune';
    }
    return running(t) ? 'continue' : 'prune';
  };

  /** The run to train for trial `t`, or undefined when its record shows it finished already (then journaled). */
  const toRun = (t: Trial): RunConfig | undefined => {
    const name = trialRunName(t.trial);
    const rdir = join(dir, name);
    if (rec(t.trial).runDir !== name) engine.setRunDir(t.trial, name);
    const status = readRunStatus(rdir);
    if (status?.state === 'complete' && existsSync(join(rdir, METRICS_FILE))) {
      // finished before the coordinator could journal it
      const s = readRunSummary(rdir);
      catchUp(t.trial, loadHistory(rdir));
      if (running(t.trial)) engine.tell(t.trial, { state: 'complete', value: objectiveOf(spec, s.val), runDir: name });
      log(`  ${name}: complete before the interruption (objective ${objectiveOf(spec, s.val).toFixed(4)})`);
      return undefined;
    }
    if (status?.state === 'pruned') {
      catchUp(t.trial, existsSync(join(rdir, EPOCHS_FILE)) ? loadHistory(rdir) : []);
      if (running(t.trial)) engine.tell(t.trial, { state: 'pruned', runDir: name });
      return undefined;
    }
    let history: EpochRecord[] | undefined;
    try {
      history = loadCheckpoint<unknown, EpochRecord>(join(rdir, CHECKPOINT_FILE))?.history;
    } catch (e) {
      log(`  ${name}: unreadable checkpoint, starting over (${(e as Error).message})`);
      removeCheckpoint(join(rdir, CHECKPOINT_FILE));
    }
    if (history?.length) {
      if (catchUp(t.trial, history) === 'prune') {
        finishPrunedRecord(rdir, history);
        log(`  ${name}: pruned after epoch ${history.length} (from its checkpoint)`);
        return undefined;
      }
      log(`  ${name}: continues from its checkpoint after epoch ${history.length}${t.attempt > 1 ? ` (attempt ${t.attempt})` : ''}`);
    }
    byName.set(name, t.trial);
    return trialRunConfig(spec, info.slice, t);
  };

  const queue: RunQueue = {
    next: () => {
      for (;;) {
        let t = pending.shift();
        if (!t) {
          if (fatal) return undefined;
          try {
            t = engine.ask();
          } catch (e) {
            fatal = e as Error;
            log(`ferlab: sweep stopped: ${fatal.message}`);
            return undefined;
          }
          if (!t) {
            if (!saidNoMore)
              log(
                `ferlab: no more trials (${engine.stopReason === 'sampler' ? 'the sampler has proposed every configuration' : `budget: ${engine.stopReason}`})`,
              );
            saidNoMore = true;
            return undefined;
          }
          log(`  ${trialRunName(t.trial)}: ${paramsText(t.params)}`);
        }
        try {
          const run = toRun(t);
          if (run) return run;
        } catch (e) {
          if (running(t.trial)) engine.tell(t.trial, { state: 'failed', error: (e as Error).message, runDir: trialRunName(t.trial) });
          log(`  ${trialRunName(t.trial)}: FAILED before training: ${(e as Error).message}`);
        }
        results();
      }
    },
    more: () => pending.length > 0 || (!fatal && engine.stopReason === undefined && (maxTrials === undefined || engine.trials().length < maxTrials)),
    abandon: (why) => {
      fatal ??= new Error(why);
    },
  };

  if (workers === 0) {
    engine.ask(); // the budget is spent: ask() says so (sets stopReason) without creating a trial
  } else {
    const pool = opts.queue
      ? (q: RunQueue, n: number, init: { dir: string }, ev: PoolEvents) => runOnQueue(q, n, { dir: init.dir, url: opts.queue!, log }, ev)
      : runOnWorkers;
    // a pool that throws (the queue's Redis lost) ends the sweep as failed: its trials still running stay running in the
    // journal, and --resume trains them again
    const pooled = pool(
      queue,
      workers,
      { dir, dataDir: ctx.dataDir, cacheDir: ctx.cacheDir, backend: ctx.backend },
      {
        onStep: (run, p) => opts.onStep?.(run, p),
        onEpoch: (run, r) => {
          if (opts.onEpoch) opts.onEpoch(run, r);
          else
            log(
              `  ${run}: epoch ${r.epoch} loss ${r.trainLoss.toFixed(3)} val acc ${(100 * r.valAccuracy).toFixed(2)}% macro-F1 ${r.valMacroF1.toFixed(3)} (${r.imagesPerSec.toFixed(0)} img/s, ${r.trainSeconds.toFixed(1)} s)`,
            );
        },
        decide: (run, r) => {
          const t = byName.get(run);
          if (t === undefined) return 'continue';
          try {
            if (!running(t)) return 'stop';
            const v = objectiveOf(spec, { accuracy: r.valAccuracy, macroF1: r.valMacroF1 });
            if (rec(t).intermediates.get(r.epoch) === v) return 'continue';
            if (engine.report(t, r.epoch, v) === 'continue') return 'continue';
            log(`  ${run}: pruned after epoch ${r.epoch} (objective ${v.toFixed(4)})`);
            return 'stop';
          } catch (e) {
            if (e instanceof JournalWriteError) stopOnJournalError(e);
            else log(`  ${run}: could not journal epoch ${r.epoch}: ${(e as Error).message}`);
            return 'continue';
          }
        },
        stopped: journaled((run: string) => {
          const t = byName.get(run)!;
          if (running(t)) engine.tell(t, { state: 'pruned', runDir: run });
          results();
        }),
        done: journaled((s: RunSummary) => {
          const t = byName.get(s.name)!;
          if (existsSync(join(dir, s.name, EPOCHS_FILE))) catchUp(t, loadHistory(join(dir, s.name)));
          if (!running(t)) return;
          const value = objectiveOf(spec, s.val);
          engine.tell(t, { state: 'complete', value, runDir: s.name });
          log(`  ${s.name}: complete, objective ${value.toFixed(4)} (PublicTest acc ${pct(s.val.accuracy)}, PrivateTest acc ${pct(s.test.accuracy)})`);
          results();
        }),
        fail: journaled((run: string, error: string, _epoch: number | null | undefined, name?: string) => {
          const t = byName.get(run);
          if (t === undefined || !running(t)) return;
          if (name === 'TrainError') {
            engine.tell(t, { state: 'failed', error, runDir: run });
            log(`  ${run}: FAILED (not retried: a diverged training fails again): ${error.split('\n')[0]}`);
          } else if (engine.retryOrFail(t, error) === 'retry') {
            pending.unshift(engine.trialToRun(t));
            log(
              `  ${run}: failed (${error.split('\n')[0]}); retrying, attempt ${rec(t).attempts}${existsSync(join(dir, run, CHECKPOINT_FILE)) ? ', from its checkpoint' : ''}`,
            );
          } else log(`  ${run}: FAILED after ${rec(t).attempts} attempt(s): ${error.split('\n')[0]}`);
          results();
        }),
      },
    );
    try {
      await pooled;
    } catch (e) {
      fatal ??= e as Error;
    }
  }

  const unfinished = engine.trials().filter((t) => t.state === 'running');
  if (!fatal && unfinished.length) fatal = new Error(`trial(s) ${unfinished.map((t) => t.trial).join(', ')} still running when every worker had ended`);
  const finalInfo: SweepInfo = fatal
    ? { ...info, state: 'failed', error: fatal.message, finished: new Date().toISOString() }
    : {
        ...info,
        state: 'complete',
        // no worker may have asked again once the last trial was handed out: a spent trial budget is the reason then
        stopReason: engine.stopReason ?? (maxTrials !== undefined && engine.trials().length >= maxTrials ? 'trials' : 'sampler'),
        finished: new Date().toISOString(),
      };
  writeSweepRecord(dir, finalInfo);
  Object.assign(info, finalInfo);
  const result = results();
  try {
    writeSweepReport(dir);
  } catch (e) {
    log(`ferlab: could not write the sweep report: ${(e as Error).message}`);
  }
  if (fatal) throw new Error(`sweep '${spec.name}' failed: ${fatal.message} (record: ${dir}; npm run ferlab -- sweep --resume ${dir} continues it)`);
  return result;
}

const STATE_RANK: Record<TrialState, number> = { complete: 0, pruned: 1, running: 2, failed: 3 };

/**
 * The leaderboard of a sweep's trials from its journal records and run records, best first (see SweepResult.trials).
 * @param dir the sweep folder.
 */
export function trialRows(dir: string, trials: readonly TrialRecord[]): TrialRow[] {
  const rows = trials.map((t): TrialRow => {
    const run = t.runDir ?? trialRunName(t.trial);
    const rdir = resolve(dir, run);
    const s = t.state === 'complete' && existsSync(join(rdir, METRICS_FILE)) ? readRunSummary(rdir) : undefined;
    let history: EpochRecord[] = [];
    try {
      if (existsSync(join(rdir, EPOCHS_FILE))) history = loadHistory(rdir);
    } catch {
      history = [];
    }
    const sel = selectedEpoch(history);
    return {
      trial: t.trial,
      run,
      dir: rdir,
      params: t.params,
      state: t.state,
      attempts: t.attempts,
      objective: t.value ?? null,
      publicTest: s ? { accuracy: s.val.accuracy, macroF1: s.val.macroF1 } : sel ? { accuracy: sel.valAccuracy, macroF1: sel.valMacroF1 } : null,
      privateTest: s ? { accuracy: s.test.accuracy, macroF1: s.test.macroF1 } : null,
      epochs: s?.epochs ?? history.length,
      bestEpoch: s?.bestEpoch ?? sel?.epoch ?? null,
      trainSeconds: s?.trainSeconds ?? (history.length ? history.reduce((a, h) => a + h.trainSeconds, 0) : null),
      wallSeconds: s?.wallSeconds ?? null,
      ...(t.error ? { error: t.error } : {}),
    };
  });
  return rows.sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || (b.objective ?? -Infinity) - (a.objective ?? -Infinity) || a.trial - b.trial);
}

function writeResults(dir: string, info: SweepInfo, engine: SweepEngine, workers: number, wallSeconds: number, log: (l: string) => void): SweepResult {
  const trials = engine.trials();
  const rows = trialRows(dir, trials);
  const counts: Record<TrialState, number> = { running: 0, complete: 0, pruned: 0, failed: 0 };
  for (const t of trials) counts[t.state]++;
  const bestRecord = engine.best();
  let best: BestTrial | null = null;
  if (bestRecord) {
    const row = rows.find((r) => r.trial === bestRecord.trial)!;
    let reproduce: Reproduction;
    try {
      const { run } = readRunConfigFile(row.dir, RunConfigSchema);
      reproduce = reproduceRun(
        run,
        `${info.name}-${row.run}`,
        `trial ${row.trial} of sweep '${info.name}'${info.quick ? ' (quick)' : ''}: ${paramsText(row.params)}`,
      );
    } catch (e) {
      log(`ferlab: cannot write how to reproduce ${row.run}: ${(e as Error).message}`);
      reproduce = { command: null, experiment: null, run: null, overrides: [], snippet: '', snippetName: '' };
    }
    best = { ...row, reproduce };
  }
  const result: SweepResult = {
    name: info.name,
    quick: info.quick,
    dir,
    state: info.state,
    stopReason: info.stopReason ?? null,
    objective: info.spec.objective,
    trials: rows,
    counts,
    best,
    wallSeconds,
    workers,
    environment: info.environment,
    command: info.command,
  };
  writeSweepResult(dir, result);
  writeFileAtomic(join(dir, 'results.md'), sweepMarkdown(result, info));
  return result;
}

/** Rows of a sweep's leaderboard for printing (strings; see src/cli/table.ts printTable). */
export function sweepTableRows(r: Pick<SweepResult, 'trials'>): Array<Record<string, string | number>> {
  return r.trials.map((t, i) => ({
    rank: t.state === 'complete' ? i + 1 : '-',
    trial: t.run,
    state: t.state,
    objective: t.objective === null ? '-' : t.objective.toFixed(4),
    'PublicTest acc': pct(t.publicTest?.accuracy),
    'PublicTest F1': t.publicTest ? t.publicTest.macroF1.toFixed(3) : '-',
    'PrivateTest acc': pct(t.privateTest?.accuracy),
    'PrivateTest F1': t.privateTest ? t.privateTest.macroF1.toFixed(3) : '-',
    epochs: t.bestEpoch !== null ? `${t.bestEpoch}/${t.epochs}` : String(t.epochs),
    'train time': t.trainSeconds === null ? '-' : formatSeconds(t.trainSeconds),
    params: paramsText(t.params),
  }));
}

/** results.md of a sweep: the leaderboard, the best trial and how to reproduce it, failed trials' errors. */
export function sweepMarkdown(r: SweepResult, info: Pick<SweepInfo, 'question' | 'spec' | 'slice'>): string {
  const rows = sweepTableRows(r);
  const cols = rows.length ? Object.keys(rows[0]) : [];
  const spec = info.spec;
  const slice = Object.values(info.slice).some((v) => v !== null) ? ` · slice ${JSON.stringify(info.slice)}` : '';
  const state = r.state === 'complete' ? `complete (stopped by ${r.stopReason === 'sampler' ? 'the sampler' : `the ${r.stopReason} budget`})` : r.state;
  const lines = [
    `# sweep ${r.name}${r.quick ? ' (quick)' : ''}`,
    '',
    ...(info.question ? [`Question: ${info.question}`, ''] : []),
    `Command: \`${r.command}\` · state **${state}** · ${r.trials.length} trials: ${r.counts.complete} complete, ${r.counts.pruned} pruned, ${r.counts.failed} failed${r.counts.running ? `, ${r.counts.running} running` : ''} · ${r.workers} workers · wall time ${formatSeconds(r.wallSeconds)}`,
    `Model ${spec.model} on label set ${spec.labels} · objective: PublicTest ${spec.objective.metric} (maximised; PrivateTest is reported, never used to select) · ${spec.sampler.name} sampler, seed ${spec.seed} · ${prunerText(spec)} · ${budgetText(spec)}${slice}`,
    `Backend: ${r.environment.backend} · ${r.environment.cpu} (${r.environment.cores} cores) · Node ${r.environment.node} · ferlab ${r.environment.commit ?? r.environment.ferlab}`,
    '',
    "objective: the run's selected epoch (best PublicTest accuracy) for complete trials, the value at the pruning epoch for pruned ones; PublicTest / PrivateTest: accuracy and macro-F1 of the selected epoch; epochs: selected/trained.",
    '',
  ];
  if (rows.length)
    lines.push(
      `| ${cols.join(' | ')} |`,
      `| ${cols.map(() => '---').join(' | ')} |`,
      ...rows.map((row) => `| ${cols.map((c) => String(row[c]).replace(/\|/g, '\\|')).join(' | ')} |`),
      '',
    );
  else lines.push('no trial yet', '');
  if (r.best) {
    const b = r.best;
    lines.push(
      '## Best trial',
      '',
      `**${b.run}** (trial ${b.trial}): objective ${b.objective?.toFixed(4)}, PublicTest acc ${pct(b.publicTest?.accuracy)}, PrivateTest acc ${pct(b.privateTest?.accuracy)} (macro-F1 ${b.privateTest?.macroF1.toFixed(3)}), epoch ${b.bestEpoch}/${b.epochs}; record: ${b.dir}`,
      '',
      `Params: \`${JSON.stringify(b.params)}\``,
      '',
    );
    if (b.reproduce.command)
      lines.push('Reproduce (the same settings, seed and data; same backend = same numbers):', '', '```sh', b.reproduce.command, '```', '');
    if (b.reproduce.snippet)
      lines.push(
        `Or as an experiment file \`experiments/${b.reproduce.snippetName}.ts\` (\`npm run exp -- ${b.reproduce.snippetName}\`):`,
        '',
        '```ts',
        b.reproduce.snippet.trimEnd(),
        '```',
        '',
      );
  } else lines.push('## Best trial', '', 'none: no trial is complete', '');
  const failed = r.trials.filter((t) => t.state === 'failed');
  for (const f of failed) lines.push(`**${f.run} failed** after ${f.attempts} attempt(s) (record: ${f.dir}):`, '', '```', f.error ?? '', '```', '');
  return lines.join('\n');
}
