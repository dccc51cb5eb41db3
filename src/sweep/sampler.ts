import type { TrialRecord } from './journal';
import type { Params } from './space';
import type { SweepSpec } from './spec';
import { GridSampler } from './grid';
import { RandomSampler } from './random';
import { TpeSampler } from './tpe';

/**
 * The sampler interface of ferlab's sweeps (ask-and-tell): a sampler proposes the params of the next trial from the
 * history of all trials so far. Samplers keep no state between calls: the proposal is a function of the spec, the
 * seed and the history alone (each call derives its random stream from the seed and the number of trials), so a sweep
 * rebuilt from its journal proposes exactly what it would have proposed had it never stopped.
 */
export interface Sampler {
  /**
   * Params of the next trial, or undefined when the sampler is exhausted (grid done, or every configuration of a
   * discrete space proposed already).
   * @param history every trial so far, in trial order, in any state.
   */
  ask(history: readonly TrialRecord[]): Params | undefined;
}

/**
 * The sampler a validated spec names (grid, random or TPE), seeded with `spec.seed`.
 * @throws Error for grid search over a continuous parameter (defineSweep rejects that first).
 */
export function createSampler(spec: Pick<SweepSpec, 'space' | 'sampler' | 'seed'>): Sampler {
  switch (spec.sampler.name) {
    case 'grid':
      return new GridSampler(spec.space);
    case 'random':
      return new RandomSampler(spec.space, spec.seed);
    case 'tpe':
      return new TpeSampler(spec.space, spec.seed, { startupTrials: spec.sampler.startupTrials, candidates: spec.sampler.candidates });
  }
}
