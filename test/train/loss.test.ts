/**
 * Training losses (src/train/loss.ts lossFn) against values computed here in float64 from their definitions, and
 * written out as numbers with their derivation:
 * - cross-entropy with label smoothing as PyTorch's CrossEntropyLoss(label_smoothing=eps) defines it (smoothed
 *   target (1 - eps) * t + eps / C, loss -sum_i t'_i log softmax(z)_i, mean over the batch);
 * - cross-entropy with soft labels (FER+ `crossentropy` mode), with and without smoothing;
 * - FER+ `multi_target`: mean over the batch of -log(max_i t_i p_i) (microsoft/FERPlus src/train.py cost_func).
 * On the cpu backend (tfjs' JavaScript kernels) and on wasm.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { lossFn } from '../../src/train/loss';
import { initBackend } from '../../src/backend/select';

/** log(sum_i exp(z_i)), float64, shifted by the max. */
function logSumExp(z: number[]): number {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((s, a) => s + Math.exp(a - m), 0));
}

/** PyTorch CrossEntropyLoss(label_smoothing=eps) with probability targets, reduction mean, in float64. */
function crossEntropy64(logits: number[][], targets: number[][], eps = 0): number {
  const rows = logits.map((z, r) => {
    const C = z.length;
    const lse = logSumExp(z);
    return -z.reduce((s, zi, i) => s + ((1 - eps) * targets[r][i] + eps / C) * (zi - lse), 0);
  });
  return rows.reduce((a, b) => a + b, 0) / rows.length;
}

/** -mean_rows log(max_i t_i softmax(z)_i), float64. */
function multiTarget64(logits: number[][], targets: number[][]): number {
  const rows = logits.map((z, r) => {
    const lse = logSumExp(z);
    return -Math.log(Math.max(...z.map((zi, i) => targets[r][i] * Math.exp(zi - lse))));
  });
  return rows.reduce((a, b) => a + b, 0) / rows.length;
}

/** The 2x3 example. logsumexp(row 0) = 3 + log(1 + e^-1 + e^-2) = 3.4076059644; row 1: 2.2258020492. */
const Z = [
  [1, 2, 3],
  [0.5, -1.5, 2],
];
const ONE_HOT = [
  [0, 0, 1],
  [1, 0, 0],
];
const SOFT = [
  [0.2, 0.3, 0.5],
  [0.6, 0.4, 0],
];

/**
 * Hand-derived values (float64, printed to 13 digits), each row's loss = lse - sum_i t'_i z_i for targets t' summing to 1:
 * - hard: row 0 = 3.4076059644 - 3 = 0.4076059644, row 1 = 2.2258020492 - 0.5 = 1.7258020492; mean 1.0667040068;
 * - eps 0.1 (C = 3): row loss = (1 - eps)(lse - z_y) + eps (lse - mean z); row 0 = 0.9 * 0.4076059644 + 0.1 * 1.4076059644
 *   = 0.5076059644, row 1 = 0.9 * 1.7258020492 + 0.1 * (2.2258020492 - 1/3) = 1.7424687159; mean 1.1250373402;
 * - soft: row 0 = lse - (0.2 + 0.6 + 1.5) = 1.1076059644, row 1 = lse - (0.3 - 0.6) = 2.5258020492; mean 1.8167040068;
 * - soft, eps 0.2: targets [0.226667, 0.306667, 0.466667] and [0.546667, 0.386667, 0.066667]; mean 1.7833706735;
 * - multi_target, masks [1, 0, 1] and [0.001, 1, 0.001]: softmax row 0 = [0.0900306, 0.2447285, 0.6652410] -> max t p
 *   = 0.6652410, -log = 0.4076059644; row 1 = [0.1780302, 0.0240938, 0.7978760] -> t p = [0.000178, 0.0240938,
 *   0.000798] -> -log(0.0240938) = 3.7258020492; mean 2.0667040068.
 */
const HAND = { hard: 1.0667040068379, smooth01: 1.1250373401713, soft: 1.816704006838, softSmooth02: 1.7833706735047, multi: 2.066704006838 };

function lossOf(kind: 'crossentropy' | 'multi_target', logits: number[][], targets: number[][], smoothing = 0): number {
  return tf.tidy(() => lossFn(kind, tf.tensor2d(logits), tf.tensor2d(targets), smoothing).dataSync()[0]);
}

function assertRel(got: number, want: number, tol: number, what: string): void {
  const rel = Math.abs(got - want) / Math.abs(want);
  assert.ok(rel <= tol, `${what}: got ${got}, expected ${want} (relative error ${rel.toExponential(2)} > ${tol})`);
}

test('the float64 references reproduce the hand-derived numbers', () => {
  assertRel(crossEntropy64(Z, ONE_HOT), HAND.hard, 1e-12, 'hard');
  assertRel(crossEntropy64(Z, ONE_HOT, 0.1), HAND.smooth01, 1e-12, 'eps 0.1');
  assertRel(crossEntropy64(Z, SOFT), HAND.soft, 1e-12, 'soft');
  assertRel(crossEntropy64(Z, SOFT, 0.2), HAND.softSmooth02, 1e-12, 'soft eps 0.2');
  assertRel(
    multiTarget64(Z, [
      [1, 0, 1],
      [0.001, 1, 0.001],
    ]),
    HAND.multi,
    1e-12,
    'multi_target',
  );
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: cross-entropy, hard and soft labels, with and without label smoothing (PyTorch's definition)`, async () => {
    await initBackend(backend);
    assertRel(lossOf('crossentropy', Z, ONE_HOT), HAND.hard, 1e-6, 'one-hot, no smoothing');
    assertRel(lossOf('crossentropy', Z, ONE_HOT, 0.1), HAND.smooth01, 1e-6, 'one-hot, smoothing 0.1');
    assertRel(lossOf('crossentropy', Z, SOFT), HAND.soft, 1e-6, 'soft labels');
    assertRel(lossOf('crossentropy', Z, SOFT, 0.2), HAND.softSmooth02, 1e-6, 'soft labels, smoothing 0.2');
    // smoothing must change the loss by the hand-derived amount, not merely "something"
    const delta = lossOf('crossentropy', Z, ONE_HOT, 0.1) - lossOf('crossentropy', Z, ONE_HOT);
    assertRel(delta, HAND.smooth01 - HAND.hard, 1e-4, 'effect of smoothing 0.1');
  });

  test(`${backend}: multi_target loss -log(max_i t_i p_i), including a row where a 0.001-smoothed class wins the max`, async () => {
    await initBackend(backend);
    const masks = [
      [1, 0, 1],
      [0.001, 1, 0.001],
    ];
    assertRel(lossOf('multi_target', Z, masks), HAND.multi, 1e-6, 'multi_target');
    // logits [0, -8, 0], mask [0.001, 1, 0.001]: p = [1, e^-8, 1] / (2 + e^-8), so t p = [0.000499916, 0.000167717,
    // 0.000499916]: the max is a smoothed class, loss = -log(0.001) + log(2 + e^-8) = 6.907755279 + 0.693315001 = 7.601070
    const wins = 7.601070176790709;
    assertRel(multiTarget64([[0, -8, 0]], [[0.001, 1, 0.001]]), wins, 1e-12, 'float64 reference');
    assertRel(lossOf('multi_target', [[0, -8, 0]], [[0.001, 1, 0.001]]), wins, 1e-6, 'smoothed class wins the max');
    assertRel(lossOf('multi_target', Z, masks, 0.1), HAND.multi, 1e-6, 'label smoothing does not apply to multi_target');
  });
}

test.run();
