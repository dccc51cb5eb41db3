/** Grid, random and TPE samplers; the Parzen estimators of TPE, by hand. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyEvent, type TrialRecord } from '../../src/sweep/journal';
import { GridSampler } from '../../src/sweep/grid';
import { RandomSampler } from '../../src/sweep/random';
import { TpeSampler, defaultGamma, defaultWeights, splitTrials } from '../../src/sweep/tpe';
import { categoricalEstimator, normalCdf, numericEstimator } from '../../src/sweep/parzen';
import { configKey, type Params, type SearchSpace } from '../../src/sweep/space';
import type { Sampler } from '../../src/sweep/sampler';

/** Runs a sampler for up to n trials, each complete with objective(params); stops early when the sampler is exhausted. */
function drive(sampler: Sampler, n: number, objective: (p: Params) => number = () => 0): TrialRecord[] {
  const records: TrialRecord[] = [];
  for (let i = 0; i < n; i++) {
    const p = sampler.ask(records);
    if (!p) break;
    applyEvent(records, { event: 'created', trial: i, params: p, attempt: 1, time: 0 });
    applyEvent(records, { event: 'state', trial: i, state: 'complete', value: objective(p), time: 0 });
  }
  return records;
}

const bestOf = (rs: TrialRecord[]) => Math.max(...rs.map((r) => r.value!));

test('grid: exactly the hand-listed product, first parameter slowest, then exhausted', () => {
  const g = new GridSampler({
    'optimizer.weightDecay': { kind: 'choice', values: [0, 1e-4] },
    'augment.shift': { kind: 'int', low: 0, high: 4, step: 2 },
  });
  const rs = drive(g, 100);
  assert.equal(
    rs.map((r) => r.params),
    [
      { 'optimizer.weightDecay': 0, 'augment.shift': 0 },
      { 'optimizer.weightDecay': 0, 'augment.shift': 2 },
      { 'optimizer.weightDecay': 0, 'augment.shift': 4 },
      { 'optimizer.weightDecay': 1e-4, 'augment.shift': 0 },
      { 'optimizer.weightDecay': 1e-4, 'augment.shift': 2 },
      { 'optimizer.weightDecay': 1e-4, 'augment.shift': 4 },
    ],
  );
  assert.is(g.ask(rs), undefined);
});

test('grid: conditional parameters; a configuration already run (e.g. before a resume) is skipped; continuous rejected', () => {
  const space: SearchSpace = {
    'schedule.name': { kind: 'choice', values: ['constant', 'cosine'] },
    'schedule.warmupEpochs': { kind: 'int', low: 0, high: 2, when: { param: 'schedule.name', equals: 'cosine' } },
  };
  const rs = drive(new GridSampler(space), 100);
  assert.equal(
    rs.map((r) => r.params),
    [
      { 'schedule.name': 'constant' },
      { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 0 },
      { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 1 },
      { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 2 },
    ],
  );
  const history = rs.slice(0, 2);
  applyEvent(history, { event: 'created', trial: 2, params: { 'schedule.warmupEpochs': 2, 'schedule.name': 'cosine' }, attempt: 1, time: 0 });
  assert.equal(new GridSampler(space).ask(history), { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 1 });
  assert.throws(
    () => new GridSampler({ lr: { kind: 'loguniform', low: 1e-4, high: 1e-2 } }),
    /grid search: search space parameter "lr": loguniform is continuous/,
  );
});

test('random: the 12 configurations of a small discrete space, each once, then undefined (several seeds)', () => {
  const space: SearchSpace = {
    batchSize: { kind: 'choice', values: [32, 64, 128] },
    'augment.shift': { kind: 'int', low: 0, high: 3 },
  };
  const all: string[] = [];
  for (const b of [32, 64, 128]) for (const s of [0, 1, 2, 3]) all.push(configKey({ batchSize: b, 'augment.shift': s }));
  for (const seed of [0, 1, 7]) {
    const sampler = new RandomSampler(space, seed);
    const rs = drive(sampler, 12);
    const keys = rs.map((r) => configKey(r.params));
    assert.is(new Set(keys).size, 12, 'no configuration twice');
    assert.equal([...keys].sort(), [...all].sort());
    assert.is(sampler.ask(rs), undefined);
  }
  // the order depends on the seed
  const order = (seed: number) => drive(new RandomSampler(space, seed), 12).map((r) => configKey(r.params));
  assert.is.not(order(0).join(), order(1).join());
});

test('random: same seed and history, same proposal; loguniform is uniform in log space; bounds hold', () => {
  const space: SearchSpace = { lr: { kind: 'loguniform', low: 1e-4, high: 1e-2 }, labelSmoothing: { kind: 'uniform', low: 0, high: 0.2 } };
  const a = drive(new RandomSampler(space, 5), 400);
  const b = drive(new RandomSampler(space, 5), 400);
  assert.equal(
    a.map((r) => r.params),
    b.map((r) => r.params),
  );
  const lrs = a.map((r) => r.params.lr as number);
  assert.ok(lrs.every((v) => v >= 1e-4 && v <= 1e-2));
  assert.ok(a.every((r) => (r.params.labelSmoothing as number) >= 0 && (r.params.labelSmoothing as number) <= 0.2));
  // log-uniform: P(lr < 1e-3) = 0.5 (uniform would give 0.09)
  const below = lrs.filter((v) => v < 1e-3).length / lrs.length;
  assert.ok(below > 0.42 && below < 0.58, `fraction below 1e-3: ${below}`);
  assert.is.not(new RandomSampler(space, 6).ask([])!.lr, new RandomSampler(space, 5).ask([])!.lr);
});

