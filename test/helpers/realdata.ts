import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDataDir } from '../../src/util/paths';

/**
 * The real FER2013/FER+ data for tests: `FERLAB_TEST_DATA_DIR`, else `../shared/data/fer2013` beside the checkout.
 * Returns undefined when absent; under CI (CI=true) absence is an error, because CI must test the real data.
 */
export function realDataDir(): string | undefined {
  const dir = process.env.FERLAB_TEST_DATA_DIR || sharedDataDir();
  const ok = existsSync(join(dir, 'fer2013.csv.gz')) || existsSync(join(dir, 'fer2013.csv'));
  if (ok) return dir;
  if (process.env.CI) throw new Error(`CI needs the real data at ${dir} (fer2013.csv.gz and fer2013new.csv)`);
  console.warn(`real data not found at ${dir}: skipping the tests that need it (set FERLAB_TEST_DATA_DIR)`);
  return undefined;
}
