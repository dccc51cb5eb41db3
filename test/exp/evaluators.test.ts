/**
 * The post-training evaluators (src/exp/evaluators) and the run setting `evaluators` that picks them: the schema
 * (absent = all and not written; `test` required; no repeats, no unknown names), the order they run in, that each is
 * handed only the context fields it declares and may write only the fields it declares, and a real run with
 * `evaluators=["test","cross"]`: its metrics.json has the PrivateTest metrics (checked against the reloaded model's
 * logits by hand) and the cross-evaluation, and no bootstrap interval, calibration or predictions.json.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { IMAGE_PIXELS } from '../../src/data/classes';
import { loadDataset } from '../../src/data/dataset';
import { applyOverrides, DEFAULT_SETTINGS, resolveRuns, SettingsSchema, trainConfigOf } from '../../src/exp/config';
import { defineEvaluator, EVALUATORS, runEvaluators, selectEvaluators, type EvalContext } from '../../src/exp/evaluators';
import { runLabels, type RunSummary } from '../../src/exp/run';
import { loadExperiment, runExperiment } from '../../src/exp/experiment';
import { loadLayersModelFromDir } from '../../src/models/io';
import { tempDir } from '../helpers/fixtures';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';

test('evaluators setting: absent by default and not written; a subset parses; test required, no repeats, no unknown names', () => {
  assert.not.ok('evaluators' in DEFAULT_SETTINGS, `defaults have no evaluators key: ${Object.keys(DEFAULT_SETTINGS).join(', ')}`);
  const runs = resolveRuns(loadExperiment('default'), { quick: true });
  for (const r of runs) assert.not.match(JSON.stringify(r), /evaluators/, `${r.name}: config without the setting`);
  assert.equal(SettingsSchema.parse({ evaluators: ['cross', 'test'] }).evaluators, ['cross', 'test']);
  for (const bad of [[], ['bootstrap'], ['test', 'test'], ['test', 'nope']])
    assert.not.ok(SettingsSchema.safeParse({ evaluators: bad }).success, `evaluators ${JSON.stringify(bad)} must be rejected`);
  const s = applyOverrides(DEFAULT_SETTINGS, ['evaluators=["test","predictions"]']);
  assert.equal(s.evaluators, ['test', 'predictions']);
  // not a training setting: the checkpoint fingerprint (TrainConfig) does not see it
  const cfg = trainConfigOf({ ...runs[0], ...s });
  assert.not.ok('evaluators' in cfg, `TrainConfig keys: ${Object.keys(cfg).join(', ')}`);
});

test('selectEvaluators: every evaluator in the fixed order when absent, a subset in that order, test required', () => {
  const all = ['test', 'bootstrap', 'calibration', 'tta', 'cross', 'predictions'];
  assert.equal(
    EVALUATORS.map((e) => e.name),
    all,
  );
  assert.equal(
    selectEvaluators().map((e) => e.name),
    all,
  );
  assert.equal(
    selectEvaluators(['predictions', 'test', 'cross']).map((e) => e.name),
    ['test', 'cross', 'predictions'],
  );
  assert.throws(() => selectEvaluators(['cross']), /leave out 'test'/);
  // what each writes into metrics.json (RunSummary fields)
  assert.equal(
    EVALUATORS.map((e) => [...e.writes]),
    [['test'], ['testInterval'], ['calibration'], ['tta'], ['cross'], []],
  );
});

test('runEvaluators: each evaluator sees only the fields it needs, writes only what it declares, once', () => {
  const ctx = { run: { name: 'r' }, dir: '/x', test: () => ({ metrics: { accuracy: 0.5 } }) } as unknown as EvalContext;
  const seen: string[][] = [];
  const a = defineEvaluator({
    name: 'test',
    needs: ['test'],
    writes: ['test'],
    evaluate: (c) => {
      seen.push(Object.keys(c));
      return { test: c.test().metrics };
    },
  });
  const b = defineEvaluator({
    name: 'cross',
    needs: ['dir'],
    writes: ['cross'],
    evaluate: (c) => {
      seen.push(Object.keys(c));
      return { cross: null };
    },
  });
  const out = runEvaluators([a, b], ctx);
  assert.equal(seen, [['test'], ['dir']]);
  assert.equal(out, { test: { accuracy: 0.5 }, cross: null });
  const sneaky = defineEvaluator({ name: 'bootstrap', needs: [], writes: [], evaluate: () => ({ calibration: undefined }) as never });
  assert.throws(() => runEvaluators([sneaky], ctx), /wrote 'calibration', which it does not declare/);
  assert.throws(() => runEvaluators([a, a], ctx), /already written/);
});

const dataDir = realDataDir();
if (!dataDir) skipFile(noRealDataReason());
else
  test('a run with evaluators=["test","cross"]: test metrics (checked by hand) and cross only; no interval, calibration or predictions', async () => {
    const experiment = await runExperiment(loadExperiment('default'), {
      quick: true,
      only: ['baseline-ferplus'],
      overrides: ['epochs=1', 'evaluators=["cross","test"]', 'slice.train=320', 'slice.val=160', 'slice.test=160'],
      workers: 1,
      backend: 'wasm',
      dataDir,
      runsDir: tempDir(),
      log: () => {},
    });
    const dir = experiment.runs[0].dir;
    const s = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as RunSummary;
    assert.equal(Object.keys(s).filter((k) => ['test', 'cross', 'testInterval', 'calibration', 'tta'].includes(k)), ['test', 'cross']);
    assert.not.ok(existsSync(join(dir, 'predictions.json')), 'no predictions.json');
    assert.ok(existsSync(join(dir, 'report.html')), 'the report is still written');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { run: { evaluators?: string[] } };
    assert.equal(config.run.evaluators, ['cross', 'test']);
    const meta = JSON.parse(readFileSync(join(dir, 'model', 'ferlab.json'), 'utf8')) as Record<string, unknown>;
    assert.not.ok('temperature' in meta, 'no temperature without calibration');

    // the PrivateTest accuracy of the reloaded model, argmax of its logits by hand
    await initBackend('wasm');
    const ds = await loadDataset({ dataDir });
    const labels = runLabels(ds, { labels: 'majority', slice: { train: 320, val: 160, test: 160 } });
    const model = await loadLayersModelFromDir(join(dir, 'model'));
    const rows = labels.test.index;
    const x = new Float32Array(rows.length * IMAGE_PIXELS);
    rows.forEach((r, i) => {
      for (let p = 0; p < IMAGE_PIXELS; p++) x[i * IMAGE_PIXELS + p] = ds.pixels[r * IMAGE_PIXELS + p] / 255;
    });
    const logits = tf.tidy(() => (model.predict(tf.tensor4d(x, [rows.length, 48, 48, 1])) as tf.Tensor).arraySync() as number[][]);
    const right = logits.filter((row, i) => row.indexOf(Math.max(...row)) === labels.test.label[i]).length;
    assert.is(s.test.n, 160);
    assert.ok(Math.abs(s.test.accuracy - right / 160) <= 1 / 160 + 1e-12, `test accuracy ${s.test.accuracy}, by hand ${right / 160}`);
    if (ds.ferplus) {
      assert.ok(s.cross, 'cross-evaluation with FER+ votes');
      assert.equal([s.cross!.from, s.cross!.to], ['ferplus', 'fer']);
    } else assert.is(s.cross, null);
  });

test.run();
