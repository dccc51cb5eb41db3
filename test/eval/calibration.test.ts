/**
 * src/eval/calibration.ts: ECE / MCE / reliability bins on a hand-binned set, synthetic calibrated and
 * miscalibrated sets, NLL by hand, and temperature scaling recovering a known temperature.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  calibrationFromLogits,
  calibrationFromProbabilities,
  fitTemperature,
  negativeLogLikelihood,
  reliability,
  softmaxWithTemperature,
} from '../../src/eval/calibration';
import { Rng } from '../../src/util/rng';

const close = (got: number, want: number, tol: number, what: string) =>
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want} (tol ${tol})`);

test('ECE, MCE and reliability bins of 10 hand-binned predictions (M = 5)', () => {
  // bins (0,.2] (.2,.4] (.4,.6] (.6,.8] (.8,1]; 0.4 and 0.8 sit on upper edges and belong to the lower bin
  const conf = [0.25, 0.4, 0.55, 0.65, 0.8, 0.75, 0.85, 0.9, 0.95, 1.0];
  const ok = [0, 1, 1, 0, 1, 1, 1, 1, 0, 1];
  // bin 1 (.2,.4]: {0.25 x, 0.4 v}          n 2, conf 0.325,  acc 0.5 , gap 0.175   -> 2/10 * 0.175  = 0.035
  // bin 2 (.4,.6]: {0.55 v}                 n 1, conf 0.55,   acc 1   , gap 0.45    -> 1/10 * 0.45   = 0.045
  // bin 3 (.6,.8]: {0.65 x, 0.8 v, 0.75 v}  n 3, conf 2.2/3,  acc 2/3 , gap 0.2/3   -> 3/10 * 0.0667 = 0.02
  // bin 4 (.8,1]:  {.85 v, .9 v, .95 x, 1 v} n 4, conf 0.925, acc 0.75, gap 0.175   -> 4/10 * 0.175  = 0.07
  // ECE = 0.035 + 0.045 + 0.02 + 0.07 = 0.17; MCE = 0.45
  const r = reliability(conf, ok, 5);
  close(r.ece, 0.17, 1e-12, 'ECE');
  close(r.mce, 0.45, 1e-12, 'MCE');
  assert.equal(
    r.bins.map((b) => b.count),
    [0, 2, 1, 3, 4],
  );
  close(r.bins[1].meanConfidence, 0.325, 1e-12, 'conf bin 1');
  close(r.bins[3].meanConfidence, 2.2 / 3, 1e-12, 'conf bin 3');
  close(r.bins[3].accuracy, 2 / 3, 1e-12, 'acc bin 3');
  close(r.bins[4].accuracy, 0.75, 1e-12, 'acc bin 4');
  assert.equal([r.bins[0].meanConfidence, r.bins[0].accuracy], [0, 0]);
  assert.equal(
    r.bins.map((b) => [b.lower, b.upper]),
    [
      [0, 0.2],
      [0.2, 0.4],
      [0.4, 0.6],
      [0.6, 0.8],
      [0.8, 1],
    ],
  );
  close(r.accuracy, 0.7, 1e-12, 'accuracy');
  close(r.meanConfidence, 7.1 / 10, 1e-12, 'mean confidence');
  // bins are (m/M, (m+1)/M] with the edges as computed doubles: with M = 15, 0.7333333333333334 (the double just
  // above 11/15 = 0.7333333333333333) times 15 rounds to exactly 11, yet it lies above the edge 11/15 -> bin 11
  const edge = reliability([11 / 15, 0.7333333333333334, 0.3, 0.1, 0], [1, 1, 0, 0, 0], 15);
  // eslint-disable-next-line no-constant-binary-expression -- checks a floating-point fact about two literals
  assert.ok(0.7333333333333334 > 11 / 15 && 0.7333333333333334 * 15 === 11);
  const want = new Array(15).fill(0);
  want[10] = 1; // 11/15 itself: upper edge of bin 10
  want[11] = 1;
  want[4] = 1; // 0.3 in (4/15, 5/15]
  want[1] = 1; // 0.1 in (1/15, 2/15]
  want[0] = 1; // 0 goes to the first bin
  assert.equal(
    edge.bins.map((b) => b.count),
    want,
  );
  assert.equal(reliability(conf, ok).bins.length, 15);
  assert.throws(() => reliability([0.5, 1.2], [1, 0]), /confidence 1 is 1.2/);
  assert.throws(() => reliability([0.5], [1, 0]), /1 confidences but 2/);
});

test('calibrated synthetic set -> ECE ~ 0; overconfident by 0.1 -> ECE ~ 0.1; bins sum to n', () => {
  const rng = new Rng(11);
  const n = 100000;
  const conf = new Float64Array(n);
  const fair = new Uint8Array(n);
  const over = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    conf[i] = 0.2 + 0.8 * rng.uniform();
    const u = rng.uniform();
    fair[i] = u < conf[i] ? 1 : 0; // P(correct | conf) = conf
    over[i] = u < conf[i] - 0.1 ? 1 : 0; // P(correct | conf) = conf - 0.1
  }
  const a = reliability(conf, fair);
  // ~6,700 predictions per bin: |acc - conf| ~ 0.005 of sampling noise
  assert.ok(a.ece < 0.01, `calibrated ECE ${a.ece}`);
  assert.is(
    a.bins.reduce((s, b) => s + b.count, 0),
    n,
  );
  const b = reliability(conf, over);
  close(b.ece, 0.1, 0.01, 'overconfident ECE');
  assert.ok(b.mce >= 0.1 - 0.02);
});

test('NLL by hand; stable for huge logits; softmax with temperature', () => {
  // row 0: [2, 0, 0], label 0 -> -ln(e^2 / (e^2 + 2)) = ln(1 + 2 e^-2)
  // row 1: [0, 1, 0], label 2 -> -ln(1 / (2 + e)) = ln(2 + e)
  const logits = Float32Array.from([2, 0, 0, 0, 1, 0]);
  const want = (Math.log(1 + 2 * Math.exp(-2)) + Math.log(2 + Math.E)) / 2;
  close(negativeLogLikelihood(logits, 3, [0, 2]), want, 1e-12, 'NLL');
  // T = 2: row 0 -> ln(1 + 2 e^-1), row 1 -> ln(2 + e^0.5)
  close(negativeLogLikelihood(logits, 3, Int32Array.from([0, 2]), 2), (Math.log(1 + 2 / Math.E) + Math.log(2 + Math.sqrt(Math.E))) / 2, 1e-12, 'NLL T=2');
  close(negativeLogLikelihood(Float32Array.from([1000, 0]), 2, [1]), 1000, 1e-9, 'NLL of a huge logit');
  const p = softmaxWithTemperature(Float32Array.from([1000, 0, 1000, 1000]), 2);
  assert.equal(Array.from(p), [1, 0, 0.5, 0.5]);
  const q = softmaxWithTemperature(Float32Array.from([Math.log(3), 0]), 2, 0.5);
  close(q[0], 0.9, 1e-7, 'softmax(ln3 / 0.5) = 9/10');
  assert.throws(() => negativeLogLikelihood(logits, 3, [0, 3]), /label 1 is 3/);
  assert.throws(() => negativeLogLikelihood(logits, 4, [0]), /not a whole number of rows/);
  assert.throws(() => negativeLogLikelihood(logits, 3, [0, 1], 0), /temperature must be/);
});

test('calibration from logits and from probabilities agree with the hand-made confidences', () => {
  // row 0: softmax([ln 3.5, 0]) = [7/9, 2/9] predicts 0; row 1: [0, ln 3] -> [0.25, 0.75] predicts 1
  const logits = Float32Array.from([Math.log(3.5), 0, 0, Math.log(3)]);
  const r = calibrationFromLogits(logits, 2, [0, 0], { bins: 10 });
  // conf 7/9 right and conf 0.75 wrong, both in bin 7 (0.7, 0.8]: acc 0.5, conf (7/9 + 3/4) / 2 = 0.763889
  // -> ECE = MCE = 0.263889
  assert.is(r.bins[7].count, 2);
  close(r.ece, (7 / 9 + 0.75) / 2 - 0.5, 1e-6, 'ECE from logits');
  close(r.mce, (7 / 9 + 0.75) / 2 - 0.5, 1e-6, 'MCE from logits');
  const rp = calibrationFromProbabilities(Float32Array.from([7 / 9, 2 / 9, 0.25, 0.75]), 2, [0, 0], { bins: 10 });
  close(rp.ece, (7 / 9 + 0.75) / 2 - 0.5, 1e-6, 'ECE from probabilities');
  // at T = 2: softmax([ln sqrt 3.5, 0]) = sqrt3.5 / (1 + sqrt3.5), softmax([0, ln sqrt 3]) = sqrt3 / (1 + sqrt3)
  const r2 = calibrationFromLogits(logits, 2, [0, 0], { temperature: 2 });
  close(r2.meanConfidence, (Math.sqrt(3.5) / (1 + Math.sqrt(3.5)) + Math.sqrt(3) / (1 + Math.sqrt(3))) / 2, 1e-6, 'mean confidence at T = 2');
  assert.is(r2.accuracy, 0.5);
});

/** n rows of x ~ N(0, 1.5^2) logits over C classes, labels drawn from softmax(x), returned as z = tStar * x. */
function synthetic(n: number, C: number, tStar: number, seed: number): { logits: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform());
  const logits = new Float32Array(n * C);
  const labels = new Int32Array(n);
  const x = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) {
      x[c] = 1.5 * gauss();
      s += Math.exp(x[c]);
    }
    let u = rng.uniform() * s;
    let y = C - 1;
    for (let c = 0; c < C; c++) {
      u -= Math.exp(x[c]);
      if (u < 0) {
        y = c;
        break;
      }
    }
    labels[i] = y;
    for (let c = 0; c < C; c++) logits[i * C + c] = tStar * x[c];
  }
  return { logits, labels };
}

