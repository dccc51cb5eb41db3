/** Readers of run records: bestRun selects on PublicTest, never on PrivateTest. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bestRun } from '../../src/exp/records';
import type { RunSummary } from '../../src/exp/run';

const run = (name: string, labels: string, val: number, testAcc: number) =>
  ({ name, labels, val: { accuracy: val }, test: { accuracy: testAcc } }) as unknown as RunSummary;

test('bestRun: highest PublicTest accuracy (first on ties), whatever PrivateTest says; filter; no match is an error', () => {
  const experiment = {
    experiment: 'x',
    runs: [run('a', 'fer', 0.6, 0.9), run('b', 'majority', 0.7, 0.5), run('c', 'majority', 0.7, 0.99), run('d', 'majority', 0.65, 1)],
  };
  assert.is(bestRun(experiment).name, 'b');
  assert.is(bestRun(experiment, (r) => r.labels === 'fer').name, 'a');
  assert.throws(() => bestRun(experiment, () => false), /no run of 'x' matches/);
});

test.run();
