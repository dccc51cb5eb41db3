/** Sweep search spaces and specs: validation errors name the parameter; settings diffs; enumeration; the spec hash. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineSweep, specHash, trialSettingsDiff, type SweepSpecInput } from '../../src/sweep/spec';
import { conditionHolds, enumerateSpace, mergeDiffs, toSettingsDiff, validateSpace, type SearchSpace } from '../../src/sweep/space';

/** A valid spec; each bad case changes one thing. */
const valid = (): SweepSpecInput => ({
  name: 'lr-sweep',
  model: 'baseline',
  labels: 'majority',
  base: { epochs: 3, schedule: { name: 'cosine' } },
  space: {
    lr: { kind: 'loguniform', low: 1e-4, high: 1e-2 },
    'optimizer.weightDecay': { kind: 'choice', values: [0, 1e-4] },
    'augment.shift': { kind: 'int', low: 0, high: 4, step: 2 },
  },
  objective: { metric: 'accuracy' },
  sampler: { name: 'tpe' },
  budget: { trials: 20 },
  seed: 1,
});

const withSpace = (space: SweepSpecInput['space']): SweepSpecInput => ({ ...valid(), space });

test('a valid spec gets its defaults: PublicTest, pruner none, retries 1, TPE 10 startup trials and 24 candidates', () => {
  const s = defineSweep(valid());
  assert.is(s.objective.split, 'PublicTest');
  assert.equal(s.pruner, { name: 'none' });
  assert.is(s.retries, 1);
  assert.equal(s.sampler, { name: 'tpe', startupTrials: 10, candidates: 24 });
  const m = defineSweep({ ...valid(), pruner: { name: 'median' } });
  assert.equal(m.pruner, { name: 'median', startupTrials: 5, warmupEpochs: 0 });
});