test('random: a conditional parameter is absent when its condition is false and present when true', () => {
  const space: SearchSpace = {
    'schedule.name': { kind: 'choice', values: ['onecycle', 'cosine', 'step'] },
    'schedule.warmupEpochs': { kind: 'int', low: 0, high: 3, when: { param: 'schedule.name', equals: 'cosine' } },
    'schedule.gamma': { kind: 'uniform', low: 0.1, high: 0.9, when: { param: 'schedule.name', in: ['step'] } },
  };
  const rs = drive(new RandomSampler(space, 3), 60);
  for (const { params } of rs) {
    assert.is('schedule.warmupEpochs' in params, params['schedule.name'] === 'cosine', JSON.stringify(params));
    assert.is('schedule.gamma' in params, params['schedule.name'] === 'step', JSON.stringify(params));
  }
  for (const name of ['onecycle', 'cosine', 'step']) assert.ok(rs.some((r) => r.params['schedule.name'] === name));
});

test('TPE gamma and weights are Optuna defaults, by hand', () => {
  assert.equal([1, 10, 11, 20, 21, 250, 251, 1000].map(defaultGamma), [1, 1, 2, 2, 3, 25, 25, 25]);
  assert.equal(defaultWeights(3), [1, 1, 1]);
  assert.equal(defaultWeights(26), [1 / 26, ...new Array(25).fill(1)]);
  const w = defaultWeights(28); // ramp of 3: 1/28, (1/28 + 1)/2, 1; then 25 ones
  assert.ok(Math.abs(w[0] - 1 / 28) < 1e-15 && Math.abs(w[1] - (1 / 28 + 1) / 2) < 1e-15 && w[2] === 1 && w.length === 28);
});

test('TPE split: best complete trials below; pruned ones after every complete one, later epoch first; running/failed left out', () => {
  const rs: TrialRecord[] = [];
  const add = (params: Params) => applyEvent(rs, { event: 'created', trial: rs.length, params, attempt: 1, time: 0 });
  const end = (t: number, state: 'complete' | 'pruned' | 'failed', value?: number) =>
    applyEvent(rs, { event: 'state', trial: t, state, value, error: 'x', time: 0 });
  const inter = (t: number, epoch: number, value: number) => applyEvent(rs, { event: 'intermediate', trial: t, epoch, value, time: 0 });
  [0.5, 0.9, 0.7].forEach((v, t) => (add({}), end(t, 'complete', v))); // trials 0..2
  (add({}), inter(3, 1, 0.99), end(3, 'pruned')); // 3: pruned at epoch 1 (value 0.99)
  (add({}), inter(4, 1, 0.2), inter(4, 2, 0.3), end(4, 'pruned')); // 4: pruned at epoch 2 (0.3)
  (add({}), inter(5, 1, 0.95)); // 5: running
  (add({}), end(6, 'failed')); // 6: failed
  const finished = rs.filter((r) => r.state === 'complete' || r.state === 'pruned');
  const names = (n: number) => {
    const s = splitTrials(finished, n);
    return [s.below.map((r) => r.trial), s.above.map((r) => r.trial)];
  };
  assert.equal(names(1), [[1], [0, 2, 3, 4]]);
  assert.equal(names(3), [
    [0, 1, 2],
    [3, 4],
  ]);
  assert.equal(names(4), [[0, 1, 2, 4], [3]], 'pruned at epoch 2 ranks before pruned at epoch 1, whatever the values');
});

test('Parzen estimator: bandwidths and magic clip by hand; density integrates to 1 over the range', () => {
  // observations 0.1, 0.7 in [0, 1], prior at 0.5: sorted 0.1 0.5 0.7; end kernels use the inner neighbour only:
  // 0.1 -> 0.4, 0.7 -> 0.2, clipped up to 1 / min(100, 1 + 3) = 0.25; the prior gets the range, 1
  const m = numericEstimator([0.1, 0.7], [1, 1], 0, 1);
  assert.equal(m.mus, [0.1, 0.7, 0.5]);
  assert.equal(
    m.sigmas.map((s) => +s.toFixed(12)),
    [0.4, 0.25, 1],
  );
  assert.equal(
    m.weights.map((w) => +w.toFixed(12)),
    [1 / 3, 1 / 3, 1 / 3].map((w) => +w.toFixed(12)),
  );
  let integral = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) integral += Math.exp(m.logPdf((i + 0.5) / n)) / n;
  assert.ok(Math.abs(integral - 1) < 1e-4, `integral ${integral}`);
  // prior alone (no observations): a normal N(0.5, 1) truncated to [0, 1]
  const prior = numericEstimator([], [], 0, 1);
  const expected = Math.exp(-0.5 * 0.25) / Math.sqrt(2 * Math.PI) / (normalCdf(0.5) - normalCdf(-0.5));
  assert.ok(Math.abs(Math.exp(prior.logPdf(0)) - expected) < 1e-6);
  assert.ok(Math.abs(normalCdf(1.959963985) - 0.975) < 1e-7);
});

