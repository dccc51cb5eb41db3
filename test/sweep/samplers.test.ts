/** Grid, random and TPE samplers; the Parzen estimators of TPE, by hand. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyEvent, type TrialRecord } from '../../src/sweep/journal';
import { GridSampler } from '../../src/sweep/grid';
import { RandomSampler } from '../../src/sweep/random';
import { TpeSampler, defaultGamma, defaultWeights, logBinMass, splitTrials } from '../../src/sweep/tpe';
import { categoricalEstimator, numericEstimator } from '../../src/sweep/parzen';
import { normalCdf } from '../../src/eval/stats';
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
  // 3: pruned at epoch 1 (value 0.99)
  add({});
  inter(3, 1, 0.99);
  end(3, 'pruned');
  // 4: pruned at epoch 2 (0.3)
  add({});
  inter(4, 1, 0.2);
  inter(4, 2, 0.3);
  end(4, 'pruned');
  // 5: running
  add({});
  inter(5, 1, 0.95);
  // 6: failed
  add({});
  end(6, 'failed');
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

/** Complete trials with the given params and values, trial numbers 0, 1, ... */
function history(rows: Array<[Params, number]>): TrialRecord[] {
  const records: TrialRecord[] = [];
  rows.forEach(([params, value], i) => {
    applyEvent(records, { event: 'created', trial: i, params, attempt: 1, time: 0 });
    applyEvent(records, { event: 'state', trial: i, state: 'complete', value, time: 0 });
  });
  return records;
}

test('TPE int: bin masses of l(x) equal hand-computed normal-CDF differences (Optuna discretised estimator)', () => {
  // int 0..4 (step 1): the mixture lives on [-0.5, 4.5] (range 5). Below trials [2, 2] + prior at 2: every
  // neighbour distance is 0, so both observation kernels get the magic-clip minimum 5 / min(100, 1 + 3) = 1.25;
  // the prior gets sigma 5. Weights 1/3 each. Truncation masses: N(2, 1.25) on [-0.5, 4.5] = Phi(2) - Phi(-2);
  // N(2, 5): Phi(0.5) - Phi(-0.5). Phi values (tables / mpmath): Phi(0.4) = 0.65542174161032417, Phi(2) =
  // 0.97724986805182079, Phi(0.1) = 0.53982783727702898, Phi(0.5) = 0.6914624612740131, Phi(-1.2) =
  // 0.11506967022170828, Phi(-0.3) = 0.38208857781104737.
  const P04 = 0.6554217416103242;
  const P2 = 0.97724986805182079;
  const P01 = 0.539827837277029;
  const P05 = 0.6914624612740131;
  const Pm12 = 0.11506967022170828;
  const Pm03 = 0.3820885778110474;
  const l = numericEstimator([2, 2], [1, 1], -0.5, 4.5);
  assert.equal(l.sigmas, [1.25, 1.25, 5], `sigmas ${l.sigmas}`);
  // bin of 2 = [1.5, 2.5]: z = +-0.4 for the observations, +-0.1 for the prior
  const l2 = ((2 / 3) * (2 * P04 - 1)) / (2 * P2 - 1) + (2 * P01 - 1) / (2 * P05 - 1) / 3; // 0.28644711417440259
  // bin of 0 = [-0.5, 0.5]: z in [-2, -1.2] for the observations, [-0.5, -0.3] for the prior
  const l0 = ((2 / 3) * (Pm12 - (1 - P2))) / (2 * P2 - 1) + (Pm03 - (1 - P05)) / (2 * P05 - 1) / 3; // 0.12850586560746024
  for (const [v, want] of [
    [2, l2],
    [0, l0],
  ] as const) {
    const got = Math.exp(logBinMass(l, v - 0.5, v + 0.5));
    assert.ok(Math.abs(got - want) < 1e-14, `l mass of bin ${v}: expected ${want}, got ${got}`);
  }
  assert.ok(Math.abs(l2 - 0.2864471141744026) < 1e-15 && Math.abs(l0 - 0.12850586560746025) < 1e-15, `hand values ${l2} ${l0}`);
  // the five bins tile the range: their masses sum to 1
  let total = 0;
  for (let v = 0; v <= 4; v++) total += Math.exp(logBinMass(l, v - 0.5, v + 0.5));
  assert.ok(Math.abs(total - 1) < 1e-14, `bin masses sum to ${total}`);
});

test('TPE int: l and g bin masses and the proposal equal Optuna 4.8 (good trials [2, 2], bad ones at 0, 0, 1, 3 x5, 4, 4)', () => {
  // 12 finished trials: gamma(12) = 2 below (the two n = 2 trials), 10 above. Expected values: Optuna 4.8.0's own
  // _ParzenEstimator (optuna/samplers/_tpe/parzen_estimator.py + probability_distributions.py, prior_weight 1,
  // magic clip, no endpoints, unit weights) evaluated at n = 0..4: exp(log_pdf) of l and of g.
  const optunaL = [0.12850586560746027, 0.2282705773053384, 0.2864471141744025, 0.2282705773053384, 0.12850586560746027];
  const optunaG = [0.17164382110289594, 0.1120751726876547, 0.1368855204547498, 0.35343526512723955, 0.22596022062745982];
  // log l - log g = [-0.289, 0.711, 0.738, -0.437, -0.564]: 2 wins, closely ahead of 1
  const aboveValues = [0, 0, 1, 3, 3, 3, 3, 3, 4, 4];
  const l = numericEstimator([2, 2], [1, 1], -0.5, 4.5);
  const g = numericEstimator(aboveValues, new Array<number>(10).fill(1), -0.5, 4.5);
  for (let v = 0; v <= 4; v++) {
    const gotL = Math.exp(logBinMass(l, v - 0.5, v + 0.5));
    const gotG = Math.exp(logBinMass(g, v - 0.5, v + 0.5));
    assert.ok(Math.abs(gotL - optunaL[v]) < 1e-13, `l mass of bin ${v}: expected ${optunaL[v]}, got ${gotL}`);
    assert.ok(Math.abs(gotG - optunaG[v]) < 1e-13, `g mass of bin ${v}: expected ${optunaG[v]}, got ${gotG}`);
  }
  // The sampler: candidates rounded to the grid first, scored by bin masses -> 2 whenever a candidate lands in its
  // bin (l puts 0.29 there: with 24 candidates all miss with probability 0.71^24 = 3e-4). A second, continuous
  // parameter keeps the space infinite (so no-repeat never replaces the proposal). Scoring the unrounded candidates
  // (ferlab before) proposed 1 for 10 of these 60 seeds: a continuous x in the gap of g's narrow kernels wins.
  const space: SearchSpace = { n: { kind: 'int', low: 0, high: 4 }, x: { kind: 'uniform', low: 0, high: 1 } };
  const rows: Array<[Params, number]> = [
    [{ n: 2, x: 0.33 }, 1],
    [{ n: 2, x: 0.77 }, 0.9],
    ...aboveValues.map((n, i): [Params, number] => [{ n, x: (i + 0.5) / 20 }, i / 100]),
  ];
  const h = history(rows);
  const picks: number[] = [];
  for (let seed = 0; seed < 60; seed++) picks.push(new TpeSampler(space, seed).ask(h)!.n as number);
  const counts = [0, 1, 2, 3, 4].map((v) => picks.filter((p) => p === v).length);
  assert.equal(counts, [0, 0, 60, 0, 0], `proposals per value 0..4 over 60 seeds: expected [0,0,60,0,0], got [${counts}]`);
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
