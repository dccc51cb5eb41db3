/**
 * `npm test`: runs every `test/**\/*.test.ts` file with uvu (TypeScript through tsx) and ends with the summary line
 * `N passed, N failed` (uvu prints Total/Passed/Skipped only). Each file runs in its own Node process so that
 * backends, kernels and memory of one file cannot leak into another; files run one after another.
 *
 * Usage: `npm test [-- <substring filter>...]`, e.g. `npm test -- data` runs the files whose path contains "data".
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');
const filters = process.argv.slice(2);

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : name.endsWith('.test.ts') ? [p] : [];
    });
}

const files = walk(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)));
let passed = 0;
let failed = 0;
let skipped = 0;
const broken: string[] = [];
const t0 = Date.now();
for (const file of files) {
  const rel = relative(root, file);
  process.stdout.write(`\n# ${rel}\n`);
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', file], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    // the file crashed before uvu could report: count it as one failure
    failed += 1;
    broken.push(`${rel} (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}, no uvu summary)`);
    continue;
  }
  passed += ok;
  skipped += skip;
  failed += total - ok - skip;
  if (total - ok - skip > 0 || r.status !== 0) broken.push(`${rel} (${total - ok - skip} failed, exit ${r.status})`);
  process.stdout.write(`  (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  if (r.status !== 0 && total - ok - skip === 0) failed += 1;
}
process.stdout.write(`\n${files.length} test files in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
if (broken.length) process.stdout.write(`failing: \n  ${broken.join('\n  ')}\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
