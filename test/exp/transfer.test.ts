/**
 * Fine-tuning and cross-dataset evaluation.
 * Without the real data: weights copied by name into a new model (a different class set gets a new head), freezing
 * (BatchNorm in inference mode, only the dense layers trained, continued checkpoints equal to an uninterrupted run),
 * model references. With the real data: a FER2013-trained `deep` scored zero-shot on, then fine-tuned on, folder copies
 * of FER2013 (the same labels, and labels shifted by one class), the `transfer-folder` experiment, and `eval --model`.
 * test-time-limit: 420
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { FER_CLASSES, FERPLUS_CLASSES, IMAGE_PIXELS } from '../../src/data/classes';
import { loadDataset } from '../../src/data/dataset';
import { writeFolderCopy } from '../../src/data/folder';
import { buildLabelSet, sliceLabelSet } from '../../src/data/labels';
import { evaluateSplit } from '../../src/eval/evaluate';
import { softmaxRows } from '../../src/eval/predict';
import { evaluateSavedModel } from '../../src/eval/transfer';
import { evaluateModelCommand } from '../../src/cli/evaluate';
import { defineExperiment } from '../../src/exp/config';
import { loadExperiment, runExperiment } from '../../src/exp/experiment';
import type { RunSummary } from '../../src/exp/run';
import '../../src/models';
import { batchNormalization } from '../../src/models/layers';
import { freezeLayers, initFromSaved, readSavedWeights, resolveModelRef } from '../../src/models/init';
import { loadLayersModelFromDir, saveLayersModel } from '../../src/models/io';
import { createModel } from '../../src/models/registry';
import { TIMING_FIELDS, train, type EpochRecord } from '../../src/train/loop';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipTest } from '../helpers/skip';
import { makeRows, tempDir, writeFixture } from '../helpers/fixtures';
import { runCli } from '../helpers/cli';
import { sharedQuickExperiment } from '../helpers/quick-experiment';

/** Saves a model as a run would (model.json + weights.bin + ferlab.json). */
async function saveModel(model: tf.LayersModel, dir: string, meta: Record<string, unknown>): Promise<string> {
  await saveLayersModel(model, dir, { ferlab: meta });
  writeFileSync(join(dir, 'ferlab.json'), JSON.stringify(meta));
  return dir;
}

const weightsByName = (m: tf.LayersModel) =>
  new Map(m.weights.map((w) => [(w as unknown as { originalName: string }).originalName, Array.from(w.read().dataSync())]));

test('initFromSaved: same classes copy every weight; another class set keeps a fresh head; other architectures are refused', async () => {
  await initBackend('cpu');
  const src8 = createModel('baseline', { numClasses: 8, seed: 1 });
  const dir8 = await saveModel(src8, tempDir(), { model: 'baseline', classes: [...FERPLUS_CLASSES], labelSet: 'majority' });
  const saved = weightsByName(src8);
  const fresh = weightsByName(createModel('baseline', { numClasses: 7, seed: 2 }));
  const m7 = createModel('baseline', { numClasses: 7, seed: 2 });
  const r = initFromSaved(m7, dir8, FER_CLASSES, 'baseline');
  assert.is(r.headReplaced, true);
  assert.is(r.head, 'logits');
  assert.match(r.headReason, /classes differ/);
  const got = weightsByName(m7);
  for (const [name, values] of got) {
    if (name.startsWith('logits/')) assert.equal(values, fresh.get(name), `${name}: fresh (seeded) initialisation`);
    else assert.equal(values, saved.get(name), `${name}: copied from the saved model`);
  }
  assert.is(r.copied, got.size - 2);

  const src7 = createModel('baseline', { numClasses: 7, seed: 3 });
  const dir7 = await saveModel(src7, tempDir(), { model: 'baseline', classes: [...FER_CLASSES] });
  const same = createModel('baseline', { numClasses: 7, seed: 4 });
  const r7 = initFromSaved(same, dir7, FER_CLASSES, 'baseline');
  assert.is(r7.headReplaced, false);
  assert.equal(weightsByName(same), weightsByName(src7), 'every weight, the head too');

  const deep = createModel('deep', { numClasses: 7, seed: 1 });
  assert.throws(() => initFromSaved(deep, dir7, FER_CLASSES, 'deep'), /saved model is a 'baseline', this run trains a 'deep'/);
  const anon = await saveModel(src7, tempDir(), {});
  assert.throws(
    () => initFromSaved(createModel('deep', { numClasses: 7, seed: 1 }), anon, FER_CLASSES),
    (e: Error) => /do not fit/.test(e.message) && /conv4\/kernel is missing/.test(e.message),
  );
});

