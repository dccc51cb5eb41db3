/**
 * `npm test`: runs every `test/**\/*.test.ts` file with uvu (TypeScript through tsx), lists every failing file and
 * every skip reason, and ends with the summary line `N passed, N failed, N skipped`, alone on the last line.
 * Each file runs in its own Node process (and process group) so that backends, kernels and memory of one file cannot
 * leak into another.
 *
 * How a file is counted (uvu 0.5.6 prints `Total: N` = tests registered with `test()`/`test.only()`, `Passed: N`, and
 * `Skipped: N` = `test.skip` calls plus the tests left out by `test.only`; the skipped ones are not in Total):
 * - passed = Passed, failed = Total - Passed;
 * - skipped = the `# SKIP <file>: <reason>` lines that test/helpers/skip.ts prints (`skipFile`, `skipTest`), one per
 *   skip, each listed with its reason; uvu skips beyond those lines are counted with the reason "no reason given";
 * - a file that registers no test and skips nothing counts as 1 skipped, reason "registered no test";
 * - a file that crashes before uvu's summary (e.g. an exception at import, such as realDataDir under CI=true without
 *   the data), or exits non-zero with no failed test, counts as 1 failure.
 *
 * Usage: `npm test [-- [--unit] <substring filter>...]`, e.g. `npm test -- data` runs the files whose path contains
 * "data"; `npm test -- --unit` runs only the files that need no data, server or browser (isUnit).
 * Files run two at a time (FERLAB_TEST_JOBS), the ones with the longest time limit first; each has a time limit
 * (`test-time-limit: <s>` in its text, default DEFAULT_TIME_LIMIT_S; FERLAB_TEST_TIME_LIMIT_S overrides), past which
 * its whole process group is killed and the file counts as failed.
 * `FERLAB_TEST_DIR=<dir>` runs the `*.test.ts` files under that folder instead of `test/` (test/runner.test.ts uses
 * it). Exit status 1 when anything failed or no file matched.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { SKIP_MARK } from './helpers/skip';

const root = join(__dirname, '..');
const args = process.argv.slice(2);
/** `--unit`: only the files that need no real data, server, browser, notebook kernel or ffmpeg (see isUnit). */
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => a !== '--unit');

/**
 * A unit test file needs nothing outside the project: it imports none of the helpers for the real data, Redis or the
 * shared quick experiment, and names no browser (playwright), Jupyter kernel, ffmpeg or SwiftShader (the CPU Vulkan driver of
 * Debian's chromium that the webgpu tests run on). Decided from the file's text.
 */
export function isUnit(source: string): boolean {
  return !/helpers\/(realdata|redis|quick-experiment|quick-sweep)|playwright|jupyter|ffmpeg|SWIFTSHADER_ICD/.test(source);
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : name.endsWith('.test.ts') ? [p] : [];
    });
}

/** Removes ANSI colour codes (uvu colours its summary numbers when FORCE_COLOR is set or stdout is a terminal). */
// eslint-disable-next-line no-control-regex -- ESC (\x1b) starts every ANSI colour code
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** The last `label: <int>` of uvu's summary in `out`, or undefined when absent. */
function lastCount(out: string, label: string): number | undefined {
  const all = [...out.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, 'gm'))];
  return all.length ? Number(all[all.length - 1][1]) : undefined;
}

/** Counts of one test file's process. */
export interface FileCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** One entry per skipped test: `<file>: <reason>`. */
  skips: string[];
  /** Why the file failed, when it did. */
  problem?: string;
}

/**
 * Counts one file's result from its combined stdout + stderr, exit status and signal (rules in the header).
 * `rel` names the file in messages. Tested by test/runner.test.ts on real uvu output.
 */
export function countFile(rel: string, output: string, status: number | null, signal: NodeJS.Signals | null = null): FileCounts {
  const out = plain(output);
  const skips = [...out.matchAll(new RegExp(`${SKIP_MARK}(.+)$`, 'gm'))].map((m) => m[1].trim());
  const total = lastCount(out, 'Total');
  const ok = lastCount(out, 'Passed');
  const uvuSkipped = lastCount(out, 'Skipped') ?? 0;
  const exit = `exit ${status}${signal ? `, ${signal}` : ''}`;
  if (total === undefined || ok === undefined) {
    const error = /^\s*((?:\w*Error|Exiting early)[^\n]*)/m.exec(out)?.[1] ?? 'no error message';
    return { passed: 0, failed: 1, skipped: skips.length, skips, problem: `${rel} (${exit}, crashed before uvu's summary: ${error.slice(0, 300)})` };
  }
  for (let i = skips.length; i < uvuSkipped; i++) skips.push(`${rel}: test.skip or test.only, no reason given`);
  if (total === 0 && skips.length === 0) skips.push(`${rel}: registered no test`);
  const failed = total - ok;
  if (failed > 0) return { passed: ok, failed, skipped: skips.length, skips, problem: `${rel} (${failed} failed, ${exit})` };
  if (status !== 0) return { passed: ok, failed: 1, skipped: skips.length, skips, problem: `${rel} (no test failed, but ${exit})` };
  return { passed: ok, failed: 0, skipped: skips.length, skips };
}

