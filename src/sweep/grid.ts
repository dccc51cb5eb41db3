import type { TrialRecord } from './journal';
import type { Sampler } from './sampler';
import { configKey, enumerateSpace, type Params, type SearchSpace } from './space';

/**
 * Grid search: every configuration of a discrete search space (choices, int ranges with their step), the first
 * parameter varying slowest, conditional parameters only where their condition holds. Each ask returns the first
 * configuration, in that order, that no trial of the history has; undefined once all were proposed.
 */
export class GridSampler implements Sampler {
  /** The configurations, in proposal order. */
  readonly configurations: readonly Params[];

  /**
   * @throws Error naming a continuous (uniform / loguniform) parameter, or for more than MAX_ENUMERATED configurations.
   */
  constructor(space: SearchSpace) {
    try {
      this.configurations = enumerateSpace(space);
    } catch (e) {
      throw new Error(`grid search: ${(e as Error).message}`);
    }
  }

  /** The first configuration not in `history`, or undefined when the grid is done. */
  ask(history: readonly TrialRecord[]): Params | undefined {
    const seen = new Set(history.map((t) => configKey(t.params)));
    const next = this.configurations.find((c) => !seen.has(configKey(c)));
    return next && { ...next };
  }
}
