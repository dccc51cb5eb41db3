import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
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
 * Loads a model saved by {@link saveLayersModel} (or any tfjs layers model folder) from disk without tfjs-node:
 * the same artifacts tf.loadLayersModel would fetch, handed over through tf.io.fromMemory.
 * @throws Error when model.json or a weights file is missing or malformed.
 */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(readFileSync(join(dir, p)));
  }
  const total = buffers.reduce((a, b) => a + b.byteLength, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    data.set(b, off);
    off += b.byteLength;
  }
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData: data.buffer,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );
}
