/** The checkpoint file: exact round trip, damage and foreign files detected, weights in an order freezing cannot change. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import '../../src/models';
import { createModel } from '../../src/models/registry';
import { readLayerWeights, writeLayerWeights } from '../../src/models/weights';
import { loadCheckpoint, saveCheckpoint, type TrainCheckpoint } from '../../src/train/checkpoint';
import { tempDir } from '../helpers/fixtures';

const ck = (): TrainCheckpoint => ({
  fingerprint: '{"model":"x"}',
  epoch: 3,
  step: 120,
  stopped: false,
  trainSeconds: 12.5,
  images: 7680,
  history: [{ epoch: 1, trainLoss: 1.5 }],
  weights: [Float32Array.from([1, -2.5, 3e-30]), Float32Array.from([Math.PI])],
  optimizer: { step: 120, m: [Float32Array.from([0.1, 0.2, 0.3])], v: [Float32Array.from([1e-8, 2e-8, 3e-8])] },
  batches: { order: Int32Array.from([2, 0, 1, 3]), rng: [1, 2 ** 32 - 1, 0, 123456789] },
  dropout: [5, 7],
  best: { epoch: 2, accuracy: 0.625, metrics: { accuracy: 0.625, macroF1: 0.5 }, weights: [Float32Array.from([9, 8, 7]), Float32Array.from([6])] },
});

test('save/load round trip is exact (typed arrays, JSON parts, uint32 random state)', () => {
  const file = join(tempDir(), 'checkpoint.bin');
  saveCheckpoint(file, ck());
  assert.equal(loadCheckpoint(file), ck());
  assert.is(loadCheckpoint(join(tempDir(), 'none.bin')), undefined, 'no file: undefined');
});

test('a damaged, foreign or other-version file is an error naming it', () => {
  const dir = tempDir();
  const file = join(dir, 'checkpoint.bin');
  saveCheckpoint(file, ck());
  const bytes = readFileSync(file);
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 2] ^= 0xff;
  writeFileSync(file, flipped);
  assert.throws(
    () => loadCheckpoint(file),
    (e: Error) => e.message.includes(file) && /damaged: SHA-1/.test(e.message),
  );
  writeFileSync(file, bytes.subarray(0, bytes.length - 8));
  assert.throws(() => loadCheckpoint(file), /truncated/);
  writeFileSync(file, 'PK\u0003\u0004 not a checkpoint');
  assert.throws(() => loadCheckpoint(file), /is not a ferlab checkpoint/);
  const other = Buffer.from(bytes);
  other.writeUInt32LE(99, 8);
  writeFileSync(file, other);
  assert.throws(() => loadCheckpoint(file), /format version 99/);
});

test('layer-ordered weights: freezing layers reorders model.getWeights() but not readLayerWeights; write restores them', async () => {
  await initBackend('cpu');
  const a = createModel('baseline', { numClasses: 7, seed: 1 });
  const names = a.layers.flatMap((l) => l.weights.map((w) => w.originalName));
  const before = readLayerWeights(a);
  const getBefore = a.getWeights().map((w) => w.size);
  for (const l of a.layers) if (l.name.startsWith('conv') || l.name.startsWith('bn')) l.trainable = false;
  assert.not.equal(
    a.getWeights().map((w) => w.size),
    getBefore,
    'model.getWeights() order changes with freezing',
  );
  assert.equal(readLayerWeights(a), before, 'layer order does not');
  assert.is(names[0], 'conv1/kernel');
  assert.equal(names.slice(1, 5), ['bn1/gamma', 'bn1/beta', 'bn1/moving_mean', 'bn1/moving_variance']);
  const b = createModel('baseline', { numClasses: 7, seed: 2 });
  writeLayerWeights(b, before);
  assert.equal(readLayerWeights(b), before);
  assert.throws(() => writeLayerWeights(b, before.slice(1)), /layer 'conv1' weight conv1\/kernel: 1 values, expected 288|values, expected/);
});

test.run();
