import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from './paths';

/**
 * Guards notebooks against stale compiled code: `npm run build` records a hash of every TypeScript source it
 * compiled (src/ and experiments/) in dist/build-info.json; importing dist/ recomputes the hash and refuses to load
 * when the sources changed since. (tslab compiles notebook cells with the notebook folder as rootDir, so notebooks
 * import the compiled dist/ rather than src/ itself.)
 */

const SOURCE_DIRS = ['src', 'experiments', 'sweeps'];

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return n === 'assembly' ? [] : walk(p);
      return n.endsWith('.ts') && !n.endsWith('.d.ts') ? [p] : [];
    });
}

/** SHA-256 over the paths and contents of the TypeScript sources that dist/ is compiled from. */
export function sourceHash(root = PROJECT_ROOT): string {
  const h = createHash('sha256');
  for (const d of SOURCE_DIRS) {
    for (const f of walk(join(root, d))) {
      h.update(relative(root, f));
      h.update('\0');
      h.update(readFileSync(f));
      h.update('\0');
    }
  }
  return h.digest('hex');
}

/**
 * Throws when dist/ was compiled from other sources than the ones in the checkout now.
 * @throws Error telling the user to run `npm run build`.
 */
export function assertFreshBuild(root = PROJECT_ROOT): void {
  const info = join(root, 'dist', 'build-info.json');
  if (!existsSync(join(root, 'src'))) return; // an installed package without sources: nothing to compare
  if (!existsSync(info)) throw new Error('ferlab: dist/ has no build-info.json; run `npm run build`');
  const recorded = JSON.parse(readFileSync(info, 'utf8')).sourceHash as string;
  if (recorded !== sourceHash(root)) {
    throw new Error(
      'ferlab: dist/ is stale: src/ or experiments/ changed since it was compiled. Run `npm run build` (npm run notebooks does), then restart the kernel.',
    );
  }
}
