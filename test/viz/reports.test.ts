/**
 * Run and experiment reports (src/exp/reports.ts): a run report on fixture images; the experiment report with finished runs
 * drawn as figures, failed runs listed with their epoch and error message, and no figures when every run failed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeMetrics } from '../../src/eval/metrics';
import { loadDataset } from '../../src/data';
import type { RunConfig } from '../../src/exp/config';
import { writeRunReport, writeExperimentReport } from '../../src/exp/reports';
import type { RunSummary } from '../../src/exp/run';
import type { ExperimentResult } from '../../src/exp/experiment';
import type { Environment } from '../../src/util/env';
import { makeRows, tempDir, writeFixture } from '../helpers/fixtures';

const environment: Environment = {
  ferlab: '0.1.0',
  commit: 'abc123',
  node: 'v20',
  tfjs: '4.22.0',
  backend: 'wasm',
  cpu: 'test cpu',
  cores: 2,
  memoryGiB: 4,
  platform: 'linux',
};

// the ExperimentResult fields the report reads (failed runs go in writeExperimentReport's third argument)
const experiment = (runs: RunSummary[]): ExperimentResult =>
  ({ experiment: 'demo', quick: true, dir: tempDir('ferlab-report-'), runs, failed: [], wallSeconds: 90, workers: 1, environment }) as ExperimentResult;

const failed: Array<{ name: string; state: 'failed'; error: string; epoch: number | null }> = [
  { name: 'deep-fer', state: 'failed', error: 'Error: out of memory <wasm>\n    at step 12', epoch: 3 },
  { name: 'deep-majority', state: 'failed', error: "ConfigError: no model 'deeep'", epoch: null },
];

/** The text of the report's table cells, row by row (tags stripped). */
function cells(html: string, section: string): string[][] {
  const part = html.slice(html.indexOf(`<h2>${section}`));
  const table = part.slice(part.indexOf('<tbody>'), part.indexOf('</tbody>'));
  return table
    .split('<tr>')
    .slice(1)
    .map((row) =>
      row
        .split(/<td[^>]*>/)
        .slice(1)
        .map((c) => c.replace(/<\/td>.*$/s, '')),
    );
}

test('every run failed: the report lists the failures (epoch, escaped error) and draws no figure', () => {
  const s = experiment([]);
  const path = writeExperimentReport(s, [], failed);
  assert.is(path, join(s.dir, 'report.html'));
  const html = readFileSync(path, 'utf8');
  assert.match(html, /<h1>demo \(quick\): 0 runs, 2 failed<\/h1>/);
  assert.match(html, /No run finished: all 2 runs failed/);
  assert.match(html, /<h2>Failed runs \(2\)<\/h2>/);
  assert.equal(cells(html, 'Failed runs'), [
    ['deep-fer', '3', 'Error: out of memory &lt;wasm&gt;\n    at step 12'],
    ['deep-majority', '-', "ConfigError: no model 'deeep'"],
  ]);
  assert.not.match(html, /Plotly\.newPlot/, 'no figures without a finished run');
});

test('finished and failed runs: figures for the finished one, the failed one in its own section', () => {
  const test_ = computeMetrics([0, 1, 1, 2], [0, 1, 2, 2], ['anger', 'happiness', 'neutral']);
  const summary: RunSummary = {
    name: 'small-majority',
    model: 'small',
    labels: 'majority',
    sizes: { train: 8, val: 4, test: 4 },
    epochs: 2,
    bestEpoch: 2,
    stoppedEarly: false,
    trainSeconds: 3,
    wallSeconds: 5,
    imagesPerSec: 100,
    val: test_,
    test: test_,
    cross: null,
    dir: '/nonexistent',
  } as RunSummary;
  const history = [1, 2].map((epoch) => ({ epoch, trainLoss: 1, valLoss: 1, trainAccuracy: 0.5, valAccuracy: 0.5 }));
  const html = readFileSync(writeExperimentReport(experiment([summary]), [{ summary, history }], [failed[0]]), 'utf8');
  assert.match(html, /<h1>demo \(quick\): 1 runs, 1 failed<\/h1>/);
  assert.match(html, /Plotly\.newPlot/);
  assert.match(html, /<h2>Learning curves<\/h2>/);
  assert.equal(cells(html, 'Failed runs').length, 1);
  assert.is(cells(html, 'Results')[0][0], 'small-majority');
  assert.is(cells(html, 'Results')[0][3], '75.00%', 'test accuracy 3 of 4');
});

test('run report: numbers, figures and the gallery of the one mistake with its FER+ votes', async () => {
  const ds = await loadDataset({ dataDir: writeFixture(makeRows({ train: 4, val: 2, test: 4 })), cacheDir: false });
  const m = computeMetrics([0, 1, 1, 0], [0, 1, 0, 0], ['neutral', 'happiness']);
  const summary = {
    name: 'r1',
    model: 'small',
    labels: 'majority',
    sizes: { train: 4, val: 2, test: 4 },
    epochs: 1,
    bestEpoch: 1,
    stoppedEarly: false,
    trainSeconds: 1,
    wallSeconds: 2,
    imagesPerSec: 10,
    val: m,
    test: m,
    cross: null,
    dir: '/nonexistent',
  } as RunSummary;
  const preds = {
    classes: ['neutral', 'happiness'],
    index: [6, 7, 8, 9],
    label: [0, 1, 1, 0],
    pred: [0, 1, 0, 0],
    prob: [
      [0.9, 0.1],
      [0.2, 0.8],
      [0.7, 0.3],
      [0.6, 0.4],
    ],
  };
  const run = { experiment: 'demo', name: 'r1', model: 'small', labels: 'majority' } as RunConfig;
  const dir = tempDir('ferlab-run-report-');
  const html = readFileSync(
    writeRunReport(dir, run, summary, [{ epoch: 1, trainLoss: 1, valLoss: 1, trainAccuracy: 0.5, valAccuracy: 0.5 }], preds, ds, dir),
    'utf8',
  );
  assert.match(html, /<h1>r1: small on majority labels<\/h1>/);
  assert.equal(cells(html, 'Results')[1].slice(1, 3), ['4', '75.00%'], 'PrivateTest row: 4 images, 3 correct');
  assert.match(html, /1 most confident mistakes/, 'gallery of the one mistake');
  assert.match(html, /true happiness\\u003cbr>pred neutral 70%\\u003cbr>\\u003cspan[^>]*>[a-zA-Z]+ \d/, 'caption with the votes line (figure JSON escapes <)');
});

test('without failures the report has no failed-runs section (existing two-argument call)', () => {
  const html = readFileSync(writeExperimentReport(experiment([]), []), 'utf8');
  assert.not.match(html, /Failed runs/);
  assert.match(html, /No run finished\./);
});

test.run();
