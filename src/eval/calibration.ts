/**
 * Calibration of a classifier's confidence: expected and maximum calibration error with the reliability-diagram data
 * behind them, negative log-likelihood, and temperature scaling, all following Guo, Pleiss, Sun & Weinberger 2017,
 * "On Calibration of Modern Neural Networks", ICML (sec. 2 for ECE / MCE / NLL, sec. 4.2 for temperature scaling).
 *
 * The confidence of a prediction is its top-1 softmax probability, the prediction its argmax (first maximum on ties,
 * as src/util/argmax.ts). Arithmetic is float64 throughout; softmax subtracts the row maximum, so logits of any size
 * are fine.
 */

/** Default number of equal-width confidence bins (Guo et al. 2017 use M = 15). */
export const ECE_BINS = 15;

/** A reliability-diagram bin and a calibration summary: record types (metrics.json), schemas in src/records/metrics.ts. */
import type { CalibrationReport, ReliabilityBin } from '../records/metrics';
export type { CalibrationReport, ReliabilityBin } from '../records/metrics';

/** Bin index m in [0, M) with conf in (m/M, (m+1)/M], robust to the rounding of conf * M at an edge. */
function binOf(conf: number, M: number): number {
  let m = Math.ceil(conf * M) - 1;
  if (m > 0 && conf <= m / M) m--;
  else if (m < M - 1 && conf > (m + 1) / M) m++;
  return Math.min(M - 1, Math.max(0, m));
}

/**
 * Reliability diagram, ECE and MCE of predictions given by their confidences and correctness (Guo et al. 2017 eqs. 2
 * and 3 and sec. 2): M equal-width bins I_m = ((m-1)/M, m/M] over [0, 1] (the lowest bin also takes a confidence of
 * exactly 0), acc(B) = fraction correct and conf(B) = mean confidence of the predictions in a bin,
 * ECE = sum_m |B_m| / n * |acc(B_m) - conf(B_m)|, MCE = max over non-empty bins of |acc(B_m) - conf(B_m)|.
 *
 * @param confidence `[n]` confidences in [0, 1] (top-1 probability). @param correct `[n]` true / 1 = right.
 * @param numBins M, a positive integer (default {@link ECE_BINS} = 15).
 * @throws Error when the lengths differ, n = 0, a confidence lies outside [0, 1] or is NaN, a correctness value is
 *   not 0/1/true/false, or numBins is not a positive integer.
 */
export function reliability(confidence: ArrayLike<number>, correct: ArrayLike<boolean | number>, numBins = ECE_BINS): CalibrationReport {
  const n = confidence.length;
  if (correct.length !== n) throw new Error(`reliability: ${n} confidences but ${correct.length} correctness values`);
  if (n === 0) throw new Error('reliability: no predictions');
  if (!Number.isInteger(numBins) || numBins < 1) throw new Error(`reliability: numBins must be a positive integer, got ${numBins}`);
  const M = numBins;
  const count = new Float64Array(M);
  const sumConf = new Float64Array(M);
  const hits = new Float64Array(M);
  let allConf = 0;
  let allHits = 0;
  for (let i = 0; i < n; i++) {
    const p = confidence[i];
    if (!(p >= 0 && p <= 1)) throw new Error(`reliability: confidence ${i} is ${p}; expected a number in [0, 1]`);
    const v = correct[i];
    if (v !== true && v !== false && v !== 0 && v !== 1) throw new Error(`reliability: correctness ${i} is ${String(v)}; expected 0, 1, true or false`);
    const m = binOf(p, M);
    count[m]++;
    sumConf[m] += p;
    hits[m] += v ? 1 : 0;
    allConf += p;
    allHits += v ? 1 : 0;
  }
  const bins: ReliabilityBin[] = [];
  let ece = 0;
  let mce = 0;
  for (let m = 0; m < M; m++) {
    const c = count[m];
    const meanConfidence = c ? sumConf[m] / c : 0;
    const accuracy = c ? hits[m] / c : 0;
    if (c) {
      const gap = Math.abs(accuracy - meanConfidence);
      ece += (c / n) * gap;
      mce = Math.max(mce, gap);
    }
    bins.push({ lower: m / M, upper: (m + 1) / M, count: c, meanConfidence, accuracy });
  }
  return { n, numBins: M, ece, mce, accuracy: allHits / n, meanConfidence: allConf / n, bins };
}

/** Checks `[n, C]` scores against `[n]` labels; returns n. */
function checkShapes(fn: string, scores: Float32Array, numClasses: number, labels: ArrayLike<number>): number {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`${fn}: numClasses must be a positive integer, got ${numClasses}`);
  if (scores.length % numClasses !== 0) throw new Error(`${fn}: ${scores.length} values are not a whole number of rows of ${numClasses} classes`);
  const n = scores.length / numClasses;
  if (labels.length !== n) throw new Error(`${fn}: ${n} rows but ${labels.length} labels`);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < numClasses)) throw new Error(`${fn}: label ${i} is ${y}; expected an integer in [0, ${numClasses - 1}]`);
  }
  return n;
}