test('bad search spaces: each error names the parameter', () => {
  const cases: Array<[SweepSpecInput['space'], RegExp]> = [
    [{ lr: { kind: 'loguniform', low: 0, high: 1e-2 } }, /^search space parameter "lr": loguniform needs low > 0, got low=0$/],
    [{ lr: { kind: 'loguniform', low: -1, high: 1e-2 } }, /parameter "lr": loguniform needs low > 0, got low=-1/],
    [{ labelSmoothing: { kind: 'uniform', low: 0.3, high: 0.1 } }, /parameter "labelSmoothing": low > high \(low=0.3, high=0.1\)/],
    [{ lr: { kind: 'loguniform', low: 1e-2, high: 1e-4 } }, /parameter "lr": low > high/],
    [{ batchSize: { kind: 'int', low: 64, high: 32 } }, /parameter "batchSize": low > high/],
    [{ batchSize: { kind: 'choice', values: [] } }, /parameter "batchSize": choice needs at least one value/],
    [{ batchSize: { kind: 'choice', values: [32, 64, 32] } }, /parameter "batchSize": choice lists the value 32 twice/],
    [{ 'augment.shift': { kind: 'int', low: 0, high: 5, step: 2 } }, /parameter "augment.shift": int range 0..5 is not a whole number of steps of 2/],
    [{ batchSize: { kind: 'int', low: 0, high: 64, log: true } }, /parameter "batchSize": int with log needs low >= 1/],
    [{ 'optimizer.momentumm': { kind: 'uniform', low: 0.8, high: 0.99 } }, /parameter "optimizer.momentumm": not a training setting/],
    [{ dropout: { kind: 'uniform', low: 0, high: 0.5 } }, /parameter "dropout": not a training setting/],
    [{ 'augment.shift': { kind: 'int', low: 0, high: 20 } }, /parameter "augment.shift": value 20 gives invalid settings: augment.shift: Too big/],
    [{ freeze: { kind: 'choice', values: ['none', 'all'] } }, /parameter "freeze": value "all" gives invalid settings: freeze/],
    [{ 'lr.x': { kind: 'uniform', low: 0, high: 1 } }, /parameter "lr.x": not a training setting \("lr" is a single setting, not a group/],
    [
      { 'optimizer.weightDecay': { kind: 'choice', values: [0, 1e-4], when: { param: 'optimizer.name', equals: 'sgd' } } },
      /parameter "optimizer.weightDecay": condition names unknown parameter "optimizer.name"/,
    ],
    [
      {
        'schedule.warmupEpochs': { kind: 'int', low: 0, high: 2, when: { param: 'schedule.name', equals: 'cosine' } },
        'schedule.name': { kind: 'choice', values: ['onecycle', 'cosine'] },
      },
      /parameter "schedule.warmupEpochs": condition names parameter "schedule.name", which is defined after it/,
    ],
    [
      {
        'schedule.name': { kind: 'choice', values: ['onecycle', 'cosine'] },
        'schedule.warmupEpochs': { kind: 'int', low: 0, high: 2, when: { param: 'schedule.name', in: ['step'] } },
      },
      /parameter "schedule.warmupEpochs": condition value "step" is not a value of parameter "schedule.name"/,
    ],
    [
      { lr: { kind: 'loguniform', low: 1e-4, high: 1e-2 }, batchSize: { kind: 'choice', values: [32], when: { param: 'lr', equals: 1e-3 } } },
      /parameter "batchSize": condition names the continuous parameter "lr"/,
    ],
    [
      { optimizer: { kind: 'choice', values: [1] }, 'optimizer.beta1': { kind: 'uniform', low: 0.8, high: 0.9 } },
      /parameter "optimizer.beta1": conflicts with parameter "optimizer"/,
    ],
    [{ lr: { kind: 'loguniform', low: 'a' as unknown as number, high: 1 } }, /^search space parameter "lr": low: /],
    [{}, /search space has no parameter/],
  ];
  for (const [space, re] of cases) assert.throws(() => defineSweep(withSpace(space)), re, `${JSON.stringify(space)} should fail with ${re}`);
});

test('a schedule field needs its schedule name, from base or from a condition on schedule.name', () => {
  const spec = { ...valid(), base: { epochs: 3 } };
  assert.throws(
    () => defineSweep({ ...spec, space: { 'schedule.warmupEpochs': { kind: 'int', low: 0, high: 2 } } }),
    /parameter "schedule.warmupEpochs": value 0 gives invalid settings: schedule.name/,
  );
  const ok = defineSweep({
    ...spec,
    space: {
      'schedule.name': { kind: 'choice', values: ['onecycle', 'cosine'] },
      'schedule.warmupEpochs': { kind: 'int', low: 0, high: 2, when: { param: 'schedule.name', equals: 'cosine' } },
    },
  });
  assert.equal(trialSettingsDiff(ok, { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 2 }), { epochs: 3, schedule: { name: 'cosine', warmupEpochs: 2 } });
});

test('bad spec fields: base, objective split, sampler, pruner, budget', () => {
  assert.throws(
    () => defineSweep({ ...valid(), base: { optimizer: { momentumm: 0.9 } } as never }),
    /sweep 'lr-sweep': base.optimizer.momentumm: unknown setting/,
  );
  assert.throws(() => defineSweep({ ...valid(), base: { lr: -1 } }), /base.lr: /);
  assert.throws(() => defineSweep({ ...valid(), objective: { metric: 'accuracy', split: 'PrivateTest' } }), /objective.split: PrivateTest never selects/);
  assert.throws(() => defineSweep({ ...valid(), objective: { metric: 'loss' as never } }), /objective.metric/);
  assert.throws(
    () => defineSweep({ ...valid(), sampler: { name: 'grid' } }),
    /search space parameter "lr": grid search needs discrete parameters \(choice or int\), and loguniform is continuous/,
  );
  assert.throws(() => defineSweep({ ...valid(), pruner: { name: 'asha', minEpochs: 1, reductionFactor: 1 } }), /pruner.reductionFactor/);
  assert.throws(
    () => defineSweep({ ...valid(), pruner: { name: 'asha', minEpochs: 3, reductionFactor: 2, maxEpochs: 3 } }),
    /pruner.maxEpochs \(3\) must be greater than pruner.minEpochs \(3\)/,
  );
  assert.throws(() => defineSweep({ ...valid(), budget: {} }), /budget needs trials or minutes/);
  assert.throws(() => defineSweep({ ...valid(), name: 'Bad Name' }), /sweep 'Bad Name': name: /);
});

test('toSettingsDiff nests dotted params; trialSettingsDiff merges them into base key by key', () => {
  assert.equal(toSettingsDiff({ 'optimizer.weightDecay': 1e-4 }), { optimizer: { weightDecay: 1e-4 } });
  assert.equal(toSettingsDiff({ lr: 3e-3, 'optimizer.weightDecay': 1e-4, 'optimizer.beta1': 0.8, 'augment.shift': 2 }), {
    lr: 3e-3,
    optimizer: { weightDecay: 1e-4, beta1: 0.8 },
    augment: { shift: 2 },
  });
  assert.throws(() => toSettingsDiff({ optimizer: 1, 'optimizer.beta1': 0.8 }), /"optimizer.beta1"/);
  const base = { epochs: 3, optimizer: { beta1: 0.85 } };
  assert.equal(trialSettingsDiff({ base }, { 'optimizer.weightDecay': 1e-4 }), { epochs: 3, optimizer: { beta1: 0.85, weightDecay: 1e-4 } });
  assert.equal(base, { epochs: 3, optimizer: { beta1: 0.85 } }, 'base is not modified');
  assert.equal(mergeDiffs({ a: { b: 1, c: [1, 2] } }, { a: { c: [3] } }), { a: { b: 1, c: [3] } });
});

test('conditions: equals / in; absent parameters never satisfy a condition', () => {
  assert.ok(conditionHolds({ param: 'opt', equals: 'sgd' }, { opt: 'sgd' }));
  assert.not.ok(conditionHolds({ param: 'opt', equals: 'sgd' }, { opt: 'adam' }));
  assert.not.ok(conditionHolds({ param: 'opt', equals: 'sgd' }, {}));
  assert.ok(conditionHolds({ param: 'n', in: [1, 3] }, { n: 3 }));
  assert.not.ok(conditionHolds({ param: 'n', in: [1, 3] }, { n: '3' }), "3 and '3' differ");
});

test('enumerateSpace: the product in order, conditional parameters only under their condition', () => {
  const space: SearchSpace = {
    'schedule.name': { kind: 'choice', values: ['constant', 'cosine'] },
    'schedule.warmupEpochs': { kind: 'int', low: 0, high: 2, when: { param: 'schedule.name', equals: 'cosine' } },
    'augment.flip': { kind: 'choice', values: [true, false] },
  };
  validateSpace(space);
  assert.equal(enumerateSpace(space), [
    { 'schedule.name': 'constant', 'augment.flip': true },
    { 'schedule.name': 'constant', 'augment.flip': false },
    { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 0, 'augment.flip': true },
    { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 0, 'augment.flip': false },
    { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 1, 'augment.flip': true },
    { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 1, 'augment.flip': false },
    { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 2, 'augment.flip': true },
    { 'schedule.name': 'cosine', 'schedule.warmupEpochs': 2, 'augment.flip': false },
  ]);
  assert.throws(() => enumerateSpace({ lr: { kind: 'uniform', low: 0, high: 1 } }), /"lr": uniform is continuous/);
});

test('specHash: ignores key order of base, budget and retries; changes with seed, space order and sampler', () => {
  const a = defineSweep(valid());
  const h = specHash(a);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.is(specHash(defineSweep({ ...valid(), base: { schedule: { name: 'cosine' }, epochs: 3 } })), h);
  assert.is(specHash(defineSweep({ ...valid(), budget: { trials: 99, minutes: 5 }, retries: 3 })), h);
  assert.is.not(specHash(defineSweep({ ...valid(), seed: 2 })), h);
  assert.is.not(specHash(defineSweep({ ...valid(), sampler: { name: 'random' } })), h);
  const reordered = Object.fromEntries(Object.entries(valid().space).reverse());
  assert.is.not(specHash(defineSweep(withSpace(reordered))), h);
});

test.run();
