/**
 * The sweep coordinator: hands a sweep's trials to training workers and journals what they report, until the budget
 * or the sampler says stop (runner.ts runSweep / resumeSweep start it; the sweep folder's layout is described there).
 *
 * One {@link SweepCoordinator} runs one sweep (one start or one resume), in steps with one job each:
 * - stopping rules: how many workers the budget still allows ({@link SweepCoordinator.workers}), the next trial
 *   (pending first, then the sampler's), whether more may come, the final state and stop reason of sweep.json;
 * - trial start: a trial's run config, or its outcome journaled when its run record shows it finished before the
 *   journal knew (after a coordinator crash), or its continuation from its checkpoint;
 * - epoch report: after every epoch the worker waits while the objective is journaled (engine.report) and the pruner
 *   decides whether the trial goes on;
 * - trial end: a complete, pruned (stopped) or failed run is told to the engine (journal.jsonl), a failed one retried
 *   or failed, and the leaderboard results.json / results.md rewritten (coordinator-records.ts writeResults);
 * - dispatch: the trials train on local worker threads (src/exp/pool.ts runOnWorkers) or on remote workers through a
 *   BullMQ queue on Redis (queue.ts runOnQueue); both drive the same {@link RunQueue} and {@link PoolEvents}.
 *
 * A journal append that fails (JournalWriteError: disk full, ...) stops the sweep: no new trial is handed out, and the
 * sweep ends `failed` with that error. So does an error of the sampler, of a pool (the queue's Redis lost), or a trial
 * still running once every worker has ended; `--resume` continues such a sweep.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendChoice } from '../backend/select';
import type { RunConfig } from '../exp/config';
import { runOnWorkers, type PoolEvents, type RunQueue } from '../exp/pool';
import { loadHistory } from '../exp/records';
import type { RunSummary } from '../exp/run';
import { CHECKPOINT_FILE, readRunStatus } from '../exp/status';
import { EPOCHS_FILE, METRICS_FILE, readRunSummary } from '../records/run';
import { writeSweepRecord } from '../records/sweep';
import { loadCheckpoint, removeCheckpoint } from '../train/checkpoint';
import type { EpochRecord, StepProgress } from '../train/loop';
import type { Environment } from '../util/env';
import { pct } from '../util/format';
import {
  finishPrunedRecord,
  objectiveOf,
  paramsText,
  trialRunConfig,
  trialRunName,
  writeResults,
  type SweepInfo,
  type SweepResult,
} from './coordinator-records';
import type { SweepEngine, Trial } from './engine';
import { JournalWriteError, type TrialRecord } from './journal';
import { runOnQueue } from './queue';
import { writeSweepReport } from './report';
import type { SweepSpec } from './spec';

/** What the runner prepared for the coordinator (runner.ts prepare). */
export interface SweepContext {
  /** Workers asked for (local threads, or trials queued or running at a time on a remote queue). */
  workers: number;
  /** The environment recorded in sweep.json. */
  env: Environment;
  /** Data and cache folders and the backend handed to local worker threads (remote workers bring their own). */
  dataDir: string;
  cacheDir: string | false;
  backend: BackendChoice;
}

/** The sweep options the coordinator uses (runner.ts SweepOptions). */
export interface CoordinatorOptions {
  /** Redis URL of the BullMQ queue of remote workers; absent: local worker threads. */
  queue?: string;
  /** After every training step of a trial. */
  onStep?: (run: string, p: StepProgress) => void;
  /** After every epoch of a trial; absent: a status line through `log`. */
  onEpoch?: (run: string, r: EpochRecord) => void;
}

/** Runs one start or resume of a sweep: see the module comment. Use once: {@link SweepCoordinator.run}. */
export class SweepCoordinator {
  /** Start of this coordinator (the wall time in results.json counts from here). */
  private readonly t0 = performance.now();
  private readonly spec: SweepSpec;
  /** The trial number of each run folder name handed to a worker. */
  private readonly byName = new Map<string, number>();
  /** Trials to train before new ones are asked for: those a crash interrupted, then retries (put first). */
  private readonly pending: Trial[];
  /** Why the sweep stops early and ends `failed`; set once, never cleared. */
  private fatal: Error | undefined;
  /** Whether "no more trials" was logged (once). */
  private saidNoMore = false;
  /** The trial budget (trials in the journal in all), if any. */
  private readonly maxTrials: number | undefined;
  /** Workers to start: the context's, but no more than the trials the budget still allows (0: the budget is spent). */
  readonly workers: number;