test('categorical Parzen estimator: smoothed counts by hand', () => {
  // one observation of choice 0 (weight 1) + prior (weight 1): mixture 1/2 each; kernels = 2, smoothing 1/2:
  // kernel of the observation: (0.5 + 1) / (0.5 * 2 + 1) = 0.75 on choice 0, 0.25 on choice 1; prior 0.5 / 0.5
  const c = categoricalEstimator([0], [1], 2);
  assert.ok(Math.abs(c.probs[0] - 0.625) < 1e-12 && Math.abs(c.probs[1] - 0.375) < 1e-12);
  assert.equal(categoricalEstimator([], [], 4).probs, [0.25, 0.25, 0.25, 0.25]);
});

test('TPE beats random search: maximise -(x-0.3)^2 - (log10(y)+2)^2, 40 trials, mean best over 10 seeds', () => {
  const space: SearchSpace = { x: { kind: 'uniform', low: 0, high: 1 }, y: { kind: 'loguniform', low: 1e-4, high: 1 } };
  const f = (p: Params) => -(((p.x as number) - 0.3) ** 2) - (Math.log10(p.y as number) + 2) ** 2;
  let diff = 0;
  let tpeMean = 0;
  for (let seed = 0; seed < 10; seed++) {
    const tpe = bestOf(drive(new TpeSampler(space, seed), 40, f));
    const rnd = bestOf(drive(new RandomSampler(space, seed + 100), 40, f));
    diff += (tpe - rnd) / 10;
    tpeMean += tpe / 10;
  }
  assert.ok(diff > 0, `TPE mean best minus random mean best: ${diff}`);
  assert.ok(tpeMean > -0.02, `TPE mean best ${tpeMean}`);
});

test('TPE with a categorical and a conditional parameter finds the good branch; the conditional is present only there', () => {
  // every branch has a continuous parameter, so no-repeat alone cannot steer the choice (random gives b 1/3 of the time)
  const space: SearchSpace = {
    opt: { kind: 'choice', values: ['a', 'b', 'c'] },
    x: { kind: 'uniform', low: 0, high: 1, when: { param: 'opt', equals: 'b' } },
    z: { kind: 'uniform', low: 0, high: 1, when: { param: 'opt', in: ['a', 'c'] } },
  };
  const f = (p: Params) => (p.opt === 'a' ? 0.2 + 0.1 * (p.z as number) : p.opt === 'c' ? 0.1 : 1 - 4 * ((p.x as number) - 0.7) ** 2);
  let shareB = 0;
  for (let seed = 0; seed < 5; seed++) {
    const rs = drive(new TpeSampler(space, seed), 30, f);
    for (const r of rs) {
      assert.is('x' in r.params, r.params.opt === 'b');
      assert.is('z' in r.params, r.params.opt !== 'b');
    }
    const late = rs.slice(10); // after the 10 random startup trials
    shareB += late.filter((r) => r.params.opt === 'b').length / late.length / 5;
    assert.ok(bestOf(rs) > 0.95, `seed ${seed}: best ${bestOf(rs)}`);
  }
  assert.ok(shareB >= 0.6, `mean share of b after startup ${shareB} (random search: 1/3)`);
});

test('TPE is deterministic given seed and history; never repeats a configuration of a finite space; int bounds hold', () => {
  const space: SearchSpace = { batchSize: { kind: 'choice', values: [32, 64] }, 'augment.shift': { kind: 'int', low: 0, high: 4, step: 2 } };
  const f = (p: Params) => (p.batchSize === 64 ? 1 : 0) + (p['augment.shift'] as number) / 10;
  const a = drive(new TpeSampler(space, 9, { startupTrials: 2 }), 100, f);
  assert.is(a.length, 6, 'all 6 configurations, then exhausted');
  assert.is(new Set(a.map((r) => configKey(r.params))).size, 6);
  const b = drive(new TpeSampler(space, 9, { startupTrials: 2 }), 100, f);
  assert.equal(
    b.map((r) => r.params),
    a.map((r) => r.params),
  );
  const logInt = drive(
    new TpeSampler({ batchSize: { kind: 'int', low: 8, high: 256, log: true } }, 1, { startupTrials: 3 }),
    30,
    (p) => -Math.abs(Math.log2(p.batchSize as number) - 6),
  );
  assert.ok(logInt.every((r) => Number.isInteger(r.params.batchSize) && (r.params.batchSize as number) >= 8 && (r.params.batchSize as number) <= 256));
});

test.run();
