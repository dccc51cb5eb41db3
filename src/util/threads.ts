import { join } from 'node:path';

/**
 * Code for `new Worker(code, { eval: true })` that runs the module `name` (without extension) of the folder `dir`:
 * the `.ts` file under tsx when ferlab runs from its TypeScript sources (`fromTs`), else the compiled `.js` file.
 * The one definition of how ferlab starts its worker threads (experiment pool, benchmark, data-parallel replicas).
 *
 * @param dir the caller's `__dirname`. @param name module file name without extension, e.g. `'worker'`.
 * @param fromTs whether the caller itself runs from TypeScript (pass `__filename.endsWith('.ts')`).
 */
export function workerCode(dir: string, name: string, fromTs: boolean): string {
  const file = join(dir, `${name}.${fromTs ? 'ts' : 'js'}`);
  return fromTs ? `require('tsx/cjs'); require(${JSON.stringify(file)});` : `require(${JSON.stringify(file)});`;
}
