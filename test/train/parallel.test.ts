/**
 * Data-parallel training (src/train/parallel.ts): 2 replicas on a global batch give the loss curve and weights of 1
 * replica on the same batch (a model without BatchNorm and dropout, where the two compute the same gradient up to
 * float rounding), and train() with 2 replicas is deterministic and reports what it used.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import '../../src/models';
import { createModel } from '../../src/models/registry';
import { TrainBatches, type Batch } from '../../src/train/batches';
import { ADAM_DEFAULTS, createOptimizer } from '../../src/train/optimizer';
import { DataParallel, shardRange } from '../../src/train/parallel';
import { StepAccounting, trainingStep, type StepContext } from '../../src/train/step';
import { Rng } from '../../src/util/rng';
import { DP_TEST_MODEL } from '../helpers/dp-model';

const C = 7;
const N = 96;
const MODULE = join(__dirname, '..', 'helpers', 'dp-model.ts');

function batches(): Generator<Batch> {
  const rng = new Rng(11);
  const pixels = Uint8Array.from({ length: N * 2304 }, () => rng.int(256));
  const label = Uint8Array.from({ length: N }, (_, i) => (i * 5) % C);
  const target = new Float32Array(N * C);
  for (let i = 0; i < N; i++) target[i * C + label[i]] = 1;
  const tb = new TrainBatches(pixels, { index: Int32Array.from({ length: N }, (_, i) => i), label, target }, C, {
    batchSize: 31,
    augment: { flip: true, shift: 1 },
    loss: 'crossentropy',
    sampleOneHot: false,
    rng: new Rng(2),
  });
  return tb.epoch();
}

function context(): StepContext {
  const model = createModel(DP_TEST_MODEL, { numClasses: C, seed: 4 });
  return {
    model,
    vars: model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val),
    optimizer: createOptimizer({ ...ADAM_DEFAULTS, name: 'sgd', momentum: 0.9 }),
    loss: 'crossentropy',
    numClasses: C,
    labelSmoothing: 0.1,
  };
}

/** 2 replicas of `ctx`'s model (the test model, seed 4, batches of 31, cross-entropy). */
function startReplicas(ctx: StepContext, o: { labelSmoothing: number; classWeights?: Float32Array }): Promise<DataParallel> {
  return DataParallel.start({
    replicas: 2,
    backend: 'wasm',
    model: DP_TEST_MODEL,
    modules: [MODULE],
    seed: 4,
    batchSize: 31,
    vars: ctx.vars,
    mainModel: ctx.model,
    loss: 'crossentropy',
    ...o,
  });
}

test.before(async () => {
  await initBackend('wasm');
});

test('shardRange: contiguous shards that cover the batch, sizes differing by at most one', () => {
  assert.equal(
    [0, 1, 2].map((k) => shardRange(10, 3, k)),
    [
      [0, 3],
      [3, 6],
      [6, 10],
    ],
  );
  assert.equal(shardRange(64, 2, 1), [32, 64]);
});

test('2 replicas = 1 replica on the same global batches of 31 (shards 15 + 16; SGD, whose step scales with the gradient): losses, correct counts and weights within float tolerance', async () => {
  const one = context();
  const two = context();
  const initial = one.model.getWeights().map((w) => w.dataSync().slice());
  const dp = await startReplicas(two, { labelSmoothing: 0.1 });

  const a1 = new StepAccounting();
  const a2 = new StepAccounting();
  const g1 = batches();
  const g2 = batches();
  for (let s = 0; s < 3; s++) {
    trainingStep(one, g1.next().value as Batch, 0.05, a1);
    dp.step(two, g2.next().value as Batch, 0.05, a2);
  }
  await dp.dispose();
  const r1 = await a1.read();
  const r2 = await a2.read();
  assert.is(r2.losses.length, 3);
  for (let s = 0; s < 3; s++)
    assert.ok(Math.abs(r2.losses[s] - r1.losses[s]) < 1e-5 * Math.abs(r1.losses[s]), `step ${s + 1}: loss ${r2.losses[s]} (2 replicas) vs ${r1.losses[s]} (1)`);
  assert.is(r2.correct, r1.correct);
  const w1 = one.model.getWeights().map((w) => w.dataSync());
  const w2 = two.model.getWeights().map((w) => w.dataSync());
  let worst = 0;
  let moved = 0;
  for (let i = 0; i < w1.length; i++)
    for (let j = 0; j < w1[i].length; j++) {
      worst = Math.max(worst, Math.abs(w1[i][j] - w2[i][j]));
      moved = Math.max(moved, Math.abs(w1[i][j] - initial[i][j]));
    }
  assert.ok(moved > 5e-3, `the steps moved the weights: largest change ${moved}`);
  assert.ok(worst < 1e-5, `largest weight difference after 3 SGD steps: ${worst}`);
  for (const c of [one, two]) {
    c.optimizer.dispose();
    c.model.dispose();
  }
});

test("a replica that fails in a step makes that step throw with the replica's own error, and the next step too", async () => {
  const ctx = context();
  // class weights of the wrong length for the replicas only: their loss fails, the main thread's shard does not
  const dp = await startReplicas(ctx, { labelSmoothing: 0, classWeights: new Float32Array(C + 1).fill(1) });
  const g = batches();
  assert.throws(() => dp.step(ctx, g.next().value as Batch, 1e-3, new StepAccounting()), /data-parallel replica 1 failed in step 1: .*(broadcast|shape)/i);
  assert.throws(() => dp.step(ctx, g.next().value as Batch, 1e-3, new StepAccounting()), /data-parallel replica 1 failed in step 2/);
  await dp.dispose();
  ctx.optimizer.dispose();
  ctx.model.dispose();
});

test('a batch larger than the one the replicas were started for is refused before any replica runs', async () => {
  const ctx = context();
  const dp = await startReplicas(ctx, { labelSmoothing: 0 });
  const b = batches().next().value as Batch;
  // 80 rows: the replica's shard (40) does not fit its shared buffers, sized for batches of 31
  const big: Batch = { x: new Float32Array(80 * 2304), y: new Float32Array(80 * C), label: new Uint8Array(80), n: 80 };
  big.x.set(b.x);
  assert.throws(() => dp.step(ctx, big, 1e-3, new StepAccounting()), /offset is out of bounds|out of bounds|RangeError/);
  await dp.dispose();
  ctx.optimizer.dispose();
  ctx.model.dispose();
});

test.run();
