/**
 * The one training test on the webgpu backend (on SwiftShader where no GPU exists: the CPU Vulkan driver of Debian's
 * chromium package). Small on purpose: SwiftShader runs on the CPU, and its cost grows with the images trained
 * (about 0.1 s per image for the tiny CNN here, 1 s per image for `baseline`, loaded 2-core machine); the WGSL
 * kernels themselves are checked against tfjs' cpu backend, shape by shape, in test/backend/webgpu-kernels.test.ts.
 * test-time-limit: 300
 *
 * 1. The real training loop (src/train/loop.ts, with its on-device loss/accuracy accounting and the switch to wasm for
 *    validation and checkpoints) trains a tiny Conv-BN-ReLU-MaxPool-Dense network (every ferlab WGSL kernel runs:
 *    weight gradient, MaxPoolGrad, batch norm and its gradient, ReLU gradient, Adam) on a synthetic two-class task,
 *    and gives the same history as wasm: without dropout and augmentation both backends compute the same function on
 *    the same batches, so the epoch losses agree to float32 rounding (relative 1e-3) and the accuracies to a few
 *    images.
 * 2. The experiment runner (`npm run exp -- --backend webgpu`) on webgpu and on wasm: run records, the switch to wasm
 *    for validation and checkpoints at each epoch end, the saved model, the backend in experiment.json. One run of a
 *    tiny CNN with dropout (the WGSL dropout kernel too) on generated FER2013 files (64 training images, 1 epoch,
 *    batch 32: 2 steps), augmentation on. Same seed, same initial weights, same batches and augmentation; the
 *    dropout masks differ (wasm's kernel draws them from xorshift streams, the WGSL kernel from a counter-based PCG
 *    hash: each backend has its own generator, as tfjs' backends do), and float32 sums run in other orders. So the two
 *    runs are two samples of the same training: the training and PublicTest losses must agree within 10%.
 *    (This was test/exp/webgpu-experiment.test.ts, which trained `baseline` on 64 real images: 70 s of CPU for the
 *    same checks.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { skipFile } from '../helpers/skip';
import { initBackend } from '../../src/backend/select';
import { SWIFTSHADER_ICD } from '../../src/backend/webgpu/device';
import type { FerDataset } from '../../src/data/dataset';
import type { LabelSet } from '../../src/data/labels';
import { defineExperiment } from '../../src/exp/config';
import { runExperiment, type ExperimentResult } from '../../src/exp/experiment';
import { buildCnn } from '../../src/models/cnn';
import { registerModel } from '../../src/models/registry';
import { evaluateSplit } from '../../src/eval/evaluate';
import { train, type EpochRecord, type TrainConfig } from '../../src/train/loop';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { Rng } from '../../src/util/rng';
import { makeRows, tempDir, writeFixture } from '../helpers/fixtures';
import { TINY_CNN, twoClassTask } from '../helpers/two-class';

/** Registry name of a tiny CNN with dropout (conv 4 + BN + ReLU + max-pool + dropout 0.25, dense 8 + dropout 0.5). */
const TINY_DROPOUT_CNN = 'test-tiny-dropout-cnn';
registerModel({
  name: TINY_DROPOUT_CNN,
  description: 'test only: conv 4 + BN + ReLU + max-pool + dropout 0.25, dense 8 + dropout 0.5',
  create: (o) => buildCnn({ blocks: [{ filters: 4, dropout: 0.25 }], dense: 8, denseDropout: 0.5 }, o.inputShape, o.numClasses, o.seed),
});

/** 2 classes: a slightly brighter left half (0) or right half (1) (+28 over uniform noise 0-199: not learnt in one epoch of 48 images, learnt in two). Training: the first nTrain images. */
function synthetic(nTrain: number, nVal: number): { ds: FerDataset; labels: LabelSet } {
  const n = nTrain + nVal;
  const rng = new Rng(7);
  const pixels = new Uint8Array(n * 2304);
  const label = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    label[i] = i % 2;
    for (let p = 0; p < 2304; p++) {
      const left = p % 48 < 24;
      pixels[i * 2304 + p] = Math.min(255, rng.int(200) + (left === (label[i] === 0) ? 28 : 0));
    }
  }
  return twoClassTask(pixels, label, nTrain, ['left', 'right']);
}

