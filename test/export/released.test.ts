/**
 * The released models committed under models/ (src/export/release.ts RELEASES), as a user gets them on a fresh clone:
 * - every file matches SHA256SUMS, checked by coreutils' `sha256sum -c`, and all releases together stay under 25 MB;
 * - on the real data, the tfjs model loaded with plain `tf.loadLayersModel` (an IOHandler reading the two files, no
 *   ferlab loader) scores PrivateTest exactly as its ferlab.json says (to the image), and model.onnx (onnxruntime-node)
 *   and model.tflite (the TFLite runtime of src/export/tflite-runtime.ts) score within 0.1 point of it with the
 *   max |logit difference| bounded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { loadDataset, type FerDataset } from '../../src/data/dataset';
import { recordedInputSpec } from '../../src/data/input';
import { predictLogits } from '../../src/eval/predict';
import { runLabels } from '../../src/exp/run';
import type { RunConfig } from '../../src/exp/config';
import { loadOnnxRuntime, onnxLogits } from '../../src/export/ort';
import { RELEASES, releaseDir, verifyChecksums } from '../../src/export/release';
import { argmaxRows } from '../../src/util/argmax';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipTest } from '../helpers/skip';
import { FER_CLASSES } from '../../src/data/classes';
import { defineExperiment } from '../../src/exp/config';
import { runExperiment } from '../../src/exp/experiment';
import { tfliteLogits } from '../../src/export/tflite-runtime';
import { readSavedWeights } from '../../src/models/init';
import { encode, gray48, writeTree } from '../data/folder-fixtures';
import { tempDir } from '../helpers/fixtures';

interface Check {
  privateTestAccuracy: number;
  n: number;
  maxAbsLogitDiff: number;
}
interface Meta {
  classes: string[];
  config: RunConfig;
  inputSpec?: unknown;
  release?: { name: string };
  export: { formats: Record<string, { check: Check | { skipped: string }; weights: string }> };
}

const meta = (name: string) => JSON.parse(readFileSync(join(releaseDir(name), 'ferlab.json'), 'utf8')) as Meta;

test('every release file matches SHA256SUMS (coreutils sha256sum -c and verifyChecksums); all together under 25 MB', () => {
  let total = 0;
  for (const r of RELEASES) {
    const dir = releaseDir(r.name);
    assert.ok(existsSync(join(dir, 'SHA256SUMS')), `${dir}/SHA256SUMS is missing: the release is not committed`);
    const c = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
    assert.is(c.status, 0, `${r.name}: sha256sum -c: ${c.stdout}${c.stderr}`);
    assert.equal(verifyChecksums(dir).problems, [], r.name);
    const files = readdirSync(dir);
    for (const f of ['model.json', 'model.onnx', 'model.tflite', 'ferlab.json', 'model-card.md', 'SHA256SUMS'])
      assert.ok(files.includes(f), `${r.name} lacks ${f} (has ${files.join(', ')})`);
    total += files.reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    const m = meta(r.name);
    assert.is(m.release?.name, r.name);
    assert.is(m.classes.length, r.name === 'ferlab-ferplus' ? 8 : 7);
    assert.is(m.export.formats.tfjs.weights, r.quantize ?? 'float32');
  }
  assert.ok(total < 25 * 1024 * 1024, `releases take ${(total / 1024 / 1024).toFixed(2)} MiB, limit 25 MB`);
});

const dataDir = realDataDir();
if (!dataDir) skipTest('released models on PrivateTest', noRealDataReason());
else {
  let ds: FerDataset;
  test('released models on PrivateTest: tfjs to the image as ferlab.json says; ONNX and TFLite agree with it', async () => {
    await initBackend('wasm');
    ds ??= await loadDataset({ dataDir, log: () => {} });
    const rt = loadOnnxRuntime();
    assert.ok(rt.ort, 'onnxruntime-node is a devDependency');
    for (const r of RELEASES) {
      const dir = releaseDir(r.name);
      const m = meta(r.name);
      const input = recordedInputSpec(m, join(dir, 'ferlab.json'));
      const labels = runLabels(ds, m.config).test;
      const C = m.classes.length;
      // plain tf.loadLayersModel: an IOHandler that hands it the two files as they are on disk
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      const weightData = new Uint8Array(readFileSync(join(dir, json.weightsManifest[0].paths[0]))).buffer;
      const model = await tf.loadLayersModel({
        load: async () => ({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
          weightData,
          format: json.format,
          userDefinedMetadata: json.userDefinedMetadata,
        }),
      });
      const logits = predictLogits(model, ds.pixels, labels.index, 256, input);
      model.dispose();
      const correct = (l: Float32Array) => argmaxRows(l, C).filter((p, i) => p === labels.label[i]).length;
      const n = labels.index.length;
      const tfjsCheck = m.export.formats.tfjs.check as Check;
      assert.is(n, tfjsCheck.n, `${r.name}: PrivateTest images`);
      assert.is(correct(logits), Math.round(tfjsCheck.privateTestAccuracy * n), `${r.name}: tfjs PrivateTest correct images vs ferlab.json`);

      const onnx = await onnxLogits(rt.ort!, join(dir, 'model.onnx'), ds.pixels, labels.index, 256, input);
      const tflite = await tfliteLogits(join(dir, 'model.tflite'), ds.pixels, labels.index, input);
      for (const [fmt, l] of [
        ['onnx', onnx],
        ['tflite', tflite],
      ] as const) {
        let d = 0;
        for (let i = 0; i < l.length; i++) d = Math.max(d, Math.abs(l[i] - logits[i]));
        const acc = correct(l) / n;
        const check = m.export.formats[fmt].check as Check;
        assert.is(correct(l), Math.round(check.privateTestAccuracy * n), `${r.name} ${fmt}: correct images vs ferlab.json`);
        assert.ok(Math.abs(acc - correct(logits) / n) <= 0.001, `${r.name} ${fmt}: accuracy ${acc} vs tfjs ${correct(logits) / n}`);
        // float16 tfjs weights vs float32 ONNX / TFLite weights: logits differ by float16 rounding only
        assert.ok(d < 0.05, `${r.name} ${fmt}: max |logit diff| vs the released tfjs model ${d}`);
        console.log(`${r.name} ${fmt}: PrivateTest ${(100 * acc).toFixed(2)}%, max |logit diff| vs tfjs (float16 weights) ${d.toExponential(2)}`);
      }
    }
  });
}

test('--init-from ferlab-ferplus fine-tunes the released model on a folder dataset: conv weights start from it, a 7-class head is new', async () => {
  await initBackend('wasm');
  // a flat folder dataset (CK+ style): 7 FER class folders of 10 random 48x48 gray faces each
  const folder = tempDir('ferlab-released-folder-');
  const files: Record<string, Buffer> = {};
  for (const [c, cls] of FER_CLASSES.entries()) for (let k = 0; k < 10; k++) files[`${cls}/${cls}-${k}.png`] = await encode(gray48(100 * c + k));
  writeTree(folder, files);
  const experiment = await runExperiment(
    defineExperiment({
      name: 'released-finetune',
      description: 'the released FER+ model, its classifier fine-tuned on a 7-class folder dataset',
      settings: { initFrom: 'ferlab-ferplus', freeze: 'conv' },
      runs: [{ name: 'deep-head', model: 'deep', labels: 'fer' }],
      quick: { epochs: 1, batchSize: 16 },
    }),
    { quick: true, workers: 1, dataDir: folder, cacheDir: false, runsDir: tempDir('ferlab-released-runs-'), log: () => {} },
  );
  assert.equal(experiment.failed, []);
  const run = experiment.runs[0];
  assert.is(run.init!.dir, releaseDir('ferlab-ferplus'));
  assert.is(run.init!.headReplaced, true, '8 FER+ classes -> 7 FER classes: a new classifier');
  // the released weights as plain tfjs reads them (float16 dequantized), against the fine-tuned run's saved weights
  const json = JSON.parse(readFileSync(join(releaseDir('ferlab-ferplus'), 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const released = tf.io.decodeWeights(
    new Uint8Array(readFileSync(join(releaseDir('ferlab-ferplus'), json.weightsManifest[0].paths[0]))).buffer,
    json.weightsManifest.flatMap((g) => g.weights),
  );
  const tuned = readSavedWeights(join(run.dir, 'model'));
  const convs = Object.keys(tuned).filter((n) => /^conv\d/.test(n) && n.endsWith('/kernel'));
  assert.ok(convs.length >= 4, `conv kernels: ${convs.join(', ')}`);
  for (const name of convs) {
    const key = Object.keys(released).find((k) => k.endsWith(name))!;
    assert.ok(key, `the released model has ${name}`);
    assert.equal(Array.from(tuned[name].dataSync()), Array.from(released[key].dataSync()), `${name}: frozen at the released weights`);
  }
  assert.is(tuned['logits/kernel'].shape[1], 7);
});

test.run();
