/**
 * The leaderboard across runs/ (src/sweep/leaderboard.ts, `ferlab runs`) on hand-made run records: experiments (a finished
 * experiment's numbers from its results.json), sweeps (complete and pruned trials), a loose run record, a folder that holds
 * none; the settings that differ from the defaults, filters by model / label set / sweep, the four sort orders, the
 * polars DataFrame, and the CLI's --json output.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SETTINGS } from '../../src/exp/config';
import { changedSettings, compactValue, runsDataFrame, runsTable, runsTableRows } from '../../src/sweep/leaderboard';
import { tempDir } from '../helpers/fixtures';
import { runCli } from '../helpers/cli';

const write = (file: string, value: unknown) => {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
};

type Over = Record<string, unknown>;
/** A resolved run config: the defaults with `over` merged one group deep (as a run record's config.json has it). */
function runConfig(experiment: string, name: string, model: string, labels: string, over: Over = {}): Record<string, unknown> {
  const s = structuredClone(DEFAULT_SETTINGS) as unknown as Over;
  for (const [k, v] of Object.entries(over)) s[k] = typeof v === 'object' && v !== null && !('name' in v) ? { ...(s[k] as Over), ...(v as Over) } : v;
  return { experiment, name, model, labels, ...s };
}

const summary = (
  name: string,
  model: string,
  labels: string,
  val: number,
  test: number,
  f1: number,
  epochs: number,
  bestEpoch: number,
  trainSeconds: number,
) => ({
  name,
  model,
  labels,
  epochs,
  bestEpoch,
  trainSeconds,
  val: { accuracy: val, macroF1: f1 - 0.01 },
  test: { accuracy: test, macroF1: f1 },
});

const epoch = (e: number, valAccuracy: number, trainSeconds: number) => JSON.stringify({ epoch: e, valAccuracy, valMacroF1: valAccuracy / 2, trainSeconds });

/**
 * runs/
 *   default-20260101-000000/   experiment (results.json): deep-ferplus complete (numbers only in results.json), baseline-fer failed after 2 epochs
 *   sweep-x-quick-20260102-000000/  sweep 'sweep-x': trial-0000 complete, trial-0001 pruned after 1 epoch
 *   sweep-y-20260103-000000/   sweep 'sweep-y': trial-0000 complete (baseline, fer)
 *   loose-run/                 a run record directly in runs/, running, 1 epoch
 *   notes/                     no run record
 */
function handMade(): string {
  const dir = tempDir('ferlab-leaderboard-');
  const status = (state: string, e: number | null) => ({ state, epoch: e, updated: '2026-01-01T00:00:00.000Z' });
  const experiment = join(dir, 'default-20260101-000000');
  write(join(experiment, 'experiment.json'), { experiment: { name: 'default' }, quick: false });
  const deep = summary('deep-ferplus', 'deep', 'majority', 0.81, 0.79, 0.57, 5, 5, 1458);
  write(join(experiment, 'results.json'), { experiment: 'default', quick: false, runs: [deep], failed: [] });
  write(join(experiment, 'deep-ferplus', 'config.json'), { run: runConfig('default', 'deep-ferplus', 'deep', 'majority') });
  write(join(experiment, 'deep-ferplus', 'status.json'), status('complete', 5));
  write(join(experiment, 'baseline-fer', 'config.json'), { run: runConfig('default', 'baseline-fer', 'baseline', 'fer', { lr: 1e-3 }) });
  write(join(experiment, 'baseline-fer', 'status.json'), { ...status('failed', 2), error: 'boom' });
  write(join(experiment, 'baseline-fer', 'epochs.jsonl'), [epoch(1, 0.4, 10), epoch(2, 0.45, 11)].join('\n') + '\n');

  const sx = join(dir, 'sweep-x-quick-20260102-000000');
  write(join(sx, 'sweep.json'), { kind: 'sweep', name: 'sweep-x', quick: true });
  write(join(sx, 'journal.jsonl'), '');
  const t0 = runConfig('sweep-x', 'trial-0000', 'deep', 'majority', { lr: 0.0012345, batchSize: 32, slice: { train: 1280 } });
  write(join(sx, 'trial-0000', 'config.json'), { run: t0 });
  write(join(sx, 'trial-0000', 'status.json'), status('complete', 2));
  write(join(sx, 'trial-0000', 'metrics.json'), summary('trial-0000', 'deep', 'majority', 0.5, 0.48, 0.3, 2, 2, 30));
  write(join(sx, 'trial-0001', 'config.json'), { run: runConfig('sweep-x', 'trial-0001', 'deep', 'majority', { lr: 0.02 }) });
  write(join(sx, 'trial-0001', 'status.json'), status('pruned', 1));
  write(join(sx, 'trial-0001', 'epochs.jsonl'), epoch(1, 0.3, 12) + '\n');

  const sy = join(dir, 'sweep-y-20260103-000000');
  write(join(sy, 'sweep.json'), { kind: 'sweep', name: 'sweep-y', quick: false });
  write(join(sy, 'trial-0000', 'config.json'), {
    run: runConfig('sweep-y', 'trial-0000', 'baseline', 'fer', { optimizer: { weightDecay: 1e-4 }, augment: { shift: 2 } }),
  });
  write(join(sy, 'trial-0000', 'status.json'), status('complete', 3));
  write(join(sy, 'trial-0000', 'metrics.json'), summary('trial-0000', 'baseline', 'fer', 0.55, 0.56, 0.4, 3, 3, 20));

  write(join(dir, 'loose-run', 'config.json'), { run: runConfig('default', 'loose-run', 'baseline', 'majority', { schedule: { name: 'constant' } }) });
  write(join(dir, 'loose-run', 'status.json'), status('running', 1));
  write(join(dir, 'loose-run', 'epochs.jsonl'), epoch(1, 0.6, 5) + '\n');
  write(join(dir, 'notes', 'README.md'), 'no run record here\n');
  return dir;
}

