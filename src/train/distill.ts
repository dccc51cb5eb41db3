import * as tf from '@tensorflow/tfjs';
import { inputBatches, type InputSpec } from '../data/input';
import type { TrainLabels } from '../data/labels';
import { readSavedModelInfo } from '../models/init';
import { loadLayersModelFromDir } from '../models/io';
import { readPartialModelMeta } from '../records/model';
import type { Batch } from './batches';
import { mixWithReverse } from './mix';
import type { DistillConfig } from './settings';

/**
 * Teachers of knowledge distillation (Hinton, Vinyals & Dean 2015, arXiv 1503.02531; setting `distill`,
 * src/train/settings.ts DistillSchema; the loss is src/train/loss.ts distillationLoss).
 *
 * Several teachers are one ensemble: its logits are t = log(mean_k softmax(t_k)), the log of the teachers' mean
 * probability (Hinton et al. average the predictive distributions of an ensemble's members), so that softmax(t / T)
 * is the ensemble's distribution softened by T; with one teacher softmax(t / T) = softmax(t_1 / T) exactly (t differs
 * from t_1 by a constant per image).
 *
 * Two ways to get the targets of a batch (`distill.mode`):
 * - 'cached' (default): before training, every teacher predicts every training image once, on its own input spec
 *   (its ferlab.json: e.g. the centre 40x40 window of a crop model), without augmentation, as evaluation feeds it
 *   (src/data/input.ts inputBatches); the softened targets q = softmax(t / T) are kept per training image (`[m, C]`
 *   float32, 0.8 MB for FER2013's 28,709 images) and a batch gathers its rows, mixed with the batch's mixup / CutMix
 *   lambda. Cost: one inference pass of each teacher over the training split (once per training session); no cost
 *   per step. It ignores the augmentation: the teacher's view of an image is the plain one, not the student's.
 * - 'batch': every teacher predicts every augmented (and mixed) batch, in inference mode: exact targets for what the
 *   student sees, at the cost of a teacher forward per step. The teachers must share the student's input spec (they
 *   take the batch's tensor as it is).
 * The teachers only ever see training images (the training split's rows): never PublicTest or PrivateTest.
 */

/** A loaded teacher. */
export interface Teacher {
  /** The model folder (resolved by the caller: src/models/init.ts resolveModelRef). */
  dir: string;
  /** SHA-1 of its weight files (src/models/init.ts readSavedModelInfo). */
  weightsSha1: string;
  /** Its input spec (ferlab.json `inputSpec`; the default 48x48, pixel / 255 when absent). */
  input: InputSpec;
  /** Input `[batch, size, size, 1]` float32, output logits `[batch, C]` float32. */
  model: tf.LayersModel;
}

/** What a run record says about its distillation (metrics.json `distill`). */
export interface DistillInfo {
  teachers: Array<{ dir: string; weightsSha1: string; inputSpec: InputSpec }>;
  mode: DistillConfig['mode'];
  temperature: number;
  alpha: number;
  /** How several teachers combine. */
  combine: 'log of the mean probability';
  /** 'cached': seconds the teachers took to predict the training split (this session). */
  cacheSeconds?: number;
}

/**
 * Loads teacher models and checks that each predicts `classes` in the same order.
 * @param dirs model folders (each holding model.json and ferlab.json, or model.json with ferlab metadata).
 * @throws Error naming the folder when a teacher records no classes or other classes than the student's (a different
 *   class set or order cannot be distilled), when its ferlab.json `output` is not logits (e.g. an ensemble's
 *   probabilities), or when its input shape is not that of its input spec.
 */