test('temperature scaling recovers T* = 2.5 from z = T* x (n = 20000) and lowers NLL and ECE', () => {
  const { logits, labels } = synthetic(20000, 7, 2.5, 2025);
  const fit = fitTemperature(logits, 7, labels);
  assert.ok(Math.abs(fit.temperature - 2.5) <= 0.05 * 2.5, `T = ${fit.temperature}`);
  assert.ok(fit.nllAfter <= fit.nllBefore, `NLL ${fit.nllBefore} -> ${fit.nllAfter}`);
  assert.ok(fit.nllBefore - fit.nllAfter > 0.1, 'an overconfident model gains a lot');
  close(fit.nllAfter, negativeLogLikelihood(logits, 7, labels, fit.temperature), 1e-9, 'reported NLL after');
  assert.not.ok(fit.atBound);
  const before = calibrationFromLogits(logits, 7, labels);
  const after = calibrationFromLogits(logits, 7, labels, { temperature: fit.temperature });
  assert.ok(after.ece < 0.02 && before.ece > 0.1, `ECE ${before.ece} -> ${after.ece}`);
  assert.is(after.accuracy, before.accuracy);
  // the fitted T is a minimum: NLL is higher 2% on either side
  const f = (t: number) => negativeLogLikelihood(logits, 7, labels, t);
  assert.ok(f(fit.temperature * 1.02) > fit.nllAfter && f(fit.temperature / 1.02) > fit.nllAfter);
});

test('temperature scaling leaves a calibrated model at T = 1; underconfident -> T < 1', () => {
  const cal = synthetic(20000, 7, 1, 7);
  const fit = fitTemperature(cal.logits, 7, cal.labels);
  assert.ok(Math.abs(fit.temperature - 1) <= 0.05, `T = ${fit.temperature}`);
  assert.ok(fit.nllAfter <= fit.nllBefore);
  const under = synthetic(20000, 7, 0.5, 8);
  const fu = fitTemperature(under.logits, 7, under.labels);
  assert.ok(Math.abs(fu.temperature - 0.5) <= 0.05 * 0.5, `T = ${fu.temperature}`);
  // perfectly separable, all correct: NLL keeps falling as T -> 0, the fit stops at the range's lower end
  const sep = fitTemperature(Float32Array.from([5, 0, 0, 5]), 2, [0, 1]);
  assert.ok(sep.atBound && Math.abs(sep.temperature - 0.05) < 1e-3, `T = ${sep.temperature}`);
  assert.throws(() => fitTemperature(new Float32Array(0), 2, []), /no rows/);
  assert.throws(() => fitTemperature(Float32Array.from([NaN, 0]), 2, [0]), /logit 0 is NaN/);
});

test.run();
