/**
 * Per-model inputs end to end on a small generated dataset (test/helpers/fixtures): runs with input 40x40 crops (tta
 * tencrop) and 64x64 bilinear scaling after histogram equalisation (tta flip), plus a default run. Each record carries
 * the resolved spec (config.json, model/ferlab.json, model.json metadata); the saved model reloads through
 * tf.loadLayersModel with input [null, size, size, 1]; re-scoring the run (src/eval/reload.ts), `predict`'s model
 * input and, for the crop run, inputs written out here by hand (centre window, pixel / 255) all give the recorded
 * PrivateTest accuracy; export writes the spec, the input shape and an ONNX graph taking [batch, 64, 64, 1] that
 * scores like tfjs. The default run's records are those of before per-model inputs (no inputSpec, PREPROCESSING).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { initBackend } from '../../src/backend/select';
import { IMAGE_PIXELS } from '../../src/data/classes';
import { loadDataset, type FerDataset } from '../../src/data/dataset';
import { describeInput, type InputSpec } from '../../src/data/input';
import { PREPROCESSING } from '../../src/data/preprocess';
import { evaluateRunDir } from '../../src/eval/reload';
import { defineExperiment } from '../../src/exp/config';
import { runLabels, type RunSummary } from '../../src/exp/run';
import { runExperiment, type ExperimentResult } from '../../src/exp/experiment';
import { exportModel } from '../../src/export';
import { loadLayersModelFromDir } from '../../src/models/io';
import { classify, modelInput } from '../../src/predict/faces';
import { loadPredictModel } from '../../src/predict/model';
import { makeRows, tempDir, writeFixture } from '../helpers/fixtures';

const dataDir = writeFixture(makeRows({ train: 96, val: 32, test: 32 }, 11));
const crop40: InputSpec = { size: 40, resize: 'crop', normalize: 'unit' };
const scale64: InputSpec = { size: 64, resize: 'scale', normalize: 'histeq' };
let experiment: ExperimentResult;
let ds: FerDataset;

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

/** Fraction of predictions equal to the labels. */
function accuracyOf(pred: ArrayLike<number>, label: ArrayLike<number>): number {
  let right = 0;
  for (let i = 0; i < label.length; i++) if (pred[i] === label[i]) right++;
  return right / label.length;
}

test.before(async () => {
  await initBackend('wasm');
  const exp = defineExperiment({
    name: 'inputs',
    description: 'per-model inputs',
    settings: { epochs: 1, batchSize: 32 },
    runs: [
      { name: 'crop40', model: 'baseline', labels: 'fer', settings: { input: { size: 40, resize: 'crop' }, tta: 'tencrop' } },
      { name: 'scale64', model: 'baseline', labels: 'fer', settings: { input: { size: 64, resize: 'scale', normalize: 'histeq' }, tta: 'flip' } },
      { name: 'plain', model: 'baseline', labels: 'fer' },
    ],
    quick: {},
  });
  experiment = await runExperiment(exp, { dataDir, cacheDir: false, runsDir: tempDir(), workers: 1, backend: 'wasm', log: () => {} });
  ds = await loadDataset({ dataDir, cacheDir: false });
});

