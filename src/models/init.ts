import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { recordedInputSpec } from '../data/input';
import { readModelFolderFile, readModelJson } from './io';
import { MODEL_META_FILE, readPartialModelMeta } from '../records/model';
import { MODEL_SUBDIR, readRunStatus } from '../records/run';
import { defaultRunsDir, PROJECT_ROOT } from '../util/paths';

/**
 * Fine-tuning helpers: find a saved model from a short reference, read its classes and weights, copy them into a
 * freshly built model (a different class set gets a new classifier head), and freeze the convolutional blocks.
 */

/** What a saved model folder says about itself (ferlab.json beside model.json, or model.json's userDefinedMetadata.ferlab). */
export type { SavedModelInfo } from '../records/evaluation';
import type { SavedModelInfo } from '../records/evaluation';

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The model folder of a path: the folder itself when it holds model.json, else its `model/` (a run record). */
function modelFolderOf(p: string): string | undefined {
  if (existsSync(join(p, 'model.json'))) return p;
  if (existsSync(join(p, 'model', 'model.json'))) return join(p, 'model');
  return undefined;
}

/**
 * Resolves a model reference to the folder holding its model.json. Tried in order:
 * 1. a path (absolute, or relative to the current folder, then to the project root): a model folder or a run record
 *    folder (its `model/`);
 * 2. `models/<ref>` in the project;
 * 3. `<experiment>/<run>`: the newest experiment folder `<experiment>-YYYYMMDD-HHMMSS` (e.g. `default/deep-fer`, or
 *    `default-quick/deep-fer` for --quick experiments) in `runsDirs` (default: FERLAB_RUNS_DIR or runs/) whose run `<run>`
 *    finished (status.json complete) and saved its model.
 *
 * @throws Error listing what was tried when nothing matches.
 */
export function resolveModelRef(ref: string, opts: { runsDirs?: string[] } = {}): string {
  const tried: string[] = [];
  const candidates = [...new Set(isAbsolute(ref) ? [ref] : [resolve(ref), resolve(PROJECT_ROOT, ref), join(PROJECT_ROOT, 'models', ref)])];
  for (const c of candidates) {
    const m = modelFolderOf(c);
    if (m) return m;
    tried.push(c);
  }
  const parts = ref.split('/');
  const runsDirs = [...new Set([...(opts.runsDirs ?? []), defaultRunsDir()].map((d) => resolve(d)))];
  if (parts.length === 2 && parts.every((p) => /^[a-z0-9][a-z0-9._-]*$/.test(p))) {
    const [experiment, run] = parts;
    for (const runsDir of runsDirs) {
      if (!isDir(runsDir)) continue;
      const prefix = `${experiment}-`;
      const experiments = readdirSync(runsDir)
        .filter((d) => d.startsWith(prefix) && /^\d{8}-\d{6}$/.test(d.slice(prefix.length)))
        .sort()
        .reverse();
      for (const s of experiments) {
        const rdir = join(runsDir, s, run);
        try {
          const status = readRunStatus(rdir);
          if (status?.state === 'complete' && existsSync(join(rdir, MODEL_SUBDIR, 'model.json'))) return join(rdir, MODEL_SUBDIR);
        } catch {
          /* not started or not a run record */
        }
      }
      tried.push(join(runsDir, `${experiment}-<YYYYMMDD-HHMMSS>`, run));
    }
  }
  throw new Error(
    `model '${ref}' not found: no model.json in ${tried.join(', ')}. Give a run folder, a model folder (with model.json), models/<name>, or <experiment>/<run> of a finished experiment (e.g. default/deep-fer after npm run exp -- default --only deep-fer)`,
  );
}

/**
 * Reads a saved model folder's metadata (classes, architecture, label set, input spec) and a hash of its weights.
 * @throws Error naming the file when model.json is missing or malformed, when a weights path is not a plain file beside
 *   model.json (src/models/io.ts modelFolderFile: no `..`, folders or symbolic links), or when the recorded input spec is
 *   invalid.
 */
export function readSavedModelInfo(dir: string): SavedModelInfo {
  // model.json and its weight paths: the shared check of src/models/io.ts (plain files beside model.json)
  const { file, json, weightFiles } = readModelJson(dir);
  let meta: Record<string, unknown> = (json.userDefinedMetadata?.ferlab as Record<string, unknown> | undefined) ?? {};
  const side = join(dir, MODEL_META_FILE);
  // every field optional here: a fine-tuning source may be any saved model with classes in model.json's metadata
  const recorded = readPartialModelMeta(dir);
  if (recorded) meta = { ...meta, ...recorded };
  const sha = createHash('sha1');
  for (const f of weightFiles.flat()) sha.update(readModelFolderFile(f));
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    dir,
    classes: Array.isArray(meta.classes) ? (meta.classes as string[]) : null,
    model: str(meta.model),
    labelSet: str(meta.labelSet),
    weightsSha1: sha.digest('hex'),
    input: recordedInputSpec(meta, existsSync(side) ? side : file),
  };
}

/**
 * The weights of a saved model folder by name (tfjs weight names such as `conv1/kernel`, `bn1/moving_mean`), decoded
 * with tf.io.decodeWeights (float32, or dequantised float16/uint8 weights). The caller disposes the tensors.
 * @throws Error naming model.json when it or a weights file is missing, or a weights path is not a plain file beside
 *   model.json (src/models/io.ts modelFolderFile).
 */
export function readSavedWeights(dir: string): tf.NamedTensorMap {
  const { json, weightFiles } = readModelJson(dir);
  const out: tf.NamedTensorMap = {};
  for (const [i, group] of json.weightsManifest.entries()) {
    const bufs = weightFiles[i].map(readModelFolderFile);
    const all = Buffer.concat(bufs);
    const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
    Object.assign(out, tf.io.decodeWeights(data, group.weights));
  }
  return out;
}

