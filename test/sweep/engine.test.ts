/** The ask-and-tell sweep engine: budgets, retries, pruning, best(), and resume after a simulated crash. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { SweepEngine } from '../../src/sweep/engine';
import { defineSweep, type SweepSpecInput } from '../../src/sweep/spec';
import { replayJournal } from '../../src/sweep/journal';
import { tempDir } from '../helpers/fixtures';

const spec = (over: Partial<SweepSpecInput> = {}) =>
  defineSweep({
    name: 'engine-test',
    model: 'baseline',
    labels: 'fer',
    base: { epochs: 4 },
    space: {
      lr: { kind: 'loguniform', low: 1e-4, high: 1e-1 },
      'augment.shift': { kind: 'int', low: 0, high: 4 },
      'optimizer.weightDecay': { kind: 'choice', values: [0, 1e-4] },
    },
    objective: { metric: 'accuracy' },
    sampler: { name: 'random' },
    budget: { trials: 50 },
    seed: 3,
    ...over,
  });

/** A fake clock: advance it by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A synthetic objective of the params (higher is better). */
const objective = (p: Record<string, unknown>) => 1 - Math.abs(Math.log10(p.lr as number) + 2.5) / 3 - (p['augment.shift'] as number) / 100;

test('ask gives trials numbered 0, 1, ... with their settings diff, and journals created + running', () => {
  const dir = tempDir('ferlab-sweep-');
  const e = SweepEngine.create(dir, spec());
  const t = e.ask()!;
  assert.is(t.trial, 0);
  assert.is(t.attempt, 1);
  assert.equal(t.settingsDiff, {
    epochs: 4,
    lr: t.params.lr,
    augment: { shift: t.params['augment.shift'] },
    optimizer: { weightDecay: t.params['optimizer.weightDecay'] },
  });
  const lines = readFileSync(e.journalFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(
    lines.map((l) => l.event + (l.state ? `:${l.state}` : '')),
    ['header', 'created', 'state:running'],
  );
  assert.is(e.ask()!.trial, 1);
  assert.throws(() => SweepEngine.create(dir, spec()), /exists: resume that sweep/);
});

test('trial budget: after budget.trials trials ask returns undefined (retries do not count again)', () => {
  const e = SweepEngine.create(tempDir('ferlab-sweep-'), spec({ budget: { trials: 3 }, retries: 2 }));
  const a = e.ask()!;
  assert.is(e.retryOrFail(a.trial, 'boom'), 'retry');
  e.tell(a.trial, { state: 'complete', value: 0.5 });
  e.ask();
  e.ask();
  assert.is(e.ask(), undefined);
  assert.is(e.stopReason, 'trials');
  assert.is(e.trials().length, 3);
});

test('retries: a failed attempt is retried with the same params spec.retries times, then the trial fails', () => {
  const e = SweepEngine.create(tempDir('ferlab-sweep-'), spec({ retries: 1 }));
  const t = e.ask()!;
  e.report(t.trial, 1, 0.3);
  assert.is(e.retryOrFail(t.trial, 'worker crashed'), 'retry');
  const again = e.trialToRun(t.trial);
  assert.equal(again.params, t.params);
  assert.is(again.attempt, 2);
  assert.is(e.trials()[0].intermediates.size, 0, 'a retry starts without the old intermediates');
  assert.is(e.retryOrFail(t.trial, 'worker crashed again'), 'failed');
  const r = e.trials()[0];
  assert.is(r.state, 'failed');
  assert.is(r.attempts, 2);
  assert.is(r.error, 'worker crashed again');
  assert.throws(() => e.report(t.trial, 1, 0.1), /trial 0 is failed, not running/);
  assert.equal(replayJournal(e.journalFile), e.trials());

  const none = SweepEngine.create(tempDir('ferlab-sweep-'), spec({ retries: 0 }));
  assert.is(none.retryOrFail(none.ask()!.trial, 'x'), 'failed');
});

test('minutes budget with a fake clock, counted from the journal header also after a resume', () => {
  const c = clock();
  const dir = tempDir('ferlab-sweep-');
  const s = spec({ budget: { minutes: 1 } });
  const e = SweepEngine.create(dir, s, { now: c.now });
  c.advance(30_000);
  assert.ok(e.ask());
  c.advance(29_999);
  assert.ok(e.ask(), 'at 59.999 s');
  const { engine: resumed } = SweepEngine.resume(dir, s, { now: c.now });
  assert.is(resumed.elapsedMs(), 59_999);
  c.advance(1);
  assert.is(resumed.ask(), undefined);
  assert.is(resumed.stopReason, 'minutes');
  assert.is(e.ask(), undefined);
});

test('best(): highest final objective of complete trials only, ties to the lower trial number', () => {
  const e = SweepEngine.create(tempDir('ferlab-sweep-'), spec({ retries: 0 }));
  const ids = Array.from({ length: 5 }, () => e.ask()!.trial);
  assert.is(e.best(), undefined);
  e.report(ids[0], 1, 0.99); // a high intermediate value of a trial that completes lower
  e.tell(ids[0], { state: 'complete', value: 0.6 });
  e.report(ids[1], 1, 0.95);
  e.tell(ids[1], { state: 'pruned' }); // pruned at 0.95: never best
  e.report(ids[2], 1, 0.97);
  e.tell(ids[2], { state: 'failed', error: 'nan loss' });
  e.tell(ids[3], { state: 'complete', value: 0.6 }); // ties with trial 0
  e.report(ids[4], 1, 0.98); // still running
  assert.is(e.trials()[1].value, 0.95);
  const b = e.best()!;
  assert.is(b.trial, 0);
  assert.is(b.value, 0.6);
  e.tell(ids[4], { state: 'complete', value: 0.61 });
  assert.is(e.best()!.trial, 4);
});

test('report: the pruner decides; a pruned trial is journaled as pruned and accepts nothing more', () => {
  const e = SweepEngine.create(tempDir('ferlab-sweep-'), spec({ pruner: { name: 'asha', minEpochs: 1, reductionFactor: 2 } }));
  const a = e.ask()!;
  const b = e.ask()!;
  assert.is(e.report(a.trial, 1, 0.5), 'continue');
  assert.is(e.report(b.trial, 1, 0.4), 'prune'); // n=2, eta=2: only the best continues
  assert.is(e.trials()[b.trial].state, 'pruned');
  assert.is(e.trials()[b.trial].value, 0.4);
  assert.throws(() => e.tell(b.trial, { state: 'complete', value: 0.4 }), /trial 1 is pruned, not running/);
  assert.throws(() => e.report(a.trial, 0, 0.5), /epoch must be an integer >= 1/);
  assert.throws(() => e.report(a.trial, 2, NaN), /must be finite/);
  assert.throws(() => e.tell(a.trial, { state: 'complete', value: Infinity }), /finite objective/);
  assert.equal(replayJournal(e.journalFile), e.trials());
});

test('ask refuses params whose combination gives invalid settings, before journaling anything', () => {
  const s = spec({
    base: { schedule: { name: 'onecycle' } },
    space: { 'schedule.name': { kind: 'choice', values: ['onecycle', 'cosine'] }, 'schedule.pctStart': { kind: 'choice', values: [0.3] } },
    sampler: { name: 'grid' },
  });
  const e = SweepEngine.create(tempDir('ferlab-sweep-'), s);
  assert.equal(e.ask()!.params, { 'schedule.name': 'onecycle', 'schedule.pctStart': 0.3 });
  assert.throws(() => e.ask(), /params \{"schedule.name":"cosine","schedule.pctStart":0.3\} give invalid settings: schedule.pctStart: unknown setting/);
  assert.is(replayJournal(e.journalFile).length, 1);
});

test('grid sweeps stop when the grid is done', () => {
  const s = spec({ space: { 'augment.shift': { kind: 'int', low: 0, high: 4, step: 2 } }, sampler: { name: 'grid' } });
  const e = SweepEngine.create(tempDir('ferlab-sweep-'), s);
  const seen = [];
  for (let t = e.ask(); t; t = e.ask()) {
    seen.push(t.params['augment.shift']);
    e.tell(t.trial, { state: 'complete', value: 0.5 });
  }
  assert.equal(seen, [0, 2, 4]);
  assert.is(e.stopReason, 'sampler');
});

/** Drives an engine: each trial reports epochs 1..2 (stopping when pruned) and completes with the objective of its params. */
function runTrials(e: SweepEngine, n: number): number {
  let pruned = 0;
  for (let i = 0; i < n; i++) {
    const t = e.ask()!;
    if (e.report(t.trial, 1, objective(t.params) - 0.1) === 'prune' || e.report(t.trial, 2, objective(t.params) - 0.05) === 'prune') pruned++;
    else e.tell(t.trial, { state: 'complete', value: objective(t.params) });
  }
  return pruned;
}

test('resume after a crash: same history, the running trial is handed back, and the next proposal is the same as without the crash', () => {
  const s = spec({ sampler: { name: 'tpe', startupTrials: 3 }, pruner: { name: 'median', startupTrials: 2 } });
  const ca = clock();
  const cb = clock();
  const dirA = tempDir('ferlab-sweep-');
  const dirB = tempDir('ferlab-sweep-');
  // A runs without interruption; B does the same, then "dies" (the object is dropped) with trial 6 running
  const a = SweepEngine.create(dirA, s, { now: ca.now });
  let b: SweepEngine | undefined = SweepEngine.create(dirB, s, { now: cb.now });
  const pruned = runTrials(a, 6);
  assert.ok(pruned > 0, 'the median pruner took part');
  assert.is(runTrials(b, 6), pruned);
  const ta = a.ask()!;
  const tb = b.ask()!;
  assert.equal(tb.params, ta.params);
  assert.is(a.report(ta.trial, 1, 0.99), 'continue');
  assert.is(b.report(tb.trial, 1, 0.99), 'continue');
  const before = b.trials();
  // eslint-disable-next-line no-useless-assignment -- B "dies": the engine object is dropped
  b = undefined;

  const { engine: r, interrupted } = SweepEngine.resume(dirB, s, { now: cb.now });
  assert.equal(r.trials(), before, 'the same history');
  assert.equal(r.trials(), a.trials());
  assert.equal(interrupted, [{ trial: 6, params: ta.params, settingsDiff: ta.settingsDiff, attempt: 1 }]);
  // the caller reruns the interrupted trial, then both engines go on identically
  for (const e of [a, r]) {
    e.report(6, 1, 0.99);
    e.report(6, 2, 0.995);
    e.tell(6, { state: 'complete', value: 0.995 });
  }
  for (let i = 0; i < 4; i++) {
    const na = a.ask()!;
    const nr = r.ask()!;
    assert.equal(nr, na, `proposal ${i} after the resume`);
    for (const e of [a, r]) e.tell(na.trial, { state: 'complete', value: objective(na.params) });
  }
  assert.equal(replayJournal(r.journalFile), a.trials());
});

test('resume refuses a different spec, naming both hashes; budget and retries may change', () => {
  const dir = tempDir('ferlab-sweep-');
  const s = spec();
  SweepEngine.create(dir, s).ask();
  assert.throws(() => SweepEngine.resume(dir, spec({ seed: 4 })), /was written for spec hash [0-9a-f]{64} .*the spec given has hash [0-9a-f]{64}/);
  const { engine, interrupted } = SweepEngine.resume(dir, spec({ budget: { trials: 99 }, retries: 3 }));
  assert.is(interrupted.length, 1);
  assert.is(engine.ask()!.trial, 1);
  assert.throws(() => SweepEngine.resume(tempDir('ferlab-sweep-'), s), /no sweep journal at/);
});

test.run();