for (const [name, spec] of [
  ['crop40', crop40],
  ['scale64', scale64],
] as const) {
  test(`${name}: the record and the saved model carry the spec; reload, re-scoring and predict give the recorded accuracy`, async () => {
    const dir = join(experiment.dir, name);
    const S = spec.size;
    const config = readJson(join(dir, 'config.json'));
    assert.equal(config.inputSpec, spec, 'config.json inputSpec: the resolved spec');
    assert.is(config.preprocessing, describeInput(spec));
    const meta = readJson(join(dir, 'model', 'ferlab.json'));
    assert.equal(meta.inputSpec, spec, 'ferlab.json inputSpec');
    assert.is(meta.input, `[batch, ${S}, ${S}, 1] float32`);
    assert.is(meta.preprocessing, describeInput(spec));
    assert.equal(readJson(join(dir, 'model', 'model.json')).userDefinedMetadata.ferlab.inputSpec, spec);

    const model = await loadLayersModelFromDir(join(dir, 'model')); // tf.loadLayersModel on the saved files
    assert.equal(model.inputs[0].shape, [null, S, S, 1]);
    const m: RunSummary = readJson(join(dir, 'metrics.json'));
    const test = runLabels(ds, config.run).test;
    const recorded = m.test.accuracy;

    const reloaded = await evaluateRunDir(dir, { dataDir, cacheDir: false, backend: 'wasm' });
    assert.is(reloaded.accuracy, recorded, `ferlab eval: ${reloaded.accuracy} vs recorded ${recorded}`);
    assert.is(reloaded.n, test.index.length);

    const pm = await loadPredictModel(dir);
    assert.equal(pm.input, spec);
    const faces = new Uint8Array(test.index.length * IMAGE_PIXELS);
    test.index.forEach((row, i) => faces.set(ds.pixels.subarray(row * IMAGE_PIXELS, (row + 1) * IMAGE_PIXELS), i * IMAGE_PIXELS));
    const predicted = classify(pm, modelInput(faces, pm.input));
    assert.is(accuracyOf(predicted.labels, test.label), recorded, 'predict on the test faces');
    pm.model.dispose();

    if (spec.resize === 'crop') {
      // the evaluation input written out here: the centre 40x40 window (rows and columns 4..43), pixel / 255
      const x = new Float32Array(test.index.length * S * S);
      test.index.forEach((row, i) => {
        for (let y = 0; y < S; y++) for (let c = 0; c < S; c++) x[(i * S + y) * S + c] = ds.pixels[row * IMAGE_PIXELS + (y + 4) * 48 + c + 4] / 255;
      });
      const logits = tf.tidy(() => (model.predict(tf.tensor4d(x, [test.index.length, S, S, 1])) as tf.Tensor).dataSync() as Float32Array);
      const C = logits.length / test.index.length;
      const labels = Uint8Array.from(test.index, (_, i) => {
        let best = 0;
        for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
        return best;
      });
      assert.is(accuracyOf(labels, test.label), recorded, 'inputs written by hand');
      assert.equal(m.tta && { tta: m.tta.tta, views: m.tta.views, crop: m.tta.crop }, { tta: 'tencrop', views: 10, crop: 40 });
    } else {
      assert.equal(m.tta && { tta: m.tta.tta, views: m.tta.views, crop: m.tta.crop }, { tta: 'flip', views: 2, crop: 64 });
    }
    model.dispose();
  });
}

test('scale64 export: ferlab.json spec and input shape, ONNX input [batch, 64, 64, 1] scoring as tfjs, the card', async () => {
  const out = join(tempDir('ferlab-input-export-'), 'm');
  const r = await exportModel(join(experiment.dir, 'scale64'), { out, dataDir, cacheDir: false, backend: 'wasm', log: () => {} });
  const meta = readJson(join(out, 'ferlab.json'));
  assert.equal(meta.inputSpec, scale64);
  assert.equal(meta.io.input.shape, [null, 64, 64, 1]);
  assert.equal(meta.io.input.range, [0, 1]);
  assert.is(meta.io.input.preprocessing, describeInput(scale64));
  const proto = onnx.ModelProto.decode(readFileSync(join(out, 'model.onnx')));
  const dims = proto.graph!.input![0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
  assert.equal(dims, ['batch', 64, 64, 1]);
  const props = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
  assert.equal(JSON.parse(props.input_spec), scale64);
  assert.is(props.preprocessing, describeInput(scale64));
  const ref = r.info.export.reference;
  const onnxCheck = r.info.export.formats.onnx!.check;
  if ('skipped' in onnxCheck) console.log(`  ONNX not checked: ${onnxCheck.skipped}`);
  else {
    assert.is(onnxCheck.privateTestAccuracy, ref.privateTestAccuracy, 'ONNX Runtime on the spec inputs scores as tfjs');
    assert.ok(onnxCheck.maxAbsLogitDiff < 1e-4, `max |logit diff| ${onnxCheck.maxAbsLogitDiff}`);
  }
  const tfjsCheck = r.info.export.formats.tfjs!.check;
  assert.ok(!('skipped' in tfjsCheck) && tfjsCheck.maxAbsLogitDiff === 0, 'the exported tfjs files give the run model logits');
  assert.is(ref.privateTestAccuracy, ref.recordedPrivateTestAccuracy, 'export re-scores the recorded accuracy');
  const card = readFileSync(join(out, 'model-card.md'), 'utf8');
  assert.match(card, '`[batch, 64, 64, 1]` float32, layout NHWC');
  assert.match(card, JSON.stringify(scale64));
});

test('a default run writes the records of before per-model inputs: no inputSpec, PREPROCESSING, [batch, 48, 48, 1]', () => {
  const dir = join(experiment.dir, 'plain');
  const config = readJson(join(dir, 'config.json'));
  assert.not.ok('inputSpec' in config);
  assert.not.ok('input' in config.run);
  assert.is(config.preprocessing, PREPROCESSING);
  const meta = readJson(join(dir, 'model', 'ferlab.json'));
  assert.not.ok('inputSpec' in meta);
  assert.is(meta.input, '[batch, 48, 48, 1] float32');
  assert.is(meta.preprocessing, PREPROCESSING);
  assert.equal(Object.keys(meta), [
    'run',
    'experiment',
    'model',
    'labelSet',
    'classes',
    'input',
    'preprocessing',
    'output',
    'testAccuracy',
    'temperature',
    'testImages',
    'config',
    'environment',
  ]);
});

test.run();
