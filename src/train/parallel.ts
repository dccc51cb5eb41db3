import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../backend/select';
import type { LossKind } from '../data/labels';
import { dropoutCallCounts } from '../models/layers';
import { workerCode } from '../util/threads';
import type { Batch } from './batches';
import { lossFn } from './loss';
import type { StepAccounting, StepContext } from './step';

/**
 * Data-parallel training of one run on several cores: the replicas of Distributed Data Parallel (PyTorch DDP), as
 * worker threads, each with its own wasm backend.
 *
 * Every step the main thread (replica 0) splits the global batch into contiguous shards (replica k takes rows
 * [floor(k n / R), floor((k + 1) n / R))), publishes the current trainable weights and the other shards through
 * SharedArrayBuffers, computes the gradient of its own shard while the replicas compute theirs, then adds the
 * gradients in replica order (the all-reduce) and applies one optimizer update, on the main thread only; the
 * replicas take the updated weights at the start of the next step. Each shard's loss is its mean loss times
 * shard / n, so the sum of the shards' gradients is the gradient of the global batch's mean loss and the summed
 * losses are the global mean loss (cross-entropy, soft labels and multi_target: exactly, up to float rounding; a
 * class-weighted loss is normalised per shard, as PyTorch DDP normalises per replica).
 *
 * Batch normalisation uses each shard's own batch statistics, as PyTorch DDP without SyncBatchNorm; the moving
 * statistics kept (and saved) are those of replica 0, as DDP's default `broadcast_buffers=True` keeps rank 0's. A
 * BatchNorm model therefore trains slightly differently with R replicas than with one (batch statistics over n / R
 * images). Dropout masks: replica k's model is built with seed + k (its own masks). Results are deterministic for a
 * given replica count and seed: shards, the order of the gradient sum and every mask are fixed.
 *
 * Waiting uses Atomics.wait (allowed on Node's main thread and in workers), so a step is one synchronous call.
 */

/** The run a replica reproduces. */
export interface ReplicaInit {
  backend: BackendChoice;
  /** Registered model name, and the modules to load before creating it (e.g. a test's own registered model). */
  model: string;
  modules?: string[];
  numClasses: number;
  /** Model seed of replica 0; replica k uses seed + k (dropout masks). */
  seed: number;
  replica: number;
  loss: LossKind;
  labelSmoothing: number;
  /** `[numClasses]` class weights of a class-weighted loss. */
  classWeights?: number[];
  /** Indices into `model.weights` of the trainable variables, in the optimizer's order. */
  trainable: number[];
  /** Dropout call counters to start from (the main model's; they advance by one per layer and step on every replica). */
  dropout: number[];
  /** Rows per shard at most, and floats per input image (h * w * c). */
  maxRows: number;
  pixels: number;
  /** The main model's input shape `[h, w, c]` (a run's input spec may differ from the registered model's default). */
  inputShape: [number, number, number];
  /** Shared memory, see {@link ReplicaBuffers}. */
  buffers: ReplicaBuffers;
}

/**
 * Shared memory of one replica. `control` Int32Array: [0] step sequence (main increments), [1] done sequence
 * (replica sets it to the step it finished), [2] rows of this step, [3] 1 = stop, [4] 1 = the replica failed in that
 * step, [5] bytes of its error message in `error` (UTF-8, cut at ERROR_BYTES; the main thread cannot receive a
 * message while it blocks in Atomics.wait). `scalars` Float32Array: [0] shard weight (rows / global rows), [1] the shard's
 * scaled loss, [2] correct predictions. `weights` and `grads`: every trainable variable flattened, in order.
 */
export interface ReplicaBuffers {
  control: SharedArrayBuffer;
  scalars: SharedArrayBuffer;
  x: SharedArrayBuffer;
  y: SharedArrayBuffer;
  label: SharedArrayBuffer;
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  error: SharedArrayBuffer;
}

export const CTRL_SEQ = 0;
export const CTRL_DONE = 1;
export const CTRL_ROWS = 2;
export const CTRL_STOP = 3;
export const CTRL_FAILED = 4;
export const CTRL_ERROR_BYTES = 5;
/** Room for a replica's error message (bytes of UTF-8). */
export const ERROR_BYTES = 4096;

/** Longest wait for a replica's step (ms) before the step fails. */
const STEP_TIMEOUT_MS = 10 * 60_000;

/** Rows of shard `k` of `n` rows split into `R` contiguous shards: [start, end). */
export function shardRange(n: number, R: number, k: number): [number, number] {
  return [Math.floor((k * n) / R), Math.floor(((k + 1) * n) / R)];
}