  /**
   * @param dir the sweep folder; `info` its sweep.json as written at this start (updated in place when the sweep ends).
   * @param interrupted trials the journal has as running (a resume): they are trained first, with the same params.
   */
  constructor(
    private readonly dir: string,
    private readonly info: SweepInfo,
    private readonly engine: SweepEngine,
    interrupted: readonly Trial[],
    private readonly ctx: SweepContext,
    private readonly opts: CoordinatorOptions,
    private readonly log: (line: string) => void,
  ) {
    this.spec = info.spec;
    this.pending = [...interrupted];
    this.maxTrials = this.spec.budget.trials;
    this.workers = Math.min(ctx.workers, this.capacity());
  }

  /**
   * Trains trials until the budget or the sampler says stop, then writes the final sweep.json, results.json /
   * results.md and the sweep report (report.html).
   * @returns the results; trials that failed are in them (state failed), not thrown.
   * @throws Error `sweep '<name>' failed: ...` (naming the folder and how to resume it) when the sweep stopped early.
   */
  async run(): Promise<SweepResult> {
    if (this.workers === 0) {
      this.engine.ask(); // the budget is spent: ask() says so (sets stopReason) without creating a trial
    } else {
      // a pool that throws (the queue's Redis lost) ends the sweep as failed: its trials still running stay running in
      // the journal, and --resume trains them again
      try {
        await this.dispatch(this.runQueue(), this.poolEvents());
      } catch (e) {
        this.fatal ??= e as Error;
      }
    }
    return this.finish();
  }

  // ---- stopping rules

  /** Trials the budget still allows to be trained now: pending ones plus the trial budget left; pending only once the minutes are spent. */
  private capacity(): number {
    const { minutes } = this.spec.budget;
    // no more workers than trials the budget still allows (a worker loads the data before it can take one)
    let capacity = this.maxTrials === undefined ? Infinity : this.pending.length + Math.max(0, this.maxTrials - this.engine.trials().length);
    if (minutes !== undefined && this.engine.elapsedMs() >= minutes * 60_000) capacity = this.pending.length;
    return capacity;
  }

  /**
   * The next trial to train: a pending one first, else a new one from the sampler (engine.ask, journaled there; its
   * params logged). Undefined when the sweep has stopped, the sampler throws (which stops it) or the budget or the
   * sampler says no more (logged once).
   */
  private nextTrial(): Trial | undefined {
    const pending = this.pending.shift();
    if (pending) return pending;
    if (this.fatal) return undefined;
    let t: Trial | undefined;
    try {
      t = this.engine.ask();
    } catch (e) {
      this.fatal = e as Error;
      this.log(`ferlab: sweep stopped: ${this.fatal.message}`);
      return undefined;
    }
    if (!t) {
      if (!this.saidNoMore)
        this.log(
          `ferlab: no more trials (${this.engine.stopReason === 'sampler' ? 'the sampler has proposed every configuration' : `budget: ${this.engine.stopReason}`})`,
        );
      this.saidNoMore = true;
      return undefined;
    }
    this.log(`  ${trialRunName(t.trial)}: ${paramsText(t.params)}`);
    return t;
  }

  /** Whether trials may still come (a worker that ends is replaced only then): pending ones, or budget and sampler left. */
  private more(): boolean {
    return (
      this.pending.length > 0 ||
      (!this.fatal && this.engine.stopReason === undefined && (this.maxTrials === undefined || this.engine.trials().length < this.maxTrials))
    );
  }

  /** A trial still running in the journal once every worker has ended stops the sweep (it ends `failed`). */
  private checkNoneRunning(): void {
    const unfinished = this.engine.trials().filter((t) => t.state === 'running');
    if (!this.fatal && unfinished.length)
      this.fatal = new Error(`trial(s) ${unfinished.map((t) => t.trial).join(', ')} still running when every worker had ended`);
  }

  /**
   * sweep.json at the end: `failed` with the error when the sweep stopped early, else `complete` with why it stopped
   * (the budget or the sampler).
   */
  private finalInfo(): SweepInfo {
    if (this.fatal) return { ...this.info, state: 'failed', error: this.fatal.message, finished: new Date().toISOString() };
    const { maxTrials } = this;
    return {
      ...this.info,
      state: 'complete',
      // no worker may have asked again once the last trial was handed out: a spent trial budget is the reason then
      stopReason: this.engine.stopReason ?? (maxTrials !== undefined && this.engine.trials().length >= maxTrials ? 'trials' : 'sampler'),
      finished: new Date().toISOString(),
    };
  }