export async function loadTeachers(dirs: readonly string[], classes: readonly string[]): Promise<Teacher[]> {
  const out: Teacher[] = [];
  try {
    for (const dir of dirs) {
      const info = readSavedModelInfo(dir);
      if (!info.classes)
        throw new Error(`distill teacher ${dir}: its model.json / ferlab.json names no classes; distillation needs them to match the student's`);
      if (info.classes.length !== classes.length || info.classes.some((c, i) => c !== classes[i]))
        throw new Error(
          `distill teacher ${dir} predicts the classes [${info.classes.join(', ')}], the student's label set has [${classes.join(', ')}]: a teacher must predict the student's classes in the same order`,
        );
      // the teacher's output must be logits (an ensemble folder, src/export/ensemble*, may output probabilities)
      const output = readPartialModelMeta(dir)?.output;
      if (output !== undefined && !/^logits\b/.test(output))
        throw new Error(`distill teacher ${dir}: its output is '${output}', not logits; give the ensemble's member folders as teachers instead`);
      const model = await loadLayersModelFromDir(dir);
      out.push({ dir, weightsSha1: info.weightsSha1, input: info.input, model });
      const shape = model.inputs[0].shape.slice(1);
      const S = info.input.size;
      if (shape.join('x') !== `${S}x${S}x1`)
        throw new Error(
          `distill teacher ${dir}: input [batch, ${shape.join(', ')}], its input spec ${JSON.stringify(info.input)} makes [batch, ${S}, ${S}, 1]`,
        );
      const C = model.outputs[0].shape[1];
      if (C !== classes.length) throw new Error(`distill teacher ${dir}: ${C} outputs, ${classes.length} classes`);
    }
  } catch (e) {
    out.forEach((t) => t.model.dispose());
    throw e;
  }
  return out;
}

/**
 * The teachers' ensemble logits of dataset images, each teacher on its own input spec without augmentation:
 * t = log(mean_k softmax(t_k)) per image, in float64 arithmetic.
 * @param pixels `[N, 48, 48]` uint8 dataset images. @param index `[m]` rows to predict (training rows only).
 * @returns `[m, C]` float32.
 */
export function teacherLogits(teachers: readonly Teacher[], pixels: Uint8Array, index: Int32Array, batchSize = 256): Float32Array {
  const C = teachers[0].model.outputs[0].shape[1] as number;
  const mean = new Float64Array(index.length * C);
  for (const t of teachers) {
    const S = t.input.size;
    for (const b of inputBatches(pixels, index, batchSize, t.input)) {
      const y = tf.tidy(() => t.model.predict(tf.tensor4d(b.x, [b.n, S, S, 1])) as tf.Tensor);
      const z = y.dataSync() as Float32Array;
      y.dispose();
      for (let i = 0; i < b.n; i++) {
        let m = -Infinity;
        for (let c = 0; c < C; c++) m = Math.max(m, z[i * C + c]);
        let s = 0;
        for (let c = 0; c < C; c++) s += Math.exp(z[i * C + c] - m);
        for (let c = 0; c < C; c++) mean[(b.start + i) * C + c] += Math.exp(z[i * C + c] - m) / s / teachers.length;
      }
    }
  }
  return Float32Array.from(mean, (p) => Math.log(p));
}

/** softmax(t / T) of each row of `[m, C]` logits, in float64 arithmetic; float32 result. */
export function softenRows(logits: Float32Array, C: number, temperature: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i += C) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[i + c] / temperature);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[i + c] / temperature - m);
    for (let c = 0; c < C; c++) out[i + c] = Math.exp(logits[i + c] / temperature - m) / s;
  }
  return out;
}

/** Same spec field by field. */
const sameSpec = (a: InputSpec, b: InputSpec) => a.size === b.size && a.resize === b.resize && a.normalize === b.normalize;

/**
 * The teachers' targets of a training run (see the module comment): created once before training, asked for every
 * batch's targets by the training step.
 */
export class Distiller {
  private constructor(
    readonly cfg: DistillConfig,
    readonly info: DistillInfo,
    private readonly C: number,
    /** 'cached': `[m, C]` softened targets per training image. */
    private readonly cache: Float32Array | undefined,
    /** 'batch': the teachers, kept for the whole training. */
    private readonly teachers: Teacher[],
    private readonly rows: Float32Array,
  ) {}

