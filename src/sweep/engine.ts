import { existsSync, mkdirSync, statSync } from 'node:fs';
import {
  appendEvent,
  applyEvent,
  dropTornTail,
  journalPath,
  lastIntermediate,
  readJournal,
  replayEvents,
  JOURNAL_VERSION,
  type JournalEvent,
  type TrialRecord,
} from './journal';
import { createPruner, type Pruner } from './pruners';
import { createSampler, type Sampler } from './sampler';
import type { Params } from './space';
import { specHash, trialSettingsDiff, trialSettingsProblems, type SettingsDiff, type SweepSpec } from './spec';

/**
 * ferlab's ask-and-tell sweep engine. It owns a validated spec (defineSweep), its sampler and pruner,
 * and the sweep's journal; the caller (a coordinator that trains models) asks for a trial, trains it, reports the
 * objective after each epoch (and stops when told to prune), then tells the result:
 *
 * ```ts
 * const engine = SweepEngine.create(dir, spec);
 * for (let t = engine.ask(); t; t = engine.ask()) {
 *   // train with t.settingsDiff; after each epoch e: if (engine.report(t.trial, e, publicTestAcc) === 'prune') stop
 *   engine.tell(t.trial, { state: 'complete', value: finalPublicTestAcc });   // or engine.retryOrFail(t.trial, err)
 * }
 * ```
 *
 * Every change is an event appended to the journal first and then applied with the journal's own reducer, so
 * {@link SweepEngine.resume} rebuilds exactly the state the engine had. All values are the spec's objective
 * (maximised); the engine never computes metrics itself.
 *
 * Part of ferlab's own hyper-parameter search engine: no well-kept hyper-parameter library exists on npm.
 */

/** A trial to run: its number, params, the settings diff to train with, and which attempt this is (from 1). */
export interface Trial {
  trial: number;
  params: Params;
  /** The spec's base deep-merged with the params: a diff from the training defaults, valid TrainSettings input. */
  settingsDiff: SettingsDiff;
  attempt: number;
}

/** The outcome of a trial, told by the caller. */
export type TrialResult =
  | { state: 'complete'; value: number; runDir?: string }
  | { state: 'pruned'; value?: number; runDir?: string }
  | { state: 'failed'; error: string; runDir?: string };

/** Options of the engine. */
export interface EngineOptions {
  /** Clock in Unix ms (default Date.now); the minutes budget and journal times use it. */
  now?: () => number;
}

/** Why ask() returned undefined. */
export type StopReason = 'trials' | 'minutes' | 'sampler';

/** The engine of one sweep (see the module comment). Create with {@link SweepEngine.create} or {@link SweepEngine.resume}. */
export class SweepEngine {
  /** Path of the journal (`<dir>/journal.jsonl`). */
  readonly journalFile: string;
  /** Why the last ask() returned undefined (undefined while trials are still given out). */
  stopReason: StopReason | undefined;
  private readonly records: TrialRecord[];
  private readonly sampler: Sampler;
  private readonly pruner: Pruner;
  private readonly now: () => number;

  private constructor(
    /** The sweep folder. */
    readonly dir: string,
    readonly spec: SweepSpec,
    records: TrialRecord[],
    /** When the sweep was created (journal header time, Unix ms): the minutes budget counts from here. */
    readonly startTime: number,
    now: () => number,
  ) {
    this.journalFile = journalPath(dir);
    this.records = records;
    this.sampler = createSampler(spec);
    this.pruner = createPruner(spec.pruner);
    this.now = now;
  }

  /**
   * Starts a new sweep in `dir` (created if needed): writes the journal header with the spec's hash.
   * @param spec a spec validated by defineSweep.
   * @throws Error when `dir` already holds a journal (resume it instead).
   */
  static create(dir: string, spec: SweepSpec, opts: EngineOptions = {}): SweepEngine {
    const now = opts.now ?? Date.now;
    const file = journalPath(dir);
    if (existsSync(file) && statSync(file).size > 0) throw new Error(`${file} exists: resume that sweep with SweepEngine.resume, or use a new folder`);
    mkdirSync(dir, { recursive: true });
    const time = now();
    appendEvent(file, { event: 'header', version: JOURNAL_VERSION, sweep: spec.name, specHash: specHash(spec), time });
    return new SweepEngine(dir, spec, [], time, now);
  }