const dir = handMade();
const names = (rows: Array<{ group: string; run: string }>) => rows.map((r) => `${r.group.split('-2026')[0]}/${r.run}`);

test('every run record under runs/, with the settings that differ from the defaults, best PublicTest first', () => {
  const rows = runsTable(dir);
  assert.equal(names(rows), [
    'default/deep-ferplus',
    '/loose-run',
    'sweep-y/trial-0000',
    'sweep-x-quick/trial-0000',
    'default/baseline-fer',
    'sweep-x-quick/trial-0001',
  ]);
  const by = (n: string) => rows.find((r) => names([r])[0] === n)!;
  const deep = by('default/deep-ferplus');
  assert.equal(
    [
      deep.kind,
      deep.experiment,
      deep.state,
      deep.settingsText,
      deep.publicTest,
      deep.privateTest,
      deep.macroF1,
      deep.epochs,
      deep.bestEpoch,
      deep.trainSeconds,
    ],
    ['experiment', 'default', 'complete', '', 0.81, 0.79, 0.57, 5, 5, 1458],
    "a finished experiment's run: its numbers from results.json",
  );
  const failed = by('default/baseline-fer');
  assert.equal(
    [failed.state, failed.settingsText, failed.publicTest, failed.privateTest, failed.epochs, failed.bestEpoch, failed.trainSeconds],
    ['failed', 'lr=0.001', 0.45, null, 2, 2, 21],
    'an unfinished run: its best epoch of epochs.jsonl, no PrivateTest',
  );
  const t0 = by('sweep-x-quick/trial-0000');
  assert.equal([t0.kind, t0.experiment, t0.quick, t0.settingsText], ['sweep', 'sweep-x', true, 'batchSize=32 lr=0.00123 slice.train=1280']);
  assert.equal(t0.settings, { batchSize: 32, lr: 0.0012345, 'slice.train': 1280 });
  const pruned = by('sweep-x-quick/trial-0001');
  assert.equal([pruned.state, pruned.publicTest, pruned.privateTest, pruned.epochs], ['pruned', 0.3, null, 1]);
  assert.is(by('sweep-y/trial-0000').settingsText, 'optimizer.weightDecay=1e-4 augment.shift=2');
  const loose = by('/loose-run');
  assert.equal([loose.group, loose.kind, loose.state, loose.settingsText], ['', 'folder', 'running', 'schedule={"name":"constant"}']);
});

