/**
 * src/eval/stats.ts against values computed here by other means: binomial sums of integer coefficients, an erfc by
 * numerical integration, published chi-square / normal quantiles, and the Wilson interval worked by hand.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapAccuracy,
  bootstrapRanks,
  chiSquare1Survival,
  erfc,
  formatMeanStd,
  mcnemarFromCounts,
  mcnemarTest,
  mean,
  normalCdf,
  normalQuantile,
  sampleStd,
  wilsonInterval,
} from '../../src/eval/stats';
import { bootstrapAccuracy as exportBootstrap } from '../../src/export/bootstrap';
import { Rng } from '../../src/util/rng';

const close = (got: number, want: number, tol: number, what: string) =>
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want} (tol ${tol})`);
const relClose = (got: number, want: number, rel: number, what: string) =>
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: got ${got}, want ${want} (rel ${rel})`);

/** C(n, k) as an exact integer (BigInt), for small n. */
function binom(n: number, k: number): bigint {
  let r = 1n;
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1);
  return r;
}

/** erfc(x) = 2/sqrt(pi) * integral_x^{x+12} exp(-t^2) dt by composite Simpson (independent of the code under test). */
function erfcSimpson(x: number): number {
  const N = 200000;
  const h = 12 / N;
  let s = Math.exp(-x * x) + Math.exp(-(x + 12) * (x + 12));
  for (let i = 1; i < N; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((x + i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

test('mean, sample std (n - 1), formatMeanStd', () => {
  // 79.16, 78.74, 79.58: mean 79.16; deviations 0, -0.42, 0.42 -> var = 2 * 0.1764 / 2 = 0.1764 -> std 0.42
  const v = [79.16, 78.74, 79.58];
  close(mean(v), 79.16, 1e-12, 'mean');
  close(sampleStd(v), 0.42, 1e-12, 'std');
  assert.is(formatMeanStd(v, 2), '79.16 +- 0.42');
  assert.is(formatMeanStd([1, 2, 3, 4], 3), '2.500 +- 1.291'); // var = (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3
  assert.is(formatMeanStd([62.5], 1), '62.5 +- n/a');
  assert.throws(() => mean([]), /no values/);
  assert.throws(() => sampleStd([1]), /at least 2 values/);
  assert.throws(() => mean([1, NaN]), /value 1 is NaN/);
});

test('erfc and the chi-square(1) survival function against integration and published quantiles', () => {
  for (const x of [0, 0.3, 1, 1.9, 2, 2.1, 3.5, 5]) relClose(erfc(x), erfcSimpson(x), 1e-9, `erfc(${x})`);
  relClose(erfc(-1.5), 2 - erfcSimpson(1.5), 1e-12, 'erfc(-1.5)');
  // far tail where 1 - erf underflows: erfc(10) = 2.088487583762545e-45, erfc(20) = 5.395865611607901e-176
  relClose(erfc(10), 2.088487583762545e-45, 1e-12, 'erfc(10)');
  relClose(erfc(20), 5.395865611607901e-176, 1e-12, 'erfc(20)');
  // chi-square(1) upper quantiles (R: qchisq(1 - a, 1))
  relClose(chiSquare1Survival(2.705543454095404), 0.1, 1e-12, 'chi2 0.10');
  relClose(chiSquare1Survival(3.841458820694124), 0.05, 1e-12, 'chi2 0.05');
  relClose(chiSquare1Survival(6.634896601021214), 0.01, 1e-12, 'chi2 0.01');
  relClose(chiSquare1Survival(10.82756617066273), 0.001, 1e-12, 'chi2 0.001');
  assert.is(chiSquare1Survival(0), 1);
});

test('normal quantile: known values', () => {
  close(normalQuantile(0.975), 1.959963984540054, 1e-13, 'z 0.975');
  close(normalQuantile(0.5), 0, 1e-15, 'z 0.5');
  close(normalQuantile(0.995), 2.5758293035489004, 1e-12, 'z 0.995');
  close(normalQuantile(0.001), -3.090232306167813, 1e-12, 'z 0.001');
  close(normalQuantile(1e-10), -6.361340902404056, 1e-10, 'z 1e-10');
  assert.throws(() => normalQuantile(1), /\(0, 1\), got 1/);
});

test('erfc, normalCdf and normalQuantile within their documented maximum errors (40-digit mpmath values)', () => {
  // erfc: 5.6e-16 relative for |x| < 0.5 and x < 0, 1.8e-13 on [0.5, 2) (worst near 1.946), 5.8e-14 for x >= 2
  relClose(erfc(0.5), 0.47950012218695346, 6e-16, 'erfc(0.5)');
  relClose(erfc(-1), 1.8427007929497149, 6e-16, 'erfc(-1)');
  relClose(erfc(1.946), 0.0059221743114264599, 1.8e-13, 'erfc(1.946)');
  relClose(erfc(2), 0.0046777349810472658, 5.8e-14, 'erfc(2)');
  relClose(erfc(5), 1.5374597944280349e-12, 5.8e-14, 'erfc(5)');
  relClose(erfc(26), 5.6631924088561428e-296, 5.8e-14, 'erfc(26)');
  // normalCdf: 7.3e-14 relative on [-20, 8]; Phi(-2.75) = erfc(1.9445...) / 2 = 0.0029797632350545568
  relClose(normalCdf(-2.75), 0.0029797632350545568, 7.3e-14, 'Phi(-2.75)');
  // normalQuantile: 7e-15 absolute in [0.02425, 0.97575], 6e-14 in the tails, 2e-15 down to 1e-300
  close(normalQuantile(0.975), 1.9599639845400539, 7e-15, 'Phi^-1(0.975)');
  close(normalQuantile(0.025), -1.9599639845400542, 7e-15, 'Phi^-1(0.025)');
  close(normalQuantile(0.003), -2.7477813854449928, 6e-14, 'Phi^-1(0.003)');
  close(normalQuantile(0.997), 2.7477813854449926, 6e-14, 'Phi^-1(0.997)');
  close(normalQuantile(1e-300), -37.047096299361199, 2e-15 * 37, 'Phi^-1(1e-300)');
  // the upper tail from the exact 1 - p (the Halley step on p itself was 2.9e-9 off here)
  close(normalQuantile(0.9999999999), 6.3613408896974219, 6e-14, 'Phi^-1(1 - 1e-10)');
  close(normalQuantile(0.999999999999999), 7.9414444874159788, 6e-14, 'Phi^-1(1 - 1e-15)');
});

test('McNemar exact: b = 10, c = 2 -> p = 2 P(Binom(12, 1/2) <= 2) = 0.0386', () => {
  // P(X <= 2) = (C(12,0) + C(12,1) + C(12,2)) / 2^12 = (1 + 12 + 66) / 4096 = 79 / 4096
  const tail = Number(binom(12, 0) + binom(12, 1) + binom(12, 2)) / 4096;
  assert.is(tail, 79 / 4096);
  const r = mcnemarFromCounts(10, 2);
  assert.is(r.method, 'exact');
  assert.is(r.statistic, 2);
  relClose(r.pValue, 2 * tail, 1e-12, 'exact p');
  close(r.pValue, 0.0386, 5e-5, 'exact p (4 digits)');
  // mid-p: 2 (P(X <= 2) - P(X = 2) / 2) = 2 (79 - 33) / 4096
  relClose(r.midPValue!, (2 * (79 - 33)) / 4096, 1e-12, 'mid-p');
  // symmetric in A and B; b = c gives p = 1 (capped); no discordant pairs: p = 1
  relClose(mcnemarFromCounts(2, 10).pValue, 2 * tail, 1e-12, 'swapped');
  assert.is(mcnemarFromCounts(7, 7).pValue, 1);
  assert.equal(mcnemarFromCounts(0, 0).pValue, 1);
  // b = 20, c = 5: P(X <= 5), X ~ Binom(25, 1/2), by exact integer sums; b + c = 25 is still exact by default
  let s = 0n;
  for (let i = 0; i <= 5; i++) s += binom(25, i);
  const r25 = mcnemarFromCounts(20, 5);
  assert.is(r25.method, 'exact');
  relClose(r25.pValue, (2 * Number(s)) / 2 ** 25, 1e-12, 'b=20 c=5');
});

test('McNemar chi-square with continuity correction for many discordant pairs', () => {
  // b = 150, c = 100: (|150 - 100| - 1)^2 / 250 = 49^2 / 250 = 9.604; p = erfc(sqrt(9.604 / 2))
  const r = mcnemarFromCounts(150, 100);
  assert.is(r.method, 'chi-square-cc');
  close(r.statistic, 9.604, 1e-12, 'statistic');
  relClose(r.pValue, erfcSimpson(Math.sqrt(9.604 / 2)), 1e-9, 'p');
  assert.ok(r.midPValue === undefined);
  // b = 26, c = 0 is past the threshold: (26 - 1)^2 / 26
  const r26 = mcnemarFromCounts(26, 0);
  assert.is(r26.method, 'chi-square-cc');
  close(r26.statistic, 625 / 26, 1e-12, 'b=26');
  // forcing the method; the threshold is an option
  assert.is(mcnemarFromCounts(10, 2, { method: 'chi-square-cc' }).statistic, 49 / 12); // (8 - 1)^2 / 12
  assert.is(mcnemarFromCounts(10, 2, { exactMax: 5 }).method, 'chi-square-cc');
});

test('McNemar exact in log space for b + c = 1e5 agrees with the normal approximation', () => {
  // b = 50500, c = 49500: 2^-100000 underflows a plain sum. Chi-square cc: (1000 - 1)^2 / 1e5 = 9.98001,
  // p = 0.0015825 (scipy: exact binomtest p = 0.0015824)
  const r = mcnemarFromCounts(50500, 49500, { method: 'exact' });
  assert.is(r.method, 'exact');
  relClose(r.pValue, erfcSimpson(Math.sqrt(9.98001 / 2)), 2e-3, 'exact vs cc');
  relClose(r.pValue, 0.0015824, 1e-4, 'exact vs scipy');
});

test('mcnemarTest counts the paired correctness', () => {
  // A: 1 1 1 0 0 1 ; B: 1 0 0 1 0 0 -> b (A right, B wrong) = 3, c = 1, both right 1, both wrong 1
  const r = mcnemarTest([1, 1, 1, 0, 0, 1], [true, false, false, true, false, false]);
  assert.equal([r.b, r.c, r.bothRight, r.bothWrong], [3, 1, 1, 1]);
  // P(X <= 1), X ~ Binom(4, 1/2) = 5/16 -> p = 10/16
  relClose(r.pValue, 10 / 16, 1e-12, 'p');
  assert.throws(() => mcnemarTest([1, 0], [1]), /same images/);
  assert.throws(() => mcnemarTest([1, 2], [1, 0]), /value 1 of A is 2/);
  assert.throws(() => mcnemarFromCounts(-1, 2), /non-negative integer/);
});

test('Wilson interval by hand; bootstrap within 0.005 of it for k = 790, n = 1000', () => {
  // p = 0.79, z = 1.959964: 1 + z^2/n = 1.0038415; centre = (0.79 + 0.0019207) / 1.0038415 = 0.7888902;
  // half = z / 1.0038415 * sqrt(0.79 * 0.21 / 1000 + z^2 / 4e6) = 0.0252208 -> [0.7636694, 0.8141111]
  const w = wilsonInterval(790, 1000);
  close(w.lower, 0.7636694, 1e-6, 'Wilson lower');
  close(w.upper, 0.8141111, 1e-6, 'Wilson upper');
  const x = new Uint8Array(1000);
  for (let i = 0; i < 790; i++) x[Math.floor((i * 1000) / 790)] = 1;
  const b = bootstrapAccuracy(x);
  assert.is(b.accuracy, 0.79);
  assert.is(b.resamples, 10000);
  assert.is(b.seed, 20131);
  close(b.lower, w.lower, 0.005, 'bootstrap lower vs Wilson');
  close(b.upper, w.upper, 0.005, 'bootstrap upper vs Wilson');
  // a 99% Wilson interval is wider: z = 2.5758
  const w99 = wilsonInterval(790, 1000, 0.99);
  assert.ok(w99.lower < w.lower - 0.007 && w99.upper > w.upper + 0.007);
  // edges stay inside [0, 1]: k = 0 -> [0, z^2 / (n + z^2)]
  const w0 = wilsonInterval(0, 20);
  assert.is(w0.lower, 0);
  assert.is(wilsonInterval(20, 20).upper, 1);
  close(w0.upper, 3.841458820694124 / (20 + 3.841458820694124), 1e-12, 'k = 0 upper');
  assert.throws(() => wilsonInterval(5, 4), /k must be an integer in \[0, 4\]/);
});

test('bootstrap ranks: the ((B + 1) alpha / 2)-th order statistic, exact for decimal levels; numpy percentile (weibull) by hand', () => {
  // numpy.percentile(np.arange(1, B + 1), [50 alpha, 100 - 50 alpha], method='weibull') takes the p (B + 1)-th
  // order statistic (1-based): B = 39, level 0.9: 0.05 * 40 = 2 and 0.95 * 40 = 38 -> [2, 38]. In floating point
  // (B + 1) (1 - 0.9) / 2 = 1.9999999999999996, whose floor (1) was the old rank.
  for (const [B, level, lower, upper] of [
    [39, 0.9, 2, 38], // numpy: [2, 38]
    [19, 0.8, 2, 18], // 0.1 * 20 = 2, 0.9 * 20 = 18; numpy: [2, 18]
    [99, 0.9, 5, 95], // 0.05 * 100 = 5; numpy: [5, 95]
    [999, 0.9, 50, 950], // 0.05 * 1000 = 50; numpy: [50, 950]
    [9999, 0.95, 250, 9750], // 0.025 * 10000 = 250; numpy: [250, 9750]
    [10000, 0.95, 250, 9751], // 0.025 * 10001 = 250.025: floor 250 (numpy would interpolate; ours lies outside)
    [20, 0.95, 1, 20], // 0.025 * 21 = 0.525 -> at least 1
  ] as const) {
    const r = bootstrapRanks(B, level);
    assert.equal([r.lower, r.upper], [lower, upper], `B = ${B}, level ${level}: expected [${lower}, ${upper}], got [${r.lower}, ${r.upper}]`);
  }
  assert.throws(() => bootstrapRanks(0, 0.9), /positive integer/);
  // end to end, B = 39, level 0.9: the bounds are the 2nd and 38th smallest of the 39 resample accuracies, redrawn
  // here with the documented scheme (resample r draws n indices rng.int(n) in turn)
  const n = 50;
  const x = Array.from({ length: n }, (_, i) => (i % 10 < 7 ? 1 : 0)); // 35 of 50 correct
  const seed = 11;
  const rng = new Rng(seed);
  const reps: number[] = [];
  for (let r = 0; r < 39; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[rng.int(n)];
    reps.push(s / n);
  }
  reps.sort((a, b) => a - b);
  assert.ok(reps[0] !== reps[1] && reps[37] !== reps[38], `the test needs distinct 1st/2nd and 38th/39th replications: ${reps}`);
  const b = bootstrapAccuracy(x, { resamples: 39, level: 0.9, seed });
  assert.equal([b.lower, b.upper], [reps[1], reps[37]], `expected [${reps[1]}, ${reps[37]}] (2nd, 38th), got [${b.lower}, ${b.upper}]`);
});

test('bootstrap: seeded reproducibility, different seeds differ, same intervals as src/export/bootstrap.ts', () => {
  const x = new Uint8Array(500);
  for (let i = 0; i < 500; i++) x[i] = i % 3 === 0 ? 0 : 1;
  const a = bootstrapAccuracy(x, { seed: 7, resamples: 2000 });
  assert.equal(bootstrapAccuracy(x, { seed: 7, resamples: 2000 }), a);
  const others = [8, 9, 10, 11].map((seed) => bootstrapAccuracy(x, { seed, resamples: 2000 }));
  assert.ok(
    others.some((o) => o.lower !== a.lower || o.upper !== a.upper),
    'the seed changes the resamples',
  );
  assert.equal(bootstrapAccuracy(x), exportBootstrap(x));
  assert.equal(bootstrapAccuracy(x, { seed: 3, level: 0.9 }), exportBootstrap(x, { seed: 3, level: 0.9 }));
  assert.throws(() => bootstrapAccuracy([]), /no images/);
  assert.throws(() => bootstrapAccuracy([1, 0], { level: 1 }), /level must lie in/);
});

test.run();