  /**
   * Reopens a sweep from its journal: checks that `spec` is the one the journal was written for (same specHash; the
   * budget and retries may differ), cuts off a torn last line, and replays the events. Complete, pruned and failed
   * trials are kept; trials still `running` were interrupted when the coordinator died and are returned in
   * `interrupted` (same params, same attempt) for the caller to run again: report and tell them as usual (reporting
   * an epoch again overwrites its value), or call retryOrFail on them to count a failed attempt.
   *
   * @throws Error when there is no journal, when it is corrupt (naming file and line), or when the spec hash differs
   *   (naming both hashes).
   */
  static resume(dir: string, spec: SweepSpec, opts: EngineOptions = {}): { engine: SweepEngine; interrupted: Trial[] } {
    const file = journalPath(dir);
    if (!existsSync(file)) throw new Error(`no sweep journal at ${file}`);
    const j = readJournal(file);
    if (!j.header) throw new Error(`${file} has no complete header line: the sweep never started; delete the folder and create it again`);
    const hash = specHash(spec);
    if (j.header.specHash !== hash)
      throw new Error(
        `sweep spec changed: ${file} was written for spec hash ${j.header.specHash} (sweep '${j.header.sweep}'), the spec given has hash ${hash} (sweep '${spec.name}'); only budget, retries and question may change on resume`,
      );
    const records = replayEvents(j.events, (i) => `${file}:${j.lines[i]}`);
    dropTornTail(file, j);
    const engine = new SweepEngine(dir, spec, records, j.header.time, opts.now ?? Date.now);
    return { engine, interrupted: records.filter((r) => r.state === 'running').map((r) => engine.trialToRun(r.trial)) };
  }

  /** Milliseconds since the sweep was created, by the engine's clock. */
  elapsedMs(): number {
    return this.now() - this.startTime;
  }

  /**
   * The next trial: journals its creation and running state and returns its params and settings diff; undefined
   * (with {@link stopReason} set) once `budget.trials` trials were created, `budget.minutes` have passed since the
   * sweep was created, or the sampler is exhausted.
   * @throws Error when the params give invalid training settings (a combination defineSweep could not check), naming
   *   the params; nothing is journaled then.
   */
  ask(): Trial | undefined {
    const { trials, minutes } = this.spec.budget;
    if (trials !== undefined && this.records.length >= trials) return this.stop('trials');
    if (minutes !== undefined && this.elapsedMs() >= minutes * 60_000) return this.stop('minutes');
    const params = this.sampler.ask(this.records);
    if (params === undefined) return this.stop('sampler');
    const problems = trialSettingsProblems(this.spec, params);
    if (problems.length) throw new Error(`sweep '${this.spec.name}': params ${JSON.stringify(params)} give invalid settings: ${problems.join('; ')}`);
    const trial = this.records.length;
    const time = this.now();
    this.write({ event: 'created', trial, params, attempt: 1, time });
    this.write({ event: 'state', trial, state: 'running', time });
    this.stopReason = undefined;
    return this.trialToRun(trial);
  }

  /**
   * Journals the objective of a running trial after an epoch and asks the pruner whether to stop it. On 'prune' the
   * trial is journaled as pruned (with this value) and is finished: do not tell it afterwards.
   * @param epoch finished epochs, from 1. @param value the objective at that epoch (finite).
   * @throws Error for a trial that is not running, a bad epoch or a non-finite value.
   */
  report(trial: number, epoch: number, value: number): 'continue' | 'prune' {
    this.running(trial, 'report');
    if (!(Number.isInteger(epoch) && epoch >= 1)) throw new Error(`trial ${trial}: epoch must be an integer >= 1, got ${epoch}`);
    if (!Number.isFinite(value)) throw new Error(`trial ${trial}: objective value must be finite, got ${value} at epoch ${epoch}`);
    this.write({ event: 'intermediate', trial, epoch, value, time: this.now() });
    const r = this.records[trial];
    if (!this.pruner.shouldPrune(r, epoch, value, this.records)) return 'continue';
    this.write({ event: 'state', trial, state: 'pruned', value, time: this.now() });
    return 'prune';
  }

