/**
 * The sweep report (src/sweep/report.ts) on a sweep folder built by hand: a journal written with appendEvent (5
 * trials: 3 complete, 1 pruned, 1 failed), sweep.json with the resolved spec, and minimal run records. Checks the best
 * trial (PublicTest objective only, never PrivateTest), pruned trials in the intermediate values, the importances
 * (hand-computed), the reproducing command, the self-contained report.html, and folders missing optional files.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEvent, journalPath, JOURNAL_VERSION, type TrialEvent } from '../../src/sweep/journal';
import { IMPORTANCE_METHOD, latestSweepDir, loadSweepReport, paramImportance, writeSweepReport } from '../../src/sweep/report';
import type { Params } from '../../src/sweep/space';
import { defineSweep, specHash } from '../../src/sweep/spec';
import { intermediateValuesFigure, type SweepParamInfo } from '../../src/viz';
import { rng, tempDir } from '../helpers/fixtures';

const spec = defineSweep({
  name: 'report-test',
  question: 'which batch size?',
  model: 'baseline',
  labels: 'fer',
  base: { epochs: 3 },
  space: {
    lr: { kind: 'loguniform', low: 1e-4, high: 1e-1 },
    batchSize: { kind: 'choice', values: [32, 64, 128] },
    'augment.flip': { kind: 'choice', values: [true, false] },
  },
  objective: { metric: 'accuracy' },
  sampler: { name: 'random' },
  pruner: { name: 'median', startupTrials: 2 },
  budget: { trials: 5 },
  seed: 1,
});

interface FakeTrial {
  params: Params;
  /** PublicTest objective after each epoch (the last one is a complete trial's value). */
  curve: number[];
  state: 'complete' | 'pruned' | 'failed';
  /** PrivateTest accuracy of the run record (complete trials). */
  privateTest?: number;
}

// batchSize alone determines the objective (32 -> 0.5, 128 -> 0.9, 64 -> 0.7); lr and flip are balanced noise: the
// complete trials' mean objective is 0.7 in each of their bins (lr: the two lowest values vs the highest; flip: true
// {0.5, 0.9} vs false {0.7}). Trial 0 has the best PrivateTest accuracy but not the best PublicTest objective.
const TRIALS: FakeTrial[] = [
  { params: { lr: 1e-3, batchSize: 32, 'augment.flip': true }, curve: [0.3, 0.4, 0.5], state: 'complete', privateTest: 0.95 },
  { params: { lr: 3e-3, batchSize: 128, 'augment.flip': true }, curve: [0.6, 0.8, 0.9], state: 'complete', privateTest: 0.6 },
  { params: { lr: 2e-2, batchSize: 64, 'augment.flip': false }, curve: [0.5, 0.6, 0.7], state: 'complete', privateTest: 0.65 },
  { params: { lr: 1e-4, batchSize: 32, 'augment.flip': false }, curve: [0.1], state: 'pruned' },
  { params: { lr: 5e-2, batchSize: 64, 'augment.flip': true }, curve: [], state: 'failed' },
];

const trialDir = (dir: string, n: number) => join(dir, `trial-${String(n).padStart(4, '0')}`);

