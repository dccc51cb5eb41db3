/**
 * Percentile-bootstrap confidence interval of an accuracy (Efron & Tibshirani, "An Introduction to the Bootstrap",
 * Chapman & Hall 1993, ch. 13.3, "The percentile interval"): resample the per-image correctness with replacement B
 * times, take the accuracy of each resample, and read the interval off the ordered replications.
 *
 * ferlab's own code: no statistics package is among the project's dependencies, and the percentile bootstrap of a
 * mean is a dozen lines; it is tested against the closed-form Wilson interval (test/export/bootstrap.test.ts).
 */
import { Rng } from '../util/rng';

/** Default number of bootstrap resamples (Efron & Tibshirani recommend B >= 1000 for percentile intervals). */
export const BOOTSTRAP_RESAMPLES = 10000;
/** Default seed of the resampling, so that an exported model card is reproducible. */
export const BOOTSTRAP_SEED = 20131;

/** A confidence interval of an accuracy, with how it was computed. */
export interface AccuracyInterval {
  /** Accuracy on the images, in [0, 1]. */
  accuracy: number;
  /** Number of images. */
  n: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Interval bounds, in [0, 1]. */
  lower: number;
  upper: number;
  method: 'percentile bootstrap (Efron & Tibshirani 1993, ch. 13.3)';
  resamples: number;
  seed: number;
}

/**
 * Seeded percentile-bootstrap interval of the accuracy of per-image correctness values.
 *
 * Each of the B resamples draws n images with replacement (ferlab's sfc32 {@link Rng}); the bounds are the
 * k-th and (B + 1 - k)-th smallest resample accuracies with k = floor((B + 1) * (1 - level) / 2) (1-based; at least
 * 1), the ((B + 1) alpha)-th order statistic of Efron & Tibshirani ch. 13.3 / Davison & Hinkley 1997 eq. 5.18.
 *
 * @param correct `[n]` per-image correctness: true / 1 = prediction equals the label, false / 0 = wrong.
 * @param opts.resamples B (default {@link BOOTSTRAP_RESAMPLES}); opts.level (default 0.95); opts.seed (default
 *   {@link BOOTSTRAP_SEED}). The same inputs and seed give the same interval.
 * @throws Error when `correct` is empty, holds a value other than 0/1/true/false, B < 1 or the level is outside (0, 1).
 */
export function bootstrapAccuracy(correct: ArrayLike<boolean | number>, opts: { resamples?: number; level?: number; seed?: number } = {}): AccuracyInterval {
  const B = opts.resamples ?? BOOTSTRAP_RESAMPLES;
  const level = opts.level ?? 0.95;
  const seed = opts.seed ?? BOOTSTRAP_SEED;
  const n = correct.length;
  if (n === 0) throw new Error('bootstrapAccuracy: no images (expected at least one correctness value)');
  if (!Number.isInteger(B) || B < 1) throw new Error(`bootstrapAccuracy: resamples must be a positive integer, got ${B}`);
  if (!(level > 0 && level < 1)) throw new Error(`bootstrapAccuracy: level must lie in (0, 1), got ${level}`);
  const x = new Uint8Array(n);
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const v = correct[i];
    if (v !== true && v !== false && v !== 0 && v !== 1) throw new Error(`bootstrapAccuracy: value ${i} is ${String(v)}; expected 0, 1, true or false`);
    x[i] = v ? 1 : 0;
    hits += x[i];
  }
  const rng = new Rng(seed);
  // the resample accuracy only takes the values k / n: count them instead of sorting B floats
  const counts = new Uint32Array(n + 1);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[rng.int(n)];
    counts[s]++;
  }
  const k = Math.max(1, Math.floor(((B + 1) * (1 - level)) / 2));
  /** The r-th smallest replication (1-based), as an accuracy. */
  const orderStat = (r: number): number => {
    let seen = 0;
    for (let s = 0; s <= n; s++) {
      seen += counts[s];
      if (seen >= r) return s / n;
    }
    return 1;
  };
  return {
    accuracy: hits / n,
    n,
    level,
    lower: orderStat(k),
    upper: orderStat(B + 1 - k),
    method: 'percentile bootstrap (Efron & Tibshirani 1993, ch. 13.3)',
    resamples: B,
    seed,
  };
}
