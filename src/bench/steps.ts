import * as tf from '@tensorflow/tfjs';
import { installReluGradient } from '../backend/ops';
import { createModel } from '../models/registry';
import '../models';
import { TrainBatches, type Batch } from '../train/batches';
import { DataParallel } from '../train/parallel';
import type { BackendChoice } from '../backend/select';
import { READ_EVERY, StepAccounting, trainingStep, type StepContext, type StepReading } from '../train/step';
import { Adam, ADAM_DEFAULTS } from '../train/optimizer';
import { Rng } from '../util/rng';
import { IMAGE_PIXELS } from '../data/classes';

/** Timing of training steps of one model. */
export interface StepTiming {
  model: string;
  batchSize: number;
  /** Wall time of every timed step (ms), in order. */
  stepsMs: number[];
  /** Median step time (ms) and the images/s it gives. */
  medianMs: number;
  imagesPerSec: number;
  /** Median time to build one batch from uint8 data with flip augmentation (ms), measured separately. */
  batchBuildMs: number;
  /**
   * webgpu only: median JavaScript time per step to record its kernels (ms), without waiting for the GPU. Close to
   * medianMs: the step is bound by the host (tfjs' per-kernel work); well below: by the GPU.
   */
  hostMs?: number;
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times full training steps of a registered model on the active backend, running the training loop's own step
 * (src/train/step.ts trainingStep: batch built from uint8 images with flip augmentation, forward in training mode,
 * cross-entropy, gradients, fused Adam update) with the loop's bookkeeping: the loss and accuracy stay on the device
 * and are read back every READ_EVERY steps, so every READ_EVERY-th step carries that read, as in the loop. Synthetic
 * images (speed does not depend on pixel values).
 *
 * @param steps timed steps (after `warmup` untimed ones). @param replicas data-parallel replicas (one thread each).
 * @returns per-step wall times in ms (batch building included, as in the loop).
 * @throws Error when a loss is not finite.
 */
export async function timeTrainingSteps(model: string, steps: number, warmup = 3, batchSize = 64, numClasses = 8, replicas = 1): Promise<StepTiming> {
  installReluGradient();
  const t = await benchStep(model, batchSize, numClasses, replicas);
  const { nextBatch } = t;
  let i = 0;
  const step = async () => {
    t.step();
    if (++i % READ_EVERY === 0) checkFinite(model, await t.acc.read());
  };
  for (let k = 0; k < warmup; k++) await step();
  const stepsMs: number[] = [];
  for (let k = 0; k < steps; k++) {
    const t0 = performance.now();
    await step();
    stepsMs.push(performance.now() - t0);
  }
  checkFinite(model, await t.acc.read());
  const buildMs: number[] = [];
  for (let k = 0; k < 20; k++) {
    const t0 = performance.now();
    nextBatch();
    buildMs.push(performance.now() - t0);
  }
  await t.dispose();
  const medianMs = median(stepsMs);
  return { model, batchSize, stepsMs, medianMs, imagesPerSec: (1000 * batchSize) / medianMs, batchBuildMs: median(buildMs) };
}

/** @throws Error naming the model when a read-back loss is not finite. */
function checkFinite(model: string, r: StepReading): void {
  for (const l of r.losses) if (!Number.isFinite(l)) throw new Error(`${model}: loss ${l} while timing on ${tf.getBackend()}`);
}

/**
 * {@link timeTrainingSteps} for tfjs' webgpu backend: the same steps and reads, timed per block of `block` steps
 * (from the end of the previous block's read to the end of its own, divided by its steps), since the GPU runs
 * asynchronously and one step's wall time says little there.
 *
 * @param steps timed steps, rounded up to whole blocks. @throws Error when the active backend is not webgpu.
 */
export async function timeTrainingStepsOnDevice(
  model: string,
  steps: number,
  warmup = 3,
  batchSize = 64,
  numClasses = 8,
  block = READ_EVERY,
): Promise<StepTiming> {
  if (tf.getBackend() !== 'webgpu') throw new Error(`timeTrainingStepsOnDevice runs on the webgpu backend, active: ${tf.getBackend()}`);
  installReluGradient();
  const t = await benchStep(model, batchSize, numClasses);
  const run = (n: number) => {
    for (let i = 0; i < n; i++) t.step();
  };
  run(warmup);
  checkFinite(model, await t.acc.read());
  const stepsMs: number[] = [];
  const hostMs: number[] = [];
  for (let done = 0; done < steps; done += block) {
    const t0 = performance.now();
    run(block);
    hostMs.push((performance.now() - t0) / block);
    checkFinite(model, await t.acc.read());
    const per = (performance.now() - t0) / block;
    for (let i = 0; i < block; i++) stepsMs.push(per);
  }
  const buildMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    t.nextBatch();
    buildMs.push(performance.now() - t0);
  }
  await t.dispose();
  const medianMs = median(stepsMs);
  return { model, batchSize, stepsMs, medianMs, imagesPerSec: (1000 * batchSize) / medianMs, batchBuildMs: median(buildMs), hostMs: median(hostMs) };
}

