import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { parseCheckpointHeader } from '../records/run';

/**
 * Per-epoch training checkpoints: everything that decides the rest of a run, so that a run continued from its last
 * checkpoint produces exactly the epochs, metrics and predictions of an uninterrupted run (same seed and backend).
 *
 * One file, written atomically (temporary file, fsync, rename: src/util/atomic.ts) and replaced every epoch, so a
 * crash at any moment, even during the write, leaves the previous checkpoint whole. Layout (little-endian): the 8
 * bytes `FERLABCK`, uint32 format version, uint32 header length, the JSON header (padded with spaces to a multiple of
 * 4 bytes), then the float32/int32 arrays it lists; the header holds the SHA-1 of those bytes, checked on load.
 * A custom container because the tfjs weights format cannot hold optimizer moments, random states or metrics, and
 * no npm package serialises mixed JSON + typed arrays without copying them through base64.
 */

const MAGIC = 'FERLABCK';
const VERSION = 2; // 2: weights in layer order

/** The state of a run at the end of an epoch. `M` is the validation-metrics type the caller uses. */
export interface TrainCheckpoint<M = unknown, E = unknown> {
  /** Identifies the run configuration: a checkpoint of a different configuration is refused. */
  fingerprint: string;
  /** Epochs completed (1-based epoch number of the last finished epoch). */
  epoch: number;
  /** Optimizer steps taken (the schedule's position). */
  step: number;
  /** True when early stopping ended training at `epoch`. */
  stopped: boolean;
  /** Training-step seconds and images so far (for the run's throughput). */
  trainSeconds: number;
  images: number;
  /** Per-epoch records so far. */
  history: E[];
  /** Every weight of the model, layer by layer (src/models/weights.ts readLayerWeights: also BatchNorm moving statistics). */
  weights: Float32Array[];
  /** Adam: update count and per-variable moments (trainable variables, in order). */
  optimizer: { step: number; m: Float32Array[]; v: Float32Array[] };
  /** The batch builder's image order and random state (shuffle, augmentation, FER+ sampling). */
  batches: { order: Int32Array; rng: [number, number, number, number] };
  /** Call counters of the ferlab Dropout layers (they seed the dropout masks). */
  dropout: number[];
  /** Best-so-far epoch by validation accuracy, its metrics and weights. */
  best: { epoch: number; accuracy: number; metrics: M; weights: Float32Array[] };
  /** Data-parallel replicas the run trains with (src/train/parallel.ts); absent = 1. A continued run keeps it. */
  replicas?: number;
  /** Setting `ema`: the averaged weights (src/train/ema.ts), layer by layer as `weights`; absent without it. */
  ema?: Float32Array[];
}

type Blob = { dtype: 'float32' | 'int32'; length: number };

/**
 * Writes a checkpoint atomically at `path`, replacing the previous one.
 * @throws Error from the file system (the previous checkpoint is then left as it was).
 */
export function saveCheckpoint(path: string, ck: TrainCheckpoint): void {
  const arrays: Array<Float32Array | Int32Array> = [];
  const add = (a: Float32Array | Int32Array): number => arrays.push(a) - 1;
  const header = {
    fingerprint: ck.fingerprint,
    epoch: ck.epoch,
    step: ck.step,
    stopped: ck.stopped,
    trainSeconds: ck.trainSeconds,
    images: ck.images,
    history: ck.history,
    weights: ck.weights.map(add),
    optimizer: { step: ck.optimizer.step, m: ck.optimizer.m.map(add), v: ck.optimizer.v.map(add) },
    batches: { order: add(ck.batches.order), rng: ck.batches.rng },
    dropout: ck.dropout,
    best: { epoch: ck.best.epoch, accuracy: ck.best.accuracy, metrics: ck.best.metrics, weights: ck.best.weights.map(add) },
    ...(ck.replicas && ck.replicas > 1 ? { replicas: ck.replicas } : {}),
    ...(ck.ema ? { ema: ck.ema.map(add) } : {}),
    blobs: arrays.map((a): Blob => ({ dtype: a instanceof Int32Array ? 'int32' : 'float32', length: a.length })),
    sha1: '',
  };
  const hash = createHash('sha1');
  for (const a of arrays) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  header.sha1 = hash.digest('hex');
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - (Buffer.byteLength(json) % 4)) % 4);
  const pre = Buffer.alloc(16);
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(VERSION, 8);
  pre.writeUInt32LE(Buffer.byteLength(json), 12);
  writeFileAtomic(path, [pre, json, ...arrays]);
}

