import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDataDir } from '../../src/util/paths';

/** Where the tests look for the real data: `FERLAB_TEST_DATA_DIR`, else `../shared/data/fer2013` beside the checkout. */
export function realDataLocation(): string {
  return process.env.FERLAB_TEST_DATA_DIR || sharedDataDir();
}

/**
 * The real FER2013/FER+ data for tests (see {@link realDataLocation}), or undefined when absent: the file then skips
 * with {@link noRealDataReason} (test/helpers/skip.ts `skipFile`). Under CI (CI=true) absence is an error thrown at
 * module load, because CI must test the real data: test/run.ts counts the crashed file as one failure.
 * @throws Error under CI when neither fer2013.csv.gz nor fer2013.csv is in the folder.
 */
export function realDataDir(): string | undefined {
  const dir = realDataLocation();
  const ok = existsSync(join(dir, 'fer2013.csv.gz')) || existsSync(join(dir, 'fer2013.csv'));
  if (ok) return dir;
  if (process.env.CI) throw new Error(`CI needs the real data at ${dir} (fer2013.csv.gz and fer2013new.csv)`);
  return undefined;
}

/** The skip reason of a file whose tests need the real data and did not find it. */
export function noRealDataReason(): string {
  return `real data not found at ${realDataLocation()} (fer2013.csv.gz or fer2013.csv; set FERLAB_TEST_DATA_DIR)`;
}