/**
 * The loop's training step (src/train/step.ts) on synthetic data: `step()` runs one step into `acc` (nothing read);
 * with `replicas` > 1 the loop's data-parallel step (src/train/parallel.ts, one thread per replica).
 */
async function benchStep(
  model: string,
  batchSize: number,
  numClasses: number,
  replicas = 1,
): Promise<{ step: () => void; acc: StepAccounting; nextBatch: () => Batch; dispose: () => Promise<void> }> {
  const rng = new Rng(1);
  const n = batchSize * 4;
  const pixels = Uint8Array.from({ length: n * IMAGE_PIXELS }, () => rng.int(256));
  const target = new Float32Array(n * numClasses);
  for (let i = 0; i < n; i++) target[i * numClasses + (i % numClasses)] = 1;
  const batches = new TrainBatches(
    pixels,
    { index: Int32Array.from({ length: n }, (_, i) => i), label: Uint8Array.from({ length: n }, (_, i) => i % numClasses), target },
    numClasses,
    { batchSize, augment: { flip: true, shift: 0 }, loss: 'crossentropy', sampleOneHot: false, rng },
  );
  const m = createModel(model, { numClasses, seed: 1 });
  const vars = m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const ctx: StepContext = { model: m, vars, optimizer: new Adam(ADAM_DEFAULTS), loss: 'crossentropy', numClasses };
  const acc = new StepAccounting();
  const dp =
    replicas > 1
      ? await DataParallel.start({
          replicas,
          backend: tf.getBackend() as BackendChoice,
          model,
          seed: 1,
          batchSize,
          vars,
          mainModel: m,
          loss: 'crossentropy',
          labelSmoothing: 0,
        })
      : undefined;
  let it = batches.epoch();
  const nextBatch = (): Batch => {
    let r = it.next();
    if (r.done) {
      it = batches.epoch();
      r = it.next();
    }
    return r.value!;
  };
  return {
    step: () => (dp ? dp.step(ctx, nextBatch(), 1e-3, acc) : trainingStep(ctx, nextBatch(), 1e-3, acc)),
    acc,
    nextBatch,
    dispose: async () => {
      await dp?.dispose();
      acc.dispose();
      ctx.optimizer.dispose();
      m.dispose();
    },
  };
}

/**
 * Per-kernel time of one training step as the loop runs it (src/train/step.ts trainingStep with its on-device
 * accounting; tf.profile; kernels only, op wrappers and custom-gradient scopes that contain kernels are left out so
 * nothing is counted twice), largest first, in ms.
 */
export async function kernelProfile(model: string, batchSize = 64, numClasses = 8): Promise<Array<{ kernel: string; ms: number; calls: number }>> {
  installReluGradient();
  const t = await benchStep(model, batchSize, numClasses);
  for (let i = 0; i < 2; i++) t.step();
  await t.acc.read(); // warm-up finished (also on a GPU) before profiling
  const prof = await tf.profile(() => t.step());
  await t.acc.read();
  await t.dispose();
  const backend = tf.getBackend();
  const agg = new Map<string, { ms: number; calls: number }>();
  for (const k of prof.kernels) {
    if (!tf.getKernel(k.name, backend)) continue;
    const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
    a.ms += k.kernelTimeMs as number;
    a.calls += 1;
    agg.set(k.name, a);
  }
  return [...agg.entries()].map(([kernel, v]) => ({ kernel, ms: v.ms, calls: v.calls })).sort((a, b) => b.ms - a.ms);
}
