/**
 * train() (src/train/loop.ts) releases what it allocated when a training ends early: stopped by its caller (onEpoch
 * throws, as a pruned trial or a cancelled experiment does), diverged (NaN loss), or with data-parallel replicas. Checked
 * with tfjs' own tensor count (tf.memory().numTensors) before and after, and the replica threads with the process'
 * active handles; a completed training keeps exactly its returned model's weights.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import type { FerDataset } from '../../src/data/dataset';
import type { LabelSet } from '../../src/data/labels';
import { train, TrainError, type TrainConfig } from '../../src/train/loop';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { Rng } from '../../src/util/rng';
import { TINY_CNN, twoClassTask } from '../helpers/two-class';

/** 2 classes of noise images: 64 training, 32 validation. */
function synthetic(): { ds: FerDataset; labels: LabelSet } {
  const rng = new Rng(7);
  const pixels = Uint8Array.from({ length: 96 * 2304 }, () => rng.int(256));
  return twoClassTask(
    pixels,
    Uint8Array.from({ length: 96 }, (_, i) => i % 2),
    64,
    ['a', 'b'],
  );
}

const cfg: TrainConfig = {
  ...TRAIN_DEFAULTS,
  model: TINY_CNN,
  epochs: 3,
  batchSize: 16,
  lr: 3e-3,
  augment: { ...TRAIN_DEFAULTS.augment, flip: false, shift: 0 },
  seed: 3,
};
/** Awaits `fn`, which must reject with an error that `check` accepts. */
async function rejects(fn: () => Promise<unknown>, check: RegExp | ((e: Error) => boolean)): Promise<void> {
  let error: Error | undefined;
  try {
    await fn();
  } catch (e) {
    error = e as Error;
  }
  assert.ok(error, 'expected a rejection');
  assert.ok(typeof check === 'function' ? check(error!) : check.test(error!.message), `unexpected error: ${error!.message}`);
}

const validate = () => ({ loss: 1, metrics: { accuracy: 0.5, macroF1: 0.5 } });
const { ds, labels } = synthetic();

test.before(async () => {
  await initBackend('wasm');
});

test('stopped by onEpoch after epoch 1: every tensor it made is released', async () => {
  const before = tf.memory().numTensors;
  let epochs = 0;
  await rejects(
    () =>
      train(cfg, ds, labels, {
        validate,
        onEpoch: () => {
          epochs++;
          throw new Error('stop: pruned');
        },
      }),
    /stop: pruned/,
  );
  assert.is(epochs, 1);
  assert.is(tf.memory().numTensors, before, `tensors after the stopped training: ${tf.memory().numTensors}, before: ${before}`);
});

test('diverged (lr 1e30: NaN loss): TrainError, and every tensor released', async () => {
  const before = tf.memory().numTensors;
  await rejects(
    () => train({ ...cfg, lr: 1e30 }, ds, labels, { validate }),
    (e: Error) => e instanceof TrainError,
  );
  assert.is(tf.memory().numTensors, before, `tensors after the diverged training: ${tf.memory().numTensors}, before: ${before}`);
});

test('stopped with 2 data-parallel replicas: tensors released and the replica thread ended', async () => {
  const handles = () => (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles().filter((h) => h.constructor.name === 'Worker').length;
  const before = tf.memory().numTensors;
  const threadsBefore = handles();
  await rejects(
    () =>
      // a registered model: the replica thread creates its copy by name
      train({ ...cfg, model: 'baseline' }, ds, labels, {
        validate,
        replicas: 2,
        onEpoch: () => {
          throw new Error('stop: cancelled');
        },
      }),
    /stop: cancelled/,
  );
  assert.is(tf.memory().numTensors, before, `tensors: ${tf.memory().numTensors}, before: ${before}`);
  await new Promise((r) => setTimeout(r, 200));
  assert.is(handles(), threadsBefore, `worker threads alive: ${handles()}, before: ${threadsBefore}`);
});

test('a completed training keeps only its returned model (its weights), nothing else', async () => {
  const before = tf.memory().numTensors;
  const r = await train(cfg, ds, labels, { validate });
  const weights = r.model.weights.length;
  assert.is(tf.memory().numTensors - before, weights, `tensors kept: ${tf.memory().numTensors - before}, the model's weights: ${weights}`);
  r.model.dispose();
  assert.is(tf.memory().numTensors, before);
});

test.run();
