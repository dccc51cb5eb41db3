/**
 * bootstrapAccuracy (percentile bootstrap, Efron & Tibshirani 1993 ch. 13.3) against closed forms computed here:
 * the Wilson score interval and the exact quantiles of Binomial(n, p_hat) / n, which is the distribution the
 * resampled accuracy of 0/1 values follows (so B -> infinity percentile bounds converge to them).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootstrapAccuracy } from '../../src/export/bootstrap';

/** z of the two-sided 95% normal interval (qnorm(0.975)). */
const Z95 = 1.959963984540054;

/** Wilson score interval (Wilson 1927; Agresti & Coull 1998 eq. 2) of k successes in n. */
function wilson(k: number, n: number, z = Z95): [number, number] {
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [centre - half, centre + half];
}

/** q-quantile (smallest k with P(X <= k) >= q) of Binomial(n, p), divided by n; pmf by the log-gamma-free recurrence. */
function binomialQuantile(n: number, p: number, q: number): number {
  // pmf(0) = (1-p)^n, pmf(k+1) = pmf(k) * (n-k)/(k+1) * p/(1-p); in log space to avoid underflow
  let logPmf = n * Math.log(1 - p);
  let cdf = 0;
  for (let k = 0; k <= n; k++) {
    cdf += Math.exp(logPmf);
    if (cdf >= q) return k / n;
    logPmf += Math.log((n - k) / (k + 1)) + Math.log(p / (1 - p));
  }
  return 1;
}

/** `k` ones then `n - k` zeros, interleaved so that order cannot matter. */
function outcomes(k: number, n: number): Uint8Array {
  const x = new Uint8Array(n);
  for (let i = 0; i < k; i++) x[Math.floor((i * n) / k)] = 1;
  return x;
}

test('n = 2000, 70% correct: bounds within 0.002 of Wilson and of the Binomial(n, p) quantiles', () => {
  const n = 2000;
  const k = 1400;
  const x = outcomes(k, n);
  assert.is(
    x.reduce((a, b) => a + b, 0),
    k,
  );
  const r = bootstrapAccuracy(x);
  assert.is(r.accuracy, 0.7);
  assert.is(r.n, n);
  assert.is(r.level, 0.95);
  const [wl, wu] = wilson(k, n);
  // Wilson: [0.67950, 0.71973]; binomial quantiles of Bin(2000, 0.7)/2000: [0.6800, 0.7200]
  assert.ok(Math.abs(wl - 0.6795) < 1e-4 && Math.abs(wu - 0.7197) < 1e-4, `Wilson by hand: [${wl}, ${wu}]`);
  const bl = binomialQuantile(n, 0.7, 0.025);
  const bu = binomialQuantile(n, 0.7, 0.975);
  for (const [name, lo, hi] of [
    ['Wilson', wl, wu],
    ['binomial', bl, bu],
  ] as const) {
    assert.ok(Math.abs(r.lower - lo) <= 0.002, `lower ${r.lower} vs ${name} ${lo}`);
    assert.ok(Math.abs(r.upper - hi) <= 0.002, `upper ${r.upper} vs ${name} ${hi}`);
  }
  // a 90% interval would be [0.6831, 0.7169]: more than 0.003 inside on each side, so the level is really 95%
  const r90 = bootstrapAccuracy(x, { level: 0.9 });
  assert.ok(r90.lower - r.lower > 0.002 && r.upper - r90.upper > 0.002, `90% [${r90.lower}, ${r90.upper}] inside 95% [${r.lower}, ${r.upper}]`);
});

test('n = 3589 (PrivateTest size), 62.78% correct: bounds within 0.002 of Wilson', () => {
  const n = 3589;
  const k = 2253; // 62.78%
  const r = bootstrapAccuracy(outcomes(k, n), { seed: 5 });
  const [wl, wu] = wilson(k, n);
  assert.ok(Math.abs(r.lower - wl) <= 0.002, `lower ${r.lower} vs Wilson ${wl}`);
  assert.ok(Math.abs(r.upper - wu) <= 0.002, `upper ${r.upper} vs Wilson ${wu}`);
  assert.ok(r.lower < k / n && k / n < r.upper);
});

test('skewed small case, n = 100 with 95 correct: close to the binomial quantiles, inside [0, 1]', () => {
  const r = bootstrapAccuracy(outcomes(95, 100));
  assert.ok(Math.abs(r.lower - binomialQuantile(100, 0.95, 0.025)) <= 0.011, `lower ${r.lower}`);
  assert.ok(Math.abs(r.upper - binomialQuantile(100, 0.95, 0.975)) <= 0.011, `upper ${r.upper}`);
  assert.ok(r.upper <= 1 && r.lower >= 0);
});

test('seeded: the same seed gives the same interval; all correct gives [1, 1]; booleans = 0/1', () => {
  const x = outcomes(37, 90);
  assert.equal(bootstrapAccuracy(x, { seed: 3 }), bootstrapAccuracy(x, { seed: 3 }));
  assert.equal(bootstrapAccuracy(Array.from(x, (v) => v === 1)), bootstrapAccuracy(x));
  const all = bootstrapAccuracy(new Uint8Array(50).fill(1), { resamples: 200 });
  assert.is(all.lower, 1);
  assert.is(all.upper, 1);
  assert.is(all.resamples, 200);
});

test('errors name the problem', () => {
  assert.throws(() => bootstrapAccuracy([]), /no images/);
  assert.throws(() => bootstrapAccuracy([1, 0, 2]), /value 2 is 2; expected 0, 1, true or false/);
  assert.throws(() => bootstrapAccuracy([1, 0], { level: 1.5 }), /level must lie in \(0, 1\), got 1.5/);
  assert.throws(() => bootstrapAccuracy([1, 0], { resamples: 0 }), /positive integer, got 0/);
});

test.run();
