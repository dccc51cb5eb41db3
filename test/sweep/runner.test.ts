/**
 * Sweeps for real (src/sweep/runner.ts) on the real data's quick slice: a seeded random sweep of 4 trials x 2 epochs of
 * `baseline` on 2 worker threads completes with a consistent journal, complete run records and a leaderboard that
 * matches the metrics.json files; the same sweep SIGKILLed (coordinator and workers: one process) once a trial is
 * complete and another one is running, then continued with `--resume`, keeps the complete trials untouched and ends
 * with the same trials, params, states, objectives and run records as the uninterrupted sweep; a bad spec makes the
 * CLI exit non-zero naming the parameter, without a sweep folder.
 * test-time-limit: 480
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SweepResult } from '../../src/sweep/runner';
import { replayJournal, type TrialRecord } from '../../src/sweep/journal';
import { runsTable } from '../../src/sweep/leaderboard';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { dropTimings, readJson, readJsonl } from '../helpers/records';
import { tempDir } from '../helpers/fixtures';
import { runCli, spawnCli } from '../helpers/cli';
import { quickSweepSpecFile, sharedQuickSweep } from '../helpers/quick-sweep';

const dataDir = realDataDir();
if (!dataDir) skipFile(noRealDataReason());


const drop = dropTimings;
const json = readJson;
const jsonl = readJsonl;
const journalLines = (dir: string) => jsonl(join(dir, 'journal.jsonl'));

/** The journal's trials without times: what an uninterrupted sweep with the same seed must have too. */
const trialsOf = (dir: string) =>
  replayJournal(join(dir, 'journal.jsonl')).map((t: TrialRecord) => ({
    trial: t.trial,
    params: t.params,
    state: t.state,
    value: t.value,
    attempts: t.attempts,
  }));

/** mtime (ms) of every file under `dir`. */
function mtimes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.set(p, st.mtimeMs);
    }
  };
  walk(dir);
  return out;
}

let spec = '';
let reference: SweepResult;

