import * as tf from '@tensorflow/tfjs';
import { installReluGradient } from '../backend/ops';
import { createModel } from '../models/registry';
import '../models';
import { TrainBatches } from '../train/batches';
import { lossFn } from '../train/loss';
import { Adam, ADAM_DEFAULTS } from '../train/optimizer';
import { Rng } from '../util/rng';
import { IMAGE_PIXELS, IMAGE_SIZE } from '../data/classes';

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
 * Times full training steps of a registered model on the active backend, exactly as the training loop runs them:
 * batch built from uint8 images with flip augmentation, forward in training mode, cross-entropy, gradients, fused
 * Adam update, loss read back. Synthetic images (speed does not depend on pixel values).
 *
 * @param steps timed steps (after `warmup` untimed ones). @returns per-step wall times in ms.
 */
export function timeTrainingSteps(model: string, steps: number, warmup = 3, batchSize = 64, numClasses = 8): StepTiming {
  installReluGradient();
  const t = trainingStep(model, batchSize, numClasses);
  const { nextBatch } = t;
  const step = () => {
    const loss = t.step();
    loss.dataSync(); // the loop's per-step read-back
    loss.dispose();
  };
  for (let i = 0; i < warmup; i++) step();
  const stepsMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    stepsMs.push(performance.now() - t0);
  }
  const buildMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    nextBatch();
    buildMs.push(performance.now() - t0);
  }
  t.dispose();
  const medianMs = median(stepsMs);
  return { model, batchSize, stepsMs, medianMs, imagesPerSec: (1000 * batchSize) / medianMs, batchBuildMs: median(buildMs) };
}

/**
 * {@link timeTrainingSteps} for tfjs' webgpu backend: the same steps, with the loss read back asynchronously once per
 * block of `block` steps (as the training loop does on webgpu) instead of after every step, since a synchronous read
 * is impossible there in Node and a read per step would stall the GPU queue. `stepsMs` holds each block's wall time
 * (from the end of the previous block's read to the end of its own) divided by its steps.
 *
 * @param steps timed steps, rounded up to whole blocks. @throws Error when the active backend is not webgpu.
 */
export async function timeTrainingStepsOnDevice(model: string, steps: number, warmup = 3, batchSize = 64, numClasses = 8, block = 10): Promise<StepTiming> {
  if (tf.getBackend() !== 'webgpu') throw new Error(`timeTrainingStepsOnDevice runs on the webgpu backend, active: ${tf.getBackend()}`);
  installReluGradient();
  const { step, nextBatch, dispose } = trainingStep(model, batchSize, numClasses);
  let loss: tf.Scalar | undefined;
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const v = step();
      loss?.dispose();
      loss = v;
    }
  };
  run(warmup);
  await loss!.data();
  const stepsMs: number[] = [];
  const hostMs: number[] = [];
  for (let done = 0; done < steps; done += block) {
    const t0 = performance.now();
    run(block);
    hostMs.push((performance.now() - t0) / block);
    const l = (await loss!.data())[0];
    if (!Number.isFinite(l)) throw new Error(`${model}: loss ${l} while timing on webgpu`);
    const per = (performance.now() - t0) / block;
    for (let i = 0; i < block; i++) stepsMs.push(per);
  }
  loss?.dispose();
  const buildMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    nextBatch();
    buildMs.push(performance.now() - t0);
  }
  dispose();
  const medianMs = median(stepsMs);
  return { model, batchSize, stepsMs, medianMs, imagesPerSec: (1000 * batchSize) / medianMs, batchBuildMs: median(buildMs), hostMs: median(hostMs) };
}

/** One training step of `model` as timeTrainingSteps runs it, returning the (kept) loss instead of reading it. */
function trainingStep(model: string, batchSize: number, numClasses: number): { step: () => tf.Scalar; nextBatch: () => unknown; dispose: () => void } {
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
  const opt = new Adam(ADAM_DEFAULTS);
  let it = batches.epoch();
  const nextBatch = () => {
    let r = it.next();
    if (r.done) {
      it = batches.epoch();
      r = it.next();
    }
    return r.value!;
  };
  const step = () =>
    tf.tidy(() => {
      const b = nextBatch();
      const x = tf.tensor4d(b.x, [b.n, IMAGE_SIZE, IMAGE_SIZE, 1]);
      const y = tf.tensor2d(b.y, [b.n, numClasses]);
      const { value, grads } = tf.variableGrads(() => lossFn('crossentropy', m.apply(x, { training: true }) as tf.Tensor2D, y), vars);
      opt.apply(vars, grads, 1e-3);
      return value;
    });
  return {
    step,
    nextBatch,
    dispose: () => {
      opt.dispose();
      m.dispose();
    },
  };
}

/**
 * Per-kernel time of one training step (tf.profile; kernels only, op wrappers and custom-gradient scopes that
 * contain kernels are left out so nothing is counted twice), largest first, in ms.
 */
export async function kernelProfile(model: string, batchSize = 64, numClasses = 8): Promise<Array<{ kernel: string; ms: number; calls: number }>> {
  installReluGradient();
  const m = createModel(model, { numClasses, seed: 1 });
  const vars = m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const opt = new Adam(ADAM_DEFAULTS);
  const x = tf.randomUniform([batchSize, IMAGE_SIZE, IMAGE_SIZE, 1], 0, 1, 'float32', 1);
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: batchSize }, (_, i) => i % numClasses),
      'int32',
    ),
    numClasses,
  ) as tf.Tensor2D;
  // webgpu: no synchronous read in Node (and tf.profile waits for the GPU's timestamps itself)
  const gpu = tf.getBackend() === 'webgpu';
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => lossFn('crossentropy', m.apply(x, { training: true }) as tf.Tensor2D, y), vars);
      opt.apply(vars, grads, 1e-3);
      if (!gpu) value.dataSync();
    });
  for (let i = 0; i < 2; i++) step();
  if (gpu) await tf.ones([1]).data(); // warm-up finished on the GPU before profiling
  const prof = await tf.profile(() => step());
  const backend = tf.getBackend();
  const agg = new Map<string, { ms: number; calls: number }>();
  for (const k of prof.kernels) {
    if (!tf.getKernel(k.name, backend)) continue;
    const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
    a.ms += k.kernelTimeMs as number;
    a.calls += 1;
    agg.set(k.name, a);
  }
  opt.dispose();
  m.dispose();
  tf.dispose([x, y]);
  return [...agg.entries()].map(([kernel, v]) => ({ kernel, ms: v.ms, calls: v.calls })).sort((a, b) => b.ms - a.ms);
}