test('freeze conv: only the dense layers train; a frozen BatchNorm normalises with its moving statistics, even in training mode', async () => {
  await initBackend('cpu');
  const m = createModel('deep', { numClasses: 7, seed: 1 });
  const frozen = freezeLayers(m, 'conv');
  assert.equal(frozen, ['conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3', 'conv4', 'bn4', 'conv5', 'bn5']);
  assert.equal(
    m.trainableWeights.map((w) => (w as unknown as { originalName: string }).originalName),
    ['fc/kernel', 'fc/bias', 'logits/kernel', 'logits/bias'],
  );
  // one BatchNorm layer: mean 2, variance 4, gamma 3, beta 1 -> y = 3 (x - 2) / sqrt(4 + eps) + 1, by hand
  const bn = batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
  bn.build([null, 4]);
  bn.setWeights([tf.fill([4], 3), tf.fill([4], 1), tf.fill([4], 2), tf.fill([4], 4)]); // gamma, beta, moving mean, moving variance
  bn.trainable = false;
  const x = tf.tensor2d([
    [0, 1, 2, 3],
    [4, 5, 6, 7],
  ]);
  const y = (bn.apply(x, { training: true }) as tf.Tensor).arraySync() as number[][];
  const want = [0, 1, 2, 3, 4, 5, 6, 7].map((v) => (3 * (v - 2)) / Math.sqrt(4 + 1e-3) + 1);
  y.flat().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `y[${i}] = ${v}, expected ${want[i]}`));
  const w = bn.getWeights().map((t) => Array.from(t.dataSync()));
  assert.equal(w[2], [2, 2, 2, 2], 'moving mean not updated');
  assert.equal(w[3], [4, 4, 4, 4], 'moving variance not updated');
});

test('train() from a saved model with frozen conv blocks: frozen weights unchanged; a continued checkpoint equals an uninterrupted run', async () => {
  await initBackend('wasm');
  const ds = await loadDataset({ dataDir: writeFixture(makeRows({ train: 96, val: 32, test: 32 })), cacheDir: false });
  const labels = buildLabelSet(ds, 'fer');
  const src = createModel('baseline', { numClasses: 7, seed: 11 });
  const dir = await saveModel(src, tempDir(), { model: 'baseline', classes: [...FER_CLASSES] });
  const before = weightsByName(src);
  const cfg = { ...TRAIN_DEFAULTS, model: 'baseline', epochs: 2, batchSize: 32, initFrom: dir, freeze: 'conv' as const };
  const validate = (model: tf.LayersModel) => {
    const e = evaluateSplit(model, ds, labels.val, labels.classes, 64);
    return { loss: e.loss, metrics: e.metrics };
  };
  const full = await train(cfg, ds, labels, { validate });
  assert.equal(full.frozen, ['conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3']);
  assert.is(full.init?.headReplaced, false);
  assert.ok(
    full.model.layers.every((l) => l.trainable),
    'layers trainable again once trained (the saved model is a plain one)',
  );
  const after = weightsByName(full.model);
  for (const [name, values] of after) {
    if (/^(conv|bn)\d/.test(name)) assert.equal(values, before.get(name), `${name}: frozen`);
  }
  assert.not.equal(after.get('fc/kernel'), before.get('fc/kernel'), 'the dense layers trained');

  // interrupted after epoch 1 (its checkpoint written), then continued
  const checkpoint = join(tempDir(), 'checkpoint.bin');
  let crashed = false;
  try {
    await train(cfg, ds, labels, {
      validate,
      checkpoint,
      onEpoch: (r) => {
        if (r.epoch === 1) throw new Error('simulated crash');
      },
    });
  } catch (e) {
    crashed = /simulated crash/.test((e as Error).message);
  }
  assert.ok(crashed && existsSync(checkpoint));
  const resumed = await train(cfg, ds, labels, { validate, checkpoint });
  assert.is(resumed.resumedFrom, 1);
  const strip = (h: EpochRecord[]) => h.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !(TIMING_FIELDS as readonly string[]).includes(k))));
  assert.equal(strip(resumed.history), strip(full.history));
  assert.equal(weightsByName(resumed.model), after, 'same final weights');
});