/**
 * Reads a checkpoint written by {@link saveCheckpoint}.
 * @returns undefined when there is no file at `path`.
 * @throws Error naming the file when it is not a ferlab checkpoint, has another format version, or its arrays do
 *   not match their SHA-1 (a damaged file).
 */
export function loadCheckpoint<M = unknown, E = unknown>(path: string): TrainCheckpoint<M, E> | undefined {
  if (!existsSync(path)) return undefined;
  const buf = readFileSync(path);
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${path} is not a ferlab checkpoint (expected the bytes ${MAGIC})`);
  const version = buf.readUInt32LE(8);
  if (version !== VERSION) throw new Error(`${path}: checkpoint format version ${version}, this ferlab reads version ${VERSION}`);
  const len = buf.readUInt32LE(12);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', 16, 16 + len));
  } catch (e) {
    throw new Error(`${path}: its header is not JSON (${(e as Error).message})`);
  }
  // the header's schema (src/records/run.ts): an error names the file and the field
  const h = parseCheckpointHeader(json, path);
  const arrays: Array<Float32Array | Int32Array> = [];
  const hash = createHash('sha1');
  let off = 16 + len;
  for (const b of h.blobs) {
    const bytes = b.length * 4;
    if (off + bytes > buf.length) throw new Error(`${path} is truncated: ${buf.length} bytes, its header describes ${off + bytes}+`);
    const copy = new Uint8Array(bytes);
    copy.set(buf.subarray(off, off + bytes));
    hash.update(copy);
    arrays.push(b.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer));
    off += bytes;
  }
  const sha1 = hash.digest('hex');
  if (sha1 !== h.sha1) throw new Error(`${path} is damaged: SHA-1 of its arrays ${sha1}, expected ${h.sha1}`);
  const f = (i: number) => arrays[i] as Float32Array;
  return {
    fingerprint: h.fingerprint,
    epoch: h.epoch,
    step: h.step,
    stopped: h.stopped,
    trainSeconds: h.trainSeconds,
    images: h.images,
    history: h.history as E[],
    weights: h.weights.map(f),
    optimizer: { step: h.optimizer.step, m: h.optimizer.m.map(f), v: h.optimizer.v.map(f) },
    batches: { order: arrays[h.batches.order] as Int32Array, rng: h.batches.rng },
    dropout: h.dropout,
    best: { epoch: h.best.epoch, accuracy: h.best.accuracy, metrics: h.best.metrics as M, weights: h.best.weights.map(f) },
    ...(typeof h.replicas === 'number' ? { replicas: h.replicas } : {}),
    ...(h.ema ? { ema: h.ema.map(f) } : {}),
  };
}

/**
 * Removes the checkpoint at `path` and any temporary file a killed write left beside it (`<name>.tmp-*`).
 */
export function removeCheckpoint(path: string): void {
  rmSync(path, { force: true });
  removeStaleTemps(path);
}

/** Removes temporary files of interrupted atomic writes of `path` (`<name>.tmp-<pid>-<random>`). */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) return;
  const prefix = `${basename(path)}.tmp-`;
  for (const f of readdirSync(dir)) if (f.startsWith(prefix)) rmSync(`${dir}/${f}`, { force: true });
}
