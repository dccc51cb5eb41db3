import * as tf from '@tensorflow/tfjs';
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';

/**
 * Saves a tf.LayersModel in the standard TensorFlow.js layers format: `model.json` (topology + weights manifest) and
 * `weights.bin`, both written atomically, loadable with plain `tf.loadLayersModel(url)` in browsers and Node, with
 * `tfjs-node`'s `file://` handler, and by tfjs-converter / tensorflowjs_converter for other runtimes.
 *
 * @param extra fields added to model.json's `userDefinedMetadata` (e.g. classes and preprocessing).
 * @returns paths of the files written.
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string, extra: Record<string, unknown> = {}): Promise<string[]> {
  let written: string[] = [];
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData as ArrayBuffer;
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: 'ferlab',
        userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), ...extra },
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      writeFileAtomic(join(dir, 'weights.bin'), new Uint8Array(weights));
      writeJsonAtomic(join(dir, 'model.json'), json);
      written = [join(dir, 'model.json'), join(dir, 'weights.bin')];
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
  return written;
}

/**
 * The fields of a tfjs layers-model `model.json` that ferlab reads (tfjs-core `ModelJSON`).
 */
export interface ModelJson {
  modelTopology: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: Record<string, unknown>;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/**
 * Reads a file that must be a plain regular file: opened with O_NOFOLLOW (a symbolic link as the last path component
 * fails to open, so a link swapped in after a check is not followed either) and checked with fstat.
 * @throws Error (ELOOP for a symbolic link, ENOENT, ...) or `not a regular file`.
 */
function readPlainFile(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The one check of a file a model folder names (model.json, and every `weightsManifest` path in it), used by every
 * loader of a model folder (predict, eval, export, initFrom, the browser demo): the name must be a file name directly
 * beside model.json (no folder part, no `..`, not absolute) and the file a plain regular file (lstat: not a symbolic
 * link, not a folder or device), so a model folder cannot make ferlab read, copy or serve files outside itself. The
 * rule follows how weight files are laid out: tfjs' save handlers and tensorflowjs_converter write them beside
 * model.json (`weights.bin`, `group1-shard1of1.bin`), and tf.loadLayersModel fetches each path relative to model.json.
 *
 * @param dir the model folder. @param name the file name as model.json (or the caller) gives it.
 * @returns the absolute path `dir/name`.
 * @throws Error naming model.json and the offending path: a path with a folder part or `..`, a symbolic link, a
 *   missing file, or something that is not a regular file.
 */
export function modelFolderFile(dir: string, name: string): string {
  const manifest = join(dir, 'model.json');
  const what = name === 'model.json' ? `${manifest}` : `${manifest}: weights path '${name}'`;
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name))
    throw new Error(`${what} is not a file name beside model.json (model folders must hold their weight files themselves; no folders, '..' or absolute paths)`);
  const file = join(dir, name);
  let st;
  try {
    st = lstatSync(file);
  } catch (e) {
    throw new Error(`${what}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (st.isSymbolicLink())
    throw new Error(`${what}: ${file} is a symbolic link; model folders must hold their files themselves (copy the file in instead of linking it)`);
  if (!st.isFile()) throw new Error(`${what}: ${file} is not a regular file`);
  return file;
}

/**
 * Reads and parses a model folder's model.json, checking it and every weight path it lists with {@link modelFolderFile}.
 * @returns the parsed JSON and the weight files (absolute paths, in manifest order, one list per manifest group).
 * @throws Error naming model.json when it is missing, a symbolic link, not JSON, has no `weightsManifest` list of
 *   `{paths, weights}` groups, or lists a weight path that {@link modelFolderFile} refuses.
 */
export function readModelJson(dir: string): { file: string; json: ModelJson; weightFiles: string[][] } {
  const file = modelFolderFile(dir, 'model.json');
  let json: ModelJson;
  try {
    json = JSON.parse(readPlainFile(file).toString('utf8')) as ModelJson;
  } catch (e) {
    throw new Error(`${file}: cannot read it (${(e as Error).message}); expected a TensorFlow.js layers model folder`);
  }
  const groups = json?.weightsManifest;
  if (!Array.isArray(groups) || !groups.every((g) => g && Array.isArray(g.paths) && Array.isArray(g.weights)))
    throw new Error(`${file}: 'weightsManifest' must be a list of {paths, weights} groups (TensorFlow.js layers model format)`);
  const weightFiles = groups.map((g) => g.paths.map((p) => modelFolderFile(dir, p)));
  return { file, json, weightFiles };
}

/**
 * Reads the bytes of a file checked by {@link modelFolderFile} (or {@link readModelJson}'s `weightFiles`), refusing a
 * symbolic link that replaced it since the check (O_NOFOLLOW).
 * @throws Error naming the file when it cannot be read.
 */
export function readModelFolderFile(file: string): Buffer {
  try {
    return readPlainFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `${file}: cannot read it (${code === 'ELOOP' ? 'a symbolic link; model folders must hold their files themselves' : (code ?? (e as Error).message)})`,
    );
  }
}

/**
 * Loads a model saved by {@link saveLayersModel} (or any tfjs layers model folder) from disk without tfjs-node:
 * the same artifacts tf.loadLayersModel would fetch, handed over through tf.io.fromMemory. model.json and its weight
 * paths go through {@link readModelJson}: weight files must be plain files beside model.json.
 * @throws Error naming model.json when it or a weights file is missing or malformed, or a weights path leads outside
 *   the folder or is a symbolic link.
 */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  const { json, weightFiles } = readModelJson(dir);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  json.weightsManifest.forEach((group, i) => {
    specs.push(...group.weights);
    for (const f of weightFiles[i]) buffers.push(readModelFolderFile(f));
  });
  const total = buffers.reduce((a, b) => a + b.byteLength, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    data.set(b, off);
    off += b.byteLength;
  }
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: specs,
      weightData: data.buffer,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );
}
