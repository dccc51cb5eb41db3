/**
 * Skipping a test file or a test WITH a reason that `npm test` (test/run.ts) counts and reports.
 *
 * A file that cannot run its tests (no real data, no Jupyter, no Chromium, ...) must say so with one of these instead
 * of printing a warning and registering nothing: test/run.ts counts each call as one skipped test, lists every reason
 * under `skipped:` before the summary line `N passed, N failed, N skipped`, and counts a file that registers no test
 * and gives no reason as skipped with the reason "registered no test".
 *
 * Mechanism: each call prints one machine-readable line `# SKIP <file>: <reason>` (the TAP "# SKIP" directive) on
 * stdout, which test/run.ts parses, and calls uvu's `test.skip` on the default suite, so uvu's own `Skipped: N` agrees
 * (uvu 0.5.6 counts `test.skip` calls in `Skipped:` only, not in `Total:`, and prints no name or reason for them).
 * Call these at module top level, before `test.run()`; uvu has no way to skip from inside a running test.
 *
 * @example
 *   const dataDir = realDataDir();
 *   if (!dataDir) skipFile(noRealDataReason());
 *   else test('...', () => { ... });
 *   test.run();
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { relative } from 'node:path';

/** The line prefix test/run.ts looks for; the reason follows on the same line. */
export const SKIP_MARK = '# SKIP ';

/** The test file being run (`test/...`), for the skip line; `?` when unknown. */
function currentFile(): string {
  const main = process.argv[1];
  return main ? relative(process.cwd(), main) : '?';
}

function mark(what: string, reason: string): void {
  const oneLine = reason.replace(/\s*\n\s*/g, ' ').trim();
  if (!oneLine) throw new Error(`skip of ${what} needs a reason (got '${reason}')`);
  process.stdout.write(`${SKIP_MARK}${what}: ${oneLine}\n`);
}

/**
 * Skips the whole file: counted as one skipped test with `reason` (say what is missing and how to get it, e.g.
 * `Chromium not found at /usr/bin/chromium (apt-get install chromium, or set FERLAB_CHROMIUM)`).
 * @throws Error when `reason` is empty.
 */
export function skipFile(reason: string): void {
  mark(currentFile(), reason);
  test.skip(reason, () => {});
}

/**
 * Skips one test of a file that runs others: counted as one skipped test named `name`, with `reason`.
 * @throws Error when `reason` is empty.
 */
export function skipTest(name: string, reason: string): void {
  mark(`${currentFile()} "${name}"`, reason);
  test.skip(name, () => {});
}

/**
 * For a tool that CI must have (CI=true, as .ci/run sets): under CI registers a test named `name` that fails with
 * `reason`; elsewhere skips the whole file with `reason` ({@link skipFile}).
 */
export function skipFileUnlessCI(name: string, reason: string): void {
  if (process.env.CI) test(name, () => assert.unreachable(`CI=true: ${reason}`));
  else skipFile(reason);
}
