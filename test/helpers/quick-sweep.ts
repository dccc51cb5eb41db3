/**
 * The quick sweep (`npm run ferlab -- sweep sweep-recipe --quick`: 4 trials of 2 epochs on the 1,280/320/320-image
 * slice, 2 workers, about 1 min on 2 cores), trained once per source state and shared by the test files that only read
 * a sweep folder (the notebooks' 05-sweeps, the sweep report in the browser), like the quick experiment
 * (test/helpers/quick-experiment.ts: the same lock and cache under .cache/test-fixtures).
 */
import { cpSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadSweep } from '../../src/sweep/load';
import { runSweep, type SweepResult } from '../../src/sweep/runner';
import { fixtureKey, sharedFixture } from './quick-experiment';
import { tempDir } from './fixtures';

/**
 * The quick sweep of sweeps/sweep-recipe.ts, copied for this caller: `result.dir` and every trial's paths point into the copy.
 * @param opts.runsDir copy it into this runs folder (as `npm run ferlab -- sweep sweep-recipe --quick --runs-dir
 *   <runsDir>` would have written it), instead of a temporary folder of its own.
 */
export async function sharedQuickSweep(dataDir: string, opts: { runsDir?: string } = {}): Promise<SweepResult> {
  const { result } = await sharedFixture('quick-sweep', fixtureKey(dataDir, 'sweeps/sweep-recipe.ts'), (work) =>
    // backend wasm, as `auto` picks without a GPU (a test that set tfjs' cpu backend must not make this an hour)
    runSweep(loadSweep('sweep-recipe'), { quick: true, workers: 2, dataDir, runsDir: work, backend: 'wasm', log: () => {} }),
  );
  const copy = opts.runsDir ? join(opts.runsDir, basename(result.dir)) : join(tempDir('ferlab-quick-sweep-'), basename(result.dir));
  cpSync(result.dir, copy, { recursive: true });
  return JSON.parse(JSON.stringify(result).split(JSON.stringify(result.dir).slice(1, -1)).join(JSON.stringify(copy).slice(1, -1))) as SweepResult;
}
