/**
 * Crash safety of `npm run exp` on the real data: the quick default experiment (its two deep runs, side by side) is
 * SIGKILLed at a random point of a second epoch (and, separately, one run between a checkpoint's temporary write and its rename), then continued with
 * `--resume`; every run's epochs.jsonl (timing fields aside), metrics.json (timings aside) and predictions.json must
 * equal those of an uninterrupted experiment with the same seed (the shared quick experiment, trained through the library). Each
 * killed experiment is a separate CLI process, as a user runs it. The two crash cases are independent CLI processes in
 * folders of their own and run side by side (the checkpoint-rename case is started by the random-kill test and checked
 * by its own test); the three refusal checks run side by side too.
 * test-time-limit: 600
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { dropTimings, readJson, readJsonl } from '../helpers/records';
import { tempDir } from '../helpers/fixtures';
import { sharedQuickExperiment } from '../helpers/quick-experiment';
import { spawnCli, experimentDir as findExperiment, type CliOptions, type CliResult } from '../helpers/cli';

const dataDir = realDataDir();
if (!dataDir) skipFile(noRealDataReason());

const RUNS = ['baseline-fer', 'deep-fer', 'baseline-ferplus', 'deep-ferplus'];
const DEEP = ['deep-fer', 'deep-ferplus'];

// every CLI run on wasm, by name: the records must equal the shared quick experiment's, trained on wasm
// (test/helpers/quick-experiment.ts); `auto` would pick native where its addon is built
const cliArgs = (runsDir: string, extra: string[] = []) => [
  'exp',
  '--backend',
  'wasm',
  '--data-dir',
  dataDir!,
  '--no-progress',
  ...extra,
  ...(extra.includes('--resume') ? [] : ['--quick', '--runs-dir', runsDir]),
];

const experimentDir = (runsDir: string) => findExperiment(runsDir, 'default-quick-');

/**
 * Runs `ferlab ARGS` to its end like helpers/cli.ts runCli, without blocking the event loop, so that other CLI
 * processes of this file run (and their output is read) meanwhile.
 */
function runCliAsync(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, out: stdout + stderr }));
  });
}

/** What the checkpoint-rename case left for its test to check. */
interface RenameCase {
  /** The experiment folder (legacy: study.json instead of experiment.json). */
  dir: string;
  /** The `--resume` process. */
  resumed: CliResult;
}

/**
 * The checkpoint-rename crash case: one run (baseline-fer, on one thread as in the 4-run reference: --replicas 1)
 * SIGKILLed at its second checkpoint write (end of epoch 2, FERLAB_TEST_KILL_BEFORE_RENAME), before the rename, then
 * resumed from a folder renamed to the legacy layout (study.json). baseline-fer: its best epoch is the first, so the
 * resumed run also has to keep the best weights written before the crash (the deep runs' batch-norm statistics go
 * through the checkpoint in the random-kill case). Asserts what must hold before resuming.
 */
async function renameCase(): Promise<RenameCase> {
  const runsDir = tempDir('ferlab-resume-rename-');
  const only = ['--only', 'baseline-fer', '--replicas', '1'];
  const killed = await runCliAsync(cliArgs(runsDir, only), { env: { FERLAB_TEST_KILL_BEFORE_RENAME: 'checkpoint.bin:2' } });
  assert.is(killed.signal, 'SIGKILL', killed.out);
  const dir = experimentDir(runsDir);
  const left = readdirSync(join(dir, 'baseline-fer')).filter((f) => f.startsWith('checkpoint.bin.tmp-'));
  assert.is(left.length, 1, `one temporary checkpoint left by the kill: ${left}`);
  // a folder written before the experiment/study rename holds study.json: it resumes the same, and keeps that name
  renameSync(join(dir, 'experiment.json'), join(dir, 'study.json'));
  return { dir, resumed: await runCliAsync(cliArgs(runsDir, ['--resume', dir])) };
}

/** The checkpoint-rename case, once started (by the random-kill test, to run beside it). */
let renaming: Promise<RenameCase> | undefined;
/** Starts the checkpoint-rename case (once); a failure surfaces in its own test, where it is awaited. */
function startRenameCase(): Promise<RenameCase> {
  if (!renaming) {
    renaming = renameCase();
    renaming.catch(() => {}); // awaited (and reported) by its test
  }
  return renaming;
}

const jsonl = (f: string) => readJsonl(f).map(dropTimings);
const json = (f: string) => dropTimings(readJson(f));

/** Asserts that every run record of experiment `b` equals that of experiment `a` (timings aside). */
function assertSameRecords(a: string, b: string, runs = RUNS): void {
  for (const run of runs) {
    const [ra, rb] = [join(a, run), join(b, run)];
    assert.equal(jsonl(join(rb, 'epochs.jsonl')), jsonl(join(ra, 'epochs.jsonl')), `${run}: epochs.jsonl`);
    assert.equal(json(join(rb, 'metrics.json')), json(join(ra, 'metrics.json')), `${run}: metrics.json`);
    assert.equal(readFileSync(join(rb, 'predictions.json'), 'utf8'), readFileSync(join(ra, 'predictions.json'), 'utf8'), `${run}: predictions.json`);
    assert.is(JSON.parse(readFileSync(join(rb, 'status.json'), 'utf8')).state, 'complete', `${run}: status`);
    assert.not.ok(existsSync(join(rb, 'checkpoint.bin')), `${run}: checkpoint removed once complete`);
  }
}

