import type { Rng } from '../util/rng';
import { lastIntermediate, type TrialRecord } from './journal';
import { normalCdf } from '../eval/stats';
import { categoricalEstimator, numericEstimator, type TruncNormMixture } from './parzen';
import { proposeUnseen, sampleParams, trialRng } from './random';
import type { Sampler } from './sampler';
import { conditionHolds, countConfigurations, type ParamSpec, type ParamValue, type Params, type SearchSpace } from './space';

/**
 * TPE, the Tree-structured Parzen Estimator sampler (Bergstra, Bardenet, Bengio & Kegl 2011, "Algorithms for
 * Hyper-Parameter Optimization", NeurIPS), with the defaults of Optuna's TPESampler (optuna/samplers/_tpe/sampler.py;
 * https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.TPESampler.html), univariate:
 *
 * 1. While fewer than `startupTrials` (10) trials are finished (complete or pruned), trials are drawn at random.
 * 2. Then the finished trials are split: the best gamma(n) = min(ceil(0.1 n), 25) of the n finished trials are "below"
 *    (good), the rest "above". Complete trials rank first, by objective (maximised; ties: lower trial number first);
 *    pruned trials COUNT, after every complete trial, ranked by the last epoch they reached (later first), then by
 *    their value at that epoch (higher first), as Optuna ranks pruned trials. Running and failed trials are left out.
 * 3. For each parameter, in space order (a conditional one only when its condition holds for the params drawn so far),
 *    a Parzen estimator l(x) is fitted to its values in the below trials and g(x) to those in the above trials; only
 *    trials where the parameter is present contribute (conditional parameters). Observations are weighted by
 *    Optuna's default_weights (oldest to newest: 1 for fewer than 25, else a ramp from 1/n to 1 then 25 ones).
 * 4. `candidates` (24) values are drawn from l(x); the one with the largest log l(x) - log g(x) is taken.
 *
 * Scales: uniform as is, loguniform in log space, choices through smoothed categorical kernels (parzen.ts). An int is
 * a discretised distribution, as in Optuna (optuna/samplers/_tpe/parzen_estimator.py `_calculate_numerical_distributions`
 * and probability_distributions.py `_BatchedDiscreteTruncNormDistributions`, used by _tpe/sampler.py; Optuna 3.0-4.8):
 * the mixtures live on [low - step/2, high + step/2] (log ints: [log(low - 0.5), log(high + 0.5)]), each candidate is
 * rounded to the grid FIRST, and its l and g are the masses of its whole bin [v - step/2, v + step/2] (log ints:
 * [log(v - 0.5), log(v + 0.5)], as Optuna >= 4.7's `_BatchedDiscreteTruncLogNormDistributions`; Optuna 3.0-4.6 took the
 * log-space density at log(v) instead) under the truncated mixtures ({@link logBinMass}). Comparing unrounded values
 * instead (ferlab before) can pick the worst value: int 0..4 with good trials at 2 and bad ones at 0, 1, 3, 4 favours
 * a continuous x in a gap between the narrow bad kernels, e.g. -0.4, which rounds to 0. ferlab addition: in a space with a finite number of configurations, a proposal equal to an earlier
 * trial's configuration is replaced by a random unseen one, and the sampler is exhausted once every configuration was
 * proposed. ferlab's own implementation (not a port of Optuna's code).
 */

/** Options of {@link TpeSampler}; defaults are Optuna TPESampler's. */
export interface TpeOptions {
  /** Random trials before TPE starts (n_startup_trials = 10). */
  startupTrials?: number;
  /** Candidates drawn from l(x) per parameter (n_ei_candidates = 24). */
  candidates?: number;
  /** Weight of the prior kernel (prior_weight = 1.0). */
  priorWeight?: number;
}

/** Number of "below" (good) trials among n finished ones: min(ceil(0.1 n), 25) (Optuna default_gamma). */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Observation weights, oldest first: ones when n < 25, else a linear ramp 1/n..1 of n - 25 values then 25 ones (Optuna default_weights). */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out = Array.from({ length: ramp }, (_, i) => (ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1)));
  return [...out, ...new Array<number>(25).fill(1)];
}