  /**
   * Ends the sweep: writes the final sweep.json ({@link finalInfo}; `failed` too when a trial is still running, see
   * {@link checkNoneRunning}), results.json / results.md and the sweep report (an error writing the report is logged,
   * not thrown).
   */
  private finish(): SweepResult {
    this.checkNoneRunning();
    const finalInfo = this.finalInfo();
    writeSweepRecord(this.dir, finalInfo);
    Object.assign(this.info, finalInfo);
    const result = this.writeResults();
    try {
      writeSweepReport(this.dir);
    } catch (e) {
      this.log(`ferlab: could not write the sweep report: ${(e as Error).message}`);
    }
    if (this.fatal)
      throw new Error(
        `sweep '${this.spec.name}' failed: ${this.fatal.message} (record: ${this.dir}; npm run ferlab -- sweep --resume ${this.dir} continues it)`,
      );
    return result;
  }

  // ---- journal

  /** The journal's record of trial `t`. */
  private rec(t: number): TrialRecord {
    return this.engine.trials()[t];
  }

  /** Whether trial `t` is running in the journal. */
  private running(t: number): boolean {
    return this.rec(t)?.state === 'running';
  }

  /** A journal append that failed (disk full, ...) stops the sweep: no new trial; it ends `failed` with that error. */
  private stopOnJournalError(e: JournalWriteError): void {
    if (!this.fatal) this.log(`ferlab: sweep stops: ${e.message}`);
    this.fatal ??= e;
    this.pending.length = 0;
  }

  /** `f`, with a JournalWriteError it throws stopping the sweep ({@link stopOnJournalError}) instead of propagating. */
  private journaled<A extends unknown[]>(f: (...a: A) => void): (...a: A) => void {
    return (...a: A): void => {
      try {
        f(...a);
      } catch (e) {
        if (!(e instanceof JournalWriteError)) throw e;
        this.stopOnJournalError(e);
      }
    };
  }

  /** Rewrites results.json / results.md (coordinator-records.ts writeResults) with the wall time so far. */
  private writeResults(): SweepResult {
    return writeResults(this.dir, this.info, this.engine, Math.max(1, this.workers), (performance.now() - this.t0) / 1000, this.log);
  }

  // ---- trial start

  /**
   * The run to train for trial `t` (its run folder name journaled first when the journal lacks it), or undefined when
   * its run record shows it finished or pruned already (the outcome then journaled, see {@link journalRecordedEnd} and
   * {@link continueFromCheckpoint}). The trial is then known by its run folder name to the pool's events.
   * @throws ConfigError when the trial's settings are invalid (coordinator-records.ts trialRunConfig).
   */
  private startTrial(t: Trial): RunConfig | undefined {
    const name = trialRunName(t.trial);
    const rdir = join(this.dir, name);
    if (this.rec(t.trial).runDir !== name) this.engine.setRunDir(t.trial, name);
    if (this.journalRecordedEnd(t, name, rdir)) return undefined;
    if (this.continueFromCheckpoint(t, name, rdir) === 'pruned') return undefined;
    this.byName.set(name, t.trial);
    return trialRunConfig(this.spec, this.info.slice, t);
  }

  /**
   * A trial whose run record says `complete` (with metrics.json) or `pruned` finished before the coordinator could
   * journal it (a crash): journals its epochs and its outcome. @returns whether it had finished.
   */
  private journalRecordedEnd(t: Trial, name: string, rdir: string): boolean {
    const status = readRunStatus(rdir);
    if (status?.state === 'complete' && existsSync(join(rdir, METRICS_FILE))) {
      const s = readRunSummary(rdir);
      this.catchUp(t.trial, loadHistory(rdir));
      if (this.running(t.trial)) this.engine.tell(t.trial, { state: 'complete', value: objectiveOf(this.spec, s.val), runDir: name });
      this.log(`  ${name}: complete before the interruption (objective ${objectiveOf(this.spec, s.val).toFixed(4)})`);
      return true;
    }
    if (status?.state === 'pruned') {
      this.catchUp(t.trial, existsSync(join(rdir, EPOCHS_FILE)) ? loadHistory(rdir) : []);
      if (this.running(t.trial)) this.engine.tell(t.trial, { state: 'pruned', runDir: name });
      return true;
    }
    return false;
  }

