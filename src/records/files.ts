/**
 * File names of records that code outside Node reads too (the browser demo fetches a model folder's metadata), and the
 * one rule on a field of it the demo applies, kept free of zod and node: imports so that a browser bundle can take them.
 * The schemas are in the record modules.
 */

/** File name of a model folder's metadata (schema: src/records/model.ts ModelMetaSchema). */
export const MODEL_META_FILE = 'ferlab.json';

/**
 * Whether a model folder's output is class probabilities (ferlab.json `output` starting with `probabilities`: an
 * ensemble averaging its members' probabilities, src/export/ensemble.ts) rather than logits (every other ferlab model;
 * `output` absent = logits). Consumers then use the outputs as they are instead of applying softmax, and no temperature
 * applies.
 */
export function outputIsProbabilities(meta: { output?: string }): boolean {
  return meta.output !== undefined && /^probabilities\b/.test(meta.output);
}