/**
 * Splits finished trials (complete and pruned) into the best `nBelow` and the rest, ranked as in step 2 of the
 * module comment; both parts come back in trial order.
 */
export function splitTrials(trials: readonly TrialRecord[], nBelow: number): { below: TrialRecord[]; above: TrialRecord[] } {
  const complete = trials.filter((t) => t.state === 'complete').sort((a, b) => b.value! - a.value! || a.trial - b.trial);
  const pruned = trials
    .filter((t) => t.state === 'pruned')
    .map((t) => ({ t, last: lastIntermediate(t) ?? { epoch: 0, value: t.value ?? -Infinity } }))
    .sort((a, b) => b.last.epoch - a.last.epoch || b.last.value - a.last.value || a.t.trial - b.t.trial)
    .map((x) => x.t);
  const ranked = [...complete, ...pruned];
  const byTrial = (a: TrialRecord, b: TrialRecord) => a.trial - b.trial;
  return { below: ranked.slice(0, nBelow).sort(byTrial), above: ranked.slice(nBelow).sort(byTrial) };
}

/** A parameter's internal scale: transform to it, bounds in it, and back to a parameter value. */
interface Scale {
  low: number;
  high: number;
  to(v: number): number;
  from(x: number): number;
  /** Discrete (int) parameters: the bin of grid value v in the internal scale, whose mass scores v. */
  bin?(v: number): [number, number];
}

function scaleOf(p: Exclude<ParamSpec, { kind: 'choice' }>): Scale {
  const clamp = (v: number) => Math.min(p.high, Math.max(p.low, v));
  switch (p.kind) {
    case 'uniform':
      return { low: p.low, high: p.high, to: (v) => v, from: clamp };
    case 'loguniform':
      return { low: Math.log(p.low), high: Math.log(p.high), to: Math.log, from: (x) => clamp(Math.exp(x)) };
    case 'int': {
      if (p.log)
        return {
          low: Math.log(p.low - 0.5),
          high: Math.log(p.high + 0.5),
          to: Math.log,
          from: (x) => clamp(Math.round(Math.exp(x))),
          bin: (v) => [Math.log(v - 0.5), Math.log(v + 0.5)],
        };
      const step = p.step ?? 1;
      return {
        low: p.low - step / 2,
        high: p.high + step / 2,
        to: (v) => v,
        from: (x) => clamp(p.low + step * Math.round((x - p.low) / step)),
        bin: (v) => [v - step / 2, v + step / 2],
      };
    }
  }
}

/**
 * Mass of standard normal between za <= zb, Phi(zb) - Phi(za), taken from the tail that keeps it accurate (a
 * difference of two values near 1 would lose the digits; Optuna's _truncnorm._log_gauss_mass does the same).
 */
function gaussMass(za: number, zb: number): number {
  if (za >= 0) return normalCdf(-za) - normalCdf(-zb);
  if (zb <= 0) return normalCdf(zb) - normalCdf(za);
  return 1 - normalCdf(za) - normalCdf(-zb);
}

/**
 * log of the probability that the truncated normal mixture `m` (parzen.ts) puts on [a, b] (inside [m.low, m.high]):
 * log sum_k w_k (Phi((b - mu_k) / s_k) - Phi((a - mu_k) / s_k)) / (Phi((high - mu_k) / s_k) - Phi((low - mu_k) / s_k)).
 * The likelihood of an int value under l(x) or g(x): the mass of its bin, as Optuna's
 * `_MixtureOfProductDistribution.log_pdf` for `_BatchedDiscreteTruncNormDistributions`
 * (optuna/samplers/_tpe/probability_distributions.py). -Infinity when the mass underflows to 0.
 */
export function logBinMass(m: TruncNormMixture, a: number, b: number): number {
  let sum = 0;
  for (let k = 0; k < m.mus.length; k++) {
    const s = m.sigmas[k];
    const z = (x: number) => (x - m.mus[k]) / s;
    const inside = gaussMass(z(m.low), z(m.high));
    if (inside > 0) sum += (m.weights[k] * gaussMass(z(a), z(b))) / inside;
  }
  return Math.log(sum);
}

/** The values of parameter `name` in `trials` where it is present (conditional parameters may be absent). */
function observed(trials: readonly TrialRecord[], name: string): ParamValue[] {
  return trials.filter((t) => name in t.params).map((t) => t.params[name]);
}

