/**
 * The training loop's own rules and an experiment's handling of failing runs, on small generated data (test/helpers/fixtures):
 * early stopping after `patience` epochs, the best PublicTest epoch's weights restored (checked against a snapshot
 * taken inside the validation callback), a NaN loss as a TrainError with its epoch, and an experiment whose runs hit a NaN
 * loss or lose their worker thread: recorded as failed, the others finish, the CLI exits non-zero naming them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { loadDataset, type FerDataset } from '../../src/data/dataset';
import { buildLabelSet } from '../../src/data/labels';
import { defineExperiment } from '../../src/exp/config';
import { runExperiment } from '../../src/exp/experiment';
import '../../src/models';
import { train, TrainError } from '../../src/train/loop';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { makeRows, tempDir, writeFixture } from '../helpers/fixtures';
import { runCli } from '../helpers/cli';

const dataDir = writeFixture(makeRows({ train: 256, val: 64, test: 64 }, 7));
// the patience rules read no image: 64 training images (one step of 64 per epoch) instead of 256
const smallDir = writeFixture(makeRows({ train: 64, val: 16, test: 16 }, 7));
let ds: FerDataset;
let small: FerDataset;

test.before(async () => {
  await initBackend('wasm');
  ds = await loadDataset({ dataDir, cacheDir: false });
  small = await loadDataset({ dataDir: smallDir, cacheDir: false });
});

const cfg = (over: Partial<typeof TRAIN_DEFAULTS> = {}) => ({ ...TRAIN_DEFAULTS, model: 'baseline', epochs: 6, ...over });

test('patience: stops after `patience` epochs without a better validation accuracy; best weights restored', async () => {
  const accs = [0.3, 0.5, 0.45, 0.5, 0.7, 0.9]; // best at epoch 2; epochs 3 and 4 are not better (0.5 is a tie)
  const snapshots: Float32Array[][] = [];
  const labels = buildLabelSet(small, 'fer');
  const r = await train(cfg({ patience: 2 }), small, labels, {
    validate: (model) => {
      snapshots.push(model.getWeights().map((w) => (w.dataSync() as Float32Array).slice()));
      const accuracy = accs[snapshots.length - 1];
      return { loss: 1 - accuracy, metrics: { accuracy, macroF1: accuracy / 2 } };
    },
  });
  assert.is(r.history.length, 4, 'trained epochs 1-4, then stopped');
  assert.ok(r.stoppedEarly);
  assert.is(r.bestEpoch, 2);
  assert.equal(r.bestVal, { accuracy: 0.5, macroF1: 0.25 });
  assert.equal(
    r.history.map((h) => h.valAccuracy),
    [0.3, 0.5, 0.45, 0.5],
  );
  const now = r.model.getWeights().map((w) => w.dataSync() as Float32Array);
  assert.ok(
    now.every((w, i) => w.every((v, j) => v === snapshots[1][i][j])),
    "the model holds epoch 2's weights (incl. BatchNorm moving statistics)",
  );
  assert.not.ok(
    now.every((w, i) => w.every((v, j) => v === snapshots[3][i][j])),
    "and not the last epoch's",
  );
  r.model.dispose();

  const noPatience = await train(cfg({ epochs: 3, patience: 0 }), small, labels, {
    validate: () => ({ loss: 1, metrics: { accuracy: 0.1, macroF1: 0.1 } }),
  });
  assert.is(noPatience.history.length, 3, 'patience 0 never stops early');
  assert.not.ok(noPatience.stoppedEarly);
  assert.is(noPatience.bestEpoch, 1, 'ties keep the earliest epoch');
  noPatience.model.dispose();
});

test('a NaN loss is a TrainError naming the epoch and step', async () => {
  const labels = buildLabelSet(ds, 'fer');
  try {
    await train(cfg({ lr: 1e30, schedule: { name: 'constant' } }), ds, labels, { validate: () => ({ loss: 0, metrics: { accuracy: 0, macroF1: 0 } }) });
    assert.unreachable('training with lr 1e30 should diverge');
  } catch (e) {
    assert.instance(e, TrainError);
    assert.match((e as Error).message, /training diverged: loss (NaN|Infinity|-Infinity) at epoch 1, step \d+/);
    assert.is((e as TrainError).epoch, 1);
  }
  assert.ok(tf.memory().numTensors < 50, `tensors released after the failure (${tf.memory().numTensors} left)`);
});

test('an experiment goes on past a NaN run and a dead worker: both recorded as failed, the others complete', async () => {
  const exp = defineExperiment({
    name: 'failures',
    description: 'test',
    // a 96-image training slice: 3 steps of 32, the NaN run diverges within its first epoch all the same
    settings: { epochs: 2, batchSize: 32, slice: { train: 96, val: 32, test: 32 } },
    runs: [
      { name: 'ok-a', model: 'baseline', labels: 'fer' },
      { name: 'nan', model: 'baseline', labels: 'fer', settings: { lr: 1e30, schedule: { name: 'constant' } } },
      { name: 'dies', model: 'baseline', labels: 'fer' },
      { name: 'ok-b', model: 'baseline', labels: 'fer', settings: { seed: 1 } },
    ],
    quick: {},
  });
  process.env.FERLAB_TEST_WORKER_EXIT = 'dies';
  const lines: string[] = [];
  const r = await runExperiment(exp, { dataDir, cacheDir: false, runsDir: tempDir(), workers: 2, log: (l) => lines.push(l) });
  delete process.env.FERLAB_TEST_WORKER_EXIT;
  assert.equal(r.runs.map((s) => s.name).sort(), ['ok-a', 'ok-b']);
  assert.equal(
    r.failed.map((f) => f.name),
    ['nan', 'dies'],
  );
  const [nan, dies] = r.failed;
  assert.match(nan.error, /training diverged/);
  assert.is(nan.epoch, 1);
  assert.match(dies.error, /worker thread exited with code 3 while training/);
  for (const f of r.failed) {
    const status = JSON.parse(readFileSync(join(r.dir, f.name, 'status.json'), 'utf8'));
    assert.is(status.state, 'failed', f.name);
    assert.is(status.error, f.error);
  }
  for (const s of r.runs) assert.is(JSON.parse(readFileSync(join(s.dir, 'status.json'), 'utf8')).state, 'complete');
  const md = readFileSync(join(r.dir, 'results.md'), 'utf8');
  assert.match(md, /\| nan \| baseline \| fer \| FAILED \(epoch 1\) \|/);
  assert.match(md, /2 FAILED \(nan, dies\)/);
  const results = JSON.parse(readFileSync(join(r.dir, 'results.json'), 'utf8'));
  assert.is(results.failed.length, 2);
  assert.match(readFileSync(join(r.dir, 'report.html'), 'utf8'), /training diverged/);
  assert.ok(
    lines.some((l) => /nan: FAILED in epoch 1/.test(l)),
    lines.join('\n'),
  );
});

test('the CLI exits 1 naming the failed runs after writing the results', () => {
  const runsDir = tempDir();
  const r = runCli([
    'exp',
    '--data-dir',
    dataDir,
    '--cache-dir',
    tempDir(),
    '--runs-dir',
    runsDir,
    '--only',
    'baseline-fer,deep-fer',
    '--workers',
    '1',
    '--set',
    'epochs=1',
    '--set',
    'slice={"train":128,"val":64,"test":64}',
    '--set',
    'lr=1e30',
    '--set',
    'schedule={"name":"constant"}',
    '--no-progress',
  ]);
  const out = r.out;
  assert.is(r.status, 1, out);
  const line = out.split('\n').find((l) => l.includes('run(s) FAILED')) ?? '';
  assert.match(line, /^ferlab: 2 run\(s\) FAILED: /, out);
  for (const run of ['baseline-fer', 'deep-fer']) assert.match(line, new RegExp(`${run} \\(training diverged: loss \\S+ at epoch 1`));
  assert.match(out, /npm run exp -- --resume /);
  const experiment = readdirSync(runsDir).find((d) => d.startsWith('default-'));
  assert.ok(experiment && existsSync(join(runsDir, experiment, 'results.md')), 'the results were written before exiting');
});

test.run();