/**
 * Calibration report (ECE, MCE, reliability bins) of `[n, C]` logits at temperature T: the confidence of row i is
 * max_c softmax(z_i / T)_c and it is correct when the argmax (first maximum) equals the label.
 *
 * @param logits `[n, C]` float32 row-major (C = numClasses). @param labels `[n]` class indices in [0, C).
 * @param opts.bins M (default 15); opts.temperature T > 0 (default 1; the argmax, so the accuracy, does not depend on it).
 * @throws Error on a shape mismatch, a label out of range, T <= 0, or as {@link reliability}.
 */
export function calibrationFromLogits(
  logits: Float32Array,
  numClasses: number,
  labels: Int32Array | Uint8Array | number[],
  opts: { bins?: number; temperature?: number } = {},
): CalibrationReport {
  const n = checkShapes('calibrationFromLogits', logits, numClasses, labels);
  const T = opts.temperature ?? 1;
  if (!(T > 0 && Number.isFinite(T))) throw new Error(`calibrationFromLogits: temperature must be a finite number > 0, got ${T}`);
  const C = numClasses;
  const conf = new Float64Array(n);
  const correct = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * C;
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[o + c] > logits[o + best]) best = c;
    const m = logits[o + best] / T;
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[o + c] / T - m);
    conf[i] = 1 / s; // exp(z_best/T - m) = 1
    correct[i] = best === labels[i] ? 1 : 0;
  }
  return reliability(conf, correct, opts.bins ?? ECE_BINS);
}

/**
 * Calibration report of `[n, C]` probabilities (e.g. test-time-augmented averages from src/eval/tta.ts): confidence
 * = the row maximum, correct when its (first) argmax equals the label. Rows are used as given (not renormalised).
 * @throws Error on a shape mismatch, a label out of range, or as {@link reliability} (a probability outside [0, 1]).
 */
export function calibrationFromProbabilities(
  probs: Float32Array,
  numClasses: number,
  labels: Int32Array | Uint8Array | number[],
  opts: { bins?: number } = {},
): CalibrationReport {
  const n = checkShapes('calibrationFromProbabilities', probs, numClasses, labels);
  const C = numClasses;
  const conf = new Float64Array(n);
  const correct = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * C;
    let best = 0;
    for (let c = 1; c < C; c++) if (probs[o + c] > probs[o + best]) best = c;
    conf[i] = probs[o + best];
    correct[i] = best === labels[i] ? 1 : 0;
  }
  return reliability(conf, correct, opts.bins ?? ECE_BINS);
}

/**
 * Mean negative log-likelihood (cross-entropy of the hard labels, nats) of softmax(z / T):
 * NLL = 1/n sum_i [logsumexp_c(z_ic / T) - z_iy / T], computed with the row maximum subtracted (finite for any
 * finite logits, e.g. 1000 for logits [1000, 0] and label 1).
 *
 * @param logits `[n, C]` float32 row-major. @param labels `[n]` in [0, C). @param temperature T > 0 (default 1).
 * @throws Error on a shape mismatch, a label out of range, n = 0 or T <= 0.
 */
export function negativeLogLikelihood(logits: Float32Array, numClasses: number, labels: Int32Array | Uint8Array | number[], temperature = 1): number {
  const n = checkShapes('negativeLogLikelihood', logits, numClasses, labels);
  if (n === 0) throw new Error('negativeLogLikelihood: no rows');
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new Error(`negativeLogLikelihood: temperature must be a finite number > 0, got ${temperature}`);
  return nllAt(logits, numClasses, labels, 1 / temperature).f;
}

/**
 * Mean NLL at inverse temperature beta = 1/T, and its first and second derivatives in beta:
 * f(beta) = mean[lse(beta z) - beta z_y], f' = mean[E_p z - z_y], f'' = mean[Var_p z] >= 0 (p = softmax(beta z)),
 * so f is convex in beta.
 */
function nllAt(logits: Float32Array, C: number, labels: ArrayLike<number>, beta: number): { f: number; d1: number; d2: number } {
  const n = labels.length;
  let f = 0;
  let d1 = 0;
  let d2 = 0;
  for (let i = 0; i < n; i++) {
    const o = i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[o + c]);
    let s = 0;
    let s1 = 0;
    let s2 = 0;
    for (let c = 0; c < C; c++) {
      const z = logits[o + c];
      const e = Math.exp(beta * (z - m));
      s += e;
      s1 += e * z;
      s2 += e * z * z;
    }
    const ez = s1 / s;
    const zy = logits[o + labels[i]];
    f += Math.log(s) + beta * (m - zy);
    d1 += ez - zy;
    d2 += Math.max(0, s2 / s - ez * ez);
  }
  return { f: f / n, d1: d1 / n, d2: d2 / n };
}

/** Search range of T of {@link fitTemperature}. */
export const TEMPERATURE_RANGE: readonly [number, number] = [0.05, 20];