/** What {@link initFromSaved} did. */
export interface InitReport {
  /** Model folder the weights came from. */
  from: string;
  /** Weights copied (every weight of the model except, when replaced, the head's). */
  copied: number;
  /** The classifier head (the last layer with weights) and whether it was replaced by a freshly initialised one. */
  head: string;
  headReplaced: boolean;
  /** Why the head was kept or replaced, in words. */
  headReason: string;
  /** Classes of the saved model (null when it does not say). */
  sourceClasses: string[] | null;
}

/** Original (unsuffixed) weight name: tfjs adds `_1`, `_2` to variable names that repeat in a session, not to originalName. */
const nameOf = (w: tf.LayerVariable) => (w as unknown as { originalName?: string }).originalName ?? w.name;

/**
 * Copies a saved model's weights into `model` (built by createModel for the run), by weight name. The classifier head
 * (the model's last layer with weights) is copied only when the saved model has the same classes in the same order
 * (or, when it does not name them, the same head shape); otherwise it keeps its fresh initialisation: fine-tuning onto a
 * different class set. Every other weight must exist in the saved model with the same shape.
 *
 * @param classes the run's class names in output order. @param expectModel the run's architecture name: a saved model
 *   that names a different one is refused.
 * @throws Error naming the folder when the architecture differs or a weight is missing or has another shape.
 */
export function initFromSaved(model: tf.LayersModel, dir: string, classes: readonly string[], expectModel?: string): InitReport {
  const info = readSavedModelInfo(dir);
  if (expectModel && info.model && info.model !== expectModel)
    throw new Error(
      `initFrom ${dir}: the saved model is a '${info.model}', this run trains a '${expectModel}'; set the run's model to '${info.model}' or start from another model`,
    );
  const head = [...model.layers].reverse().find((l) => l.weights.length > 0);
  if (!head) throw new Error(`initFrom ${dir}: the model has no weights`);
  const headNames = new Set(head.weights.map(nameOf));
  const saved = readSavedWeights(dir);
  try {
    const sameClasses = info.classes !== null && info.classes.length === classes.length && info.classes.every((c, i) => c === classes[i]);
    const headFits = head.weights.every((w) => saved[nameOf(w)] && saved[nameOf(w)].shape.join() === w.shape.join());
    const keepHead = info.classes !== null ? sameClasses && headFits : headFits;
    const headReason = keepHead
      ? info.classes !== null
        ? `same classes (${classes.join(', ')}): head kept`
        : 'the saved model names no classes; head kept because its shape matches'
      : info.classes !== null
        ? `classes differ (saved: ${info.classes.join(', ')}; this run: ${classes.join(', ')}): new head`
        : `head shape differs: new head`;
    const problems: string[] = [];
    let copied = 0;
    for (const w of model.weights) {
      const name = nameOf(w);
      if (headNames.has(name) && !keepHead) continue;
      const t = saved[name];
      if (!t) problems.push(`${name} is missing`);
      else if (t.shape.join() !== w.shape.join()) problems.push(`${name} is [${t.shape}] there, [${w.shape}] here`);
      else {
        w.write(t);
        copied++;
      }
    }
    if (problems.length)
      throw new Error(
        `initFrom ${dir}: its weights do not fit this model${info.model ? ` (it is a '${info.model}')` : ''}: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? `; and ${problems.length - 6} more` : ''}`,
      );
    return { from: dir, copied, head: head.name, headReplaced: !keepHead, headReason, sourceClasses: info.classes };
  } finally {
    tf.dispose(Object.values(saved));
  }
}

/** Frozen-layer choices of the `freeze` setting. */
export type FreezeMode = 'none' | 'conv';

/**
 * The layers `freeze: 'conv'` freezes: every layer before the model's first Flatten or global pooling layer, except
 * the classifier head (the last layer with weights; a convolution in front of the pooling in mini-xception). null
 * when the model has no Flatten or global pooling layer.
 */
function convLayers(model: tf.LayersModel): tf.layers.Layer[] | null {
  const end = model.layers.findIndex((l) => ['Flatten', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D'].includes(l.getClassName()));
  if (end < 0) return null;
  const head = [...model.layers].reverse().find((l) => l.weights.length > 0);
  return model.layers.slice(0, end).filter((l) => l !== head);
}

/**
 * Freezes the convolutional blocks of a model (`conv`): every layer before its first Flatten or global pooling layer
 * (but the classifier head, when that is a convolution before the pooling) gets `trainable = false`, so its weights
 * leave `model.trainableWeights` and ferlab's BatchNormalization runs in inference mode (moving statistics used and
 * not updated, as Keras does for a non-trainable BatchNormalization).
 * Note that `model.getWeights()` then lists the trainable weights first.
 * @returns names of the frozen layers (empty for `none`).
 * @throws Error when `conv` is asked of a model without a Flatten or global pooling layer.
 */
export function freezeLayers(model: tf.LayersModel, mode: FreezeMode): string[] {
  if (mode === 'none') return [];
  const layers = convLayers(model);
  if (!layers) throw new Error(`freeze 'conv': model '${model.name}' has no Flatten or global pooling layer that ends its convolutional blocks`);
  const frozen = layers.filter((l) => l.weights.length > 0);
  for (const l of layers) l.trainable = false;
  return frozen.map((l) => l.name);
}

/** Makes the layers {@link freezeLayers} froze trainable again (after fine-tuning, before the model is saved). */
export function unfreezeLayers(model: tf.LayersModel, frozen: readonly string[]): void {
  if (!frozen.length) return;
  for (const l of convLayers(model) ?? []) l.trainable = true;
}
