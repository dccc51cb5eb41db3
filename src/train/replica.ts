/**
 * A replica thread of data-parallel training (src/train/parallel.ts): its own backend and a copy of the model; at
 * every step it takes the main thread's weights and its shard from shared memory, computes the shard's gradient
 * (mean loss times shard / global rows) and writes it back with the shard's loss and correct count. Blocks in
 * Atomics.wait between steps.
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend/select';
import { installReluGradient } from '../backend/ops';
import '../models';
import { setDropoutCallCounts } from '../models/layers';
import { createModel } from '../models/registry';
import { argmaxRows } from '../util/argmax';
import { lossFn } from './loss';
import { CTRL_DONE, CTRL_ERROR_BYTES, CTRL_FAILED, CTRL_ROWS, CTRL_SEQ, CTRL_STOP, type ReplicaInit } from './parallel';

async function main(): Promise<void> {
  const init = workerData as ReplicaInit;
  await initBackend(init.backend);
  installReluGradient();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- modules named at run time by the parent (they register models)
  for (const m of init.modules ?? []) require(m);
  const C = init.numClasses;
  const model = createModel(init.model, { numClasses: C, seed: init.seed + init.replica, inputShape: init.inputShape });
  const [, h, w, c] = model.inputs[0].shape as number[];
  if (h * w * c !== init.pixels) throw new Error(`replica model input ${h}x${w}x${c} differs from the main model's (${init.pixels} values)`);
  setDropoutCallCounts(model, init.dropout);
  const vars = init.trainable.map((i) => (model.weights[i] as unknown as { val: tf.Variable }).val);
  const classWeights = init.classWeights ? tf.tensor1d(init.classWeights) : undefined;
  const b = init.buffers;
  const control = new Int32Array(b.control);
  const scalars = new Float32Array(b.scalars);
  const x = new Float32Array(b.x);
  const y = new Float32Array(b.y);
  const label = new Uint8Array(b.label);
  const weights = new Float32Array(b.weights);
  const grads = new Float32Array(b.grads);
  const error = new Uint8Array(b.error);
  parentPort!.postMessage({ type: 'ready' });
  let seen = 0;
  for (;;) {
    Atomics.wait(control, CTRL_SEQ, seen);
    seen = Atomics.load(control, CTRL_SEQ);
    if (Atomics.load(control, CTRL_STOP) === 1) break;
    const n = Atomics.load(control, CTRL_ROWS);
    try {
      let off = 0;
      for (const v of vars) {
        const o = off;
        tf.tidy(() => v.assign(tf.tensor(weights.subarray(o, o + v.size), v.shape)));
        off += v.size;
      }
      tf.tidy(() => {
        const xs = tf.tensor4d(x.subarray(0, n * init.pixels), [n, h, w, c]);
        const ys = tf.tensor2d(y.subarray(0, n * C), [n, C]);
        let logits: tf.Tensor2D | undefined;
        const { value, grads: g } = tf.variableGrads(() => {
          logits = tf.keep(model.apply(xs, { training: true }) as tf.Tensor2D);
          return tf.mul(lossFn(init.loss, logits, ys, init.labelSmoothing, classWeights), scalars[0]) as tf.Scalar;
        }, vars);
        let o = 0;
        for (const v of vars) {
          grads.set(g[v.name].dataSync() as Float32Array, o);
          o += v.size;
        }
        const preds = argmaxRows(logits!.dataSync() as Float32Array, C);
        let hits = 0;
        for (let i = 0; i < n; i++) if (preds[i] === label[i]) hits++;
        scalars[1] = value.dataSync()[0];
        scalars[2] = hits;
        logits!.dispose();
      });
    } catch (e) {
      const text = new TextEncoder().encode((e as Error).message ?? String(e)).subarray(0, error.length);
      error.set(text);
      Atomics.store(control, CTRL_ERROR_BYTES, text.length);
      Atomics.store(control, CTRL_FAILED, 1);
    }
    Atomics.store(control, CTRL_DONE, seen);
    Atomics.notify(control, CTRL_DONE);
  }
}

main().catch((e) => parentPort!.postMessage({ type: 'failed', error: (e as Error).stack ?? String(e) }));
