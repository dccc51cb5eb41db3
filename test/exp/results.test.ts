/**
 * The results table (src/exp/results.ts resultRows / resultsMarkdown): the TTA columns appear only when a run of the
 * experiment used test-time augmentation, with that run's TTA accuracy and kind, and '-' for the other runs and for failed
 * ones; the plain columns are unchanged; a resumed experiment's wall time says what it leaves out. Expected cells are
 * written out by hand from the inputs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resultRows, resultsMarkdown } from '../../src/exp/results';
import type { RunSummary } from '../../src/exp/run';
import type { ExperimentResult } from '../../src/exp/experiment';

/** A run summary with only the fields the results table reads. */
function summary(name: string, accuracy: number, macroF1: number, tta?: { kind: 'flip' | 'tencrop'; accuracy: number; macroF1: number }): RunSummary {
  return {
    name,
    model: 'deep',
    labels: 'majority',
    test: { accuracy, macroF1 },
    cross: null,
    bestEpoch: 3,
    epochs: 4,
    trainSeconds: 125,
    imagesPerSec: 239.6,
    ...(tta ? { tta: { tta: tta.kind, views: tta.kind === 'flip' ? 2 : 10, test: { accuracy: tta.accuracy, macroF1: tta.macroF1 } } } : {}),
  } as unknown as RunSummary;
}

test('no run with TTA: the table has no TTA columns', () => {
  const rows = resultRows({ runs: [summary('a', 0.8, 0.6)] });
  assert.equal(Object.keys(rows[0]), ['run', 'model', 'labels', 'test acc', 'macro-F1', 'cross acc', 'epochs', 'train time', 'img/s']);
  assert.is(rows[0]['test acc'], '80.00%');
  assert.is(rows[0]['img/s'], 240);
});

test('a run with TTA: its accuracy and kind after macro-F1; "-" for runs without and for failed runs', () => {
  const failed = [{ name: 'c', model: 'deep', labels: 'fer', epoch: 2, error: 'training diverged', dir: '/x/c' }] as unknown as ExperimentResult['failed'];
  const rows = resultRows({
    runs: [summary('a', 0.8512, 0.6234, { kind: 'flip', accuracy: 0.85664, macroF1: 0.64449 }), summary('b', 0.7, 0.5)],
    failed,
  });
  assert.equal(Object.keys(rows[0]), [
    'run',
    'model',
    'labels',
    'test acc',
    'macro-F1',
    'TTA test acc',
    'TTA macro-F1',
    'cross acc',
    'epochs',
    'train time',
    'img/s',
  ]);
  assert.is(rows[0]['TTA test acc'], '85.66% (flip)');
  assert.is(rows[0]['TTA macro-F1'], '0.644');
  assert.is(rows[0]['test acc'], '85.12%');
  assert.is(rows[1]['TTA test acc'], '-');
  assert.is(rows[2]['test acc'], 'FAILED (epoch 2)');
  assert.is(rows[2]['TTA test acc'], '-');
  assert.equal(Object.keys(rows[2]), Object.keys(rows[0]), 'failed rows have the same columns');
});

test('results.md: a resumed experiment says its wall time leaves out the sessions before the --resume', () => {
  const base = {
    experiment: 'default',
    quick: false,
    dir: '/x',
    runs: [summary('a', 0.8, 0.6)],
    failed: [],
    wallSeconds: 90,
    workers: 2,
    environment: { backend: 'wasm', cpu: 'cpu', cores: 2, node: 'v20', ferlab: '0.1.0' },
  } as unknown as ExperimentResult;
  const header = (r: ExperimentResult) => resultsMarkdown(r).split('\n')[2];
  assert.is(header(base), 'Command: `npm run exp -- default` · 1 runs finished on 2 workers · wall time 1m30s');
  assert.is(header({ ...base, resumed: true }), header(base) + ' (since the last --resume; earlier sessions not counted)');
});

test.run();