  /** Journals the run folder of a running trial (so that a resumed coordinator can find its checkpoint). */
  setRunDir(trial: number, runDir: string): void {
    this.running(trial, 'setRunDir');
    this.write({ event: 'state', trial, state: 'running', runDir, time: this.now() });
  }

  /**
   * Journals the outcome of a running trial: complete with its final objective, pruned by the caller (value defaults
   * to its last reported one), or failed for good (no retry: see {@link retryOrFail}).
   * @throws Error for a trial that is not running, a non-finite value of a complete trial, or an empty error.
   */
  tell(trial: number, result: TrialResult): void {
    this.running(trial, 'tell');
    const time = this.now();
    const runDir = result.runDir === undefined ? {} : { runDir: result.runDir };
    switch (result.state) {
      case 'complete':
        if (!Number.isFinite(result.value)) throw new Error(`trial ${trial}: a complete trial needs a finite objective value, got ${result.value}`);
        this.write({ event: 'state', trial, state: 'complete', value: result.value, ...runDir, time });
        return;
      case 'pruned': {
        const value = result.value ?? lastIntermediate(this.records[trial])?.value;
        this.write({ event: 'state', trial, state: 'pruned', ...(value === undefined ? {} : { value }), ...runDir, time });
        return;
      }
      case 'failed':
        if (!result.error) throw new Error(`trial ${trial}: a failed trial needs an error message`);
        this.write({ event: 'state', trial, state: 'failed', error: result.error, ...runDir, time });
        return;
    }
  }

  /**
   * A running trial's attempt failed: journals the failure, then, while the trial has had at most `spec.retries`
   * retries, a new attempt with the same params ('retry': run {@link trialToRun} again); otherwise it stays failed.
   * @throws Error for a trial that is not running.
   */
  retryOrFail(trial: number, error: string): 'retry' | 'failed' {
    this.running(trial, 'retryOrFail');
    const r = this.records[trial];
    this.write({ event: 'state', trial, state: 'failed', error: error || 'unknown error', time: this.now() });
    if (r.attempts > this.spec.retries) return 'failed';
    const time = this.now();
    this.write({ event: 'created', trial, params: r.params, attempt: r.attempts + 1, time });
    this.write({ event: 'state', trial, state: 'running', time });
    return 'retry';
  }

  /**
   * The best complete trial: the highest objective value, ties to the lower trial number; undefined when no trial is
   * complete. Only complete trials and their final values count (never intermediates, pruned or failed trials).
   */
  best(): TrialRecord | undefined {
    let best: TrialRecord | undefined;
    for (const r of this.records) if (r.state === 'complete' && (best === undefined || r.value! > best.value!)) best = r;
    return best && cloneRecord(best);
  }

  /** Copies of every trial's record, in trial order. */
  trials(): TrialRecord[] {
    return this.records.map(cloneRecord);
  }

  /**
   * Trial `trial` as the caller runs it (params, settings diff, current attempt).
   * @throws Error for an unknown trial number.
   */
  trialToRun(trial: number): Trial {
    const r = this.records[trial];
    if (!r) throw new Error(`sweep '${this.spec.name}' has no trial ${trial}`);
    return { trial, params: { ...r.params }, settingsDiff: trialSettingsDiff(this.spec, r.params), attempt: r.attempts };
  }

  private stop(reason: StopReason): undefined {
    this.stopReason = reason;
    return undefined;
  }

  private running(trial: number, what: string): void {
    const r = this.records[trial];
    if (!r) throw new Error(`${what}: sweep '${this.spec.name}' has no trial ${trial}`);
    if (r.state !== 'running') throw new Error(`${what}: trial ${trial} is ${r.state}, not running`);
  }

  /** Appends an event to the journal, then applies it to the records (the same reducer replay uses). */
  private write(ev: JournalEvent): void {
    appendEvent(this.journalFile, ev);
    if (ev.event !== 'header') applyEvent(this.records, ev);
  }
}

function cloneRecord(r: TrialRecord): TrialRecord {
  return { ...r, params: { ...r.params }, intermediates: new Map(r.intermediates) };
}
