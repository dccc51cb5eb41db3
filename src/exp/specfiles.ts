import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/paths';

/**
 * The spec files: experiment files in `experiments/` (`export default defineExperiment({...})`, src/exp/config.ts) and
 * sweep spec files in `sweeps/` (`export default defineSweep({...})`, src/sweep/spec.ts). These are TypeScript that
 * runs when loaded, so a spec is found by its file name in its own folder (`experiments/<name>.ts`,
 * `sweeps/<name>.ts`) and only that one file is imported; listing the available names (for `no experiment 'x'` errors,
 * sweep reproduction) reads file names, and imports nothing. A sweep spec file left in `experiments/` by an older
 * checkout (before sweeps/ existed) is still found by `ferlab sweep`: it is told apart by its source text.
 */

/** What a spec name must look like: a file name stem, lower case (`default`, `sweep-recipe`, `paper-ferplus`). */
export const SPEC_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** The folder of spec files: `experiments/` in the project, or `dist/experiments/` when running compiled, and its extension. */
export function experimentsDir(): { dir: string; ext: '.ts' | '.js' } {
  const fromSource = __filename.endsWith('.ts');
  return fromSource ? { dir: join(PROJECT_ROOT, 'experiments'), ext: '.ts' } : { dir: join(PROJECT_ROOT, 'dist', 'experiments'), ext: '.js' };
}

/** The folder of sweep spec files: `sweeps/` in the project, or `dist/sweeps/` when running compiled, and its extension. */
export function sweepsDir(): { dir: string; ext: '.ts' | '.js' } {
  const { dir, ext } = experimentsDir();
  return { dir: join(dir, '..', 'sweeps'), ext };
}

/**
 * Old names of experiment files that were renamed, to the new name (their commands and run folders keep working):
 * `sweep-lr` is a grid of runs, not a search, so it became `lr-grid` ("sweep" is kept for `ferlab sweep`).
 */
export const EXPERIMENT_ALIASES: Readonly<Record<string, string>> = { 'sweep-lr': 'lr-grid' };

const isFile = (f: string): boolean => {
  try {
    return statSync(f).isFile();
  } catch {
    return false;
  }
};

/** A spec file found by {@link listSpecFiles}. */
export interface SpecFile {
  /** The file name without its extension: what `npm run exp -- <name>` / `ferlab sweep <name>` take. */
  name: string;
  file: string;
  /** True for a sweep spec file: its source mentions `defineSweep` (read as text, not run). */
  sweep: boolean;
}

/**
 * The spec files of a folder (`.ts` / `.js`, not `.d.ts`; files only), sorted by name, told apart by their
 * source text: a file that mentions `defineSweep` is a sweep spec file, any other an experiment file. Nothing is
 * imported.
 * @param dir default {@link experimentsDir}.
 */
export function listSpecFiles(dir: string = experimentsDir().dir): SpecFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && isFile(join(dir, f)))
    .map((f) => ({ name: f.replace(/\.(ts|js)$/, ''), file: join(dir, f), sweep: isSweepSource(join(dir, f)) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether a spec file's source text mentions `defineSweep` (a sweep spec file); unreadable files count as experiments. */
export function isSweepSource(file: string): boolean {
  try {
    return /\bdefineSweep\b/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The file of spec `name` in `dir`: `<dir>/<name><ext>`, and whether it can be loaded (`name` is a {@link SPEC_NAME}
 * and the file exists). Only this exact file name is considered; no other file is read or imported.
 * @param dir default {@link experimentsDir}. @param ext default the extension of {@link experimentsDir}.
 */
export function specFileOf(name: string, dir: string = experimentsDir().dir, ext: string = experimentsDir().ext): { file: string; exists: boolean } {
  const file = join(dir, `${name}${ext}`);
  if (!SPEC_NAME.test(name)) return { file, exists: false };
  return { file, exists: isFile(file) };
}