/** Writes a sweep folder: journal (appendEvent), sweep.json and run records as the runner lays them out. */
function buildSweep(opts: { sweepJson?: boolean; records?: boolean; command?: string; results?: unknown; time?: number } = {}): string {
  const dir = tempDir('ferlab-sweep-report-');
  const file = journalPath(dir);
  let time = opts.time ?? 1_000_000;
  appendEvent(file, { event: 'header', version: JOURNAL_VERSION, sweep: spec.name, specHash: specHash(spec), time });
  const ev = (e: TrialEvent) => appendEvent(file, e);
  TRIALS.forEach((t, trial) => {
    time += 1000;
    ev({ event: 'created', trial, params: t.params, attempt: 1, time });
    ev({ event: 'state', trial, state: 'running', time });
    const runDir = `trial-${String(trial).padStart(4, '0')}`;
    ev({ event: 'state', trial, state: 'running', runDir, time });
    t.curve.forEach((value, i) => ev({ event: 'intermediate', trial, epoch: i + 1, value, time }));
    if (t.state === 'complete') ev({ event: 'state', trial, state: 'complete', value: t.curve[t.curve.length - 1], runDir, time });
    else if (t.state === 'pruned') ev({ event: 'state', trial, state: 'pruned', value: t.curve[t.curve.length - 1], runDir, time });
    else ev({ event: 'state', trial, state: 'failed', error: 'Error: loss is NaN at epoch 1', runDir, time });
    if (opts.records === false) return;
    const rd = trialDir(dir, trial);
    mkdirSync(rd, { recursive: true });
    writeFileSync(join(rd, 'config.json'), JSON.stringify({ run: { experiment: spec.name, name: runDir, model: 'baseline', labels: 'fer', ...t.params } }));
    writeFileSync(
      join(rd, 'epochs.jsonl'),
      t.curve.map((v, i) => JSON.stringify({ epoch: i + 1, trainLoss: 1.5 - i / 10, valAccuracy: v, valMacroF1: v / 2, lr: 1e-3 })).join('\n') +
        (t.curve.length ? '\n' : ''),
    );
    writeFileSync(join(rd, 'status.json'), JSON.stringify({ state: t.state === 'pruned' ? 'pruned' : t.state, epoch: t.curve.length || null }));
    if (t.state === 'complete') {
      const v = t.curve[t.curve.length - 1];
      writeFileSync(
        join(rd, 'metrics.json'),
        JSON.stringify({
          name: runDir,
          epochs: t.curve.length,
          bestEpoch: t.curve.length,
          val: { accuracy: v, macroF1: v / 2 },
          test: { accuracy: t.privateTest, macroF1: 0.3 },
        }),
      );
    }
  });
  if (opts.sweepJson !== false)
    writeFileSync(
      join(dir, 'sweep.json'),
      JSON.stringify({ kind: 'sweep', name: spec.name, spec, quick: false, ...(opts.command ? { command: opts.command } : {}) }),
    );
  if (opts.results) writeFileSync(join(dir, 'results.json'), JSON.stringify(opts.results));
  return dir;
}

test('the best trial is the best PublicTest objective, even when another trial has a higher PrivateTest accuracy', () => {
  const r = loadSweepReport(buildSweep());
  assert.is(r.name, 'report-test');
  assert.equal(r.objective, { metric: 'accuracy', split: 'PublicTest', direction: 'maximize' });
  assert.equal(
    r.trials.map((t) => [t.trial, t.state, t.value]),
    [
      [0, 'complete', 0.5],
      [1, 'complete', 0.9],
      [2, 'complete', 0.7],
      [3, 'pruned', 0.1],
      [4, 'failed', undefined],
    ],
  );
  assert.equal(r.trials[0].privateTest, { accuracy: 0.95, macroF1: 0.3 }, 'trial 0 has the highest PrivateTest accuracy');
  assert.is(r.best!.trial, 1);
  assert.is(r.best!.value, 0.9);
  assert.equal(r.best!.publicTest, { accuracy: 0.9, macroF1: 0.45 });
  assert.equal(r.best!.privateTest, { accuracy: 0.6, macroF1: 0.3 });
  assert.equal(r.best!.settings, { epochs: 3, lr: 3e-3, batchSize: 128, augment: { flip: true } }, 'the spec base merged with the params');
  assert.equal(r.best!.config, {
    experiment: 'report-test',
    name: 'trial-0001',
    model: 'baseline',
    labels: 'fer',
    lr: 3e-3,
    batchSize: 128,
    'augment.flip': true,
  });
  assert.is(r.trials[4].error, 'Error: loss is NaN at epoch 1');
  assert.is(r.trials[1].epochs, 3);
  assert.equal(
    r.params.map((p) => [p.name, p.kind, p.log]),
    [
      ['lr', 'loguniform', true],
      ['batchSize', 'choice', false],
      ['augment.flip', 'choice', false],
    ],
  );
  assert.is(r.question, 'which batch size?');
});

test('pruned trials are marked in the intermediate-values data and drawn dashed', () => {
  const r = loadSweepReport(buildSweep());
  const pruned = r.trials.find((t) => t.trial === 3)!;
  assert.is(pruned.state, 'pruned');
  assert.equal(pruned.curve, [{ epoch: 1, value: 0.1 }]);
  assert.equal(r.trials[1].curve, [
    { epoch: 1, value: 0.6 },
    { epoch: 2, value: 0.8 },
    { epoch: 3, value: 0.9 },
  ]);
  const f = intermediateValuesFigure(r);
  const trace = f.data.find((d) => (d.meta as { trial: number }).trial === 3)!;
  assert.is(trace.name, 'trial 3 (pruned)');
  assert.is((trace.line as { dash: string }).dash, 'dash');
  assert.not.ok(
    f.data.some((d) => (d.meta as { trial: number }).trial === 4),
    'the failed trial reported no epoch: no curve',
  );
});

