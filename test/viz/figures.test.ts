/** Figure builders produce plotly specs that carry ferlab's real numbers (fixture data, hand-made metrics). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadDataset } from '../../src/data';
import { computeMetrics } from '../../src/eval/metrics';
import {
  agreementFigure,
  classDistributionFigure,
  confusionFigure,
  imageGridFigure,
  learningCurvesFigure,
  misclassifiedGalleryFigure,
  recallByClassFigure,
  reportHtml,
  runsComparisonFigure,
  voteEntropyFigure,
  type RunScores,
} from '../../src/viz';
import { makeRows, writeFixture } from '../helpers/fixtures';

const rows = makeRows({ train: 40, val: 20, test: 20 });
const dsPromise = loadDataset({ dataDir: writeFixture(rows), cacheDir: false });

// The vote analysis itself (majority outcome, entropy, agreement counts) is tested in test/data/agreement.test.ts.

test('agreement and entropy figures draw given numbers: row shares, agreement in the title, one histogram per side', () => {
  const counts = Array.from({ length: 7 }, () => new Array<number>(10).fill(0));
  counts[3][1] = 3; // happy -> happiness
  counts[3][8] = 1; // happy -> unknown
  counts[0][0] = 4; // angry -> neutral
  const f = agreementFigure({ counts, agree: 3, total: 8 });
  const z = f.data[0].z as number[][];
  assert.equal(z[3].slice(0, 2), [0, 0.75], 'happy row: 3 of 4 to happiness (column 1)');
  assert.is(z[0][0], 1, 'angry row: all 4 to neutral');
  assert.is(z[1][0], 0, 'empty row stays 0');
  assert.equal((f.data[0].text as string[][])[3][8], '1 (25.0%)');
  assert.match((f.layout.title as { text: string }).text, /37\.5% of 8 images agree/);
  const e = voteEntropyFigure({ agree: [0, 0.5], disagree: [1.2] });
  assert.equal(e.data[0].x, [0, 0.5]);
  assert.equal(e.data[1].x, [1.2]);
  assert.is(e.data[1].name, 'FER label differs (1)');
});

test('run comparisons read only names, labels and test scores (narrow inputs)', () => {
  const runs: RunScores[] = [
    { name: 'a', labels: 'fer', test: { accuracy: 0.6, macroF1: 0.5, perClass: [{ class: 'happy', recall: 0.9 }] }, cross: null },
    {
      name: 'b',
      labels: 'majority',
      test: { accuracy: 0.8, macroF1: 0.7, perClass: [{ class: 'happiness', recall: 0.95 }] },
      cross: { metrics: { accuracy: 0.55 } },
    },
  ];
  const c = runsComparisonFigure(runs);
  assert.equal(c.data[0].y, [0.6, 0.8]);
  assert.equal(c.data[1].y, [0.5, 0.7]);
  assert.equal(c.data[2].y, [null, 0.55], 'cross-evaluated accuracy, null where not computed');
  const r = recallByClassFigure(runs);
  // x: FER+ classes without contempt (neutral, happiness, ...): happiness is the second; FER 'happy' maps to it
  assert.equal((r.data[0].y as Array<number | null>).slice(0, 2), [null, 0.9]);
  assert.equal((r.data[1].y as Array<number | null>).slice(0, 2), [null, 0.95]);
});

test('dataset figures count the fixture images', async () => {
  const ds = await dsPromise;
  const dist = classDistributionFigure(ds, ['fer', 'majority']);
  const ferTotal = (dist.data[0].y as number[]).reduce((a, b) => a + b, 0);
  assert.is(ferTotal, 40, 'FER train images, all mapped to FER+ classes');
  const agree = agreementFigure(ds);
  const cells = (agree.data[0].text as string[][]).flat().map((t) => Number(t.split(' ')[0]));
  assert.is(
    cells.reduce((a, b) => a + b, 0),
    rows.filter((r) => r.named).length,
    'every named image counted once',
  );
  const ent = voteEntropyFigure(ds);
  assert.is((ent.data[0].x as number[]).length + (ent.data[1].x as number[]).length, rows.filter((r) => r.named).length);
  const grid = imageGridFigure(ds, 'fer', 'train', 2, 0);
  const z = grid.data[0].z as (number | null)[][];
  assert.is(z.length, 7 * 52, 'one row of tiles per FER class (pitch 48 + 4)');
  assert.ok(
    z.flat().some((v) => v !== null && v > 0),
    'pixels drawn',
  );
});

test('confusion figure: rows = true class, counts and row shares; gallery shows only mistakes', async () => {
  const m = computeMetrics([0, 0, 1, 2], [0, 1, 1, 2], ['anger', 'fear', 'happiness']);
  const f = confusionFigure(m, 'x');
  assert.equal(f.data[0].z, [
    [1, 1, 0],
    [0, 1, 0],
    [0, 0, 1],
  ]);
  assert.equal((f.layout.yaxis as { title: { text: string } }).title.text, 'true class');
  const n = confusionFigure(m, 'x', true);
  assert.equal((n.data[0].z as number[][])[0], [0.5, 0.5, 0]);
  const ds = await dsPromise;
  const preds = {
    classes: ['a', 'b'],
    index: [0, 1, 2],
    label: [0, 1, 1],
    pred: [0, 0, 1],
    prob: [
      [0.9, 0.1],
      [0.8, 0.2],
      [0.3, 0.7],
    ],
  };
  const g = misclassifiedGalleryFigure(ds, preds, 'run');
  const ann = g.layout.annotations as Array<{ text: string }>;
  assert.is(ann.length, 1, 'one mistake');
  assert.match(ann[0].text, /true b<br>pred a 80%/);
});

test('learning curves: four traces per run; report HTML embeds figures and escapes text', () => {
  const h = [1, 2].map((epoch) => ({
    epoch,
    trainLoss: 1 / epoch,
    trainAccuracy: 0.5,
    valLoss: 1,
    valAccuracy: 0.6,
    valMacroF1: 0.4,
    lr: 1,
    trainSeconds: 1,
    valSeconds: 1,
    imagesPerSec: 1,
  }));
  const f = learningCurvesFigure([
    { name: 'a', history: h },
    { name: 'b', history: h },
  ]);
  assert.is(f.data.length, 8);
  const html = reportHtml({ title: 'T <x>', sections: [{ title: 's', figures: [f], table: [{ k: '<b>' }] }] }, 'plotly.min.js');
  assert.match(html, /T &lt;x&gt;/);
  assert.match(html, /&lt;b&gt;/);
  assert.match(html, /Plotly\.newPlot/);
  assert.match(html, /<script src="plotly\.min\.js"><\/script>/);
  assert.not.match(html, /cdn/i);
});

test.run();
