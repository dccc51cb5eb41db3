import { IMAGE_SIZE, IMAGE_PIXELS } from '../data/classes';
import { multiTargetMask } from '../data/votes';
import type { LossKind, TrainLabels } from '../data/labels';
import { Rng } from '../util/rng';

/** Training-time augmentation (applied per image, on the fly, from the uint8 data). */
export interface Augment {
  /** Mirror left-right with probability 0.5 (expressions are left-right symmetric). */
  flip: boolean;
  /** Random translation of up to `shift` pixels in x and y, edges replicated (0 = off). */
  shift: number;
}

/** Input preprocessing of every ferlab model: x = pixel / 255, float32 `[batch, 48, 48, 1]` in [0, 1]. */
export const PREPROCESSING = 'x = pixel / 255 (float32 [batch, 48, 48, 1] in [0, 1]); no mean/std normalisation' as const;

const TO_FLOAT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Writes image `row` of `pixels` ([n, 48, 48] uint8) into `out` at `offset` as floats in [0, 1], optionally mirrored
 * and shifted by (dx, dy) pixels with edge replication.
 */
export function writeImage(pixels: Uint8Array, row: number, out: Float32Array, offset: number, flip = false, dx = 0, dy = 0): void {
  const src = row * IMAGE_PIXELS;
  const S = IMAGE_SIZE;
  if (!flip && dx === 0 && dy === 0) {
    for (let i = 0; i < IMAGE_PIXELS; i++) out[offset + i] = TO_FLOAT[pixels[src + i]];
    return;
  }
  for (let r = 0; r < S; r++) {
    const sr = Math.min(S - 1, Math.max(0, r - dy)) * S;
    const o = offset + r * S;
    for (let c = 0; c < S; c++) {
      let sc = Math.min(S - 1, Math.max(0, c - dx));
      if (flip) sc = S - 1 - sc;
      out[o + c] = TO_FLOAT[pixels[src + sr + sc]];
    }
  }
}

/** One batch: inputs, targets and hard labels, in reused buffers (valid until the next batch). */
export interface Batch {
  /** `[n, 48, 48, 1]` float32 in [0, 1] (first n * 2304 entries). */
  x: Float32Array;
  /** `[n, C]` float32 targets as the loss expects them (one-hot, soft, sampled one-hot or multi-target mask). */
  y: Float32Array;
  /** `[n]` hard labels (for training accuracy). */
  label: Uint8Array;
  /** Images in this batch. */
  n: number;
}

/** Options of {@link TrainBatches}. */
export interface TrainBatchOptions {
  batchSize: number;
  augment: Augment;
  /** Loss kind of the label set: `multi_target` turns targets into the acceptance mask. */
  loss: LossKind;
  /** FER+ `probability` mode: draw a one-hot target from each image's distribution, anew every epoch. */
  sampleOneHot: boolean;
  rng: Rng;
}

/**
 * Shuffled training batches straight from the uint8 cache: only one batch of floats exists at a time (no float copy
 * of the dataset). Each epoch reshuffles; the last partial batch is dropped (BatchNorm statistics of a tiny batch
 * are noise), so an epoch is floor(n / batchSize) steps and every image is seen across epochs.
 */
export class TrainBatches {
  private readonly order: Int32Array;
  private readonly x: Float32Array;
  private readonly y: Float32Array;
  private readonly label: Uint8Array;

  /**
   * @param pixels `[N, 48, 48]` uint8 dataset images.
   * @param split the training split (LabelSet.train): `[m]` rows, `[m]` hard labels, `[m, C]` float32 targets.
   */
  constructor(
    private readonly pixels: Uint8Array,
    private readonly split: TrainLabels,
    private readonly numClasses: number,
    private readonly opts: TrainBatchOptions,
  ) {
    const { index } = split;
    if (index.length < opts.batchSize) throw new Error(`training split has ${index.length} images, fewer than one batch of ${opts.batchSize}`);
    this.order = Int32Array.from({ length: index.length }, (_, i) => i);
    this.x = new Float32Array(opts.batchSize * IMAGE_PIXELS);
    this.y = new Float32Array(opts.batchSize * numClasses);
    this.label = new Uint8Array(opts.batchSize);
  }

  /** Steps per epoch. */
  get steps(): number {
    return Math.floor(this.split.index.length / this.opts.batchSize);
  }

  /** Images per epoch (steps * batchSize). */
  get imagesPerEpoch(): number {
    return this.steps * this.opts.batchSize;
  }

  /** Batches of one epoch, freshly shuffled. */
  *epoch(): Generator<Batch> {
    const { batchSize, augment, rng } = this.opts;
    const C = this.numClasses;
    rng.shuffle(this.order);
    for (let s = 0; s < this.steps; s++) {
      for (let b = 0; b < batchSize; b++) {
        const j = this.order[s * batchSize + b];
        const flip = augment.flip && rng.uniform() < 0.5;
        const dx = augment.shift ? rng.int(2 * augment.shift + 1) - augment.shift : 0;
        const dy = augment.shift ? rng.int(2 * augment.shift + 1) - augment.shift : 0;
        writeImage(this.pixels, this.split.index[j], this.x, b * IMAGE_PIXELS, flip, dx, dy);
        const t = this.split.target.subarray(j * C, (j + 1) * C);
        this.label[b] = this.split.label[j];
        const y = this.y.subarray(b * C, (b + 1) * C);
        if (this.opts.sampleOneHot) {
          // microsoft/FERPlus ferplus.py _process_target: np.random.choice(len(target), p=target)
          let u = rng.uniform();
          let k = 0;
          while (k < C - 1 && u >= t[k]) u -= t[k++];
          while (k > 0 && t[k] === 0) k--; // rounding left u past the last non-zero class
          y.fill(0);
          y[k] = 1;
        } else if (this.opts.loss === 'multi_target') {
          y.set(multiTargetMask(t));
        } else {
          y.set(t);
        }
      }
      yield { x: this.x, y: this.y, label: this.label, n: batchSize };
    }
  }
}

/**
 * Images of a split in file order, for evaluation: `[n, 48, 48, 1]` float32 batches without augmentation.
 * @param batchSize images per batch (the last one may be smaller).
 */
export function* evalBatches(pixels: Uint8Array, index: Int32Array, batchSize: number): Generator<{ x: Float32Array; start: number; n: number }> {
  const buf = new Float32Array(batchSize * IMAGE_PIXELS);
  for (let start = 0; start < index.length; start += batchSize) {
    const n = Math.min(batchSize, index.length - start);
    for (let b = 0; b < n; b++) writeImage(pixels, index[start + b], buf, b * IMAGE_PIXELS);
    yield { x: n === batchSize ? buf : buf.subarray(0, n * IMAGE_PIXELS), start, n };
  }
}
