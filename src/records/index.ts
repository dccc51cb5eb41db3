/**
 * ferlab's on-disk records, one home for all of them: for each record a file-name constant, a zod schema (its type is
 * the schema's `z.infer`), and a read / write pair. Readers check what they read and throw a RecordError naming the
 * file and the field path; writers produce the JSON ferlab has always written (src/records/io.ts).
 *
 * Layer: above src/util and src/data (types only), below src/models, train, eval, exp, sweep, export (test/layers.test.ts).
 */
export * from './io';
export * from './metrics';
export * from './run';
export * from './experiment';
export * from './sweep';
export * from './model';
export * from './evaluation';
