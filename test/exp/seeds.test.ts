/**
 * Multi-seed runs: `seeds` expands a run into one run per seed (names, seed setting, group), results tables give mean
 * +- std over the seeds (hand-computed), and the experiment report compares runs on the same PrivateTest images with
 * McNemar's test (b and c counted here from the runs' predictions.json).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineExperiment, resolveRuns } from '../../src/exp/config';
import { seedGroupRows } from '../../src/exp/results';
import type { RunSummary } from '../../src/exp/run';
import { runExperiment } from '../../src/exp/experiment';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipTest } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';

const exp = (seeds?: number[]) =>
  defineExperiment({
    name: 'seeded',
    description: 'test',
    runs: [
      { name: 'a', model: 'baseline', labels: 'majority', seeds },
      { name: 'b', model: 'baseline', labels: 'fer' },
    ],
    quick: { epochs: 1, slice: { train: 384, val: 128, test: 160 } },
  });

test('seeds expand a run into one run per seed, named and grouped; duplicates are an error', () => {
  const runs = resolveRuns(exp([7, 8, 9]));
  assert.equal(
    runs.map((r) => [r.name, r.seed, r.group]),
    [
      ['a-seed7', 7, 'a'],
      ['a-seed8', 8, 'a'],
      ['a-seed9', 9, 'a'],
      ['b', 42, undefined],
    ],
  );
  assert.equal(
    resolveRuns(exp([7, 8]), { only: ['a'] }).map((r) => r.name),
    ['a-seed7', 'a-seed8'],
  );
  assert.throws(() => resolveRuns(exp([7, 7])), /repeat a seed/);
});

test('mean +- std over seeds, by hand', () => {
  const s = (name: string, acc: number, f1: number) =>
    ({ name, group: 'a', model: 'deep', labels: 'majority', test: { accuracy: acc, macroF1: f1 } }) as unknown as RunSummary;
  // accuracies 80, 82, 81 %: mean 81, sample std sqrt(((-1)^2 + 1^2 + 0) / 2) = 1; F1 0.5, 0.6, 0.7: mean 0.6, std 0.1
  const rows = seedGroupRows([s('a-seed1', 0.8, 0.5), s('a-seed2', 0.82, 0.6), s('a-seed3', 0.81, 0.7)]);
  assert.equal(rows, [{ runs: 'a', model: 'deep', labels: 'majority', seeds: 3, 'test acc (%)': '81.00 +- 1.00', 'macro-F1': '0.600 +- 0.100' }]);
});

const dataDir = realDataDir();
const EXPERIMENT_TEST = 'experiment with seeds: results.md over seeds, McNemar table in the experiment report with b and c from predictions.json';
if (!dataDir) skipTest(EXPERIMENT_TEST, noRealDataReason());
else
  test(EXPERIMENT_TEST, async () => {
    const experiment = await runExperiment(exp([1, 2]), { quick: true, only: ['a'], workers: 2, dataDir, runsDir: tempDir(), log: () => {} });
    const md = readFileSync(join(experiment.dir, 'results.md'), 'utf8');
    assert.match(md, /Over seeds/);
    const p = experiment.runs.map((r) => JSON.parse(readFileSync(join(r.dir, 'predictions.json'), 'utf8')) as { label: number[]; pred: number[] });
    const [a, b] = experiment.runs[0].name === 'a-seed1' ? p : [p[1], p[0]];
    let onlyA = 0;
    let onlyB = 0;
    a.label.forEach((l, i) => {
      const ra = a.pred[i] === l;
      const rb = b.pred[i] === l;
      if (ra && !rb) onlyA++;
      if (rb && !ra) onlyB++;
    });
    const html = readFileSync(join(experiment.dir, 'report.html'), 'utf8');
    assert.match(html, /Paired comparisons \(McNemar/);
    const row = html.match(/<td>a-seed1<\/td><td>a-seed2<\/td><td>[^<]*<\/td><td>[^<]*<\/td><td>(\d+)<\/td><td>(\d+)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td>/);
    assert.ok(row, 'the McNemar row of a-seed1 vs a-seed2');
    assert.equal([Number(row![1]), Number(row![2])], [onlyA, onlyB], 'b and c as counted here');
    if (onlyA + onlyB > 25) {
      // chi-square with continuity correction, p = erfc(sqrt(x / 2)) (Abramowitz & Stegun 7.1.26, error < 1.5e-7)
      const x = (Math.abs(onlyA - onlyB) - 1) ** 2 / (onlyA + onlyB);
      const z = Math.sqrt(x / 2);
      const t = 1 / (1 + 0.3275911 * z);
      const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
      assert.is(row![3], 'chi-square-cc');
      assert.ok(Math.abs(Number(row![4]) - erfc) < 1e-4, `p ${row![4]} vs ${erfc}`);
    }
  });

test.run();