test('importance: the parameter that determines the objective gets ~1, the noise parameters ~0', () => {
  const r = loadSweepReport(buildSweep());
  const imp = Object.fromEntries(r.importance.map((i) => [i.param, i.importance]));
  assert.ok(Math.abs(imp.batchSize - 1) < 1e-9, `batchSize ${imp.batchSize}`);
  assert.ok(imp.lr < 1e-9, `lr ${imp.lr}`);
  assert.ok(imp['augment.flip'] < 1e-9, `flip ${imp['augment.flip']}`);
  assert.is(r.importanceMethod, IMPORTANCE_METHOD);
  assert.match(IMPORTANCE_METHOD, /Sobol \(1993/);
  assert.match(IMPORTANCE_METHOD, /Hutter, Hoos & Leyton-Brown 2014/);
});

test('importance estimator, by hand: epsilon-squared of the binned means, clipped at 0, normalised to sum 1', () => {
  const params: SweepParamInfo[] = [
    { name: 'x', kind: 'choice', log: false, values: ['a', 'b'] },
    { name: 'z', kind: 'choice', log: false, values: ['p', 'q'] },
  ];
  const trials = [
    { params: { x: 'a', z: 'p' }, value: 1 },
    { params: { x: 'a', z: 'q' }, value: 2 },
    { params: { x: 'b', z: 'p' }, value: 3 },
    { params: { x: 'b', z: 'q' }, value: 4 },
  ];
  // mean 2.5, SS_total 5; x: bin means 1.5 and 3.5, SS_between 4, SS_within 1, k 2, n 4: (4 - 1 * 1/2) / 5 = 0.7
  // z: bin means 2 and 3, SS_between 1, SS_within 4: (1 - 4/2) / 5 < 0 -> 0
  const imp = paramImportance(params, trials);
  assert.ok(Math.abs(imp[0].firstOrder - 0.7) < 1e-12, String(imp[0].firstOrder));
  assert.is(imp[1].firstOrder, 0);
  assert.equal(
    imp.map((i) => [i.param, i.importance, i.bins]),
    [
      ['x', 1, 2],
      ['z', 0, 2],
    ],
  );
  // a constant objective explains nothing
  assert.equal(
    paramImportance(
      params,
      trials.map((t) => ({ ...t, value: 1 })),
    ).map((i) => i.importance),
    [0, 0],
  );
});

test('importance on 30 trials: a categorical parameter plus small noise ~1, a numeric noise parameter (binned by rank) ~0', () => {
  const params: SweepParamInfo[] = [
    { name: 'noise', kind: 'loguniform', log: true },
    { name: 'opt', kind: 'choice', log: false, values: ['a', 'b', 'c'] },
  ];
  const r = rng(7);
  const level: Record<string, number> = { a: 0.5, b: 0.6, c: 0.8 };
  const trials = Array.from({ length: 30 }, (_, i) => {
    const opt = ['a', 'b', 'c'][i % 3];
    return { params: { noise: 10 ** (-4 + (3 * i) / 29), opt }, value: level[opt] + (r() - 0.5) * 0.01 };
  });
  const imp = paramImportance(params, trials);
  assert.is(imp[0].bins, 5, 'round(sqrt(30)) equal-count bins');
  assert.ok(imp[1].importance > 0.95, `opt ${imp[1].importance}`);
  assert.ok(imp[0].importance < 0.05, `noise ${imp[0].importance}`);
});

test('the command: the sweep command with the best params as --set key=value; the runner`s exact reproduction wins', () => {
  const r = loadSweepReport(buildSweep());
  assert.is(r.best!.sweepCommand, 'npm run ferlab -- sweep report-test');
  assert.is(r.best!.command, 'npm run ferlab -- sweep report-test --set lr=0.003 --set batchSize=128 --set augment.flip=true');
  // sweep.json's command when it is a shell command; the runner's text of an API call is not one
  assert.is(
    loadSweepReport(buildSweep({ command: 'npm run ferlab -- sweep report-test --quick' })).best!.sweepCommand,
    'npm run ferlab -- sweep report-test --quick',
  );
  assert.is(loadSweepReport(buildSweep({ command: "runSweep('report-test')" })).best!.sweepCommand, 'npm run ferlab -- sweep report-test');
  const exact = 'npm run exp -- default --only baseline-fer --set lr=0.003 --set batchSize=128 --set epochs=3';
  const withResults = loadSweepReport(
    buildSweep({ results: { best: { trial: 1, reproduce: { command: exact, snippet: 'export default 1;\n', snippetName: 'report-test-trial-0001' } } } }),
  );
  assert.is(withResults.best!.command, exact);
  assert.equal(withResults.best!.snippet, { name: 'report-test-trial-0001', text: 'export default 1;\n' });
  // results.json about another trial (stale) is not used
  assert.match(loadSweepReport(buildSweep({ results: { best: { trial: 2, reproduce: { command: exact } } } })).best!.command, /--set batchSize=128/);
});

test('report.html: written into the folder, self-contained (plotly inlined, no http script), every figure titled', () => {
  const dir = buildSweep();
  const path = writeSweepReport(dir);
  assert.is(path, join(dir, 'report.html'));
  const html = readFileSync(path, 'utf8');
  assert.not.match(html, /<script[^>]+src=["']?https?:/i, 'no script from the network');
  assert.not.match(html, /<script[^>]+src=/i, 'no script file beside it either');
  assert.ok(html.length > 1_000_000, 'plotly.js is inlined');
  assert.not.ok(existsSync(join(dir, 'plotly.min.js')));
  for (const title of [
    'Optimization history',
    'Intermediate values',
    'Parallel coordinates',
    'Slice plot: lr',
    'Slice plot: batchSize',
    'Slice plot: augment.flip',
    'Hyperparameter importance',
  ])
    assert.ok(html.includes(title), `figure '${title}'`);
  assert.match(html, /<h2>Best trial: 1<\/h2>/);
  assert.ok(html.includes('npm run ferlab -- sweep report-test --set lr=0.003 --set batchSize=128 --set augment.flip=true'));
  assert.ok(html.includes('Sobol (1993'), 'the importance method and its source');
  assert.match(html, /<h1>Sweep report-test: 5 trials \(3 complete, 1 pruned, 1 failed\)<\/h1>/);
  rmSync(dir, { recursive: true, force: true });
});

test('missing optional files: no sweep.json, no run records; kinds inferred, notes say what is missing', () => {
  const dir = buildSweep({ sweepJson: false, records: false });
  const r = loadSweepReport(dir);
  assert.is(r.name, 'report-test', 'from the journal header');
  assert.is(r.best!.trial, 1);
  assert.is(r.best!.privateTest, undefined);
  assert.equal(r.best!.settings, { lr: 3e-3, batchSize: 128, augment: { flip: true } }, 'params only: the base is unknown');
  assert.equal(
    r.params.map((p) => [p.name, p.kind, p.log]),
    [
      ['lr', 'uniform', true],
      ['batchSize', 'int', false],
      ['augment.flip', 'choice', false],
    ],
  );
  assert.ok(r.notes!.some((n) => /No sweep\.json/.test(n)));
  assert.ok(r.notes!.some((n) => /No run record found for trial\(s\) 0, 1, 2, 3\./.test(n)));
  assert.equal(r.trials[3].curve, [{ epoch: 1, value: 0.1 }], 'curves come from the journal');
  assert.ok(existsSync(writeSweepReport(dir)));
  rmSync(dir, { recursive: true, force: true });
});

test('a torn last journal line (a sweep still running) is ignored; a folder without a journal is an error', () => {
  const dir = buildSweep();
  writeFileSync(journalPath(dir), readFileSync(journalPath(dir), 'utf8') + '{"event":"created","tri');
  assert.is(loadSweepReport(dir).trials.length, 5);
  assert.throws(() => loadSweepReport(tempDir('ferlab-not-a-sweep-')), /is not a sweep folder: no .*journal\.jsonl/);
});

test('latestSweepDir: the newest folder with a journal (by its header time), optionally by name prefix', () => {
  const runs = tempDir('ferlab-sweep-runs-');
  assert.is(latestSweepDir(runs), undefined);
  const place = (src: string, name: string) => {
    mkdirSync(join(runs, name));
    writeFileSync(journalPath(join(runs, name)), readFileSync(journalPath(src)));
  };
  place(buildSweep({ time: 5_000 }), 'sweep-b-20260101-000000');
  place(buildSweep({ time: 9_000 }), 'sweep-a-20250101-000000');
  place(buildSweep({ time: 20_000 }), 'other-20240101-000000');
  mkdirSync(join(runs, 'sweep-z-experiment')); // an experiment folder, no journal
  assert.is(latestSweepDir(runs), join(runs, 'other-20240101-000000'));
  assert.is(latestSweepDir(runs, 'sweep-'), join(runs, 'sweep-a-20250101-000000'));
});

test.run();
