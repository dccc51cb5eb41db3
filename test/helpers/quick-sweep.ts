/**
 * The tests' quick sweep: a seeded random sweep of 4 `baseline` trials x 2 epochs over lr and label smoothing on the
 * 1,280/320/320-image quick slice, 2 workers (random sampling without pruning: the same trials and records whatever
 * order the workers finish in). Trained once per source state and shared by the test files that read a sweep folder
 * (the sweep runner's checks and its SIGKILL/--resume reference, notebook 05, the sweep report in the browser), like
 * the quick experiment (test/helpers/quick-experiment.ts: the same lock and cache under .cache/test-fixtures).
 */
import { cpSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadSweep } from '../../src/sweep/load';
import { runSweep, type SweepResult } from '../../src/sweep/runner';
import { ROOT } from './cli';
import { fixtureKey, sharedFixture } from './quick-experiment';
import { tempDir } from './fixtures';

/** The spec file's text (a spec file as a user writes one: defineSweep plus its quick variant). */
const SOURCE = `import { defineSweep } from ${JSON.stringify(join(ROOT, 'src', 'sweep', 'spec'))};
import { defineQuickSweep } from ${JSON.stringify(join(ROOT, 'src', 'sweep', 'load'))};
export default defineSweep({
  name: 'test-sweep',
  model: 'baseline',
  labels: 'majority',
  base: { epochs: 2 },
  space: { lr: { kind: 'loguniform', low: 1e-3, high: 1e-2 }, labelSmoothing: { kind: 'choice', values: [0, 0.1] } },
  objective: { metric: 'accuracy' },
  sampler: { name: 'random' },
  budget: { trials: 4 },
  seed: 7,
});
export const quick = defineQuickSweep({ slice: { train: 1280, val: 320, test: 320 } });
`;

/** Writes the quick sweep's spec file (`test-sweep.ts`) into `dir` (default: a new temporary folder); returns its path. */
export function quickSweepSpecFile(dir = tempDir('ferlab-sweep-spec-')): string {
  const file = join(dir, 'test-sweep.ts');
  writeFileSync(file, SOURCE);
  return file;
}

/**
 * The quick sweep (`npm run ferlab -- sweep <quickSweepSpecFile()> --quick --workers 2`), trained once and copied for
 * this caller: `result.dir` and every trial's paths point into the copy.
 * @param opts.runsDir copy it into this runs folder (as the CLI with `--runs-dir <runsDir>` would have written it),
 *   instead of a temporary folder of its own.
 */
export async function sharedQuickSweep(dataDir: string, opts: { runsDir?: string } = {}): Promise<SweepResult> {
  const { result } = await sharedFixture('quick-sweep', fixtureKey(dataDir, 'test/helpers/quick-sweep.ts'), (work) =>
    // backend wasm, as `auto` picks without a GPU (a test that set tfjs' cpu backend must not make this an hour)
    runSweep(loadSweep(quickSweepSpecFile(work)), { quick: true, workers: 2, dataDir, runsDir: work, backend: 'wasm', log: () => {} }),
  );
  const copy = opts.runsDir ? join(opts.runsDir, basename(result.dir)) : join(tempDir('ferlab-quick-sweep-'), basename(result.dir));
  cpSync(result.dir, copy, { recursive: true });
  return JSON.parse(JSON.stringify(result).split(JSON.stringify(result.dir).slice(1, -1)).join(JSON.stringify(copy).slice(1, -1))) as SweepResult;
}
