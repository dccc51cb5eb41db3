import { IMAGE_PIXELS, IMAGE_SIZE } from '../data/classes';
import { InputWriter, isDefaultInput, type InputSpec } from '../data/input';
import { writeImage } from '../data/preprocess';
import { multiTargetMask } from '../data/votes';
import type { LossKind, TrainLabels } from '../data/labels';
import { Rng } from '../util/rng';
import { createAugmenter, type Augmenter } from './augment';
import { applyMix, drawMix, mixOn, type MixDraw, type MixSettings } from './mix';
import type { Augment } from './settings';

/** One batch: inputs, targets and hard labels, in reused buffers (valid until the next batch). */
export interface Batch {
  /**
   * `[n, size, size, 1]` float32 model inputs (first n * size^2 entries): `[n, 48, 48, 1]` in [0, 1] for the default
   * input, else as the `input` option's spec makes them.
   */
  x: Float32Array;
  /** `[n, C]` float32 targets as the loss expects them (one-hot, soft, sampled one-hot or multi-target mask). */
  y: Float32Array;
  /** `[n]` hard labels (for training accuracy). */
  label: Uint8Array;
  /** Images in this batch. */
  n: number;
  /** `[n]` positions of the images in the training split (rows of TrainLabels `index` / `target`); TrainBatches sets it. */
  pos?: Int32Array;
  /** The batch's mixup / CutMix (src/train/mix.ts; `x` and `y` are mixed already); absent = not mixed. */
  mix?: MixDraw;
}

