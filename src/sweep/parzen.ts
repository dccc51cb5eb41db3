import { normalCdf } from '../eval/stats';
import type { Rng } from '../util/rng';

/**
 * Univariate Parzen estimators of the TPE sampler (tpe.ts): a mixture of truncated normals for a numeric parameter
 * and a mixture of smoothed categorical kernels for a choice, each with a prior kernel.
 *
 * Follows Bergstra, Bardenet, Bengio & Kegl 2011, "Algorithms for Hyper-Parameter Optimization" (NeurIPS), section 4,
 * with the details of Optuna's univariate estimator (optuna/samplers/_tpe/parzen_estimator.py, Optuna 3.x/4.x,
 * defaults consider_prior=True, prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False):
 * - one kernel per observation, centred on it, plus a prior kernel centred on the middle of the range with the whole
 *   range as its width; mixture weights = the observation weights and prior_weight, normalised;
 * - each observation's bandwidth is the larger distance to its sorted neighbours (the range bounds standing in for the
 *   missing neighbours, except that the lowest and highest observations use their inner neighbour only), clipped to
 *   [range / min(100, 1 + kernels), range] (the "magic clip"); kernels are normals truncated to the range;
 * - categorical: each observation's kernel puts prior_weight / kernels on every choice plus 1 on the observed one,
 *   normalised (smoothed counts); the prior kernel is uniform.
 * ferlab's own implementation, not a port of Optuna's code.
 */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log(sum(exp(xs))) without overflow; -Infinity for no terms. */
function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** A standard normal draw (Box-Muller). */
function gaussian(rng: Rng): number {
  const u1 = 1 - rng.uniform(); // (0, 1]
  const u2 = rng.uniform();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Mixture weights: the observation weights plus the prior weight, normalised to sum 1. */
function mixtureWeights(weights: readonly number[], priorWeight: number): number[] {
  const all = [...weights, priorWeight];
  const sum = all.reduce((a, b) => a + b, 0);
  return all.map((w) => w / sum);
}

/** A mixture of normals truncated to [low, high] (in the parameter's internal scale: log for log parameters). */
export class TruncNormMixture {
  /** log of each kernel's probability mass inside [low, high]. */
  private readonly logMass: number[];

  constructor(
    readonly mus: readonly number[],
    readonly sigmas: readonly number[],
    /** Mixture weights, summing to 1. */
    readonly weights: readonly number[],
    readonly low: number,
    readonly high: number,
  ) {
    this.logMass = mus.map((mu, k) => Math.log(Math.max(normalCdf((high - mu) / sigmas[k]) - normalCdf((low - mu) / sigmas[k]), 1e-300)));
  }

  /**
   * One draw: a kernel by weight, then a value of its truncated normal by rejection (each kernel's mean lies in the
   * range and its sigma is at most the range, so at least a third of the draws land inside).
   */
  sample(rng: Rng): number {
    let u = rng.uniform();
    let k = 0;
    while (k < this.weights.length - 1 && u >= this.weights[k]) u -= this.weights[k++];
    for (let i = 0; i < 1000; i++) {
      const x = this.mus[k] + this.sigmas[k] * gaussian(rng);
      if (x >= this.low && x <= this.high) return x;
    }
    return Math.min(this.high, Math.max(this.low, this.mus[k]));
  }

  /** log density at x (x inside [low, high]). */
  logPdf(x: number): number {
    return logSumExp(
      this.mus.map((mu, k) => {
        const z = (x - mu) / this.sigmas[k];
        return Math.log(this.weights[k]) - Math.log(this.sigmas[k]) - LOG_SQRT_2PI - 0.5 * z * z - this.logMass[k];
      }),
    );
  }
}

/**
 * The Parzen estimator of a numeric parameter (see the module comment).
 * @param observations values in the internal scale (log values for log parameters), each inside [low, high].
 * @param weights one weight per observation (tpe.ts defaultWeights).
 * @param low @param high the range in the internal scale (for ints already widened by half a step each side).
 * @param priorWeight weight of the prior kernel (Optuna prior_weight = 1.0).
 */
export function numericEstimator(observations: readonly number[], weights: readonly number[], low: number, high: number, priorWeight = 1): TruncNormMixture {
  const mus = [...observations, 0.5 * (low + high)];
  const range = high - low;
  const n = mus.length;
  const order = mus.map((_, i) => i).sort((a, b) => mus[a] - mus[b]);
  const sorted = order.map((i) => mus[i]);
  const withEnds = [low, ...sorted, high];
  const sortedSigmas = sorted.map((_, i) => Math.max(withEnds[i + 1] - withEnds[i], withEnds[i + 2] - withEnds[i + 1]));
  if (n >= 2) {
    // consider_endpoints=False: the lowest and highest kernels use their inner neighbour only
    sortedSigmas[0] = sorted[1] - sorted[0];
    sortedSigmas[n - 1] = sorted[n - 1] - sorted[n - 2];
  }
  const sigmas = new Array<number>(n);
  order.forEach((i, j) => (sigmas[i] = sortedSigmas[j]));
  const maxSigma = range;
  const minSigma = range / Math.min(100, 1 + n); // the magic clip; n counts the prior kernel
  for (let i = 0; i < n; i++) sigmas[i] = Math.min(maxSigma, Math.max(minSigma, sigmas[i]));
  sigmas[n - 1] = maxSigma; // the prior
  if (range === 0) sigmas.fill(1); // a single-valued range: any width gives the same (constant) draws
  return new TruncNormMixture(mus, sigmas, mixtureWeights(weights, priorWeight), low, high);
}

/** A distribution over the indices of a choice's values. */
export class CategoricalMixture {
  constructor(
    /** Probability of each choice index, summing to 1. */
    readonly probs: readonly number[],
  ) {}

  /** One draw: a choice index. */
  sample(rng: Rng): number {
    let u = rng.uniform();
    let k = 0;
    while (k < this.probs.length - 1 && u >= this.probs[k]) u -= this.probs[k++];
    return k;
  }

  /** log probability of a choice index. */
  logPmf(index: number): number {
    return Math.log(this.probs[index]);
  }
}

/**
 * The Parzen estimator of a choice (see the module comment): the mixture of the observations' smoothed kernels and the
 * uniform prior kernel, collapsed into one probability per choice.
 * @param observations observed choice indices. @param weights one weight per observation. @param nChoices number of values.
 */
export function categoricalEstimator(observations: readonly number[], weights: readonly number[], nChoices: number, priorWeight = 1): CategoricalMixture {
  const pi = mixtureWeights(weights, priorWeight);
  const kernels = observations.length + 1;
  const smooth = priorWeight / kernels;
  const probs = new Array<number>(nChoices).fill(pi[pi.length - 1] / nChoices); // the prior kernel
  observations.forEach((c, k) => {
    const norm = smooth * nChoices + 1;
    for (let j = 0; j < nChoices; j++) probs[j] += (pi[k] * (smooth + (j === c ? 1 : 0))) / norm;
  });
  return new CategoricalMixture(probs);
}