let reference = '';

if (dataDir) {
  test('uninterrupted quick experiment (the reference)', async () => {
    // the quick default experiment trained once per test run through the library (test/helpers/quick-experiment.ts): the CLI
    // runs below, killed and resumed, must give its records
    reference = (await sharedQuickExperiment(dataDir)).dir;
  });

  test('SIGKILL at a random point of the second epoch, then --resume: identical records', async () => {
    // the checkpoint-rename case (next test) trains meanwhile, in its own process and folder
    void startRenameCase();
    const runsDir = tempDir('ferlab-resume-kill-');
    // the two deep runs side by side on the 2 workers (their epochs are long enough for a random kill point; the
    // baseline runs would add training, not cases)
    const child = spawnCli(cliArgs(runsDir, ['--only', DEEP.join(',')]));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // wait until the first run has finished its first epoch (its epochs.jsonl has one line): the second epoch is on
    const t0 = Date.now();
    let firstDone = '';
    while (!firstDone) {
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(child.exitCode === null, `the experiment ended before its second epoch:\n${out}`);
      assert.ok(Date.now() - t0 < 300_000, 'no epoch finished within 5 minutes');
      const dirs = existsSync(runsDir) ? readdirSync(runsDir) : [];
      if (!dirs.length) continue;
      for (const run of RUNS) {
        const f = join(runsDir, dirs[0], run, 'epochs.jsonl');
        if (existsSync(f) && readFileSync(f, 'utf8').trim().split('\n').length === 1) firstDone = run;
      }
    }
    // a random point of that second epoch: an epoch of the quick slice takes several seconds here
    const delay = Math.floor(Math.random() * 1500);
    await new Promise((r) => setTimeout(r, delay));
    const dir = experimentDir(runsDir);
    const lines = readFileSync(join(dir, firstDone, 'epochs.jsonl'), 'utf8')
      .trim()
      .split('\n').length;
    child.kill('SIGKILL');
    await exited;
    assert.is(child.signalCode, 'SIGKILL');
    assert.is(lines, 1, `${firstDone} was still in its second epoch when killed (${delay} ms after its first)`);
    assert.not.ok(existsSync(join(dir, 'results.json')), 'a killed experiment has no results');
    assert.ok(existsSync(join(dir, firstDone, 'checkpoint.bin')), 'the first epoch left a checkpoint');
    assert.is(JSON.parse(readFileSync(join(dir, firstDone, 'status.json'), 'utf8')).state, 'running');

    const r = await runCliAsync(cliArgs(runsDir, ['--resume', dir]));
    assert.is(r.status, 0, r.out);
    assert.match(r.out, /resuming 'default' \(quick\)/);
    assertSameRecords(reference, dir, DEEP);
    assert.match(readFileSync(join(dir, 'results.md'), 'utf8'), /wall time \S+ \(since the last --resume; earlier sessions not counted\)/);
  });

  test('SIGKILL between the checkpoint temp write and its rename: the previous checkpoint is used', async () => {
    // killed at its second checkpoint write (end of epoch 2), before the rename (renameCase); the records of the
    // resumed run must equal the reference's baseline-fer
    const { dir, resumed: r } = await startRenameCase();
    assert.is(r.status, 0, r.out);
    assertSameRecords(reference, dir, ['baseline-fer']);
    assert.ok(existsSync(join(dir, 'study.json')) && !existsSync(join(dir, 'experiment.json')), 'the legacy folder keeps its study.json');
    assert.equal(
      readdirSync(join(dir, 'baseline-fer')).filter((f) => f.includes('.tmp-')),
      [],
      'temporary files removed',
    );
  });

  test('--resume refuses overrides that would change the stored config, and a folder that is no experiment', async () => {
    // three independent CLI processes, side by side
    const [r, same, none] = await Promise.all([
      runCliAsync(cliArgs('', ['--resume', reference, '--set', 'epochs=3'])),
      runCliAsync(cliArgs('', ['--resume', reference, '--set', 'seed=42'])),
      runCliAsync(cliArgs('', ['--resume', tempDir()])),
    ]);
    assert.is(r.status, 1);
    assert.match(r.out, /would change run '[a-z-]+' \(epochs\)/);
    assert.is(same.status, 0, `an override that changes nothing is accepted: ${same.out}`);
    assert.match(same.out, /0 runs to train \(4 finished before\)/);
    assert.is(none.status, 1);
    assert.match(none.out, /not an experiment folder \(no experiment\.json\)/);
  });
}

test.run();