/** Options of {@link TrainBatches}. */
export interface TrainBatchOptions {
  batchSize: number;
  /**
   * Resolved augmentation (AugmentSchema's output): flip and integer shift draw and write exactly as before the other
   * knobs existed; any other knob on hands every image to an {@link Augmenter} (src/train/augment.ts), which draws the
   * same flip and shift first, then its own parameters.
   */
  augment: Augment;
  /** Loss kind of the label set: `multi_target` turns targets into the acceptance mask. */
  loss: LossKind;
  /** FER+ `probability` mode: draw a one-hot target from each image's distribution, anew every epoch. */
  sampleOneHot: boolean;
  /**
   * Class-balanced sampling: each epoch's image slots are drawn with replacement, a class uniformly, then an image of
   * that class uniformly, so every class fills about 1/C of the batches (over-sampling rare classes such as disgust and
   * contempt). Off: every image once per epoch, shuffled.
   */
  balanced?: boolean;
  /**
   * The model input (src/data/input.ts). Absent or the default spec (48x48, pixel / 255): the batches are exactly those
   * of before per-model inputs. Otherwise each image is augmented at 48x48 as usual (from its equalised copy for
   * 'histeq'), then cropped ('crop': a random size x size window, drawn after the augmentation's draws: top =
   * `int(48 - size + 1)`, then left = `int(48 - size + 1)`, as torchvision RandomCrop) or resized ('scale'), then
   * standardised ('standardize'): InputWriter.finish, the same steps evaluation and prediction apply.
   */
  input?: InputSpec;
  /**
   * mixup / CutMix (src/train/mix.ts): after a batch is written, its draws (drawMix, from `rng`) and the mixing of `x`
   * and `y` with the reversed batch. Absent or both off: nothing drawn.
   */
  mix?: MixSettings;
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
  private readonly pos: Int32Array;
  /** Set when a knob beyond flip / shift is on (rotation, scale, translate, skew, crop, erasing). */
  private readonly augmenter: Augmenter | undefined;
  /** Set for a non-default input spec; then `full` holds each augmented 48x48 image before InputWriter.finish. */
  private readonly input: InputWriter | undefined;
  private readonly full: Float32Array | undefined;

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
    this.input = opts.input && !isDefaultInput(opts.input) ? new InputWriter(opts.input) : undefined;
    this.full = this.input ? new Float32Array(IMAGE_PIXELS) : undefined;
    this.x = new Float32Array(opts.batchSize * (this.input ? this.input.pixels : IMAGE_PIXELS));
    this.y = new Float32Array(opts.batchSize * numClasses);
    this.label = new Uint8Array(opts.batchSize);
    this.pos = new Int32Array(opts.batchSize);
    if (opts.mix && mixOn(opts.mix) && opts.loss === 'multi_target')
      throw new Error('mixup / CutMix mix the targets as distributions: they need a cross-entropy label set, not multi_target');
    this.augmenter = createAugmenter(opts.augment);
  }

  /** Steps per epoch. */
  get steps(): number {
    return Math.floor(this.split.index.length / this.opts.batchSize);
  }

  /** Images per epoch (steps * batchSize). */
  get imagesPerEpoch(): number {
    return this.steps * this.opts.batchSize;
  }

  /**
   * What decides the batches of the next epochs: the current image order (each epoch reshuffles it in place) and the
   * random generator's state (shuffle, augmentation and FER+ sampling draws). For checkpoints.
   */
  getState(): { order: Int32Array; rng: [number, number, number, number] } {
    return { order: this.order.slice(), rng: this.opts.rng.getState() };
  }

  /**
   * Continues from a {@link getState}: the following epochs are exactly those the saved run would have produced.
   * @throws Error when the order does not have one entry per training image.
   */
  setState(state: { order: Int32Array; rng: readonly number[] }): void {
    if (state.order.length !== this.order.length)
      throw new Error(`batch order has ${state.order.length} entries, expected ${this.order.length} (one per training image)`);
    this.order.set(state.order);
    this.opts.rng.setState(state.rng);
  }

  private byClass?: Int32Array[];

  /** Fills `order` with class-balanced draws (see TrainBatchOptions.balanced): per slot a class, then an image of it. */
  private drawBalanced(): void {
    const { rng } = this.opts;
    if (!this.byClass) {
      const lists: number[][] = Array.from({ length: this.numClasses }, () => []);
      this.split.label.forEach((l, i) => lists[l].push(i));
      this.byClass = lists.filter((l) => l.length > 0).map((l) => Int32Array.from(l));
    }
    const classes = this.byClass;
    for (let i = 0; i < this.order.length; i++) {
      const c = classes[rng.int(classes.length)];
      this.order[i] = c[rng.int(c.length)];
    }
  }

  /**
   * Batches of one epoch, freshly shuffled (with `balanced`: class-balanced draws, two `int` draws per slot instead of
   * the shuffle). Random draws, in order: one Fisher-Yates shuffle of the order; then per
   * image, in batch order: flip `uniform() < 0.5` when flip is on, dx then dy `int(2 shift + 1) - shift` when shift > 0,
   * the other knobs' draws when one is on (Augmenter), the crop window (top, then left) for an `input` with resize
   * 'crop', the FER+ `probability`-mode target draw; after the batch's images, its mixup / CutMix draws (drawMix).
   */
  *epoch(): Generator<Batch> {
    const { batchSize, augment, rng } = this.opts;
    const augmenter = this.augmenter;
    const C = this.numClasses;
    if (this.opts.balanced) this.drawBalanced();
    else rng.shuffle(this.order);
    for (let s = 0; s < this.steps; s++) {
      for (let b = 0; b < batchSize; b++) {
        const j = this.order[s * batchSize + b];
        if (this.input) {
          this.writeInput(this.split.index[j], b);
        } else if (augmenter) {
          augmenter.write(rng, this.pixels, this.split.index[j], this.x, b * IMAGE_PIXELS);
        } else {
          const flip = augment.flip && rng.uniform() < 0.5;
          const dx = augment.shift ? rng.int(2 * augment.shift + 1) - augment.shift : 0;
          const dy = augment.shift ? rng.int(2 * augment.shift + 1) - augment.shift : 0;
          writeImage(this.pixels, this.split.index[j], this.x, b * IMAGE_PIXELS, flip, dx, dy);
        }
        const t = this.split.target.subarray(j * C, (j + 1) * C);
        this.label[b] = this.split.label[j];
        this.pos[b] = j;
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
      const mix = this.opts.mix ? drawMix(rng, this.opts.mix, this.input ? this.input.spec.size : IMAGE_SIZE) : null;
      if (mix) applyMix(mix, this.x, this.y, batchSize, this.input ? this.input.spec.size : IMAGE_SIZE, C);
      yield { x: this.x, y: this.y, label: this.label, n: batchSize, pos: this.pos, ...(mix ? { mix } : {}) };
    }
  }

  /**
   * A non-default input: image `row` augmented at 48x48 into `full` (the same draws and writes as without an input
   * spec, from the equalised image for 'histeq'), the crop window drawn, then InputWriter.finish into batch slot `b`.
   */
  private writeInput(row: number, b: number): void {
    const { augment, rng } = this.opts;
    const input = this.input!;
    const full = this.full!;
    const src = input.source(this.pixels, row);
    if (this.augmenter) {
      this.augmenter.write(rng, src.pixels, src.row, full, 0);
    } else {
      const flip = augment.flip && rng.uniform() < 0.5;
      const dx = augment.shift ? rng.int(2 * augment.shift + 1) - augment.shift : 0;
      const dy = augment.shift ? rng.int(2 * augment.shift + 1) - augment.shift : 0;
      writeImage(src.pixels, src.row, full, 0, flip, dx, dy);
    }
    let top = input.centre;
    let left = input.centre;
    if (input.spec.resize === 'crop') {
      top = rng.int(IMAGE_SIZE - input.window + 1);
      left = rng.int(IMAGE_SIZE - input.window + 1);
    }
    input.finish(full, 0, this.x, b * input.pixels, top, left);
  }
}
