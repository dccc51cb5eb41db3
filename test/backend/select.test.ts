/**
 * Backend names are validated (src/backend/select.ts parseBackendChoice): a name that is not a backend is an error
 * naming where it came from (`initBackend()`, `FERLAB_BACKEND`, `--backend`) and listing the valid names; never a
 * silent fall back to the cpu backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { currentBackend, initBackend, parseBackendChoice } from '../../src/backend/select';
import { ROOT, runCli } from '../helpers/cli';

/** The valid names, written out by hand from docs/experiments.md (`--backend wasm|cpu|tensorflow|tensorflow-gpu`, plus auto). */
const VALID = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Asserts `message` lists every valid name and names the source and the bad value. */
function assertListsNames(message: string, source: string, value: string): void {
  for (const name of VALID) assert.ok(new RegExp(`(^|[^\\w-])${name}([^\\w-]|$)`).test(message), `'${name}' listed in: ${message}`);
  assert.ok(message.includes(source), `source '${source}' named in: ${message}`);
  assert.ok(message.includes(value), `bad value '${value}' quoted in: ${message}`);
}

test('parseBackendChoice accepts exactly the five valid names and rejects near misses', () => {
  for (const name of VALID) assert.is(parseBackendChoice(name, 'test'), name);
  for (const bad of ['nope', 'WASM', 'gpu', 'tensorflow_gpu', '', ' cpu']) {
    assert.throws(
      () => parseBackendChoice(bad, '--backend'),
      (e: Error) => (assertListsNames(e.message, '--backend', `'${bad}'`), true),
      `'${bad}' is rejected`,
    );
  }
});

test("initBackend('nope') rejects with the valid names and leaves the active backend as it was", async () => {
  await initBackend('wasm');
  let message = '';
  try {
    await initBackend('nope' as never);
  } catch (e) {
    message = (e as Error).message;
  }
  assert.ok(message, "initBackend('nope') must reject");
  assertListsNames(message, 'initBackend()', "'nope'");
  assert.is(tf.getBackend(), 'wasm', 'no switch to another backend');
  assert.is(currentBackend()?.name, 'wasm');
});

test('FERLAB_BACKEND=nope: initBackend() in a fresh process rejects before any backend is initialised', () => {
  const script = [
    "const tf = require('@tensorflow/tfjs');",
    "require('./src/backend/select').initBackend().then(",
    "  (info) => { console.log('CHOSE ' + info.name); process.exit(0); },",
    "  (e) => { console.log('ERROR ' + e.message); console.log('ENGINE BACKEND ' + tf.engine().backendName); process.exit(2); });",
  ].join('\n');
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FERLAB_BACKEND: 'nope' },
  });
  assert.is(r.status, 2, `rejected (exit 2), got exit ${r.status}:\n${r.stdout}\n${r.stderr.slice(-2000)}`);
  const error = /^ERROR (.*)$/m.exec(r.stdout)?.[1] ?? '';
  assertListsNames(error, 'FERLAB_BACKEND', "'nope'");
  assert.match(r.stdout, /^ENGINE BACKEND (null|undefined)$/m, 'tfjs never initialised a backend (no fall back to cpu)');
});

test('ferlab --backend nope: exit 1, the error lists the valid names', () => {
  const r = runCli(['--backend', 'nope', 'models']);
  assert.is(r.status, 1, `exit status, stderr: ${r.stderr.slice(-2000)}`);
  assertListsNames(r.stderr, '--backend', "'nope'");
  assert.not.match(r.stdout, /MMAC/, 'no model table printed');
});

test.run();