  /**
   * A trial with a per-epoch checkpoint (interrupted, or retried after a failure) continues from it: the checkpoint's
   * epochs the journal lacks are reported first, which may prune the trial (its run record then finished as pruned:
   * epochs.jsonl, status.json, checkpoint removed). An unreadable checkpoint is removed (the trial starts over).
   * @returns 'pruned' when the catch-up pruned it, else 'train'.
   */
  private continueFromCheckpoint(t: Trial, name: string, rdir: string): 'train' | 'pruned' {
    let history: EpochRecord[] | undefined;
    try {
      history = loadCheckpoint<unknown, EpochRecord>(join(rdir, CHECKPOINT_FILE))?.history;
    } catch (e) {
      this.log(`  ${name}: unreadable checkpoint, starting over (${(e as Error).message})`);
      removeCheckpoint(join(rdir, CHECKPOINT_FILE));
    }
    if (!history?.length) return 'train';
    if (this.catchUp(t.trial, history) === 'prune') {
      finishPrunedRecord(rdir, history);
      this.log(`  ${name}: pruned after epoch ${history.length} (from its checkpoint)`);
      return 'pruned';
    }
    this.log(`  ${name}: continues from its checkpoint after epoch ${history.length}${t.attempt > 1 ? ` (attempt ${t.attempt})` : ''}`);
    return 'train';
  }

  /**
   * The pool's {@link RunQueue.next}: the run of the next trial that needs training (see {@link nextTrial},
   * {@link startTrial}). A trial whose settings are invalid is journaled failed (and the leaderboard rewritten), and
   * the next one is taken.
   */
  private nextRun(): RunConfig | undefined {
    for (;;) {
      const t = this.nextTrial();
      if (!t) return undefined;
      try {
        const run = this.startTrial(t);
        if (run) return run;
      } catch (e) {
        if (this.running(t.trial)) this.engine.tell(t.trial, { state: 'failed', error: (e as Error).message, runDir: trialRunName(t.trial) });
        this.log(`  ${trialRunName(t.trial)}: FAILED before training: ${(e as Error).message}`);
      }
      this.writeResults();
    }
  }

  // ---- epoch report

  /**
   * Journals the epochs of `history` that the journal lacks (or has with another value) for trial `t`, asking the
   * pruner after each. @returns 'prune' when the trial is (or was) pruned or otherwise not running any more.
   */
  private catchUp(t: number, history: readonly EpochRecord[]): 'continue' | 'prune' {
    for (const h of history) {
      if (!this.running(t)) return 'prune';
      const v = objectiveOf(this.spec, { accuracy: h.valAccuracy, macroF1: h.valMacroF1 });
      if (this.rec(t).intermediates.get(h.epoch) === v) continue;
      if (this.engine.report(t, h.epoch, v) === 'prune') return 'prune';
    }
    return this.running(t) ? 'continue' : 'prune';
  }

  /**
   * The pool's {@link PoolEvents.decide}, after every epoch of a trial (its worker waits): journals the epoch's
   * PublicTest objective (engine.report, once per epoch) and returns the pruner's answer; 'stop' for a trial that is
   * not running any more. An error journaling it is logged (a JournalWriteError also stops the sweep) and the trial
   * goes on.
   */
  private decide(run: string, r: EpochRecord): 'continue' | 'stop' {
    const t = this.byName.get(run);
    if (t === undefined) return 'continue';
    try {
      if (!this.running(t)) return 'stop';
      const v = objectiveOf(this.spec, { accuracy: r.valAccuracy, macroF1: r.valMacroF1 });
      if (this.rec(t).intermediates.get(r.epoch) === v) return 'continue';
      if (this.engine.report(t, r.epoch, v) === 'continue') return 'continue';
      this.log(`  ${run}: pruned after epoch ${r.epoch} (objective ${v.toFixed(4)})`);
      return 'stop';
    } catch (e) {
      if (e instanceof JournalWriteError) this.stopOnJournalError(e);
      else this.log(`  ${run}: could not journal epoch ${r.epoch}: ${(e as Error).message}`);
      return 'continue';
    }
  }

  /** The pool's {@link PoolEvents.onEpoch}: the `onEpoch` option, else a status line through `log`. */
  private epochDone(run: string, r: EpochRecord): void {
    if (this.opts.onEpoch) this.opts.onEpoch(run, r);
    else
      this.log(
        `  ${run}: epoch ${r.epoch} loss ${r.trainLoss.toFixed(3)} val acc ${(100 * r.valAccuracy).toFixed(2)}% macro-F1 ${r.valMacroF1.toFixed(3)} (${r.imagesPerSec.toFixed(0)} img/s, ${r.trainSeconds.toFixed(1)} s)`,
      );
  }

