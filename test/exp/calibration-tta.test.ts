/**
 * A real run's record carries calibration (temperature fitted on PublicTest, ECE before and after on PrivateTest), a
 * bootstrap interval of the PrivateTest accuracy and, with `tta=flip`, flip-averaged scores; each is checked
 * independently here: the TTA accuracy against flip averaging done by hand with the reloaded model, the temperature
 * against the NLL of the reloaded model's PublicTest logits (a minimum: nudging T either way raises it), the reliability
 * bins against the test size, and prediction's probabilities against softmax(logits / T) by hand.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { loadDataset } from '../../src/data/dataset';
import { IMAGE_PIXELS } from '../../src/data/classes';
import { loadExperiment, runExperiment } from '../../src/exp/experiment';
import { runLabels, type RunSummary } from '../../src/exp/run';
import { loadLayersModelFromDir } from '../../src/models/io';
import { classify } from '../../src/predict/faces';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';

const dataDir = realDataDir();
if (!dataDir) skipFile(noRealDataReason());

/** Softmax of each row, in float64. */
const softmax = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

if (dataDir) {
  test('run record: calibration, bootstrap interval and flip TTA, each checked by hand', async () => {
    const experiment = await runExperiment(loadExperiment('default'), {
      quick: true,
      only: ['baseline-ferplus'],
      overrides: ['epochs=1', 'tta=flip', 'slice.train=640', 'slice.val=320', 'slice.test=320'],
      workers: 1,
      backend: 'wasm',
      dataDir,
      runsDir: tempDir(),
      log: () => {},
    });
    const dir = experiment.runs[0].dir;
    const s = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as RunSummary;
    await initBackend('wasm');
    const ds = await loadDataset({ dataDir });
    const labels = runLabels(ds, { labels: 'majority', slice: { train: 640, val: 320, test: 320 } });
    const model = await loadLayersModelFromDir(join(dir, 'model'));
    const C = labels.numClasses;
    const logitsOf = (rows: Int32Array, flip: boolean): number[][] => {
      const x = new Float32Array(rows.length * IMAGE_PIXELS);
      rows.forEach((r, i) => {
        for (let y = 0; y < 48; y++)
          for (let c = 0; c < 48; c++) x[i * IMAGE_PIXELS + y * 48 + c] = ds.pixels[r * IMAGE_PIXELS + y * 48 + (flip ? 47 - c : c)] / 255;
      });
      const out = tf.tidy(() => (model.predict(tf.tensor4d(x, [rows.length, 48, 48, 1])) as tf.Tensor).arraySync() as number[][]);
      return out;
    };

    // flip TTA: mean of the two softmaxes, argmax
    const plain = logitsOf(labels.test.index, false);
    const mirrored = logitsOf(labels.test.index, true);
    let right = 0;
    let changed = 0;
    const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
    plain.forEach((row, i) => {
      const p = softmax(row).map((v, c) => (v + softmax(mirrored[i])[c]) / 2);
      const k = p.indexOf(Math.max(...p));
      if (k === labels.test.label[i]) right++;
      if (k !== row.indexOf(Math.max(...row))) changed++;
      confusion[labels.test.label[i]][k]++;
    });
    assert.ok(changed > 0, 'flip averaging changes some predictions (else this check would not tell TTA from no TTA)');
    assert.equal(s.tta?.test.confusion, confusion, 'TTA confusion matrix = the one computed by hand');
    assert.ok(s.tta, 'metrics.json has the TTA scores');
    assert.is(s.tta!.tta, 'flip');
    assert.is(s.tta!.views, 2);
    assert.is(s.tta!.test.n, 320);
    assert.ok(Math.abs(s.tta!.test.accuracy - right / 320) <= 1 / 320 + 1e-12, `TTA accuracy ${s.tta!.test.accuracy}, by hand ${right / 320}`);

    // temperature: a minimum of the PublicTest NLL of the reloaded model's logits
    const val = logitsOf(labels.val.index, false);
    const nll = (T: number) => val.reduce((a, row, i) => a - Math.log(softmax(row.map((v) => v / T))[labels.val.label[i]]), 0) / val.length;
    const T = s.calibration!.temperature;
    assert.ok(T > 0, `temperature ${T}`);
    assert.ok(Math.abs(nll(T) - s.calibration!.valNllAfter) < 1e-4, `NLL at T by hand ${nll(T)}, recorded ${s.calibration!.valNllAfter}`);
    assert.ok(
      nll(T) <= nll(T * 1.05) + 1e-9 && nll(T) <= nll(T / 1.05) + 1e-9,
      `NLL(${T}) = ${nll(T)} is a minimum (x1.05: ${nll(T * 1.05)}, /1.05: ${nll(T / 1.05)})`,
    );
    assert.ok(s.calibration!.valNllAfter <= s.calibration!.valNllBefore + 1e-12);
    assert.is(
      s.calibration!.test.bins.reduce((a, b) => a + b.count, 0),
      320,
      'reliability bins count every test image',
    );
    assert.ok(s.calibration!.test.ece >= 0 && s.calibration!.test.ece <= 1);

    // bootstrap interval around the plain accuracy
    assert.ok(
      s.testInterval!.lower <= s.test.accuracy && s.test.accuracy <= s.testInterval!.upper,
      `interval ${s.testInterval!.lower}-${s.testInterval!.upper} holds ${s.test.accuracy}`,
    );

    // the saved model carries T; prediction reports softmax(logits / T)
    const meta = JSON.parse(readFileSync(join(dir, 'model', 'ferlab.json'), 'utf8')) as { temperature: number; classes: string[] };
    assert.is(meta.temperature, T);
    const rows = labels.test.index.slice(0, 3);
    const x = new Float32Array(3 * IMAGE_PIXELS);
    rows.forEach((r, i) => {
      for (let p = 0; p < IMAGE_PIXELS; p++) x[i * IMAGE_PIXELS + p] = ds.pixels[r * IMAGE_PIXELS + p] / 255;
    });
    const got = classify({ model, meta: { ...meta, preprocessing: 'x / 255' } as never, dir: '' }, x);
    const ref = logitsOf(rows, false);
    ref.forEach((row, i) => {
      const p = softmax(row.map((v) => v / T));
      for (let c = 0; c < C; c++)
        assert.ok(Math.abs(got.probabilities[i * C + c] - p[c]) < 1e-5, `face ${i} class ${c}: ${got.probabilities[i * C + c]} vs ${p[c]}`);
    });
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.match(html, /Reliability diagram/);
  });
}

test.run();
