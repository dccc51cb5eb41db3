/**
 * End to end on the webgpu backend (on SwiftShader where no GPU exists): the real training loop (src/train/loop.ts,
 * with its on-device loss/accuracy accounting and the switch to wasm for validation and checkpoints) trains a tiny
 * Conv-BN-ReLU-MaxPool-Dense network (every ferlab WGSL kernel runs: weight gradient, MaxPoolGrad, batch norm and its
 * gradient, ReLU gradient, Adam) on a synthetic two-class task, and gives the same history as wasm: without dropout
 * and augmentation both backends compute the same function on the same batches, so the epoch losses agree to float32
 * rounding (relative 1e-3) and the accuracies to a few images. Small on purpose (SwiftShader runs on the CPU).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
import { evaluateSplit } from '../../src/eval/evaluate';
import { train, type EpochRecord, type TrainConfig } from '../../src/train/loop';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { Rng } from '../../src/util/rng';
import { TINY_CNN, twoClassTask } from '../helpers/two-class';

/** 2 classes: a slightly brighter left half (0) or right half (1) under strong uniform noise (not learnt in one step). Training: the first nTrain images. */
function synthetic(nTrain: number, nVal: number): { ds: FerDataset; labels: LabelSet } {
  const n = nTrain + nVal;
  const rng = new Rng(7);
  const pixels = new Uint8Array(n * 2304);
  const label = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    label[i] = i % 2;
    for (let p = 0; p < 2304; p++) {
      const left = p % 48 < 24;
      pixels[i * 2304 + p] = Math.min(255, rng.int(200) + (left === (label[i] === 0) ? 12 : 0));
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
  test('the training loop on webgpu gives the history of wasm (tiny CNN, synthetic 2-class task, 2 epochs, checkpoint written)', async () => {
    const { ds, labels } = synthetic(96, 32);
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
        Math.abs(a.trainAccuracy - b.trainAccuracy) <= 2 / 96,
        `epoch ${e + 1} training accuracy: webgpu ${b.trainAccuracy}, wasm ${a.trainAccuracy} (at most 2 of 96 images apart)`,
      );
      assert.ok(Math.abs(a.valAccuracy - b.valAccuracy) <= 2 / 32, `epoch ${e + 1} validation accuracy: webgpu ${b.valAccuracy}, wasm ${a.valAccuracy}`);
    }
    assert.ok(gpu[1].valAccuracy >= 0.75, `the task is learnt on webgpu: validation accuracy ${gpu[1].valAccuracy} after 2 epochs (>= 0.75; chance 0.5)`);
    console.log(
      `# webgpu vs wasm: ${gpu.map((r, i) => `epoch ${r.epoch} loss ${r.trainLoss.toFixed(4)} vs ${wasm[i].trainLoss.toFixed(4)}, val acc ${r.valAccuracy} vs ${wasm[i].valAccuracy}`).join('; ')}`,
    );
  });
  test.run();
}

void main();