/** Index of the largest score (the first of equal ones). */
function argmax(scores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}

/** The TPE sampler (see the module comment). Stateless: the proposal for trial n depends on seed, n and the history. */
export class TpeSampler implements Sampler {
  readonly startupTrials: number;
  readonly candidates: number;
  readonly priorWeight: number;
  private readonly total: number;

  /** @param seed the sweep's seed. @throws Error for options out of range. */
  constructor(
    private readonly space: SearchSpace,
    private readonly seed: number,
    opts: TpeOptions = {},
  ) {
    this.startupTrials = opts.startupTrials ?? 10;
    this.candidates = opts.candidates ?? 24;
    this.priorWeight = opts.priorWeight ?? 1;
    if (!(Number.isInteger(this.startupTrials) && this.startupTrials >= 0))
      throw new Error(`tpe: startupTrials must be an integer >= 0, got ${this.startupTrials}`);
    if (!(Number.isInteger(this.candidates) && this.candidates >= 1)) throw new Error(`tpe: candidates must be an integer >= 1, got ${this.candidates}`);
    if (!(this.priorWeight > 0)) throw new Error(`tpe: priorWeight must be > 0, got ${this.priorWeight}`);
    this.total = countConfigurations(space);
  }

  /** Params of trial number `history.length`, or undefined when every configuration of a finite space was proposed. */
  ask(history: readonly TrialRecord[]): Params | undefined {
    const rng = trialRng(this.seed, history.length);
    const finished = history.filter((t) => t.state === 'complete' || t.state === 'pruned');
    if (finished.length < this.startupTrials) return proposeUnseen(this.space, rng, history, this.total, sampleParams(this.space, rng));
    const { below, above } = splitTrials(finished, defaultGamma(finished.length));
    const params: Params = {};
    for (const [name, p] of Object.entries(this.space)) {
      if (!conditionHolds(p.when, params)) continue;
      params[name] = this.sampleOne(p, observed(below, name), observed(above, name), rng);
    }
    return proposeUnseen(this.space, rng, history, this.total, params);
  }

  /** One parameter's value: the candidate from l(x) with the largest log l(x) - log g(x) (ints: bin masses, see the module comment). */
  private sampleOne(p: ParamSpec, below: ParamValue[], above: ParamValue[], rng: Rng): ParamValue {
    if (p.kind === 'choice') {
      const keyOf = (v: ParamValue) => `${typeof v}:${String(v)}`;
      const keys = p.values.map(keyOf);
      const index = (vs: ParamValue[]) => vs.map((v) => keys.indexOf(keyOf(v))).filter((i) => i >= 0);
      const bi = index(below);
      const ai = index(above);
      const l = categoricalEstimator(bi, defaultWeights(bi.length), p.values.length, this.priorWeight);
      const g = categoricalEstimator(ai, defaultWeights(ai.length), p.values.length, this.priorWeight);
      const cands = Array.from({ length: this.candidates }, () => l.sample(rng));
      return p.values[cands[argmax(cands.map((c) => l.logPmf(c) - g.logPmf(c)))]];
    }
    const s = scaleOf(p);
    const inRange = (vs: ParamValue[]) => vs.filter((v): v is number => typeof v === 'number').map((v) => Math.min(s.high, Math.max(s.low, s.to(v))));
    const bx = inRange(below);
    const ax = inRange(above);
    const l = numericEstimator(bx, defaultWeights(bx.length), s.low, s.high, this.priorWeight);
    const g = numericEstimator(ax, defaultWeights(ax.length), s.low, s.high, this.priorWeight);
    const cands = Array.from({ length: this.candidates }, () => l.sample(rng));
    if (s.bin) {
      // an int: round each candidate to the grid first, then score the mass of its bin (module comment)
      const values = cands.map((x) => s.from(x));
      const scores = values.map((v) => {
        const [a, b] = s.bin!(v);
        return logBinMass(l, a, b) - logBinMass(g, a, b);
      });
      return values[argmax(scores)];
    }
    return s.from(cands[argmax(cands.map((x) => l.logPdf(x) - g.logPdf(x)))]);
  }
}
