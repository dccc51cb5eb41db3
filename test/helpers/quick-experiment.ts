/**
 * The default experiment's quick experiment (`npm run exp -- --quick`: 4 runs, 2 workers, ~40 s on 2 cores), trained once
 * and shared by the test files that only read it (export, TFLite, the quick-experiment checks, the browser), instead of
 * each file training its own copy.
 *
 * The trained experiment is kept in `.cache/test-fixtures/quick-experiment-<key>/`, where the key hashes everything that decides
 * its records: the sources (src/, experiments/default.ts), package-lock.json, and the data files' size and mtime. A
 * test run on a fresh clone trains it once; a later run with the same sources reuses it. Test files run side by side
 * (test/run.ts), so the first caller trains under a lock (a folder made with mkdir, which is atomic) and the others
 * wait for its `result.json`; a lock whose process is gone (a file killed at its time limit) is taken over.
 *
 * Each caller gets its own copy of the experiment folder (a temporary folder; paths in the returned ExperimentResult point into
 * it), so a test may write into it.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { loadExperiment, runExperiment, type ExperimentResult } from '../../src/exp/experiment';
import { ROOT } from './cli';
import { tempDir } from './fixtures';

/** Folder of the shared test fixtures (git-ignored, under the project's .cache). */
export const FIXTURE_DIR = process.env.FERLAB_TEST_FIXTURE_DIR ?? join(ROOT, '.cache', 'test-fixtures');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

/**
 * sha256 (first 16 hex digits) of the sources, the lock file, the data files' sizes and mtimes, and `spec` (the
 * experiment or sweep spec file the fixture runs, relative to the project root).
 */
export function fixtureKey(dataDir: string, spec = 'experiments/default.ts'): string {
  const h = createHash('sha256');
  for (const f of [...filesUnder(join(ROOT, 'src')), join(ROOT, spec), join(ROOT, 'package-lock.json')]) {
    h.update(relative(ROOT, f));
    h.update(readFileSync(f));
  }
  for (const f of existsSync(dataDir) ? readdirSync(dataDir).sort() : []) {
    const s = statSync(join(dataDir, f));
    if (s.isFile()) h.update(`${f}:${s.size}:${s.mtimeMs}`);
  }
  return h.digest('hex').slice(0, 16);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds (once, under a lock) or waits for the fixture folder `<FIXTURE_DIR>/<name>-<key>/`: `build(dir)` writes into
 * `dir/work` and returns a JSON value, stored as `dir/result.json` (the mark of a finished fixture).
 * @throws Error when another process holds the lock for longer than `waitMs` (default 15 min).
 */
export async function sharedFixture<T>(
  name: string,
  key: string,
  build: (work: string) => Promise<T>,
  waitMs = 15 * 60_000,
): Promise<{ dir: string; result: T }> {
  const dir = join(FIXTURE_DIR, `${name}-${key}`);
  const done = join(dir, 'result.json');
  const lock = join(FIXTURE_DIR, `${name}-${key}.lock`);
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const t0 = Date.now();
  for (;;) {
    if (existsSync(done)) return { dir, result: JSON.parse(readFileSync(done, 'utf8')) as T };
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const pid = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : NaN);
      if (Number.isInteger(pid) && !alive(pid))
        rmSync(lock, { recursive: true, force: true }); // its builder was killed
      else if (Date.now() - t0 > waitMs) throw new Error(`test fixture ${name}: ${lock} held by process ${pid} for over ${waitMs / 1000} s`);
      await sleep(500);
    }
  }
  try {
    rmSync(dir, { recursive: true, force: true }); // what a killed builder left
    mkdirSync(join(dir, 'work'), { recursive: true });
    const result = await build(join(dir, 'work'));
    writeFileSync(`${done}.tmp`, JSON.stringify(result));
    renameSync(`${done}.tmp`, done);
    return { dir, result };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * The quick default experiment (all 4 runs, 2 workers, the defaults of `npm run exp -- --quick`), trained once per source
 * state and copied for this caller: `result.dir` and every run's `dir` point into the copy.
 * @param opts.runsDir copy it into this runs folder (as `npm run exp -- --quick --runs-dir <runsDir>` would have
 *   written it), instead of a temporary folder of its own.
 */
export async function sharedQuickExperiment(dataDir: string, opts: { runsDir?: string } = {}): Promise<ExperimentResult> {
  const { result } = await sharedFixture('quick-experiment', fixtureKey(dataDir), (work) =>
    // backend wasm, as `auto` picks on a machine without a GPU: `auto` would keep a backend the calling test set
    // (tfjs' cpu backend: an hour for this experiment)
    runExperiment(loadExperiment('default'), { quick: true, dataDir, runsDir: work, backend: 'wasm', log: () => {} }),
  );
  // into a runs folder under the experiment folder's own name (default-quick-<timestamp>, as `npm run exp` names it)
  const copy = opts.runsDir ? join(opts.runsDir, basename(result.dir)) : join(tempDir('ferlab-quick-experiment-'), 'experiment');
  cpSync(result.dir, copy, { recursive: true });
  // every path of the result, moved to the copy
  return JSON.parse(JSON.stringify(result).split(JSON.stringify(result.dir).slice(1, -1)).join(JSON.stringify(copy).slice(1, -1))) as ExperimentResult;
}
