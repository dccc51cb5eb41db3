import type { TrialRecord } from './journal';
import type { PrunerSpec } from './spec';

/**
 * Pruners of ferlab's sweeps: after each epoch of a trial, decide from the history whether to stop it early. Values
 * are the objective (maximised); epochs count finished epochs from 1. Pruners are pure functions of their arguments,
 * so decisions replay identically from the journal.
 *
 * Part of ferlab's own hyper-parameter search engine; the rules are Optuna's (optuna/pruners/_percentile.py,
 * optuna/pruners/_successive_halving.py), re-implemented.
 */
export interface Pruner {
  /**
   * Whether to stop `trial` after it reported `value` at `epoch`.
   * @param trial the trial's record; its intermediates may already hold (epoch, value).
   * @param history every trial of the sweep (it may include `trial`, which is then ignored as a competitor).
   */
  shouldPrune(trial: TrialRecord, epoch: number, value: number, history: readonly TrialRecord[]): boolean;
}

/** Never prunes. */
export class NoPruner implements Pruner {
  shouldPrune(): boolean {
    return false;
  }
}

/** Median of a non-empty list (mean of the middle two for an even count, as numpy's percentile 50). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The median stopping rule as Optuna's MedianPruner applies it: once at least `startupTrials` trials are complete and
 * the epoch is past `warmupEpochs`, prune when the trial's BEST value so far (over its epochs up to this one) is below
 * the median of the values that COMPLETE trials reported at this same epoch. No pruning when no complete trial
 * reported this epoch. Running, pruned and failed trials are not in the median (as in Optuna).
 */
export class MedianPruner implements Pruner {
  /**
   * @param startupTrials complete trials needed before any pruning (Optuna n_startup_trials, default 5).
   * @param warmupEpochs no pruning at epochs <= this (Optuna n_warmup_steps, default 0).
   */
  constructor(
    readonly startupTrials = 5,
    readonly warmupEpochs = 0,
  ) {}

  shouldPrune(trial: TrialRecord, epoch: number, value: number, history: readonly TrialRecord[]): boolean {
    const complete = history.filter((t) => t.state === 'complete' && t.trial !== trial.trial);
    if (complete.length === 0 || complete.length < this.startupTrials) return false;
    if (epoch <= this.warmupEpochs) return false;
    let best = value;
    for (const [e, v] of trial.intermediates) if (e <= epoch && v > best) best = v;
    const atEpoch = complete.filter((t) => t.intermediates.has(epoch)).map((t) => t.intermediates.get(epoch)!);
    if (atEpoch.length === 0) return false;
    return best < median(atEpoch);
  }
}

/**
 * Asynchronous successive halving (ASHA; Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning",
 * MLSys), as Optuna's SuccessiveHalvingPruner (min_early_stopping_rate 0, bootstrap_count 0): rung k sits at epoch
 * minEpochs * reductionFactor^k (only rungs before maxEpochs, when given). When a trial reaches a rung, its value is
 * compared with the values every other trial (any state) recorded at that rung so far; it continues only if it is in
 * the top 1/reductionFactor of those values, itself included: with n values, at least as good as the
 * (floor(n / reductionFactor))-th best; while n < reductionFactor, only the best so far continues (Optuna's rule for
 * the first trials of a rung, since it cannot pause trials to wait for more).
 *
 * A trial's value at a rung is its value at the first reported epoch >= the rung's epoch (the epoch where the rung
 * was checked), read from its intermediates, so rung values need no extra state. One difference from Optuna, only when
 * a single report jumps over several rungs (epochs not reported one by one): the value then counts at every rung it
 * crossed, even those after the rung that pruned the trial, where Optuna records it up to that rung only.
 */
export class AshaPruner implements Pruner {
  /**
   * @param minEpochs epoch of the first rung (r). @param reductionFactor eta, >= 2.
   * @param maxEpochs R: no rung at or beyond this epoch.
   * @throws Error for minEpochs < 1 or reductionFactor < 2.
   */
  constructor(
    readonly minEpochs: number,
    readonly reductionFactor: number,
    readonly maxEpochs = Infinity,
  ) {
    if (!(Number.isInteger(minEpochs) && minEpochs >= 1)) throw new Error(`asha: minEpochs must be an integer >= 1, got ${minEpochs}`);
    if (!(reductionFactor >= 2)) throw new Error(`asha: reductionFactor must be >= 2, got ${reductionFactor}`);
  }

  /** Epochs of the rungs up to `limit` (and before maxEpochs): minEpochs * reductionFactor^k. */
  rungEpochs(limit: number): number[] {
    const out: number[] = [];
    for (let e = this.minEpochs; e <= limit && e < this.maxEpochs; e *= this.reductionFactor) out.push(e);
    return out;
  }

  /** A trial's value at the rung at epoch `rungEpoch`: its value at the first reported epoch >= it, if any. */
  rungValue(t: TrialRecord, rungEpoch: number): number | undefined {
    let at: number | undefined;
    for (const e of t.intermediates.keys()) if (e >= rungEpoch && (at === undefined || e < at)) at = e;
    return at === undefined ? undefined : t.intermediates.get(at);
  }

  /** Whether `value` is promotable among `competing` values (which include it): see the class comment. */
  promotable(value: number, competing: readonly number[]): boolean {
    const k = Math.max(Math.floor(competing.length / this.reductionFactor) - 1, 0);
    const desc = [...competing].sort((a, b) => b - a);
    return value >= desc[k];
  }

  shouldPrune(trial: TrialRecord, epoch: number, value: number, history: readonly TrialRecord[]): boolean {
    let previous = 0;
    for (const e of trial.intermediates.keys()) if (e < epoch && e > previous) previous = e;
    for (const rung of this.rungEpochs(epoch)) {
      if (rung <= previous) continue; // checked when the trial reached it
      const competing = [value];
      for (const t of history) {
        if (t.trial === trial.trial) continue;
        const v = this.rungValue(t, rung);
        if (v !== undefined) competing.push(v);
      }
      if (!this.promotable(value, competing)) return true;
    }
    return false;
  }
}

/** The pruner a spec names. */
export function createPruner(spec: PrunerSpec): Pruner {
  switch (spec.name) {
    case 'none':
      return new NoPruner();
    case 'median':
      return new MedianPruner(spec.startupTrials, spec.warmupEpochs);
    case 'asha':
      return new AshaPruner(spec.minEpochs, spec.reductionFactor, spec.maxEpochs);
  }
}
