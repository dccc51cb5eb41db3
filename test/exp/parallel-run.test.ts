/**
 * Data-parallel training of one run on the real data (src/train/parallel.ts through `npm run exp`): the quick
 * `deep-ferplus` run with `--replicas 2` records its replica count, gives identical records after a SIGKILL in its
 * second epoch and `--resume` (the replicas' dropout state and the replica count come back from the checkpoint), and
 * its PrivateTest accuracy is within noise of the same run on one thread (the shared quick experiment's; BatchNorm
 * statistics per shard and other dropout masks make the two differ a little; the bound is 4 binomial standard errors
 * of the difference).
 * Skipped (with the reason) without the real data; under CI=true missing data fails (test/helpers/realdata.ts).
 * test-time-limit: 360
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { dropTimings, readJson, readJsonl } from '../helpers/records';
import { tempDir } from '../helpers/fixtures';
import { sharedQuickExperiment } from '../helpers/quick-experiment';
import { runCli, spawnCli, experimentDir as findExperiment } from '../helpers/cli';

const dataDir = realDataDir();
if (!dataDir) skipFile(noRealDataReason());

const RUN = 'deep-ferplus';

// on wasm, by name: data-parallel replicas run on wasm (and cpu) only, and the 1-replica comparison is the shared
// quick experiment's run, trained on wasm (`auto` would pick native where its addon is built)
const cliArgs = (runsDir: string, extra: string[]) => [
  'exp',
  '--backend',
  'wasm',
  '--data-dir',
  dataDir!,
  '--no-progress',
  ...extra,
  ...(extra.includes('--resume') ? [] : ['--quick', '--only', RUN, '--runs-dir', runsDir]),
];

const experimentDir = (runsDir: string) => findExperiment(runsDir, 'default-quick-');

let reference = '';

if (dataDir) {
  test('--replicas 2: one run on two threads, recorded in metrics.json and the log', () => {
    const runsDir = tempDir('ferlab-dp-ref-');
    const r = runCli(cliArgs(runsDir, ['--replicas', '2']));
    assert.is(r.status, 0, r.out);
    assert.match(r.out, /1 run to train on 1 worker x 2 data-parallel replicas/);
    reference = join(experimentDir(runsDir), RUN);
    const m = readJson(join(reference, 'metrics.json')) as { replicas?: number; test: { accuracy: number } };
    assert.is(m.replicas, 2);
    assert.ok(m.test.accuracy > 0.3, `it learned something: PrivateTest accuracy ${m.test.accuracy}`);
  });

  test('SIGKILL in the second epoch, then --resume: records identical to the uninterrupted 2-replica run', async () => {
    const runsDir = tempDir('ferlab-dp-kill-');
    const child = spawnCli(cliArgs(runsDir, ['--replicas', '2']));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const t0 = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(child.exitCode === null, `the experiment ended before its second epoch:\n${out}`);
      assert.ok(Date.now() - t0 < 300_000, 'no epoch finished within 5 minutes');
      const dirs = existsSync(runsDir) ? readdirSync(runsDir) : [];
      const f = dirs.length ? join(runsDir, dirs[0], RUN, 'epochs.jsonl') : '';
      if (f && existsSync(f) && readFileSync(f, 'utf8').trim().split('\n').length === 1) break;
    }
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1000)));
    child.kill('SIGKILL');
    await exited;
    const dir = experimentDir(runsDir);
    assert.is(
      readFileSync(join(dir, RUN, 'epochs.jsonl'), 'utf8')
        .trim()
        .split('\n').length,
      1,
      'killed in the second epoch',
    );
    // resumed without --replicas: the checkpoint's replica count is kept
    const r = runCli(cliArgs(runsDir, ['--resume', dir, '--replicas', '1']));
    assert.is(r.status, 0, r.out);
    const run = join(dir, RUN);
    assert.equal(readJsonl(join(run, 'epochs.jsonl')).map(dropTimings), readJsonl(join(reference, 'epochs.jsonl')).map(dropTimings), 'epochs.jsonl');
    assert.equal(dropTimings(readJson(join(run, 'metrics.json'))), dropTimings(readJson(join(reference, 'metrics.json'))), 'metrics.json');
    assert.equal(readFileSync(join(run, 'predictions.json'), 'utf8'), readFileSync(join(reference, 'predictions.json'), 'utf8'), 'predictions.json');
  });

  test('--replicas 1: the same run on one thread reaches an accuracy within noise of the 2-replica run', async () => {
    // the same run on one thread is the shared quick experiment's (its 4 runs train one thread each, replicas 1;
    // test/helpers/quick-experiment.ts): the resume test checks that `--only <run> --replicas 1` gives its records
    const shared = await sharedQuickExperiment(dataDir!);
    const one = readJson(join(shared.dir, RUN, 'metrics.json')) as { replicas?: number; test: { accuracy: number }; sizes: { test: number } };
    const two = readJson(join(reference, 'metrics.json')) as { test: { accuracy: number } };
    assert.is(one.replicas, undefined, 'one thread: no replicas field');
    const p = (one.test.accuracy + two.test.accuracy) / 2;
    const bound = 4 * Math.sqrt((2 * p * (1 - p)) / one.sizes.test);
    const diff = Math.abs(one.test.accuracy - two.test.accuracy);
    assert.ok(
      diff <= bound,
      `PrivateTest accuracy 1 replica ${one.test.accuracy} vs 2 replicas ${two.test.accuracy}: difference ${diff.toFixed(4)} > bound ${bound.toFixed(4)}`,
    );
  });
}

test.run();