test('filters: model, label set (ferplus = any FER+ set), sweep (spec or folder name)', () => {
  assert.equal(names(runsTable(dir, { model: 'deep' })), ['default/deep-ferplus', 'sweep-x-quick/trial-0000', 'sweep-x-quick/trial-0001']);
  assert.equal(names(runsTable(dir, { labels: 'fer' })), ['sweep-y/trial-0000', 'default/baseline-fer']);
  assert.is(runsTable(dir, { labels: 'ferplus' }).length, 4);
  assert.is(runsTable(dir, { labels: 'majority', model: 'baseline' }).length, 1);
  assert.equal(names(runsTable(dir, { sweep: 'sweep-x' })), ['sweep-x-quick/trial-0000', 'sweep-x-quick/trial-0001']);
  assert.equal(names(runsTable(dir, { sweep: 'sweep-y-20260103-000000' })), ['sweep-y/trial-0000']);
  assert.equal(runsTable(dir, { sweep: 'default' }), [], 'an experiment is no sweep');
  assert.throws(() => runsTable(dir, { labels: 'ferpluss' }), /not a label set/);
  assert.throws(() => runsTable(dir, { sort: 'speed' as never }), /--sort 'speed'/);
  assert.equal(runsTable(join(dir, 'no-such-folder')), []);
});

test('sort orders: PrivateTest and macro-F1 best first, train time shortest first, unknown values last', () => {
  assert.equal(names(runsTable(dir, { sort: 'privateTest' })), [
    'default/deep-ferplus',
    'sweep-y/trial-0000',
    'sweep-x-quick/trial-0000',
    'default/baseline-fer',
    '/loose-run',
    'sweep-x-quick/trial-0001',
  ]);
  assert.equal(names(runsTable(dir, { sort: 'macroF1' })).slice(0, 3), ['default/deep-ferplus', 'sweep-y/trial-0000', 'sweep-x-quick/trial-0000']);
  assert.equal(names(runsTable(dir, { sort: 'time' })), [
    '/loose-run',
    'sweep-x-quick/trial-0001',
    'sweep-y/trial-0000',
    'default/baseline-fer',
    'sweep-x-quick/trial-0000',
    'default/deep-ferplus',
  ]);
});

test('printed rows, compact values, changed settings of a group, and the polars DataFrame', () => {
  const printed = runsTableRows(runsTable(dir, { sweep: 'sweep-x' }));
  assert.equal(printed[0], {
    'experiment/sweep': 'sweep-x-quick-20260102-000000 (sweep)',
    run: 'trial-0000',
    model: 'deep',
    labels: 'majority',
    state: 'complete',
    settings: 'batchSize=32 lr=0.00123 slice.train=1280',
    'PublicTest acc': '50.00%',
    'PrivateTest acc': '48.00%',
    'macro-F1': '0.300',
    epochs: '2/2',
    'train time': '30s',
  });
  assert.equal(
    [compactValue(3e-3), compactValue(1.23456e-5), compactValue(64), compactValue('conv'), compactValue([20, 40])],
    ['0.003', '1.23e-5', '64', 'conv', '[20,40]'],
  );
  assert.equal(changedSettings({ optimizer: { ...DEFAULT_SETTINGS.optimizer, beta1: 0.8 }, epochs: DEFAULT_SETTINGS.epochs }), { 'optimizer.beta1': 0.8 });
  const df = runsDataFrame(dir);
  assert.is(df.height, 6);
  for (const c of ['group', 'run', 'model', 'labels', 'state', 'settingsText', 'publicTest', 'privateTest', 'macroF1', 'epochs', 'trainSeconds'])
    assert.ok(df.columns.includes(c), c);
  assert.equal(df.getColumn('publicTest').toArray(), [0.81, 0.6, 0.55, 0.5, 0.45, 0.3]);
  assert.is(df.getColumn('privateTest').nullCount(), 3);
});

test('ferlab runs --json --sweep --sort time, and the table', () => {
  const cli = (args: string[]) => runCli(['runs', '--runs-dir', dir, ...args]);
  const r = cli(['--sweep', 'sweep-x', '--sort', 'time', '--json']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(
    JSON.parse(r.stdout).map((x: { run: string }) => x.run),
    ['trial-0001', 'trial-0000'],
  );
  const t = cli(['--labels', 'fer']);
  assert.is(t.status, 0, t.stderr);
  assert.match(t.stdout, /PublicTest acc/);
  assert.match(t.stdout, /optimizer\.weightDecay=1e-4 augment\.shift=2/);
  assert.match(t.stdout, /2 run records under/);
  const bad = cli(['--labels', 'nope']);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /ferlab: --labels 'nope' is not a label set/);
});

test.run();
