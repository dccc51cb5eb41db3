/**
 * src/eval/ferplus-test.ts scorePredictionTable on a hand-made prediction table: accuracy, confusion and the bootstrap
 * interval of the hand-derived correctness; labelled images without a prediction are refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FERPLUS_CLASSES } from '../../src/data/classes';
import { scorePredictionTable } from '../../src/eval/ferplus-test';
import { bootstrapAccuracy } from '../../src/eval/stats';

test('accuracy of a prediction table on labels keyed by dataset row', () => {
  // predictions in another order than the labels, with one row (3) the labels do not name
  const table = { index: Int32Array.from([11, 3, 9, 7, 5]), pred: Uint8Array.from([1, 4, 2, 0, 0]) };
  // row 5: label 0, pred 0 (right); row 7: label 1, pred 0 (wrong); row 9: 2 / 2 (right); row 11: 1 / 1 (right)
  const labels = { index: Int32Array.from([5, 7, 9, 11]), label: Uint8Array.from([0, 1, 2, 1]) };
  const s = scorePredictionTable(table, labels, FERPLUS_CLASSES);
  assert.is(s.metrics.accuracy, 0.75, `accuracy: expected 0.75, got ${s.metrics.accuracy}`);
  assert.is(s.metrics.n, 4);
  assert.equal(s.metrics.confusion[1], [1, 1, 0, 0, 0, 0, 0, 0], `happiness row: ${s.metrics.confusion[1]}`);
  assert.equal(s.metrics.confusion[0], [1, 0, 0, 0, 0, 0, 0, 0], `neutral row: ${s.metrics.confusion[0]}`);
  assert.is(s.interval.accuracy, 0.75);
  const want = bootstrapAccuracy([1, 0, 1, 1]);
  assert.equal([s.interval.lower, s.interval.upper, s.interval.n], [want.lower, want.upper, 4], 'interval of the correctness [1, 0, 1, 1]');
});

test('labelled images without a prediction are refused, naming the rows', () => {
  const table = { index: Int32Array.from([5, 9]), pred: Uint8Array.from([0, 2]) };
  const labels = { index: Int32Array.from([5, 7, 9, 11]), label: Uint8Array.from([0, 1, 2, 1]) };
  assert.throws(() => scorePredictionTable(table, labels, FERPLUS_CLASSES), /2 labelled images have no prediction \(dataset rows 7, 11\)/);
});

test.run();
