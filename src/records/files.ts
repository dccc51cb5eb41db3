/**
 * File names of records that code outside Node reads too (the browser demo fetches a model folder's metadata), kept
 * free of zod and node: imports so that a browser bundle can take them. The schemas are in the record modules.
 */

/** File name of a model folder's metadata (schema: src/records/model.ts ModelMetaSchema). */
export const MODEL_META_FILE = 'ferlab.json';