test('resolveModelRef: a run folder, a model folder, and <experiment>/<run> (newest finished experiment)', async () => {
  await initBackend('cpu');
  const runs = tempDir();
  const m = createModel('baseline', { numClasses: 7, seed: 1 });
  const mk = async (experiment: string, state: string) => {
    const rdir = join(runs, experiment, 'deep-fer');
    mkdirSync(rdir, { recursive: true });
    writeFileSync(join(rdir, 'status.json'), JSON.stringify({ state, epoch: 1 }));
    await saveModel(m, join(rdir, 'model'), { model: 'baseline' });
    return rdir;
  };
  const older = await mk('default-20260101-000000', 'complete');
  await mk('default-20260102-000000', 'failed');
  await mk('default-quick-20260103-000000', 'complete');
  assert.is(resolveModelRef('default/deep-fer', { runsDirs: [runs] }), join(older, 'model'), 'newest complete full experiment');
  assert.is(resolveModelRef('default-quick/deep-fer', { runsDirs: [runs] }), join(runs, 'default-quick-20260103-000000', 'deep-fer', 'model'));
  assert.is(resolveModelRef(older), join(older, 'model'), 'a run folder: its model/');
  assert.is(resolveModelRef(join(older, 'model')), join(older, 'model'));
  // (an experiment name no real experiment under runs/ has: the project's own runs/ may hold a default experiment)
  assert.throws(() => resolveModelRef('no-such-experiment/deep-ferplus', { runsDirs: [runs] }), /model 'no-such-experiment\/deep-ferplus' not found/);
});