/** Default time limit of one test file (s); a file states a longer one with a `test-time-limit: <s>` line. */
export const DEFAULT_TIME_LIMIT_S = 240;

/** The file's own time limit (`test-time-limit: <s>` anywhere in its text), else DEFAULT_TIME_LIMIT_S; env FERLAB_TEST_TIME_LIMIT_S overrides both. */
export function timeLimitS(source: string): number {
  const env = Number(process.env.FERLAB_TEST_TIME_LIMIT_S);
  if (env > 0) return env;
  const m = /^\s*(?:\/\/|\*)\s*test-time-limit:\s*(\d+)/m.exec(source);
  return m ? Number(m[1]) : DEFAULT_TIME_LIMIT_S;
}

/** Files run side by side (FERLAB_TEST_JOBS, default 2): most files wait on child processes, servers or disks. */
function jobs(): number {
  const v = Number(process.env.FERLAB_TEST_JOBS);
  return Number.isInteger(v) && v > 0 ? v : 2;
}

interface FileRun {
  rel: string;
  output: string;
  counts: FileCounts;
  seconds: number;
  /** CPU time (user + system) of the file's process and the children it waited for; undefined off Linux. */
  cpuSeconds?: number;
}

/**
 * CPU seconds (user + system) of this process's children that have ended and been waited for: fields 16 and 17
 * (cutime, cstime, in clock ticks) of /proc/self/stat (proc(5)); undefined where /proc is missing. Read when a file
 * ends, the difference to the previous reading is that file's CPU time (files end one at a time), which tells a file
 * that computes from one that waits (the wall time of two files side by side says neither).
 */
function childCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}
let lastCpu = childCpuSeconds();

/**
 * Runs one file in its own process group; past its time limit the whole group (the file and the servers, browsers
 * and workers it started) is killed with SIGKILL and the file counts as failed, naming the limit.
 */
function runFile(file: string, limit: number): Promise<FileRun> {
  const rel = relative(root, file);
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, limit * 1000);
    child.on('error', (e) => (stderr += `\nError: ${e.message}\n`));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      // whatever the file left running in its group (servers it did not stop) goes with it
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* the group is gone */
      }
      let counts = countFile(rel, `${stdout}\n${stderr}`, status, signal);
      const note = `${rel}: killed after its time limit of ${limit} s (a 'test-time-limit: <s>' line in the file sets it)`;
      if (timedOut) counts = { ...counts, failed: Math.max(counts.failed, 1), problem: note };
      const seconds = (Date.now() - started) / 1000;
      const cpu = childCpuSeconds();
      const cpuSeconds = cpu !== undefined && lastCpu !== undefined ? cpu - lastCpu : undefined;
      lastCpu = cpu;
      done({ rel, output: `${stdout}${stderr}${timedOut ? `\n${note}\n` : ''}`, counts, seconds, cpuSeconds });
    });
  });
}

async function main(): Promise<void> {
  const testDir = process.env.FERLAB_TEST_DIR ? resolve(process.env.FERLAB_TEST_DIR) : join(root, 'test');
  const files = walk(testDir)
    .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
    .map((f) => ({ f, source: readFileSync(f, 'utf8') }))
    .filter(({ source }) => !unitOnly || isUnit(source))
    .map(({ f, source }) => ({ f, limit: timeLimitS(source) }));
  // the files with the longest limits (the slow ones) start first, so that the two queues end together
  const order = [...files].sort((a, b) => b.limit - a.limit || a.f.localeCompare(b.f));
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const broken: string[] = [];
  const skipReasons: string[] = [];
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const { f, limit } = order[next++];
      const r = await runFile(f, limit);
      // each file's output printed whole when it ends (files run side by side)
      process.stdout.write(`\n# ${r.rel}\n${r.output}  (${r.seconds.toFixed(1)} s${r.cpuSeconds !== undefined ? `, ${r.cpuSeconds.toFixed(1)} s CPU` : ''})\n`);
      passed += r.counts.passed;
      failed += r.counts.failed;
      skipped += r.counts.skipped;
      skipReasons.push(...r.counts.skips);
      if (r.counts.problem) broken.push(r.counts.problem);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs(), Math.max(1, order.length)) }, worker));
  process.stdout.write(`\n${files.length} test files in ${((Date.now() - t0) / 1000).toFixed(0)} s (${jobs()} at a time)\n`);
  if (files.length === 0) process.stdout.write(`no test file matches ${filters.map((f) => `'${f}'`).join(', ')}\n`);
  if (skipReasons.length) process.stdout.write(`skipped:\n  ${skipReasons.join('\n  ')}\n`);
  if (broken.length) process.stdout.write(`failing:\n  ${broken.sort().join('\n  ')}\n`);
  process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exit(failed > 0 || files.length === 0 ? 1 : 0);
}

if (require.main === module) void main();
