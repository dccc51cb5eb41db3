import { Rng } from '../util/rng';
import type { TrialRecord } from './journal';
import type { Sampler } from './sampler';
import { conditionHolds, configKey, countConfigurations, enumerateSpace, type ParamSpec, type ParamValue, type Params, type SearchSpace } from './space';

/**
 * Random search: each parameter drawn independently (choice and int uniformly over their values, uniform uniformly,
 * loguniform uniformly in log space), conditional parameters only when their condition holds; a configuration already
 * in the history is never proposed again. Random streams come from src/util/rng.ts, one per trial number.
 */

/** murmur3's 32-bit finaliser: a well-mixed uint32 of a uint32. */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The random stream of the proposal for trial number `index` of a sweep seeded `seed`: the same (seed, index) gives
 * the same stream in every process, which makes samplers stateless and sweeps resumable.
 */
export function trialRng(seed: number, index: number): Rng {
  return new Rng((mix32(seed >>> 0) + Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

/** One value of a parameter drawn as random search draws it (see the module comment). */
export function sampleParam(p: ParamSpec, rng: Rng): ParamValue {
  switch (p.kind) {
    case 'choice':
      return p.values[rng.int(p.values.length)];
    case 'uniform':
      return p.low + (p.high - p.low) * rng.uniform();
    case 'loguniform':
      return Math.min(p.high, Math.max(p.low, Math.exp(Math.log(p.low) + (Math.log(p.high) - Math.log(p.low)) * rng.uniform())));
    case 'int': {
      const step = p.step ?? 1;
      if (!p.log) return p.low + step * rng.int(Math.floor((p.high - p.low) / step) + 1);
      // log scale: log-uniform over [low - 0.5, high + 0.5], rounded (as Optuna's RandomSampler does for log ints)
      const x = Math.exp(Math.log(p.low - 0.5) + (Math.log(p.high + 0.5) - Math.log(p.low - 0.5)) * rng.uniform());
      return Math.min(p.high, Math.max(p.low, Math.round(x)));
    }
  }
}

/** A whole configuration drawn parameter by parameter in space order (conditional ones only when their condition holds). */
export function sampleParams(space: SearchSpace, rng: Rng): Params {
  const params: Params = {};
  for (const [name, p] of Object.entries(space)) if (conditionHolds(p.when, params)) params[name] = sampleParam(p, rng);
  return params;
}

/** Draws of a configuration before an exhausted-looking discrete space is enumerated to find the unseen ones. */
const DRAWS = 100;

/**
 * A configuration no trial of `history` has: `first` when it is new, else fresh random draws; in a discrete space
 * whose draws keep repeating, a uniform pick among the configurations not yet seen.
 * @param total number of configurations of the space (countConfigurations; Infinity when continuous or huge).
 * @returns undefined when every configuration of a discrete space was proposed already.
 * @throws Error when a continuous or huge space gives DRAWS * 100 repeated draws in a row (a bug, in practice).
 */
export function proposeUnseen(space: SearchSpace, rng: Rng, history: readonly TrialRecord[], total: number, first?: Params): Params | undefined {
  const seen = new Set(history.map((t) => configKey(t.params)));
  if (first && !seen.has(configKey(first))) return first;
  if (seen.size >= total) return undefined;
  const tries = Number.isFinite(total) ? DRAWS : DRAWS * 100;
  for (let i = 0; i < tries; i++) {
    const p = sampleParams(space, rng);
    if (!seen.has(configKey(p))) return p;
  }
  if (!Number.isFinite(total)) throw new Error(`random search: ${tries} draws in a row gave configurations already tried`);
  const unseen = enumerateSpace(space).filter((c) => !seen.has(configKey(c)));
  return unseen.length ? unseen[rng.int(unseen.length)] : undefined;
}

/** Random search (see the module comment); undefined once every configuration of a discrete space was proposed. */
export class RandomSampler implements Sampler {
  private readonly total: number;

  /** @param seed the sweep's seed: the same seed and history give the same proposal. */
  constructor(
    private readonly space: SearchSpace,
    private readonly seed: number,
  ) {
    this.total = countConfigurations(space);
  }

  /** Params of trial number `history.length`. */
  ask(history: readonly TrialRecord[]): Params | undefined {
    return proposeUnseen(this.space, trialRng(this.seed, history.length), history, this.total);
  }
}
