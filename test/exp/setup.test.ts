/**
 * The runners' worker count (src/exp/setup.ts chooseWorkers): one training per core on wasm and cpu, cores / threads
 * on native (workers x oneDNN threads <= cores, with a line saying how it chose and a warning past the cores), 1 on
 * backends that use the whole machine; the `--threads` option of the CLI. Expected values worked out by hand. A
 * runner set up with `auto` (setUpRunner, on fixture data) hands its worker threads the backend auto chose, with the
 * cores divided on native: `native` and floor(cores / FERLAB_NATIVE_THREADS) workers where the addon loads (the addon
 * loader itself says whether it does), else `wasm` and one worker per core.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { availableParallelism } from 'node:os';
import { chooseWorkers, setUpRunner } from '../../src/exp/setup';
import { loadNativeAddon } from '../../src/backend/native/addon';
import { runCli } from '../helpers/cli';
import { makeRows, writeFixture } from '../helpers/fixtures';

test('wasm and cpu: one per core, or the experiment setting, or the option', () => {
  assert.equal(chooseWorkers({ name: 'wasm' }, { cores: 2 }), { workers: 2 });
  assert.equal(chooseWorkers({ name: 'cpu' }, { cores: 16 }), { workers: 16 });
  assert.equal(chooseWorkers({ name: 'wasm' }, { runnerDefault: 1, cores: 2 }), { workers: 1 });
  assert.equal(chooseWorkers({ name: 'wasm' }, { requested: 3, runnerDefault: 1, cores: 2 }), { workers: 3 });
});

test('webgpu and tfjs-node use the whole machine per training: 1 unless asked', () => {
  assert.equal(chooseWorkers({ name: 'webgpu' }, { cores: 8 }), { workers: 1 });
  assert.equal(chooseWorkers({ name: 'tensorflow' }, { runnerDefault: 4, cores: 8 }), { workers: 1 });
  assert.equal(chooseWorkers({ name: 'webgpu' }, { requested: 2, cores: 8 }), { workers: 2 });
});

test('native: floor(cores / threads) workers, said how; a warning when workers x threads exceed the cores', () => {
  // 2 cores, 1 thread each: 2 trainings side by side
  assert.equal(chooseWorkers({ name: 'native', threads: 1 }, { cores: 2 }), {
    workers: 2,
    note: 'native: 2 workers x 1 oneDNN thread on 2 cores (floor(2 cores / 1 threads))',
  });
  // 2 cores, 2 threads: one training gets both cores
  assert.is(chooseWorkers({ name: 'native', threads: 2 }, { cores: 2 }).workers, 1);
  // 16 cores, 3 threads: floor(16 / 3) = 5 (15 threads)
  assert.is(chooseWorkers({ name: 'native', threads: 3 }, { cores: 16 }).workers, 5);
  // more threads than cores even for one training: 1 worker, warned
  const one = chooseWorkers({ name: 'native', threads: 4 }, { cores: 2 });
  assert.is(one.workers, 1);
  assert.match(one.note ?? '', /more threads than cores/);
  // asked for 2 workers of 2 threads on 2 cores: kept, warned, and the note names the option
  const asked = chooseWorkers({ name: 'native', threads: 2 }, { requested: 2, cores: 2 });
  assert.is(asked.workers, 2);
  assert.match(asked.note ?? '', /^native: 2 workers x 2 oneDNN threads on 2 cores \(the workers option\): more threads than cores/);
  // an experiment's own workers setting comes before the split (and is named)
  assert.match(chooseWorkers({ name: 'native', threads: 1 }, { runnerDefault: 1, cores: 2 }).note ?? '', /^native: 1 worker x 1 oneDNN thread .*experiment's workers setting/);
  // no thread count recorded: 1
  assert.is(chooseWorkers({ name: 'native' }, { cores: 2 }).workers, 2);
});

test('CLI: --threads takes a positive integer; --help lists the native backend and --threads', () => {
  const bad = runCli(['--threads', '0', 'data', '--help']);
  assert.is.not(bad.status, 0, bad.out);
  assert.match(bad.out, /--threads.*expected a positive integer/);
  const help = runCli(['--help']);
  assert.is(help.status, 0, help.out);
  const flat = help.out.replace(/\s+/g, ' '); // commander wraps option descriptions
  assert.match(flat, /--backend <name> tfjs backend: auto, [a-z, -]*\bnative\b/);
  assert.match(flat, /--threads <n> oneDNN threads per training on the native backend/);
});

test('setUpRunner with auto: the workers get the backend auto chose, the cores divided on native', async () => {
  const before = { backend: process.env.FERLAB_BACKEND, threads: process.env.FERLAB_NATIVE_THREADS };
  delete process.env.FERLAB_BACKEND;
  process.env.FERLAB_NATIVE_THREADS = '2';
  const lines: string[] = [];
  try {
    const dataDir = writeFixture(makeRows({ train: 16, val: 8, test: 8 }));
    const setup = await setUpRunner({ dataDir, cacheDir: false, log: (l) => lines.push(l) }, ['majority']);
    const cores = availableParallelism();
    assert.is(setup.backend, 'auto', 'asked for');
    if ('error' in loadNativeAddon()) {
      assert.is(setup.workerBackend, 'wasm', lines.join('\n'));
      assert.is(setup.workers, cores, 'one per core');
    } else {
      assert.is(setup.workerBackend, 'native', lines.join('\n'));
      assert.is(setup.backendInfo.threads, 2);
      const workers = Math.max(1, Math.floor(cores / 2)); // e.g. 2 cores / 2 threads = 1 worker
      assert.is(setup.workers, workers, `floor(${cores} cores / 2 threads)`);
      assert.ok(
        lines.includes(`ferlab: native: ${workers} worker${workers === 1 ? '' : 's'} x 2 oneDNN threads on ${cores} cores (floor(${cores} cores / 2 threads))`),
        `the split is logged:\n${lines.join('\n')}`,
      );
    }
    assert.ok(lines[0].startsWith(`ferlab: backend ${setup.workerBackend} (`), `first line names the backend: ${lines[0]}`);
    assert.match(setup.env.backend, new RegExp(`^${setup.workerBackend} \\(`), 'the environment recorded names it');
  } finally {
    if (before.backend === undefined) delete process.env.FERLAB_BACKEND;
    else process.env.FERLAB_BACKEND = before.backend;
    if (before.threads === undefined) delete process.env.FERLAB_NATIVE_THREADS;
    else process.env.FERLAB_NATIVE_THREADS = before.threads;
  }
});

test.run();
