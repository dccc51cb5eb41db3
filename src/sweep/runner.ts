import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../exp/config';
import { resolveRunnerOptions, resumeBackend, setUpRunner, type RunnerOptions } from '../exp/setup';
import '../models';
import { readRecord } from '../records/io';
import { SWEEP_FILE, SweepRecordSchema, writeSweepRecord } from '../records/sweep';
import { environment } from '../util/env';
import { defaultRunsDir } from '../util/paths';
import { runStamp } from '../util/time';
import { SweepCoordinator, type SweepContext } from './coordinator';
import { budgetText, fixPrunedRecords, prunerText, type SweepInfo, type SweepResult } from './coordinator-records';
import { SweepEngine } from './engine';
import { resolveSweep, sweepLabels, type ResolvedSweep, type SweepQuick } from './load';
import { SweepSpecSchema, type SweepSpec, type SweepSpecInput } from './spec';
import { assertRedisReachable, redactRedisUrl } from './redis';

/**
 * Runs sweeps for real: the ask-and-tell engine (engine.ts) drives trainings on the local worker pool of the
 * experiment runner (src/exp/pool.ts runOnWorkers, one training per core on worker threads), or on remote workers
 * through a BullMQ queue (queue.ts). This file starts and resumes sweeps (set-up shared with experiments:
 * src/exp/setup.ts); the coordinator that hands out trials and journals their outcome is coordinator.ts, the records
 * it writes besides the journal coordinator-records.ts.
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

/**
 * Options of {@link runSweep} and {@link resumeSweep}: those every runner takes (quick, workers, data, cache and runs
 * folders, backend, log, onStep, onEpoch: src/exp/setup.ts RunnerOptions; `quick` is for runSweep only, resume keeps
 * the stored variant), and the sweep's own.
 */
export interface SweepOptions extends RunnerOptions {
  /** Budget overrides: each replaces its own field of the spec's budget (also on resume). */
  trials?: number;
  minutes?: number;
  /** The command line recorded in sweep.json (default: a description of the API call). */
  command?: string;
  /**
   * Train the trials on remote workers through BullMQ on this Redis (`redis://[:password@]host:port`, `rediss://` for
   * TLS; `npm run ferlab -- worker --queue <url>` on each machine, src/sweep/queue.ts) instead of local worker
   * threads; `workers` then is the number of trials queued or running at a time (default 2). The password never
   * reaches logs or sweep.json.
   */
  queue?: string;
}

// the records of a sweep folder and the functions that write them (coordinator-records.ts), public API as before
export {
  paramsText,
  sweepMarkdown,
  sweepTableRows,
  trialRows,
  trialRunConfig,
  trialRunName,
  SWEEP_FILE,
  type BestTrial,
  type SplitScore,
  type SweepInfo,
  type SweepResult,
  type TrialRow,
} from './coordinator-records';

/** {@link SweepInfo}'s schema: the record's, its `spec` checked by the sweep spec schema. */
const SweepInfoSchema = SweepRecordSchema.extend({ spec: SweepSpecSchema });

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
  return new SweepCoordinator(dir, info, engine, [], ctx, opts, log).run();
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
  // local workers continue on the recorded backend (remote workers train on their own)
  const ctx = await prepare(resolved, opts.queue ? opts : resumeBackend(stored.environment?.backend, { ...opts, log }), log);
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
  return new SweepCoordinator(dir, info, engine, interrupted, ctx, opts, log).run();
}

/**
 * The sweep's set-up, before its folder is written: on local worker threads the runner set-up shared with experiments
 * (src/exp/setup.ts setUpRunner: backend initialised, data loaded, the spec's label set checked, one worker per core
 * on wasm / cpu); on a remote queue (`opts.queue`) only the options are resolved and the queue must answer, since
 * remote workers train with their own data and backend (default 2 trials at a time).
 * @throws Error for an invalid or unavailable backend, an unreachable queue; DataError for missing or bad data.
 */
async function prepare(resolved: ResolvedSweep, opts: SweepOptions, log: (l: string) => void): Promise<SweepContext> {
  if (opts.queue) {
    const { dataDir, cacheDir, backend } = resolveRunnerOptions(opts);
    // remote workers train with their own data and backend: here only the queue must answer
    await assertRedisReachable(opts.queue);
    log(`ferlab: trials go to the BullMQ queue on ${redactRedisUrl(opts.queue)} (start workers with: npm run ferlab -- worker --queue <url>)`);
    return { workers: Math.max(1, opts.workers ?? 2), env: environment(`remote workers via ${redactRedisUrl(opts.queue)}`), dataDir, cacheDir, backend };
  }
  const setup = await setUpRunner({ ...opts, log }, [sweepLabels(resolved.spec)]);
  return { workers: setup.workers, env: setup.env, dataDir: setup.dataDir, cacheDir: setup.cacheDir, backend: setup.workerBackend };
}
