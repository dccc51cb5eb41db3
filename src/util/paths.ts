import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';

function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'ferlab') return dir;
      } catch {
        /* not ours */
      }
    }
    const up = dirname(dir);
    if (up === dir) return resolve(start, '..', '..');
    dir = up;
  }
}

/** The ferlab checkout (the folder with ferlab's package.json), whether running from `src/` or `dist/`. */
export const PROJECT_ROOT = findProjectRoot(__dirname);

/** Resolves `p` against the project root unless it is absolute (so notebooks in notebooks/ see the same paths). */
export function projectPath(p: string): string {
  return resolve(PROJECT_ROOT, p);
}

/**
 * `p` relative to the project root when it lies inside the checkout (`runs/best-cpu-.../deep-fer`), else `p` absolute:
 * what records written into committed files (released models) should hold instead of this machine's paths.
 */
export function projectRelative(p: string): string {
  const r = relative(PROJECT_ROOT, resolve(p));
  return r === '' ? '.' : r.startsWith('..') || isAbsolute(r) ? resolve(p) : r;
}

/** Data directory: `FERLAB_DATA_DIR`, else `data/` in the project root. A CLI `--data-dir` overrides both. */
export function defaultDataDir(): string {
  return projectPath(process.env.FERLAB_DATA_DIR || 'data');
}

/** Cache directory for the binary dataset cache: `FERLAB_CACHE_DIR`, else `.cache/` in the project root. */
export function defaultCacheDir(): string {
  return projectPath(process.env.FERLAB_CACHE_DIR || '.cache');
}

/** Where run records go: `FERLAB_RUNS_DIR`, else `runs/` in the project root (git-ignored). */
export function defaultRunsDir(): string {
  return projectPath(process.env.FERLAB_RUNS_DIR || 'runs');
}

/** The development/CI copy of the real data beside the checkout (`../shared/data/fer2013`). */
export function sharedDataDir(): string {
  return resolve(PROJECT_ROOT, '..', 'shared', 'data', 'fer2013');
}
