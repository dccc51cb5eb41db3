/**
 * The default experiment's --quick variant end to end on the real data (2 workers): run records, results table,
 * saved models that reload with plain tf.loadLayersModel (over HTTP, as a browser would) and reproduce the recorded
 * test accuracy with the recorded preprocessing, and determinism (same seed + backend = same metrics, in a worker
 * thread or in this thread).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadExperiment, runExperiment, type ExperimentResult } from '../../src/exp/experiment';
import { loadDataset } from '../../src/data/dataset';
import { runLabels } from '../../src/exp/run';
import { initBackend } from '../../src/backend/select';
import { IMAGE_PIXELS } from '../../src/data/classes';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';
import { sharedQuickExperiment } from '../helpers/quick-experiment';

const dataDir = realDataDir();
if (!dataDir) skipFile(noRealDataReason());
let experiment: ExperimentResult;

function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const file = normalize(join(root, decodeURIComponent((req.url ?? '/').split('?')[0])));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

if (dataDir) {
  test('npm run exp -- --quick: 4 runs, complete records, results table', async () => {
    experiment = await sharedQuickExperiment(dataDir); // runExperiment of the quick default experiment, trained once per test run (test/helpers/quick-experiment.ts)
    assert.is(experiment.runs.length, 4);
    assert.is(experiment.workers, 2);
    for (const r of experiment.runs) {
      for (const f of ['config.json', 'epochs.jsonl', 'metrics.json', 'predictions.json', 'model/model.json', 'model/weights.bin', 'model/ferlab.json']) {
        assert.ok(existsSync(join(r.dir, f)), `${r.name}: ${f} written`);
      }
      const epochs = readFileSync(join(r.dir, 'epochs.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.is(epochs.length, 2, `${r.name}: one line per epoch`);
      assert.ok(epochs.every((e) => Number.isFinite(e.trainLoss) && e.valAccuracy >= 0 && e.valAccuracy <= 1));
      assert.equal(r.sizes, { train: 1280, val: 320, test: 320 });
      assert.is(r.test.n, 320);
      assert.is(
        r.test.confusion.flat().reduce((a, b) => a + b, 0),
        320,
        'confusion matrix counts every test image',
      );
      assert.ok(r.cross, `${r.name}: cross-evaluated`);
      const config = JSON.parse(readFileSync(join(r.dir, 'config.json'), 'utf8'));
      assert.is(config.run.name, r.name, 'resolved config saved with the run');
      assert.is(config.run.epochs, 2);
      const preds = JSON.parse(readFileSync(join(r.dir, 'predictions.json'), 'utf8'));
      const acc = preds.pred.filter((p: number, i: number) => p === preds.label[i]).length / preds.pred.length;
      assert.ok(Math.abs(acc - r.test.accuracy) < 1e-12, `predictions.json agrees with metrics.json (${acc} vs ${r.test.accuracy})`);
    }
    const md = readFileSync(join(experiment.dir, 'results.md'), 'utf8');
    for (const r of experiment.runs) assert.match(md, r.name);
    assert.match(md, /test acc/);
  });

  test('saved models load with plain tf.loadLayersModel and reproduce the recorded test accuracy', async () => {
    await initBackend('wasm');
    const ds = await loadDataset({ dataDir });
    const { server, url } = await serve(experiment.dir);
    try {
      for (const r of experiment.runs) {
        const meta = JSON.parse(readFileSync(join(r.dir, 'model', 'ferlab.json'), 'utf8'));
        assert.match(meta.preprocessing, /pixel \/ 255/);
        const model = await tf.loadLayersModel(`${url}/${r.name}/model/model.json`);
        const labels = runLabels(ds, meta.config);
        const n = labels.test.index.length;
        const x = new Float32Array(n * IMAGE_PIXELS);
        labels.test.index.forEach((row, i) => {
          for (let p = 0; p < IMAGE_PIXELS; p++) x[i * IMAGE_PIXELS + p] = ds.pixels[row * IMAGE_PIXELS + p] / 255; // the recorded preprocessing
        });
        const pred = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(x, [n, 48, 48, 1])) as tf.Tensor, 1).dataSync());
        let correct = 0;
        pred.forEach((p, i) => (correct += p === labels.test.label[i] ? 1 : 0));
        assert.is(correct / n, r.test.accuracy, `${r.name}: reloaded model accuracy ${correct / n} vs recorded ${r.test.accuracy}`);
        assert.equal(meta.classes, r.test.classes);
        model.dispose();
      }
    } finally {
      server.close();
    }
  });

  test('same seed + backend = same metrics (worker thread vs. this thread)', async () => {
    const again = await runExperiment(loadExperiment('default'), {
      quick: true,
      only: ['baseline-ferplus'],
      workers: 1,
      replicas: 1, // a one-run experiment trains on 2 data-parallel replicas by default; the 4-run experiment trained it on one thread
      backend: 'wasm', // the shared experiment's backend (auto would pick native where its addon is built)
      dataDir,
      runsDir: tempDir(),
      log: () => {},
    });
    const a = experiment.runs.find((r) => r.name === 'baseline-ferplus')!;
    const b = again.runs[0];
    assert.is(b.test.accuracy, a.test.accuracy);
    assert.equal(b.test.confusion, a.test.confusion);
    const la = readFileSync(join(a.dir, 'epochs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).trainLoss);
    const lb = readFileSync(join(b.dir, 'epochs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).trainLoss);
    assert.equal(lb, la, 'identical training losses');
  });
}

test.run();