/** Options of {@link DataParallel.start}. */
export interface DataParallelOptions {
  replicas: number;
  backend: BackendChoice;
  model: string;
  modules?: string[];
  seed: number;
  /** Largest global batch (rows). */
  batchSize: number;
  /** Trainable variables of the main model, in the optimizer's order. */
  vars: tf.Variable[];
  mainModel: tf.LayersModel;
  loss: LossKind;
  labelSmoothing: number;
  /** `[numClasses]` class weights of a class-weighted loss. */
  classWeights?: Float32Array;
}

/** Replica 1..R-1 of a data-parallel run (see the module comment); replica 0 is the caller's thread. */
export class DataParallel {
  private seq = 0;
  private failure: string | undefined;

  private constructor(
    private readonly workers: Worker[],
    private readonly bufs: Array<{
      control: Int32Array;
      scalars: Float32Array;
      x: Float32Array;
      y: Float32Array;
      label: Uint8Array;
      grads: Float32Array;
      error: Uint8Array;
    }>,
    private readonly weights: Float32Array,
    private readonly sizes: number[],
    readonly replicas: number,
  ) {}

  /**
   * Starts R - 1 replica threads (each initialises its backend and builds the model) and resolves when all are ready.
   * @throws Error when a replica fails to start (its message), or R < 2.
   */
  static async start(o: DataParallelOptions): Promise<DataParallel> {
    const R = o.replicas;
    if (!Number.isInteger(R) || R < 2) throw new Error(`data-parallel training needs at least 2 replicas, got ${R}`);
    const [, h, w, c] = o.mainModel.inputs[0].shape as number[];
    const pixels = h * w * c;
    const C = (o.mainModel.outputs[0].shape as number[])[1];
    const sizes = o.vars.map((v) => v.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const weightsSab = new SharedArrayBuffer(4 * total);
    const byVar = new Map(o.mainModel.weights.map((wt, i) => [(wt as unknown as { val: tf.Variable }).val, i]));
    const trainable = o.vars.map((v) => {
      const i = byVar.get(v);
      if (i === undefined) throw new Error(`data-parallel: variable ${v.name} is not a weight of the model`);
      return i;
    });
    const maxRows = Math.ceil(o.batchSize / R);
    const workers: Worker[] = [];
    const bufs: DataParallel['bufs'] = [];
    const ready: Promise<void>[] = [];
    for (let k = 1; k < R; k++) {
      const buffers: ReplicaBuffers = {
        control: new SharedArrayBuffer(4 * 8),
        scalars: new SharedArrayBuffer(4 * 4),
        x: new SharedArrayBuffer(4 * maxRows * pixels),
        y: new SharedArrayBuffer(4 * maxRows * C),
        label: new SharedArrayBuffer(maxRows),
        weights: weightsSab,
        grads: new SharedArrayBuffer(4 * total),
        error: new SharedArrayBuffer(ERROR_BYTES),
      };
      const init: ReplicaInit = {
        backend: o.backend,
        model: o.model,
        ...(o.modules ? { modules: o.modules } : {}),
        numClasses: C,
        seed: o.seed,
        replica: k,
        loss: o.loss,
        labelSmoothing: o.labelSmoothing,
        ...(o.classWeights ? { classWeights: Array.from(o.classWeights) } : {}),
        trainable,
        dropout: dropoutCallCounts(o.mainModel),
        maxRows,
        pixels,
        inputShape: [h, w, c],
        buffers,
      };
      const worker = new Worker(workerCode(__dirname, 'replica', __filename.endsWith('.ts')), { eval: true, workerData: init });
      worker.unref(); // an exception on the main thread before dispose() must not keep the process alive
      workers.push(worker);
      bufs.push({
        control: new Int32Array(buffers.control),
        scalars: new Float32Array(buffers.scalars),
        x: new Float32Array(buffers.x),
        y: new Float32Array(buffers.y),
        label: new Uint8Array(buffers.label),
        grads: new Float32Array(buffers.grads),
        error: new Uint8Array(buffers.error),
      });
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.once('message', (m: { type: string; error?: string }) =>
            m.type === 'ready' ? resolve() : reject(new Error(`data-parallel replica ${k}: ${m.error}`)),
          );
          worker.once('error', (e) => reject(new Error(`data-parallel replica ${k}: ${e.message}`)));
        }),
      );
    }
    const dp = new DataParallel(workers, bufs, new Float32Array(weightsSab), sizes, R);
    try {
      await Promise.all(ready);
    } catch (e) {
      await dp.dispose();
      throw e;
    }
    for (const [i, wk] of workers.entries()) {
      wk.on('message', (m: { type: string; error?: string }) => {
        if (m.type === 'failed') dp.failure = `data-parallel replica ${i + 1}: ${m.error}`;
      });
      wk.on('error', (e) => (dp.failure = `data-parallel replica ${i + 1}: ${e.message}`));
    }
    return dp;
  }

  /**
   * One data-parallel training step on the global batch `b` (`b.x` `[b.n, h, w, c]` float32, `b.y` `[b.n, C]`,
   * `b.label` `[b.n]`): see the module comment. Adds the global mean loss and the correct count to `acc`.
   * @throws Error when a replica failed or did not answer within 10 minutes.
   */
  step(ctx: StepContext, b: Batch, lr: number, acc: StepAccounting): void {
    const R = this.replicas;
    const C = ctx.numClasses;
    const [, h, w, c] = ctx.model.inputs[0].shape as number[];
    const P = h * w * c;
    // publish the current weights (the update of the previous step)
    let off = 0;
    for (const v of ctx.vars) {
      this.weights.set(v.dataSync() as Float32Array, off);
      off += v.size;
    }
    this.seq++;
    for (let k = 1; k < R; k++) {
      const [s, e] = shardRange(b.n, R, k);
      const r = this.bufs[k - 1];
      r.x.set(b.x.subarray(s * P, e * P));
      r.y.set(b.y.subarray(s * C, e * C));
      r.label.set(b.label.subarray(s, e));
      r.scalars[0] = (e - s) / b.n;
      Atomics.store(r.control, CTRL_ROWS, e - s);
      Atomics.store(r.control, CTRL_SEQ, this.seq);
      Atomics.notify(r.control, CTRL_SEQ);
    }
    const [, e0] = shardRange(b.n, R, 0);
    tf.tidy(() => {
      const x = tf.tensor4d(b.x.subarray(0, e0 * P), [e0, h, w, c]);
      const y = tf.tensor2d(b.y.subarray(0, e0 * C), [e0, C]);
      let logits: tf.Tensor2D | undefined;
      const { value, grads } = tf.variableGrads(() => {
        logits = tf.keep(ctx.model.apply(x, { training: true }) as tf.Tensor2D);
        return tf.mul(lossFn(ctx.loss, logits, y, ctx.labelSmoothing ?? 0, ctx.classWeights), e0 / b.n) as tf.Scalar;
      }, ctx.vars);
      this.wait();
      // all-reduce: replica 0's gradient plus replicas 1..R-1, in order
      const summed: tf.NamedTensorMap = {};
      let loss: tf.Scalar = value;
      let extraHits = 0;
      for (const v of ctx.vars) summed[v.name] = grads[v.name];
      for (let k = 1; k < R; k++) {
        const r = this.bufs[k - 1];
        let o = 0;
        ctx.vars.forEach((v, i) => {
          summed[v.name] = tf.add(summed[v.name], tf.tensor(r.grads.subarray(o, o + this.sizes[i]), v.shape));
          o += this.sizes[i];
        });
        loss = tf.add(loss, r.scalars[1]) as tf.Scalar;
        extraHits += r.scalars[2];
      }
      ctx.optimizer.apply(ctx.vars, summed, lr);
      acc.add(loss, logits!, b.label.subarray(0, e0), extraHits);
      logits!.dispose();
    });
  }

  /** Blocks until every replica finished the current step. @throws Error when one failed or timed out. */
  private wait(): void {
    const t0 = Date.now();
    for (const [i, r] of this.bufs.entries()) {
      while (Atomics.load(r.control, CTRL_DONE) !== this.seq) {
        if (this.failure) throw new Error(this.failure); // the thread died between steps
        if (Date.now() - t0 > STEP_TIMEOUT_MS)
          throw new Error(`data-parallel replica ${i + 1} did not finish step ${this.seq} within ${STEP_TIMEOUT_MS / 60_000} minutes`);
        Atomics.wait(r.control, CTRL_DONE, Atomics.load(r.control, CTRL_DONE), 1000);
      }
      // checked after the wait: a replica that failed has also finished its step
      if (Atomics.load(r.control, CTRL_FAILED) === 1) {
        const text = new TextDecoder().decode(r.error.slice(0, Atomics.load(r.control, CTRL_ERROR_BYTES)));
        throw new Error(`data-parallel replica ${i + 1} failed in step ${this.seq}: ${text}`);
      }
    }
  }

  /** Stops the replica threads. */
  async dispose(): Promise<void> {
    for (const r of this.bufs) {
      Atomics.store(r.control, CTRL_STOP, 1);
      Atomics.add(r.control, CTRL_SEQ, 1);
      Atomics.notify(r.control, CTRL_SEQ);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
