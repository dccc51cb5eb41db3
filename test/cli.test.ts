/**
 * The `ferlab` command line as a user runs it (npm run exp / npm run ferlab): a run on fixture data, strict
 * overrides, and clear errors for bad input; plus the committed wasm kernels being up to date with their sources.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeRows, tempDir, writeFixture } from './helpers/fixtures';
import { ROOT, runCli, runTsx } from './helpers/cli';
import { loadNativeAddon } from '../src/backend/native/addon';

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env });

const fixture = writeFixture(makeRows({ train: 48, val: 16, test: 16 }));

test('ferlab exp runs a quick experiment on fixture data and prints the results table', () => {
  const runs = tempDir();
  const r = cli([
    '--data-dir',
    fixture,
    '--cache-dir',
    tempDir(),
    'exp',
    '--quick',
    '--only',
    'baseline-fer,baseline-ferplus',
    '--workers',
    '1',
    '--set',
    'batchSize=8',
    '--set',
    'epochs=1',
    '--runs-dir',
    runs,
    '--no-progress',
  ]);
  assert.is(r.status, 0, `exit status 0, stderr: ${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /baseline-fer/);
  assert.match(r.stdout, /test acc/);
  // no --backend: auto, which is native where its addon loads (the loader itself says), else wasm here (no GPU)
  const expected = 'error' in loadNativeAddon() ? 'wasm' : 'native';
  assert.match(r.stdout, new RegExp(`ferlab: backend ${expected} \\(`), `auto: expected ${expected}, printed '${/ferlab: backend .*/.exec(r.stdout)?.[0]}'`);
  const experiments = readdirSync(runs);
  assert.is(experiments.length, 1);
  assert.ok(existsSync(join(runs, experiments[0], 'baseline-ferplus', 'model', 'model.json')));
});

test('an unknown override key is an error naming the key and the valid ones; nothing runs', () => {
  const runs = tempDir();
  const r = cli(['--data-dir', fixture, 'exp', '--set', 'epoch=3', '--runs-dir', runs]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /unknown key 'epoch'/);
  assert.match(r.stderr, /epochs/);
  assert.equal(readdirSync(runs), []);
  const bad = cli(['--data-dir', fixture, 'exp', '--set', 'lr=fast', '--runs-dir', runs]);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /lr/);
});

test('a missing data dir says where to download the data and the expected layout', () => {
  const r = cli(['--data-dir', join(tempDir(), 'missing'), 'exp', '--quick']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /data directory not found/);
  assert.match(r.stderr, /fer2013\.csv/);
  assert.match(r.stderr, /FERPlus/);
});

test('ferlab data prints split sizes of every label set', () => {
  const r = cli(['--data-dir', fixture, '--cache-dir', tempDir(), 'data']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /80 images/);
  for (const name of ['fer', 'majority', 'probability', 'crossentropy', 'multi_target']) assert.match(r.stdout, new RegExp(name));
});

test('committed wasm kernel modules are built from the current AssemblyScript sources', () => {
  const r = runTsx(join(ROOT, 'scripts', 'build-kernels.ts'), ['--check']);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /relaxed\.wasm: up to date/);
  assert.match(r.stdout, /simd\.wasm: up to date/);
});

test.run();