if (dataDir) {
  test('a quick sweep (random sampler, 4 trials x 2 epochs, 2 workers) completes: journal, run records, leaderboard', async () => {
    spec = quickSweepSpecFile();
    const runsDir = tempDir('ferlab-sweep-ref-');
    // the tests' quick sweep, trained once per test run (test/helpers/quick-sweep.ts) and copied into runsDir
    reference = await sharedQuickSweep(dataDir!, { runsDir });
    const dir = reference.dir;
    assert.match(dir, /test-sweep-quick-\d{8}-\d{6}$/);
    assert.is(reference.state, 'complete');
    assert.is(reference.stopReason, 'trials');
    assert.equal(reference.counts, { running: 0, complete: 4, pruned: 0, failed: 0 });
    const info = json(join(dir, 'sweep.json'));
    assert.is(info.state, 'complete');
    assert.is(info.spec.name, 'test-sweep');
    assert.equal(info.slice, { train: 1280, val: 320, test: 320 });
    assert.ok(info.environment.backend, 'environment recorded');

    // the journal: every trial created once, complete exactly once, with its two epochs reported
    const lines = journalLines(dir);
    assert.is(lines[0].event, 'header');
    for (let t = 0; t < 4; t++) {
      assert.is(lines.filter((l) => l.trial === t && l.event === 'created').length, 1, `trial ${t} created once`);
      assert.is(lines.filter((l) => l.trial === t && l.state === 'complete').length, 1, `trial ${t} complete once`);
      assert.equal(
        lines.filter((l) => l.trial === t && l.event === 'intermediate').map((l) => l.epoch),
        [1, 2],
        `trial ${t}: epochs 1 and 2 reported`,
      );
    }
    const trials = replayJournal(join(dir, 'journal.jsonl'));
    assert.is(trials.length, 4);

    // run records: what runOne writes, with the trial's params in the resolved config
    for (const t of trials) {
      const rdir = join(dir, `trial-000${t.trial}`);
      assert.is(t.runDir, `trial-000${t.trial}`);
      for (const f of ['config.json', 'epochs.jsonl', 'metrics.json', 'predictions.json', 'model/model.json', 'status.json'])
        assert.ok(existsSync(join(rdir, f)), `trial ${t.trial}: ${f}`);
      assert.not.ok(existsSync(join(rdir, 'checkpoint.bin')), 'checkpoint removed once complete');
      assert.is(json(join(rdir, 'status.json')).state, 'complete');
      const run = json(join(rdir, 'config.json')).run;
      assert.is(run.experiment, 'test-sweep');
      assert.is(run.name, `trial-000${t.trial}`);
      assert.is(run.lr, t.params.lr);
      assert.is(run.labelSmoothing, t.params.labelSmoothing);
      assert.is(run.epochs, 2);
      assert.equal(run.slice, { train: 1280, val: 320, test: 320 });
      assert.is(jsonl(join(rdir, 'epochs.jsonl')).length, 2);
      // the journal's objective is the selected epoch's PublicTest accuracy (never PrivateTest)
      const m = json(join(rdir, 'metrics.json'));
      assert.is(t.value, m.val.accuracy);
    }

    // the leaderboard (returned, results.json) against the metrics.json files, read independently
    const stored = json(join(dir, 'results.json')) as SweepResult;
    for (const rows of [reference.trials, stored.trials]) {
      assert.is(rows.length, 4);
      for (const r of rows) {
        const m = json(join(dir, r.run, 'metrics.json'));
        assert.is(r.state, 'complete');
        assert.is(r.objective, m.val.accuracy, `${r.run}: objective`);
        assert.equal(r.publicTest, { accuracy: m.val.accuracy, macroF1: m.val.macroF1 }, `${r.run}: PublicTest`);
        assert.equal(r.privateTest, { accuracy: m.test.accuracy, macroF1: m.test.macroF1 }, `${r.run}: PrivateTest`);
        assert.is(r.epochs, m.epochs);
        assert.is(r.bestEpoch, m.bestEpoch);
        assert.is(r.trainSeconds, m.trainSeconds);
      }
      const objectives = rows.map((r) => r.objective!);
      assert.equal(
        objectives,
        [...objectives].sort((a, b) => b - a),
        'best first',
      );
    }
    const best = trials.reduce((a, b) => (b.value! > a.value! ? b : a));
    assert.is(reference.best?.trial, best.trial, 'best trial: the highest PublicTest objective, the lower number on ties');
    assert.match(reference.best!.reproduce.command ?? '', /^npm run exp -- \S+ --only \S+ .*--set lr=/);
    assert.match(reference.best!.reproduce.snippet, /defineExperiment\(/);
    const md = readFileSync(join(dir, 'results.md'), 'utf8');
    for (let t = 0; t < 4; t++) assert.match(md, `trial-000${t}`);
    assert.match(md, reference.best!.reproduce.command!);

    // the cross-runs leaderboard sees the same numbers
    const rows = runsTable(runsDir, { sweep: 'test-sweep' });
    assert.is(rows.length, 4);
    for (const r of rows) {
      const m = json(join(r.dir, 'metrics.json'));
      assert.is(r.kind, 'sweep');
      assert.is(r.publicTest, m.val.accuracy);
      assert.is(r.privateTest, m.test.accuracy);
      assert.is(r.macroF1, m.test.macroF1);
      assert.match(r.settingsText, /^epochs=2 lr=\S+ .*slice\.train=1280/);
    }
  });

  test('SIGKILL of the coordinator with a trial complete and one running, then --resume: nothing reruns, same trials as uninterrupted', async () => {
    const runsDir = tempDir('ferlab-sweep-kill-');
    // on wasm, by name (both processes): the records must equal the shared quick sweep's, trained on wasm
    // (test/helpers/quick-sweep.ts); `auto` would pick native where its addon is built
    const wasm = ['--backend', 'wasm'];
    const child = spawnCli([...wasm, 'sweep', spec, '--quick', '--workers', '2', '--data-dir', dataDir!, '--runs-dir', runsDir, '--no-progress']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // poll the journal: kill once a trial is complete and another is running with its first epoch reported but not its
    // last (2 epochs), and its run record not complete: the epoch's checkpoint is written before the epoch is reported
    // (src/train/loop.ts), so the resumed sweep must continue that trial from its checkpoint. Killing on any reported
    // epoch raced: a trial that had reported its last epoch could finish its run record before the kill, and is then
    // resumed as 'complete before the interruption' instead (CI stop 21).
    const t0 = Date.now();
    let dir = '';
    let midway: string;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(child.exitCode === null, `the sweep ended before it could be killed:\n${out}`);
      assert.ok(Date.now() - t0 < 300_000, 'no trial finished within 5 minutes');
      const dirs = existsSync(runsDir) ? readdirSync(runsDir) : [];
      if (!dirs.length || !existsSync(join(runsDir, dirs[0], 'journal.jsonl'))) continue;
      dir = join(runsDir, dirs[0]);
      const trials = replayJournal(join(dir, 'journal.jsonl'));
      if (!trials.some((t) => t.state === 'complete')) continue;
      const mid = trials.find((t) => t.state === 'running' && t.intermediates.has(1) && !t.intermediates.has(2) && t.runDir);
      if (mid && existsSync(join(dir, mid.runDir!, 'checkpoint.bin')) && json(join(dir, mid.runDir!, 'status.json')).state === 'running') {
        midway = mid.runDir!;
        break;
      }
    }
    child.kill('SIGKILL');
    await exited;
    assert.is(child.signalCode, 'SIGKILL');
    const atKill = replayJournal(join(dir, 'journal.jsonl'));
    const complete = atKill.filter((t) => t.state === 'complete');
    const running = atKill.filter((t) => t.state === 'running');
    assert.ok(complete.length >= 1 && running.length >= 1, `killed with ${complete.length} complete, ${running.length} running`);
    assert.is(json(join(dir, 'sweep.json')).state, 'running', 'a killed sweep does not claim completion');
    const before = new Map(complete.map((t) => [t.trial, mtimes(join(dir, t.runDir!))]));

    const r = runCli([...wasm, 'sweep', '--resume', dir, '--data-dir', dataDir!, '--no-progress']);
    assert.is(r.status, 0, r.out);
    assert.match(r.out, /resuming sweep 'test-sweep' \(quick\): \d+ trials? finished before, \d+ to continue/);
    assert.match(r.out, `${midway}: continues from its checkpoint after epoch 1`);

    // complete trials were not run again: their files are untouched and the journal completes each trial once
    for (const [trial, files] of before) assert.equal(mtimes(join(dir, `trial-000${trial}`)), files, `trial ${trial}: files untouched`);
    const lines = journalLines(dir);
    for (let t = 0; t < 4; t++) {
      assert.is(lines.filter((l) => l.trial === t && l.state === 'complete').length, 1, `trial ${t} complete once`);
      assert.is(lines.filter((l) => l.trial === t && l.event === 'created').length, 1, `trial ${t} created once (no retry)`);
    }
    // the same trials, params, states and objectives as the uninterrupted sweep, and the same run records
    assert.equal(trialsOf(dir), trialsOf(reference.dir));
    for (let t = 0; t < 4; t++) {
      const [a, b] = [join(reference.dir, `trial-000${t}`), join(dir, `trial-000${t}`)];
      assert.equal(drop(json(join(b, 'metrics.json'))), drop(json(join(a, 'metrics.json'))), `trial ${t}: metrics.json`);
      assert.equal(drop(jsonl(join(b, 'epochs.jsonl'))), drop(jsonl(join(a, 'epochs.jsonl'))), `trial ${t}: epochs.jsonl`);
      assert.is(readFileSync(join(b, 'predictions.json'), 'utf8'), readFileSync(join(a, 'predictions.json'), 'utf8'), `trial ${t}: predictions.json`);
    }
    const info = json(join(dir, 'sweep.json'));
    assert.is(info.state, 'complete');
    assert.is(info.resumed.length, 1);
    assert.is(json(join(dir, 'results.json')).best.trial, reference.best!.trial);
  });

  test('a bad spec: the CLI exits non-zero naming the parameter and leaves no sweep folder', () => {
    const dir = tempDir('ferlab-sweep-bad-');
    const runsDir = join(dir, 'runs');
    const bad = join(dir, 'bad-sweep.ts');
    writeFileSync(bad, readFileSync(spec, 'utf8').replace("labelSmoothing: { kind: 'choice'", "'augment.wobble': { kind: 'choice'"));
    const r = runCli(['sweep', bad, '--quick', '--data-dir', dataDir!, '--runs-dir', runsDir]);
    assert.is(r.status, 1, r.out);
    assert.match(r.out, /ferlab: search space parameter "augment\.wobble": not a training setting/);
    assert.not.ok(existsSync(runsDir) && readdirSync(runsDir).length, 'no sweep folder');

    const badLabels = join(dir, 'bad-labels.ts');
    writeFileSync(badLabels, readFileSync(spec, 'utf8').replace("labels: 'majority'", "labels: 'ferplus'"));
    const r2 = runCli(['sweep', badLabels, '--quick', '--data-dir', dataDir!, '--runs-dir', runsDir]);
    assert.is(r2.status, 1, r2.out);
    assert.match(r2.out, /ferlab: sweep 'test-sweep': labels: unknown label set 'ferplus'/);
    assert.not.ok(existsSync(runsDir) && readdirSync(runsDir).length, 'no sweep folder');
  });
}

test.run();
