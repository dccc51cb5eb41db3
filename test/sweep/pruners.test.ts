/** ASHA and median pruning on hand-built histories, decisions worked out by hand. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TrialRecord, TrialState } from '../../src/sweep/journal';
import { AshaPruner, MedianPruner, NoPruner, median } from '../../src/sweep/pruners';

/** A trial record with the given state and intermediate values (epoch 1, 2, ... unless given as pairs). */
function rec(trial: number, state: TrialState, values: number[] | Array<[number, number]> = [], value?: number): TrialRecord {
  const pairs: Array<[number, number]> = values.map((v, i) => (Array.isArray(v) ? v : [i + 1, v]));
  return { trial, params: {}, state, intermediates: new Map(pairs), attempts: 1, created: 0, ...(value === undefined ? {} : { value }) };
}

/** Reports (epoch, value) for `t` as the engine does: records it, then asks the pruner. */
function report(p: { shouldPrune: AshaPruner['shouldPrune'] }, history: TrialRecord[], t: TrialRecord, epoch: number, value: number): 'prune' | 'continue' {
  t.intermediates.set(epoch, value);
  const prune = p.shouldPrune(t, epoch, value, history);
  if (prune) t.state = 'pruned';
  return prune ? 'prune' : 'continue';
}

test('ASHA (r=1, eta=3, R=9): rungs at epochs 1 and 3; who is promoted, trial by trial', () => {
  const asha = new AshaPruner(1, 3, 9);
  assert.equal(asha.rungEpochs(100), [1, 3]);
  assert.equal(new AshaPruner(2, 2).rungEpochs(20), [2, 4, 8, 16]);
  const history: TrialRecord[] = [];
  const start = () => {
    const t = rec(history.length, 'running');
    history.push(t);
    return t;
  };
  // rung 1 (epoch 1). n values so far incl. own; keep if >= the max(floor(n/3) - 1, 0)-th best (0-based):
  const t0 = start();
  assert.is(report(asha, history, t0, 1, 0.5), 'continue'); // n=1: best of [0.5]
  const t1 = start();
  assert.is(report(asha, history, t1, 1, 0.4), 'prune'); // n=2: best is 0.5
  const t2 = start();
  assert.is(report(asha, history, t2, 1, 0.6), 'continue'); // n=3: 0.6 is the best
  const t3 = start();
  assert.is(report(asha, history, t3, 1, 0.55), 'prune'); // n=4: best is 0.6
  const t4 = start();
  assert.is(report(asha, history, t4, 1, 0.58), 'prune'); // n=5: best is 0.6
  const t5 = start();
  assert.is(report(asha, history, t5, 1, 0.52), 'prune'); // n=6: 2nd best of [.6 .58 .55 .52 .5 .4] is 0.58
  const t6 = start();
  assert.is(report(asha, history, t6, 1, 0.59), 'continue'); // n=7: 2nd best of [.6 .59 .58 ...] is 0.59 itself
  // epoch 2 is no rung: even a bad value continues
  assert.is(report(asha, history, t0, 2, 0.1), 'continue');
  // rung 2 (epoch 3): only the trials that got there compete
  assert.is(report(asha, history, t0, 3, 0.62), 'continue'); // n=1
  assert.is(report(asha, history, t2, 2, 0.61), 'continue');
  assert.is(report(asha, history, t2, 3, 0.61), 'prune'); // n=2: best is 0.62
  assert.is(report(asha, history, t6, 2, 0.65), 'continue');
  assert.is(report(asha, history, t6, 3, 0.7), 'continue'); // n=3: 0.7 is the best
  // no rung at or after R = 9
  for (let e = 4; e <= 9; e++) assert.is(report(asha, history, t0, e, 0.01), 'continue');
  // a trial whose first report is at epoch 3 passes both rungs with that value: at rung 1, n=8 -> 2nd best = 0.59
  const t7 = start();
  assert.is(report(asha, history, t7, 3, 0.3), 'prune');
  const t8 = start();
  assert.is(report(asha, history, t8, 3, 0.9), 'continue'); // rung 1: n=9 -> 3rd best 0.59; rung 2: the best
});

test('ASHA promotable: the top 1/eta of the values at a rung', () => {
  const asha = new AshaPruner(1, 2);
  // n=4, eta=2: keep if >= 2nd best
  assert.ok(asha.promotable(0.7, [0.9, 0.7, 0.3, 0.1]));
  assert.not.ok(asha.promotable(0.3, [0.9, 0.7, 0.3, 0.1]));
  // n=5: floor(5/2) - 1 = 1: still >= 2nd best
  assert.not.ok(asha.promotable(0.69, [0.9, 0.7, 0.69, 0.3, 0.1]));
  assert.throws(() => new AshaPruner(1, 1), /reductionFactor must be >= 2/);
});

test('median pruner: best-so-far vs the median of complete trials at the same epoch, after startup and warm-up', () => {
  const p = new MedianPruner(2, 1);
  const history: TrialRecord[] = [
    rec(0, 'complete', [0.3, 0.5, 0.6], 0.6),
    rec(1, 'complete', [0.2, 0.4, 0.7], 0.7),
    rec(2, 'complete', [0.4, 0.45, 0.5], 0.5),
    rec(3, 'running', [0.0, 0.0]), // running: not in the median
    rec(4, 'pruned', [0.9, 0.9], 0.9), // pruned: not in the median
    rec(5, 'failed', [0.9, 0.9]),
  ];
  const d = rec(6, 'running');
  history.push(d);
  // epoch 1 is warm-up (warmupEpochs = 1): never pruned
  assert.is(report(p, history, d, 1, 0.0), 'continue');
  // epoch 2: median of 0.5, 0.4, 0.45 = 0.45; best so far max(0.0, 0.44) = 0.44 < 0.45
  assert.is(p.shouldPrune(d, 2, 0.44, history), true);
  assert.is(p.shouldPrune(d, 2, 0.46, history), false);
  // the best value so far counts, not the last one
  const e = rec(7, 'running', [0.9]);
  assert.is(p.shouldPrune(e, 2, 0.1, [...history, e]), false);
  // epoch 4: no complete trial reported it -> no pruning
  assert.is(p.shouldPrune(d, 4, 0.0, history), false);
  // an even count: median of 0.5, 0.4, 0.45, 0.47 = 0.46
  const more = [...history, rec(8, 'complete', [0.1, 0.47], 0.47)];
  assert.is(p.shouldPrune(d, 2, 0.455, more), true);
  assert.is(p.shouldPrune(d, 2, 0.465, more), false);
  // startup: one complete trial only (startupTrials = 2) -> no pruning
  assert.is(p.shouldPrune(d, 2, 0.0, [history[0], history[3], d]), false);
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.is(new NoPruner().shouldPrune(), false);
});

test.run();
