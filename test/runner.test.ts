/**
 * test/run.ts (`npm test`) counts what each test file did: passed and failed tests from uvu's summary, every skip
 * with its reason (test/helpers/skip.ts), a file that registers no test as skipped, and a file that crashes or exits
 * non-zero as a failure. Checked end to end on seven small test files written to a temporary folder, whose expected
 * counts are written here by hand.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_TIME_LIMIT_S, isUnit, timeLimitS } from './run';
import { join } from 'node:path';
import { tempDir } from './helpers/fixtures';
import { ROOT, runTsx } from './helpers/cli';

const root = ROOT;
const uvu = JSON.stringify(join(root, 'node_modules', 'uvu'));
const uvuAssert = JSON.stringify(join(root, 'node_modules', 'uvu', 'assert'));
const skipHelper = JSON.stringify(join(root, 'test', 'helpers', 'skip'));
const head = `const { test } = require(${uvu}); const assert = require(${uvuAssert}); const { skipFile, skipTest } = require(${skipHelper});\n`;

/** name -> source, and the counts each must give (passed, failed, skipped), by hand from the source. */
const FILES: Record<string, { src: string; passed: number; failed: number; skipped: number }> = {
  'a-pass-and-skip.test.ts': {
    src: `test('one', () => assert.is(1, 1)); test('two', () => assert.ok(true)); skipTest('three', 'needs a widget'); test.run();`,
    passed: 2,
    failed: 0,
    skipped: 1,
  },
  'b-skip-file.test.ts': { src: `skipFile('no data here\\n(set X)'); test.run();`, passed: 0, failed: 0, skipped: 1 },
  'c-empty.test.ts': { src: `test.run();`, passed: 0, failed: 0, skipped: 1 },
  'd-crash.test.ts': { src: `throw new Error('boom at import'); test('never', () => {}); test.run();`, passed: 0, failed: 1, skipped: 0 },
  'e-one-fails.test.ts': { src: `test('ok', () => {}); test('bad', () => assert.is(1, 2, 'one is not two')); test.run();`, passed: 1, failed: 1, skipped: 0 },
  'f-bare-skip.test.ts': { src: `test('ok', () => {}); test.skip('later', () => {}); test.run();`, passed: 1, failed: 0, skipped: 1 },
  'g-bad-exit.test.ts': {
    src: `test('ok', () => {}); test.after(() => { setTimeout(() => process.exit(3), 20); }); test.run();`,
    passed: 1,
    failed: 1,
    skipped: 0,
  },
};

