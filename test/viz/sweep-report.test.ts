/**
 * Figures of the sweep report (src/viz/sweep-report.ts) from hand-made plain inputs, checked against hand-computed
 * values: the best-so-far line, log axes for log-scale parameters, the categorical tick mapping of the parallel
 * coordinates, pruned trials in the intermediate values, the importance bars and the leaderboard order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bestSoFar,
  flattenSettings,
  formatParamValue,
  intermediateValuesFigure,
  optimizationHistoryFigure,
  paramImportanceFigure,
  parallelCoordinatesFigure,
  reportHtml,
  sliceFigure,
  sliceFigures,
  sweepReport,
  sweepTrialRows,
  type SweepParamInfo,
  type SweepReportData,
  type SweepTrialData,
} from '../../src/viz';

const objective = { metric: 'accuracy', split: 'PublicTest', direction: 'maximize' } as const;

const params: SweepParamInfo[] = [
  { name: 'lr', kind: 'loguniform', log: true },
  { name: 'optimizer.name', kind: 'choice', log: false, values: ['adam', 'sgd', 'adamw'] },
  { name: 'dropout', kind: 'uniform', log: false },
  { name: 'optimizer.momentum', kind: 'choice', log: false, values: [0.9, 0.99], when: 'when optimizer.name = sgd' },
];

const trial = (
  n: number,
  state: SweepTrialData['state'],
  value: number | undefined,
  p: SweepTrialData['params'],
  extra: Partial<SweepTrialData> = {},
): SweepTrialData => ({
  trial: n,
  state,
  params: p,
  curve: [],
  attempts: 1,
  ...(value === undefined ? {} : { value }),
  ...extra,
});

// complete 0.5, pruned 0.2, complete 0.7, complete 0.6, failed, complete 0.9
const trials: SweepTrialData[] = [
  trial(
    0,
    'complete',
    0.5,
    { lr: 1e-3, 'optimizer.name': 'sgd', dropout: 0.1, 'optimizer.momentum': 0.9 },
    {
      curve: [
        { epoch: 1, value: 0.3 },
        { epoch: 2, value: 0.5 },
      ],
      privateTest: { accuracy: 0.99, macroF1: 0.9 },
    },
  ),
  trial(1, 'pruned', 0.2, { lr: 1e-1, 'optimizer.name': 'adam', dropout: 0.2 }, { curve: [{ epoch: 1, value: 0.2 }] }),
  trial(
    2,
    'complete',
    0.7,
    { lr: 1e-2, 'optimizer.name': 'adam', dropout: 0.3 },
    {
      curve: [
        { epoch: 1, value: 0.6 },
        { epoch: 2, value: 0.7 },
      ],
    },
  ),
  trial(3, 'complete', 0.6, { lr: 1e-4, 'optimizer.name': 'adamw', dropout: 0.4 }),
  trial(4, 'failed', undefined, { lr: 3e-2, 'optimizer.name': 'sgd', dropout: 0.5, 'optimizer.momentum': 0.99 }, { error: 'Error: NaN loss\n  at step 3' }),
  trial(5, 'complete', 0.9, { lr: 3e-3, 'optimizer.name': 'sgd', dropout: 0.25, 'optimizer.momentum': 0.99 }, { privateTest: { accuracy: 0.5, macroF1: 0.4 } }),
];

const data: SweepReportData = {
  name: 'viz-test',
  dir: '/tmp/viz-test',
  objective,
  params,
  trials,
  best: {
    trial: 5,
    value: 0.9,
    params: trials[5].params,
    settings: { epochs: 3, lr: 3e-3, optimizer: { name: 'sgd', momentum: 0.99 } },
    command: 'npm run ferlab -- sweep viz-test --set lr=0.003',
    sweepCommand: 'npm run ferlab -- sweep viz-test',
  },
  importance: [
    { param: 'lr', importance: 0.6, firstOrder: 0.3, bins: 2 },
    { param: 'optimizer.name', importance: 0.1, firstOrder: 0.05, bins: 3 },
    { param: 'dropout', importance: 0.3, firstOrder: 0.15, bins: 2 },
    { param: 'optimizer.momentum', importance: 0, firstOrder: 0, bins: 3 },
  ],
  importanceMethod: 'first-order variance decomposition (test)',
};

test('optimization history: complete trials in order, pruned apart, best-so-far line over the complete ones', () => {
  assert.equal(bestSoFar(trials), [
    { trial: 0, value: 0.5 },
    { trial: 2, value: 0.7 },
    { trial: 3, value: 0.7 },
    { trial: 5, value: 0.9 },
  ]);
  const f = optimizationHistoryFigure(data);
  assert.equal(f.data[0].x, [0, 2, 3, 5]);
  assert.equal(f.data[0].y, [0.5, 0.7, 0.6, 0.9]);
  assert.equal(f.data[1].x, [1], 'the pruned trial');
  assert.equal(f.data[1].y, [0.2]);
  assert.is(f.data[2].name, 'best so far');
  assert.equal(f.data[2].x, [0, 2, 3, 5]);
  assert.equal(f.data[2].y, [0.5, 0.7, 0.7, 0.9]);
  assert.is((f.data[2].line as { shape: string }).shape, 'hv');
  assert.is((f.layout.title as { text: string }).text, 'Optimization history');
});

test('slice plots: log x axis for loguniform, linear for uniform, categories in spec order for choices', () => {
  const figs = sliceFigures(data);
  assert.is(figs.length, 4, 'one per parameter');
  const lr = figs[0];
  assert.is((lr.layout.xaxis as { type?: string }).type, 'log');
  assert.equal(lr.data[0].x, [1e-3, 1e-2, 1e-4, 3e-3], 'complete trials 0, 2, 3, 5');
  assert.equal(lr.data[0].y, [0.5, 0.7, 0.6, 0.9]);
  assert.equal((lr.data[0].marker as { color: number[] }).color, [0, 2, 3, 5], 'coloured by trial number');
  assert.is((figs[2].layout.xaxis as { type?: string }).type, undefined, 'dropout: linear');
  const opt = figs[1].layout.xaxis as { type: string; categoryarray: string[] };
  assert.is(opt.type, 'category');
  assert.equal(opt.categoryarray, ['adam', 'sgd', 'adamw']);
  assert.equal(figs[1].data[0].x, ['sgd', 'adam', 'adamw', 'sgd']);
  // a conditional parameter: only the trials that have it
  assert.equal(figs[3].data[0].x, ['0.9', '0.99']);
  assert.match((figs[3].layout.title as { text: string }).text, /^Slice plot: optimizer\.momentum \(when optimizer\.name = sgd\)$/);
  const intLog = sliceFigure(data, { name: 'lr', kind: 'int', log: true });
  assert.is((intLog.layout.xaxis as { type?: string }).type, 'log', 'int with log too');
});

test('parallel coordinates: categorical values mapped to ticks in spec order, (unset) for absent conditionals, log10 for log params, objective last', () => {
  const f = parallelCoordinatesFigure(data);
  const t = f.data[0];
  assert.is(t.type, 'parcoords');
  const dims = t.dimensions as Array<{ label: string; values: number[]; tickvals?: number[]; ticktext?: string[] }>;
  assert.equal(
    dims.map((d) => d.label),
    ['lr (log)', 'optimizer.name', 'dropout', 'optimizer.momentum', 'PublicTest accuracy'],
  );
  // complete trials 0 (sgd), 2 (adam), 3 (adamw), 5 (sgd): adam = 0, sgd = 1, adamw = 2
  assert.equal(dims[1].values, [1, 0, 2, 1]);
  assert.equal(dims[1].tickvals, [0, 1, 2]);
  assert.equal(dims[1].ticktext, ['adam', 'sgd', 'adamw']);
  // momentum: 0.9 -> 0, 0.99 -> 1, absent (trials 2 and 3) -> 2 = (unset)
  assert.equal(dims[3].values, [0, 2, 2, 1]);
  assert.equal(dims[3].ticktext, ['0.9', '0.99', '(unset)']);
  assert.equal(dims[3].tickvals, [0, 1, 2]);
  dims[0].values.forEach((v, i) => assert.ok(Math.abs(v - [-3, -2, -4, Math.log10(3e-3)][i]) < 1e-12));
  assert.equal(dims[0].tickvals, [-4, -3, -2], 'powers of ten in range');
  assert.equal(dims[0].ticktext, ['1.00e-4', '0.001', '0.01']);
  assert.equal(dims[4].values, [0.5, 0.7, 0.6, 0.9]);
  assert.equal((t.line as { color: number[] }).color, [0.5, 0.7, 0.6, 0.9], 'colour = objective');
});

test('parallel coordinates leave out complete trials lacking a numeric parameter and say so', () => {
  const p: SweepParamInfo[] = [
    { name: 'optimizer.name', kind: 'choice', log: false, values: ['adam', 'sgd'] },
    { name: 'optimizer.momentum', kind: 'uniform', log: false, when: 'when optimizer.name = sgd' },
  ];
  const ts = [trial(0, 'complete', 0.5, { 'optimizer.name': 'adam' }), trial(1, 'complete', 0.6, { 'optimizer.name': 'sgd', 'optimizer.momentum': 0.9 })];
  const f = parallelCoordinatesFigure({ trials: ts, params: p, objective });
  const dims = f.data[0].dimensions as Array<{ values: number[] }>;
  assert.equal(dims[0].values, [1]);
  assert.equal(dims[1].values, [0.9]);
  assert.match((f.layout.title as { text: string }).text, /1 complete trial\(s\) without every numeric parameter left out/);
});

test('intermediate values: one curve per trial with values, pruned dashed with a cross at its last epoch', () => {
  const f = intermediateValuesFigure(data);
  assert.equal(
    f.data.map((d) => d.name),
    ['trial 0', 'trial 1 (pruned)', 'trial 2'],
  );
  const pruned = f.data[1];
  assert.is((pruned.line as { dash: string }).dash, 'dash');
  assert.equal((pruned.marker as { symbol: string[] }).symbol, ['x']);
  assert.equal(pruned.meta, { trial: 1, state: 'pruned' });
  assert.is((f.data[0].line as { dash: string }).dash, 'solid');
  assert.equal(f.data[2].x, [1, 2]);
  assert.equal(f.data[2].y, [0.6, 0.7]);
});

test('importance bars: most important on top (plotly draws the last bar on top), shares as text', () => {
  const f = paramImportanceFigure(data.importance);
  assert.equal(f.data[0].y, ['optimizer.momentum', 'optimizer.name', 'dropout', 'lr']);
  assert.equal(f.data[0].x, [0, 0.1, 0.3, 0.6]);
  assert.equal(f.data[0].text, ['0.0%', '10.0%', '30.0%', '60.0%']);
  assert.is((f.layout.title as { text: string }).text, 'Hyperparameter importance');
});

test('leaderboard: complete trials by the objective (PublicTest), never by PrivateTest; then pruned, failed', () => {
  const rows = sweepTrialRows(data);
  assert.equal(
    rows.map((r) => r.trial),
    ['5 (best)', '2', '3', '0', '1', '4'],
  );
  assert.is(rows[0]['objective (PublicTest accuracy)'], '90.00%');
  assert.is(rows[0]['PrivateTest acc'], '50.00%');
  assert.is(rows[3]['PrivateTest acc'], '99.00%', 'trial 0 has the best PrivateTest and still ranks by its objective');
  assert.is(rows[5].note, 'Error: NaN loss');
  assert.is(rows[4]['optimizer.momentum'], '-', 'absent conditional parameter');
  assert.equal(
    sweepTrialRows(data, { order: 'trial' }).map((r) => r.trial),
    ['0', '1', '2', '3', '4', '5 (best)'],
  );
});

test('settings rows and value formatting', () => {
  assert.equal(flattenSettings({ epochs: 3, optimizer: { name: 'sgd', weightDecay: 1e-5 }, schedule: { name: 'constant' }, flip: true }), [
    { setting: 'epochs', value: '3' },
    { setting: 'optimizer.name', value: '"sgd"' },
    { setting: 'optimizer.weightDecay', value: '1.00e-5' },
    { setting: 'schedule.name', value: '"constant"' },
    { setting: 'flip', value: 'true' },
  ]);
  assert.is(formatParamValue(0.0031234567), '0.003123');
  assert.is(formatParamValue(64), '64');
  assert.is(formatParamValue(false), 'false');
  assert.is(formatParamValue(undefined), '-');
});

test('the report page holds every figure, the best trial with its command, and the importance method', () => {
  const html = reportHtml(sweepReport(data), 'plotly.min.js');
  for (const title of [
    'Optimization history',
    'Intermediate values',
    'Parallel coordinates',
    'Slice plot: lr',
    'Slice plot: dropout',
    'Hyperparameter importance',
  ])
    assert.ok(html.includes(title), title);
  assert.match(html, /<h2>Best trial: 5<\/h2>/);
  assert.ok(html.includes('npm run ferlab -- sweep viz-test --set lr=0.003'));
  assert.ok(html.includes('first-order variance decomposition (test)'));
  assert.match(html, /<h1>Sweep viz-test: 6 trials \(4 complete, 1 pruned, 1 failed\)<\/h1>/);
  const none = reportHtml(sweepReport({ ...data, best: undefined, trials: [] }), 'plotly.min.js');
  assert.match(none, /No trial is complete yet/);
});

test.run();