/** Result of {@link fitTemperature}. */
export interface TemperatureFit {
  /** Fitted temperature T > 0; predict with softmax(logits / T). */
  temperature: number;
  /** Mean NLL (nats) of the fitting logits at T = 1 and at the fitted T; nllAfter <= nllBefore. */
  nllBefore: number;
  nllAfter: number;
  /** Number of fitting images. */
  n: number;
  /** Objective evaluations (each a pass over the logits). */
  evaluations: number;
  /** True when T sits at an end of {@link TEMPERATURE_RANGE} (the NLL wanted a T beyond it). */
  atBound: boolean;
}

/**
 * Temperature scaling (Guo et al. 2017 sec. 4.2): the single T > 0 that minimises the mean NLL of softmax(z / T)
 * on held-out logits and labels. T does not change the argmax, so accuracy is unchanged; T > 1 softens
 * over-confident predictions.
 *
 * **Fit it on PublicTest (the validation split) only. PrivateTest must never be used to fit T**: it is the
 * test set the calibration (ECE, NLL) is then reported on, and fitting there would report an optimistically biased
 * calibration.
 *
 * Minimisation: the NLL is convex in beta = 1/T (its second derivative is the mean softmax variance of the
 * logits), hence unimodal in u = ln T. A golden-section search over u in [ln 0.05, ln 20] brackets the minimum to
 * 1e-4 in u, then up to 8 safeguarded Newton steps in u (analytic first and second derivatives; a step is kept only
 * when it stays in the range and does not increase the NLL) polish it to |dNLL/du| < 1e-10. About 30 passes over
 * the logits; 20,000 x 7 logits take well under a second.
 *
 * @param logits `[n, C]` float32 row-major PublicTest logits (C = numClasses). @param labels `[n]` in [0, C).
 * @throws Error on a shape mismatch, a label out of range, n = 0, or a non-finite logit.
 */
export function fitTemperature(logits: Float32Array, numClasses: number, labels: Int32Array | Uint8Array | number[]): TemperatureFit {
  const n = checkShapes('fitTemperature', logits, numClasses, labels);
  if (n === 0) throw new Error('fitTemperature: no rows to fit on');
  for (let i = 0; i < logits.length; i++)
    if (!Number.isFinite(logits[i])) throw new Error(`fitTemperature: logit ${i} is ${logits[i]}; expected a finite number`);
  const C = numClasses;
  let evaluations = 0;
  /** NLL and its derivatives in u = ln T (beta = e^-u: f_u = -beta f_beta, f_uu = beta^2 f_bb + beta f_b). */
  const at = (u: number) => {
    evaluations++;
    const beta = Math.exp(-u);
    const r = nllAt(logits, C, labels, beta);
    return { f: r.f, du: -beta * r.d1, duu: beta * beta * r.d2 + beta * r.d1 };
  };
  const nllBefore = at(0).f;
  const lo = Math.log(TEMPERATURE_RANGE[0]);
  const hi = Math.log(TEMPERATURE_RANGE[1]);
  // golden-section search on the unimodal f(u)
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let x1 = b - g * (b - a);
  let x2 = a + g * (b - a);
  let f1 = at(x1).f;
  let f2 = at(x2).f;
  while (b - a > 1e-4) {
    if (f1 <= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - g * (b - a);
      f1 = at(x1).f;
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + g * (b - a);
      f2 = at(x2).f;
    }
  }
  let u = f1 <= f2 ? x1 : x2;
  let cur = at(u);
  // safeguarded Newton polish
  for (let it = 0; it < 8 && Math.abs(cur.du) > 1e-10; it++) {
    if (!(cur.duu > 0)) break;
    const next = u - cur.du / cur.duu;
    if (!(next >= lo && next <= hi)) break;
    const r = at(next);
    if (r.f > cur.f + 1e-15) break;
    u = next;
    cur = r;
  }
  // an end of the range wins when the objective is still falling there
  for (const end of [lo, hi]) {
    const r = at(end);
    if (r.f < cur.f) {
      u = end;
      cur = r;
    }
  }
  const atBound = Math.abs(u - lo) < 2e-4 || Math.abs(u - hi) < 2e-4;
  return { temperature: Math.exp(u), nllBefore, nllAfter: Math.min(cur.f, nllBefore), n, evaluations, atBound };
}

/**
 * softmax(z / T) of each row, float64 arithmetic with the row maximum subtracted; float32 output.
 * @param logits `[n, C]` float32 row-major. @param temperature T > 0 (default 1).
 * @returns `[n, C]` float32 probabilities, rows summing to 1.
 * @throws Error when logits.length is not a multiple of C or T <= 0.
 */
export function softmaxWithTemperature(logits: Float32Array, numClasses: number, temperature = 1): Float32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1 || logits.length % numClasses !== 0)
    throw new Error(`softmaxWithTemperature: ${logits.length} values are not rows of ${numClasses} classes`);
  if (!(temperature > 0 && Number.isFinite(temperature)))
    throw new Error(`softmaxWithTemperature: temperature must be a finite number > 0, got ${temperature}`);
  const C = numClasses;
  const out = new Float32Array(logits.length);
  const e = new Float64Array(C);
  for (let o = 0; o < logits.length; o += C) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[o + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += e[c] = Math.exp((logits[o + c] - m) / temperature);
    for (let c = 0; c < C; c++) out[o + c] = e[c] / s;
  }
  return out;
}