test('npm test counts passes, failures, skips with reasons, empty files and crashes; the summary line is last', () => {
  const dir = tempDir('ferlab-runner-');
  for (const [name, f] of Object.entries(FILES)) writeFileSync(join(dir, name), head + f.src + '\n');
  const r = runTsx(join(ROOT, 'test', 'run.ts'), [], { env: { FERLAB_TEST_DIR: dir, CI: '' } });
  const lines = r.stdout.trimEnd().split('\n');
  const sum = (k: 'passed' | 'failed' | 'skipped') => Object.values(FILES).reduce((a, f) => a + f[k], 0);
  const expected = `${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`;
  assert.is(expected, '5 passed, 3 failed, 4 skipped', 'hand count of the files above');
  assert.is(lines[lines.length - 1], expected, `last line of:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  assert.is(r.status, 1, 'exit status 1 when a test failed');

  const skipped = r.stdout.slice(r.stdout.lastIndexOf('\nskipped:\n'));
  assert.match(skipped, /a-pass-and-skip\.test\.ts "three": needs a widget/);
  assert.match(skipped, /b-skip-file\.test\.ts: no data here \(set X\)/, 'multi-line reason printed on one line');
  assert.match(skipped, /c-empty\.test\.ts: registered no test/);
  assert.match(skipped, /f-bare-skip\.test\.ts: test\.skip or test\.only, no reason given/);
  const failing = r.stdout.slice(r.stdout.lastIndexOf('\nfailing:\n'));
  assert.match(failing, /d-crash\.test\.ts \(exit 1, crashed before uvu's summary: Error: boom at import\)/);
  assert.match(failing, /e-one-fails\.test\.ts \(1 failed, exit 1\)/);
  assert.match(failing, /g-bad-exit\.test\.ts \(no test failed, but exit 3\)/);
  assert.not.match(failing, /a-pass-and-skip|b-skip-file|c-empty|f-bare-skip/, 'passing and skipped files are not listed as failing');
});

test('npm test with nothing but passes and skips exits 0', () => {
  const dir = tempDir('ferlab-runner-');
  for (const name of ['a-pass-and-skip.test.ts', 'b-skip-file.test.ts']) writeFileSync(join(dir, name), head + FILES[name].src + '\n');
  const r = runTsx(join(ROOT, 'test', 'run.ts'), [], { env: { FERLAB_TEST_DIR: dir, CI: '' } });
  assert.is(r.stdout.trimEnd().split('\n').pop(), '2 passed, 0 failed, 2 skipped');
  assert.is(r.status, 0, 'skips alone do not fail the run');
});

test('a file past its time limit is killed with the processes it started, and counts as failed; the others still run', () => {
  const dir = tempDir('ferlab-runner-');
  const pidFile = join(dir, 'child.pid');
  // the file states a 3 s limit, starts a sleeping child (like a server it never stops) and hangs
  const src = [
    '// test-time-limit: 3',
    `const { spawn } = require('node:child_process'); const { writeFileSync } = require('node:fs');`,
    `const c = spawn('sleep', ['120'], { stdio: 'ignore' }); writeFileSync(${JSON.stringify(pidFile)}, String(c.pid));`,
    `test('hangs', () => new Promise(() => {})); test.run();`,
  ].join('\n');
  writeFileSync(join(dir, 'h-hang.test.ts'), head + src + '\n');
  writeFileSync(join(dir, 'a-pass-and-skip.test.ts'), head + FILES['a-pass-and-skip.test.ts'].src + '\n');
  const t0 = Date.now();
  const r = runTsx(join(ROOT, 'test', 'run.ts'), [], { env: { FERLAB_TEST_DIR: dir, CI: '' } });
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < 60, `the run ended ${seconds.toFixed(1)} s after it started; the hung file should have been killed after 3 s`);
  assert.is(r.stdout.trimEnd().split('\n').pop(), '2 passed, 1 failed, 1 skipped');
  assert.match(r.stdout, /h-hang\.test\.ts: killed after its time limit of 3 s/);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  // gone, or a zombie waiting for init to reap it (state Z in /proc/<pid>/stat)
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  const alive = stat !== '' && !/^\d+ \(.*\) Z/.test(stat);
  assert.not.ok(alive, `the hung file's child process ${pid} was killed with it`);
});

test('--unit leaves out the files that need data, Redis, the shared experiment, a browser, Jupyter, ffmpeg or SwiftShader', () => {
  assert.ok(isUnit(`import { tempDir } from '../helpers/fixtures';`));
  assert.not.ok(isUnit(`import { realDataDir } from '../helpers/realdata';`));
  assert.not.ok(isUnit(`import { startRedis } from '../helpers/redis';`));
  assert.not.ok(isUnit(`const { chromium } = require('playwright-core');`));
  assert.not.ok(isUnit(`spawnSync('ffmpeg', args)`));
  assert.not.ok(isUnit(`process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;`));
  assert.is(timeLimitS('/**\n * Header.\n * test-time-limit: 420\n */'), 420);
  assert.is(timeLimitS('// test-time-limit: 30\ntest()'), 30);
  assert.is(timeLimitS("const src = ['// test-time-limit: 3'];"), DEFAULT_TIME_LIMIT_S, 'text inside a string is no limit');
  assert.is(timeLimitS('no limit stated'), DEFAULT_TIME_LIMIT_S);
});

test.run();