const dataDir = realDataDir();
if (!dataDir) skipTest('FER2013-trained deep on folder copies of FER2013', noRealDataReason());
else {
  /** The first `train` Training rows of the CSV, then its first 320 PublicTest and 320 PrivateTest rows. */
  const rowsOf = (train: number) => [
    ...Array.from({ length: train }, (_, i) => i),
    ...Array.from({ length: 320 }, (_, i) => 28709 + i),
    ...Array.from({ length: 320 }, (_, i) => 32298 + i),
  ];
  // the fine-tuning checks of the first test (init records, frozen and trained weights) do not depend on the number of
  // training images: 256 of them; the second test's fine-tuning must learn the shifted labels: 640
  const SAME_TRAIN = 256;
  const SHIFTED_TRAIN = 640;
  const cacheDir = tempDir();
  const runsDir = tempDir();
  const same = join(tempDir(), 'fer2013-png'); // PNG copy of rowsOf(SAME_TRAIN) in the Kaggle layout (written by the first test)

  test('transfer-folder on the PNG copy of FER2013: zero-shot outputs = the model outputs on the CSV; both runs fine-tune; frozen blocks stay frozen', async () => {
    await initBackend('wasm'); // 'auto' would keep an earlier test's backend
    const csv = await loadDataset({ dataDir });
    await writeFolderCopy(csv, same, { rows: rowsOf(SAME_TRAIN) });
    // the model to start from: deep trained on FER2013 (CSV), the quick default experiment's deep-fer (what the
    // transfer-folder experiment's quick variant starts from), trained once per test run (test/helpers/quick-experiment.ts)
    const pre = (await sharedQuickExperiment(dataDir!, { runsDir })).runs.find((r) => r.name === 'deep-fer')!;
    const startDir = join(pre.dir, 'model');
    const start = await loadLayersModelFromDir(startDir);
    // its outputs on the CSV's first 320 PublicTest images, and on the same images read from the PNG copy
    const ls = sliceLabelSet(buildLabelSet(csv, 'fer'), { train: SAME_TRAIN, val: 320, test: 320 });
    const onCsv = evaluateSplit(start, csv, ls.val, FER_CLASSES, 256);
    const zeroShot = await evaluateSavedModel(startDir, await loadDataset({ dataDir: same, cacheDir }), { split: 'val' });
    assert.equal(
      Array.from(zeroShot.index),
      Array.from({ length: 320 }, (_, i) => SAME_TRAIN + i),
      'folder rows of the PublicTest images',
    );
    assert.equal(Array.from(zeroShot.prob), Array.from(softmaxRows(onCsv.logits, 7)), 'the same probabilities for every image');
    assert.equal(zeroShot.metrics.confusion, onCsv.metrics.confusion);
    const experiment = await runExperiment(loadExperiment('transfer-folder'), {
      quick: true,
      overrides: ['epochs=1', `slice.train=${SAME_TRAIN}`, `initFrom=${startDir}`],
      workers: 1,
      dataDir: same,
      cacheDir,
      runsDir,
      log: () => {},
    });
    assert.equal(experiment.failed, []);
    assert.equal(
      experiment.runs.map((r) => r.name),
      ['deep-finetune', 'deep-finetune-head'],
    );
    for (const r of experiment.runs) {
      const init = r.init!;
      assert.is(init.dir, startDir);
      assert.is(init.headReplaced, false);
      assert.ok(init.before!.mapping.identity);
      assert.equal(init.before!.val, zeroShot.metrics, `${r.name}: recorded zero-shot PublicTest metrics`);
      assert.is(init.before!.test.n, 320);
      assert.equal(JSON.parse(readFileSync(join(r.dir, 'init.json'), 'utf8')).weightsSha1, init.weightsSha1);
      const config = JSON.parse(readFileSync(join(r.dir, 'config.json'), 'utf8'));
      assert.is(config.data.kind, 'folder');
      assert.ok(config.data.usageFromNames);
      assert.is(config.run.initFrom, startDir);
      assert.is(init.model, 'deep');
      assert.is(config.init.dir, startDir);
    }
    const head = experiment.runs.find((r) => r.name === 'deep-finetune-head')!;
    const all = experiment.runs.find((r) => r.name === 'deep-finetune')!;
    const [w0, wHead, wAll] = [readSavedWeights(startDir), readSavedWeights(join(head.dir, 'model')), readSavedWeights(join(all.dir, 'model'))];
    const equal = (a: tf.Tensor, b: tf.Tensor) => {
      const [x, y] = [a.dataSync(), b.dataSync()];
      return x.length === y.length && x.every((v, i) => v === y[i]);
    };
    for (const name of Object.keys(w0)) {
      if (/^(conv|bn)\d/.test(name)) assert.ok(equal(w0[name], wHead[name]), `${name}: frozen in deep-finetune-head`);
      if (name === 'logits/kernel') assert.not.ok(equal(w0[name], wHead[name]), 'deep-finetune-head trained its classifier');
    }
    assert.not.ok(equal(w0['conv1/kernel'], wAll['conv1/kernel']), 'deep-finetune trained its conv blocks');
  });

  test('fine-tuning a FER2013-trained model on a shifted label set improves its PublicTest accuracy; eval --model gives its own scores', async () => {
    await initBackend('wasm');
    const csv = await loadDataset({ dataDir });
    const pre = (
      await runExperiment(
        defineExperiment({
          name: 'pretrain',
          description: 'baseline on FER2013 (CSV), 1,280 training images',
          runs: [{ name: 'baseline-fer', model: 'baseline', labels: 'fer' }],
          quick: { epochs: 3, lr: 1e-3, slice: { train: 1280, val: 320, test: 320 } },
        }),
        { quick: true, workers: 1, dataDir, runsDir, log: () => {} },
      )
    ).runs[0];
    const classesPredicted = pre.val.confusion[0].map((_, c) => pre.val.confusion.reduce((a, r) => a + r[c], 0)).filter((n) => n > 0).length;
    assert.ok(classesPredicted >= 3, `the pretrained model predicts ${classesPredicted} classes (val accuracy ${pre.val.accuracy})`);
    // every image filed under the next class (angry -> disgust, ..., neutral -> angry)
    const shifted = join(tempDir(), 'fer2013-shifted');
    await writeFolderCopy(csv, shifted, { rows: rowsOf(SHIFTED_TRAIN), folderOf: (r) => FER_CLASSES[(csv.emotion[r] + 1) % 7] });
    const tuned = (
      await runExperiment(
        defineExperiment({
          name: 'finetune',
          description: 'the pretrained baseline, classifier fine-tuned on the shifted labels',
          settings: { initFrom: pre.dir, freeze: 'conv' },
          runs: [{ name: 'baseline-finetune-head', model: 'baseline', labels: 'fer' }],
          quick: { epochs: 2, slice: { train: SHIFTED_TRAIN, val: 320, test: 320 } },
        }),
        { quick: true, workers: 1, dataDir: shifted, cacheDir, runsDir, log: () => {} },
      )
    ).runs[0] as RunSummary;
    const zeroShot = await evaluateSavedModel(pre.dir, await loadDataset({ dataDir: shifted, cacheDir }), { split: 'val' });
    assert.is(zeroShot.n, 320);
    console.log(
      `# pretrained baseline: ${classesPredicted} classes predicted, PublicTest ${pre.val.accuracy.toFixed(3)}; ` +
        `shifted labels: zero-shot ${zeroShot.metrics.accuracy.toFixed(3)}, fine-tuned ${tuned.val.accuracy.toFixed(3)}`,
    );
    assert.is(tuned.init!.before!.val.accuracy, zeroShot.metrics.accuracy, 'the recorded zero-shot score = eval of the saved model');
    assert.ok(
      tuned.val.accuracy >= zeroShot.metrics.accuracy + 0.08,
      `fine-tuning on the shifted labels improves PublicTest accuracy: ${zeroShot.metrics.accuracy.toFixed(3)} -> ${tuned.val.accuracy.toFixed(3)}`,
    );

    // eval --model on the unshifted PNG copy: the run's own PrivateTest accuracy; predictions.json agrees with metrics.json
    const out = join(tempDir(), 'eval');
    const rec = await evaluateModelCommand({ model: pre.dir, dataDir: same, cacheDir, out, log: () => {} });
    assert.is(rec.evaluation.metrics.accuracy, pre.test.accuracy);
    assert.equal(rec.evaluation.metrics.confusion, pre.test.confusion);
    for (const f of ['metrics.json', 'predictions.json', 'report.html']) assert.ok(existsSync(join(out, f)), f);
    const p = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8'));
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    const acc = p.pred.filter((v: number, i: number) => v === p.label[i]).length / p.pred.length;
    assert.is(acc, m.metrics.accuracy);
    assert.is(
      m.metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0),
      320,
    );
    assert.ok(p.file.every((f: string) => f.startsWith('test/') && f.includes('/PrivateTest_')));
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /Confusion matrix/);
  });

  test('eval --model (CLI) with a FER+ model on FER labels: outputs mapped by name, contempt masked, predictions as computed by hand', async () => {
    await initBackend('wasm');
    const csv = await loadDataset({ dataDir });
    const folder = join(tempDir(), 'fer2013-png');
    const rows = Array.from({ length: 120 }, (_, i) => 32298 + i);
    await writeFolderCopy(csv, folder, { rows: [0, 1, 2, 28709, ...rows] });
    const model = createModel('baseline', { numClasses: 8, seed: 5 });
    const modelDir = await saveModel(model, join(tempDir(), 'ferplus-model'), { model: 'baseline', classes: [...FERPLUS_CLASSES], labelSet: 'majority' });
    const out = join(tempDir(), 'eval-cli');
    const r = runCli(['--data-dir', folder, '--cache-dir', tempDir(), '--backend', 'wasm', 'eval', '--model', modelDir, '--out', out]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /class mapping \(by emotion name\)/);
    assert.match(r.stdout, /contempt \(no counterpart: masked\)/);
    const p = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8'));
    assert.equal(p.classes, [...FER_CLASSES]);
    // by hand: FER+ order neutral, happiness, surprise, sadness, anger, disgust, fear, contempt -> FER index
    const ferOf = [6, 3, 5, 4, 0, 1, 2, -1];
    const ls = sliceLabelSet(buildLabelSet(csv, 'fer'), { train: 0, val: 0, test: 120 });
    const x = new Float32Array(120 * IMAGE_PIXELS);
    ls.test.index.forEach((row, i) => {
      for (let k = 0; k < IMAGE_PIXELS; k++) x[i * IMAGE_PIXELS + k] = csv.pixels[row * IMAGE_PIXELS + k] / 255;
    });
    const logits = tf.tidy(() => (model.predict(tf.tensor4d(x, [120, 48, 48, 1])) as tf.Tensor).arraySync() as number[][]);
    const want = logits.map((l) => ferOf[l.slice(0, 7).indexOf(Math.max(...l.slice(0, 7)))]);
    assert.equal(p.pred, want, 'argmax over the 7 shared outputs, mapped to FER classes');
    assert.equal(p.label, Array.from(ls.test.label));
    assert.ok(readdirSync(out).includes('report.html'));

    // the other way round: a FER model against FER+ majority labels leaves the contempt images out and counts them
    const ferModel = createModel('baseline', { numClasses: 7, seed: 6 });
    const ferDir = await saveModel(ferModel, join(tempDir(), 'fer-model'), { model: 'baseline', classes: [...FER_CLASSES], labelSet: 'fer' });
    const ev = await evaluateSavedModel(ferDir, csv, { labels: 'majority', limit: 600 });
    const majority = sliceLabelSet(buildLabelSet(csv, 'majority'), { train: 0, val: 0, test: 600 }).test.label;
    const contempt = Array.from(majority).filter((l) => FERPLUS_CLASSES[l] === 'contempt').length;
    assert.ok(contempt > 0, 'the first 600 FER+ test images include contempt');
    assert.is(ev.excluded, contempt);
    assert.is(ev.n, 600 - contempt);
    assert.equal(ev.mapping.shared, ['neutral', 'happiness', 'surprise', 'sadness', 'anger', 'disgust', 'fear']);
    assert.equal(
      ev.mapping.rows.map((r) => r.modelClass),
      ['neutral', 'happy', 'surprise', 'sad', 'angry', 'disgust', 'fear', null],
    );
  });
}

test.run();
