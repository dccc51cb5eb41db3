/** Confusion matrix, per-class metrics, macro-F1, and FER <-> FER+ cross-evaluation on hand-worked examples. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeMetrics, confusedPairs, normalizeRows, argmaxRows } from '../../src/eval/metrics';
import { crossEvaluate } from '../../src/eval/cross';
import { FER_CLASSES, FERPLUS_CLASSES, FER_TO_FERPLUS, FERPLUS_TO_FER } from '../../src/data/classes';

test('confusion matrix rows = true class, columns = predicted; P/R/F1/macro-F1 by hand', () => {
  // true:  a a a b b c
  // pred:  a a b b c c
  const m = computeMetrics([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ['a', 'b', 'c']);
  assert.equal(m.confusion, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  assert.is(m.accuracy, 4 / 6);
  // a: P 2/2, R 2/3 -> F1 0.8; b: P 1/2, R 1/2 -> 0.5; c: P 1/2, R 1 -> 2/3
  assert.ok(Math.abs(m.perClass[0].f1 - 0.8) < 1e-12);
  assert.ok(Math.abs(m.perClass[1].f1 - 0.5) < 1e-12);
  assert.ok(Math.abs(m.perClass[2].f1 - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.macroF1 - (0.8 + 0.5 + 2 / 3) / 3) < 1e-12);
  assert.equal(
    m.perClass.map((c) => c.support),
    [3, 2, 1],
  );
  assert.equal(
    normalizeRows(m.confusion)[0].map((v) => +v.toFixed(4)),
    [0.6667, 0.3333, 0],
  );
  assert.equal(confusedPairs(m, 1), [{ trueClass: 'a', predicted: 'b', count: 1, rate: 1 / 3 }]);
});

test('macro-F1 ignores classes absent from the labels; bad indices throw', () => {
  const m = computeMetrics([0, 0], [0, 1], ['a', 'b', 'c']);
  // a: P 1, R 0.5 -> 2/3; b and c have no support
  assert.ok(Math.abs(m.macroF1 - 2 / 3) < 1e-12);
  assert.throws(() => computeMetrics([0, 5], [0, 1], ['a', 'b']), /out of range at 1/);
  assert.throws(() => computeMetrics([0], [0, 1], ['a', 'b']), /differ in length/);
});

test('argmaxRows picks the first maximum, optionally among allowed columns', () => {
  const l = Float32Array.from([1, 3, 3, 0, 9, 2]);
  assert.equal(Array.from(argmaxRows(l, 3)), [1, 1]);
  assert.equal(Array.from(argmaxRows(l, 3, [0, 2])), [2, 2]);
});

test('class maps: every FER class has its FER+ twin; contempt has none', () => {
  assert.equal(
    FER_TO_FERPLUS.map((j) => FERPLUS_CLASSES[j]),
    ['anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise', 'neutral'],
  );
  assert.is(FERPLUS_TO_FER[FERPLUS_CLASSES.indexOf('contempt')], -1);
  FER_CLASSES.forEach((_, i) => assert.is(FERPLUS_TO_FER[FER_TO_FERPLUS[i]], i));
});

test('cross-evaluation FER model -> FER+ labels: mapped predictions, contempt images excluded', () => {
  const C = 7;
  const logits = new Float32Array(4 * C);
  const put = (row: number, ferClass: string) => (logits[row * C + FER_CLASSES.indexOf(ferClass as never)] = 5);
  put(0, 'happy');
  put(1, 'angry');
  put(2, 'neutral');
  put(3, 'sad');
  const labels = Uint8Array.from(['happiness', 'anger', 'contempt', 'neutral'].map((c) => FERPLUS_CLASSES.indexOf(c as never)));
  const r = crossEvaluate(logits, labels, 'fer');
  assert.is(r.excluded, 1);
  assert.is(r.metrics.n, 3);
  assert.is(r.metrics.accuracy, 2 / 3); // happy=happiness, angry=anger right; sad vs neutral wrong
  assert.is(r.metrics.classes.length, 7);
  assert.not.ok(r.metrics.classes.includes('contempt'));
});

test('cross-evaluation FER+ model -> FER labels: contempt output masked', () => {
  const C = 8;
  const logits = new Float32Array(2 * C);
  logits[0 * C + FERPLUS_CLASSES.indexOf('contempt')] = 9; // masked: next best is happiness
  logits[0 * C + FERPLUS_CLASSES.indexOf('happiness')] = 4;
  logits[1 * C + FERPLUS_CLASSES.indexOf('surprise')] = 3;
  const labels = Uint8Array.from([FER_CLASSES.indexOf('happy'), FER_CLASSES.indexOf('fear')]);
  const r = crossEvaluate(logits, labels, 'ferplus');
  assert.is(r.to, 'fer');
  assert.is(r.metrics.accuracy, 0.5);
  assert.is(r.metrics.confusion[FER_CLASSES.indexOf('fear')][FER_CLASSES.indexOf('surprise')], 1);
});

test.run();