  // ---- trial end

  /** A trial that {@link decide} stopped: journaled `pruned` (its worker recorded status.json `pruned`); leaderboard rewritten. */
  private trialStopped(run: string): void {
    const t = this.byName.get(run)!;
    if (this.running(t)) this.engine.tell(t, { state: 'pruned', runDir: run });
    this.writeResults();
  }

  /**
   * A trial whose run finished (metrics.json written): epochs the journal missed are reported first, then it is
   * journaled `complete` with the objective of its selected epoch (metrics.json `val`); leaderboard rewritten.
   */
  private trialDone(s: RunSummary): void {
    const t = this.byName.get(s.name)!;
    if (existsSync(join(this.dir, s.name, EPOCHS_FILE))) this.catchUp(t, loadHistory(join(this.dir, s.name)));
    if (!this.running(t)) return;
    const value = objectiveOf(this.spec, s.val);
    this.engine.tell(t, { state: 'complete', value, runDir: s.name });
    this.log(`  ${s.name}: complete, objective ${value.toFixed(4)} (PublicTest acc ${pct(s.val.accuracy)}, PrivateTest acc ${pct(s.test.accuracy)})`);
    this.writeResults();
  }

  /**
   * A trial whose run threw or whose worker died: a diverged training (`TrainError`) is journaled failed without a
   * retry; otherwise engine.retryOrFail either puts it back first in line (continuing from its checkpoint when it has
   * one) or journals it failed after its last attempt. Leaderboard rewritten.
   */
  private trialFailed(run: string, error: string, name?: string): void {
    const t = this.byName.get(run);
    if (t === undefined || !this.running(t)) return;
    const first = error.split('\n')[0];
    if (name === 'TrainError') {
      this.engine.tell(t, { state: 'failed', error, runDir: run });
      this.log(`  ${run}: FAILED (not retried: a diverged training fails again): ${first}`);
    } else if (this.engine.retryOrFail(t, error) === 'retry') {
      this.pending.unshift(this.engine.trialToRun(t));
      const fromCheckpoint = existsSync(join(this.dir, run, CHECKPOINT_FILE)) ? ', from its checkpoint' : '';
      this.log(`  ${run}: failed (${first}); retrying, attempt ${this.rec(t).attempts}${fromCheckpoint}`);
    } else this.log(`  ${run}: FAILED after ${this.rec(t).attempts} attempt(s): ${first}`);
    this.writeResults();
  }

  // ---- dispatch

  /** The trials as the pool's {@link RunQueue}: {@link nextRun}, {@link more}; no worker starting stops the sweep. */
  private runQueue(): RunQueue {
    return {
      next: () => this.nextRun(),
      more: () => this.more(),
      abandon: (why) => {
        this.fatal ??= new Error(why);
      },
    };
  }

  /** The pool's {@link PoolEvents}: progress, the per-epoch decision and the trial ends above (journal errors stop the sweep). */
  private poolEvents(): PoolEvents {
    return {
      onStep: (run, p) => this.opts.onStep?.(run, p),
      onEpoch: (run, r) => this.epochDone(run, r),
      decide: (run, r) => this.decide(run, r),
      stopped: this.journaled((run: string) => this.trialStopped(run)),
      done: this.journaled((s: RunSummary) => this.trialDone(s)),
      fail: this.journaled((run: string, error: string, _epoch: number | null | undefined, name?: string) => this.trialFailed(run, error, name)),
    };
  }

  /**
   * Trains the queue's trials on {@link workers} local worker threads (src/exp/pool.ts runOnWorkers, with the data,
   * cache and backend of the context), or, with the `queue` option, on remote workers through BullMQ (queue.ts
   * runOnQueue: `workers` trials queued or running at a time). Resolves when every worker has ended.
   * @throws the pool's error (runOnQueue: Redis lost, no worker progress).
   */
  private dispatch(queue: RunQueue, events: PoolEvents): Promise<void> {
    const url = this.opts.queue;
    if (url) return runOnQueue(queue, this.workers, { dir: this.dir, url, log: this.log }, events);
    const { dataDir, cacheDir, backend } = this.ctx;
    return runOnWorkers(queue, this.workers, { dir: this.dir, dataDir, cacheDir, backend }, events);
  }
}