async function main(): Promise<void> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  try {
    await initBackend('webgpu');
  } catch (e) {
    skipFile(
      `no WebGPU adapter (${(e as Error).message.replace(/\s*\n\s*/g, ' ')}); on Debian: apt-get install chromium libvulkan1 and the optional npm package webgpu`,
    );
    test.run();
    return;
  }
  test('the training loop on webgpu gives the history of wasm (tiny CNN, synthetic 2-class task, 48 images, 2 epochs, checkpoint written)', async () => {
    const { ds, labels } = synthetic(48, 32);
    const cfg: TrainConfig = {
      ...TRAIN_DEFAULTS,
      model: TINY_CNN,
      epochs: 2,
      batchSize: 16,
      lr: 3e-3,
      augment: { ...TRAIN_DEFAULTS.augment, flip: false, shift: 0 },
      seed: 3,
    };
    const dir = mkdtempSync(join(tmpdir(), 'ferlab-webgpu-train-'));
    const validate = (m: tf.LayersModel) => {
      const e = evaluateSplit(m, ds, labels.val, labels.classes, 32);
      return { loss: e.loss, metrics: e.metrics };
    };
    const run = async (backend: 'wasm' | 'webgpu', name: string): Promise<EpochRecord[]> => {
      const during = new Set<string>();
      const r = await train(cfg, ds, labels, { validate, checkpoint: join(dir, `${name}.ckpt`), onStep: () => during.add(tf.getBackend()) });
      assert.equal([...during], [backend], `${name}: backend of the training steps`);
      assert.ok(existsSync(join(dir, `${name}.ckpt`)), `${name}: checkpoint written`);
      // the caller's synchronous reads (evaluation, saving) work on the returned model: wasm is active after webgpu
      assert.is(tf.getBackend(), 'wasm', `${name}: active backend after train()`);
      const after = validate(r.model);
      assert.is(after.metrics.accuracy, r.bestVal.accuracy, `${name}: the returned model scores its best epoch's validation accuracy`);
      r.model.dispose();
      return r.history;
    };
    await initBackend('wasm');
    const wasm = await run('wasm', 'wasm');
    await initBackend('webgpu');
    const gpu = await run('webgpu', 'webgpu');
    // a second training in the same process (as an experiment runs them) goes back to the GPU by itself
    const gpu2 = await run('webgpu', 'webgpu-again');
    rmSync(dir, { recursive: true, force: true });
    assert.equal(
      gpu2.map((r) => [r.trainLoss, r.trainAccuracy, r.valAccuracy]),
      gpu.map((r) => [r.trainLoss, r.trainAccuracy, r.valAccuracy]),
      'same seed on webgpu, same history',
    );
    for (let e = 0; e < 2; e++) {
      const [a, b] = [wasm[e], gpu[e]];
      const rel = Math.abs(a.trainLoss - b.trainLoss) / a.trainLoss;
      assert.ok(rel < 1e-3, `epoch ${e + 1} training loss: webgpu ${b.trainLoss}, wasm ${a.trainLoss} (relative difference ${rel.toExponential(1)})`);
      assert.ok(
        Math.abs(a.trainAccuracy - b.trainAccuracy) <= 2 / 48,
        `epoch ${e + 1} training accuracy: webgpu ${b.trainAccuracy}, wasm ${a.trainAccuracy} (at most 2 of 48 images apart)`,
      );
      assert.ok(Math.abs(a.valAccuracy - b.valAccuracy) <= 2 / 32, `epoch ${e + 1} validation accuracy: webgpu ${b.valAccuracy}, wasm ${a.valAccuracy}`);
    }
    assert.ok(gpu[1].valAccuracy >= 0.75, `the task is learnt on webgpu: validation accuracy ${gpu[1].valAccuracy} after 2 epochs (>= 0.75; chance 0.5)`);
    console.log(
      `# webgpu vs wasm: ${gpu.map((r, i) => `epoch ${r.epoch} loss ${r.trainLoss.toFixed(4)} vs ${wasm[i].trainLoss.toFixed(4)}, val acc ${r.valAccuracy} vs ${wasm[i].valAccuracy}`).join('; ')}`,
    );
  });

  test('an experiment on webgpu: complete records, steps on webgpu, and the same losses as wasm within 10%', async () => {
    const dataDir = writeFixture(makeRows({ train: 64, val: 64, test: 64 }));
    const cacheDir = tempDir();
    const experiment = async (backend: 'webgpu' | 'wasm'): Promise<ExperimentResult> => {
      const during = new Set<string>();
      const r = await runExperiment(
        defineExperiment({
          name: 'webgpu-check',
          description: 'a tiny CNN with dropout, one epoch',
          runs: [{ name: 'tiny-fer', model: TINY_DROPOUT_CNN, labels: 'fer' }],
          quick: { epochs: 1, batchSize: 32, slice: { train: 64, val: 64, test: 64 } },
        }),
        {
          quick: true,
          workers: 1,
          replicas: 1, // the webgpu run trains on one device; compare it with wasm on one thread, not 2 data-parallel replicas
          backend,
          dataDir,
          cacheDir,
          runsDir: tempDir(),
          log: () => {},
          onStep: () => during.add(tf.getBackend()),
        },
      );
      assert.equal([...during], [backend], `${backend}: backend of the training steps`);
      return r;
    };
    const epochs = (dir: string) =>
      readFileSync(join(dir, 'epochs.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { trainLoss: number; valLoss: number; valAccuracy: number });
    const gpu = await experiment('webgpu');
    const cpu = await experiment('wasm');
    assert.equal(gpu.failed, [], 'no failed run on webgpu');
    const [g, c] = [gpu.runs[0], cpu.runs[0]];
    for (const r of [g, c]) {
      for (const f of ['config.json', 'epochs.jsonl', 'metrics.json', 'predictions.json', 'model/model.json', 'status.json'])
        assert.ok(existsSync(join(r.dir, f)), `${f} written`);
      assert.is(JSON.parse(readFileSync(join(r.dir, 'status.json'), 'utf8')).state, 'complete');
      assert.equal(r.sizes, { train: 64, val: 64, test: 64 });
    }
    const experiment0 = JSON.parse(readFileSync(join(gpu.dir, 'experiment.json'), 'utf8')) as { environment?: { backend?: string } };
    assert.match(JSON.stringify(experiment0), /webgpu/, 'the experiment record names the webgpu backend');
    const [eg, ec] = [epochs(g.dir), epochs(c.dir)];
    assert.is(eg.length, 1);
    assert.is(ec.length, 1);
    console.log(
      `# experiment, webgpu vs wasm: epoch losses ${eg.map((e) => e.trainLoss.toFixed(4)).join(', ')} vs ${ec.map((e) => e.trainLoss.toFixed(4)).join(', ')}, ` +
        `PublicTest losses ${eg.map((e) => e.valLoss.toFixed(4)).join(', ')} vs ${ec.map((e) => e.valLoss.toFixed(4)).join(', ')}, ` +
        `test accuracy ${(100 * g.test.accuracy).toFixed(2)}% vs ${(100 * c.test.accuracy).toFixed(2)}%`,
    );
    for (let i = 0; i < eg.length; i++) {
      const rel = Math.abs(eg[i].trainLoss - ec[i].trainLoss) / ec[i].trainLoss;
      assert.ok(
        rel < 0.1,
        `epoch ${i + 1} training loss webgpu ${eg[i].trainLoss} vs wasm ${ec[i].trainLoss}: relative difference ${rel.toFixed(3)}, expected < 0.1`,
      );
    }
    // accuracies are not compared: after 2 steps both models predict nearly one class for every image, so which class
    // that is flips with the dropout masks; the losses measure the same training more finely
    for (const r of [g, c]) assert.ok(r.test.accuracy > 0 && r.test.accuracy < 1, `test accuracy ${r.test.accuracy}`);
    for (let i = 0; i < eg.length; i++) {
      const rel = Math.abs(eg[i].valLoss - ec[i].valLoss) / ec[i].valLoss;
      assert.ok(
        rel < 0.1,
        `epoch ${i + 1} PublicTest loss webgpu ${eg[i].valLoss} vs wasm ${ec[i].valLoss}: relative difference ${rel.toFixed(3)}, expected < 0.1`,
      );
    }
  });
  test.run();
}

void main();