  /**
   * Loads the teachers and, for 'cached', predicts the training split.
   * @param dirs the teachers' model folders (cfg.teacher resolved). @param split the training split (its rows are
   *   the only images the teachers see). @param classes the student's classes. @param studentInput the student's
   *   input spec ('batch' mode: every teacher must have it). @param batchSize rows of the batches the step gets.
   * @throws Error from {@link loadTeachers}; for 'batch' when a teacher's input spec differs from the student's.
   */
  static async create(
    cfg: DistillConfig,
    dirs: readonly string[],
    pixels: Uint8Array,
    split: TrainLabels,
    classes: readonly string[],
    studentInput: InputSpec,
    batchSize: number,
    evalBatchSize = 256,
  ): Promise<Distiller> {
    const teachers = await loadTeachers(dirs, classes);
    const C = classes.length;
    const base = {
      teachers: teachers.map((t) => ({ dir: t.dir, weightsSha1: t.weightsSha1, inputSpec: t.input })),
      mode: cfg.mode,
      temperature: cfg.temperature,
      alpha: cfg.alpha,
      combine: 'log of the mean probability' as const,
    };
    if (cfg.mode === 'batch') {
      const other = teachers.find((t) => !sameSpec(t.input, studentInput));
      if (other) {
        teachers.forEach((t) => t.model.dispose());
        throw new Error(
          `distill.mode 'batch': teacher ${other.dir} takes input ${JSON.stringify(other.input)}, the student ${JSON.stringify(studentInput)}; a batch-mode teacher sees the student's batch as it is: use distill.mode 'cached' (each teacher on its own input)`,
        );
      }
      return new Distiller(cfg, base, C, undefined, teachers, new Float32Array(0));
    }
    const t0 = performance.now();
    let logits: Float32Array;
    try {
      logits = teacherLogits(teachers, pixels, split.index, evalBatchSize);
    } finally {
      teachers.forEach((t) => t.model.dispose());
    }
    const cache = softenRows(logits, C, cfg.temperature);
    const info = { ...base, cacheSeconds: (performance.now() - t0) / 1000 };
    return new Distiller(cfg, info, C, cache, [], new Float32Array(batchSize * C));
  }

  /** The `[m, C]` softened targets per training image ('cached'), undefined for 'batch'. */
  get cached(): Float32Array | undefined {
    return this.cache;
  }

  /**
   * The batch's targets softmax(t / T), `[b.n, C]` float32: 'cached': the cached rows of `b.pos`, mixed like the batch
   * (b.mix); 'batch': the teachers' ensemble on `x` (the batch as the student sees it, mixed already), inference mode.
   */
  targets(b: Batch, x: tf.Tensor4D): tf.Tensor2D {
    const C = this.C;
    if (this.cache) {
      const pos = b.pos;
      if (!pos) throw new Error("distill.mode 'cached' needs the batch's training-split positions (Batch.pos, set by TrainBatches)");
      const rows = this.rows.subarray(0, b.n * C);
      for (let i = 0; i < b.n; i++) rows.set(this.cache.subarray(pos[i] * C, (pos[i] + 1) * C), i * C);
      if (b.mix) mixWithReverse(rows, b.n, C, b.mix.lambda);
      return tf.tensor2d(rows, [b.n, C]);
    }
    return tf.tidy(() => {
      let mean: tf.Tensor2D | undefined;
      for (const t of this.teachers) {
        const p = tf.softmax(t.model.predict(x) as tf.Tensor2D);
        mean = mean ? (tf.add(mean, p) as tf.Tensor2D) : p;
      }
      const logMean = tf.log(tf.div(mean!, this.teachers.length));
      return tf.softmax(tf.div(logMean, this.cfg.temperature)) as tf.Tensor2D;
    });
  }

  /** Frees the teachers ('batch'). */
  dispose(): void {
    this.teachers.forEach((t) => t.model.dispose());
    this.teachers.length = 0;
  }
}
