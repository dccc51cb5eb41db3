/** Experiment configs: strict validation, strict overrides, --quick, run selection, the experiment files. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyOverrides, ConfigError, DEFAULT_SETTINGS, defineExperiment, mergeSettings, resolveRuns, type Experiment } from '../../src/exp/config';
import { listExperiments, loadExperiment } from '../../src/exp/experiment';

const base = (): Experiment => structuredClone(loadExperiment('default'));

test('every experiment file loads and validates; default has the 4-run experiment', () => {
  const names = listExperiments();
  assert.ok(names.includes('default'), `experiments: ${names}`);
  for (const n of names) {
    const e = loadExperiment(n);
    assert.is(e.name, n, `experiments/${n}.ts names itself '${e.name}'`);
    assert.ok(resolveRuns(e).length > 0);
  }
  const runs = resolveRuns(base());
  assert.equal(runs.map((r) => `${r.model}/${r.labels}`).sort(), ['baseline/fer', 'baseline/majority', 'deep/fer', 'deep/majority']);
});

test('unknown keys and wrong types are errors that name the path', () => {
  const e = base() as unknown as Record<string, unknown>;
  e.settings = { epochz: 3 };
  assert.throws(
    () => defineExperiment(e as unknown as Experiment),
    (err: Error) => err instanceof ConfigError && /epochz/.test(err.message),
  );
  const e2 = base();
  (e2 as unknown as Record<string, unknown>).settings = { lr: '0.1' };
  assert.throws(
    () => defineExperiment(e2),
    (err: Error) => /expected number/.test(err.message) && /lr/.test(err.message),
  );
  const e3 = base();
  e3.runs.push({ ...e3.runs[0] });
  assert.throws(() => defineExperiment(e3), /appears twice/);
  const e4 = base();
  (e4.runs[0] as unknown as Record<string, unknown>).labels = 'ferplus';
  assert.throws(() => defineExperiment(e4), /labels/);
});

test('overrides: dotted keys, JSON values, re-validated; unknown key or bad value is an error', () => {
  const s = DEFAULT_SETTINGS;
  const o = applyOverrides(s, ['epochs=8', 'optimizer.weightDecay=0.0001', 'augment.flip=false', 'schedule={"name":"constant"}', 'slice.train=100']);
  assert.is(o.epochs, 8);
  assert.is(o.optimizer.weightDecay, 1e-4);
  assert.is(o.augment.flip, false);
  assert.equal(o.schedule, { name: 'constant' });
  assert.is(o.slice.train, 100);
  assert.throws(
    () => applyOverrides(s, ['epoch=3']),
    (e: Error) => e instanceof ConfigError && /unknown key 'epoch'/.test(e.message) && /epochs/.test(e.message),
  );
  assert.throws(() => applyOverrides(s, ['optimizer.momentum=0.9']), /optimizer.momentum applies to SGD only/);
  assert.throws(() => applyOverrides(s, ['optimizer.moment=0.9']), /unknown key 'optimizer.moment'/);
  assert.throws(() => applyOverrides(s, ['epochs=three']), /epochs/);
  assert.throws(() => applyOverrides(s, ['epochs=0']), /epochs/);
  assert.throws(() => applyOverrides(s, ['epochs']), /key=value/);
  assert.throws(() => applyOverrides(s, [`schedule={"name":"onecycle","pctStart":2}`]), /pctStart/);
});

test('resolveRuns: defaults < run settings < quick < overrides; --only selects runs', () => {
  const e = base();
  e.runs[1].settings = { epochs: 9 };
  const normal = resolveRuns(e);
  assert.is(normal[1].epochs, 9);
  assert.is(normal[0].epochs, DEFAULT_SETTINGS.epochs);
  const quick = resolveRuns(e, { quick: true });
  assert.is(quick[0].epochs, e.quick.epochs!);
  assert.equal(quick[0].slice, { train: 1280, val: 320, test: 320 });
  const over = resolveRuns(e, { quick: true, overrides: ['epochs=1'] });
  assert.ok(over.every((r) => r.epochs === 1));
  const only = resolveRuns(e, { only: ['deep-fer'] });
  assert.equal(
    only.map((r) => r.name),
    ['deep-fer'],
  );
  assert.throws(() => resolveRuns(e, { only: ['nope'] }), /unknown run\(s\) nope/);
  // a run with seeds (deep-ferplus): its name selects every seed, `<run>-seed<k>` one of them (the folder's name)
  e.runs[3].seeds = [1, 2, 3];
  assert.equal(
    resolveRuns(e, { only: ['deep-ferplus'] }).map((r) => r.name),
    ['deep-ferplus-seed1', 'deep-ferplus-seed2', 'deep-ferplus-seed3'],
  );
  assert.equal(
    resolveRuns(e, { only: ['deep-ferplus-seed2', 'deep-fer'] }).map((r) => [r.name, r.seed]),
    [
      ['deep-fer', 42],
      ['deep-ferplus-seed2', 2],
    ],
  );
  assert.throws(() => resolveRuns(e, { only: ['deep-ferplus-seed4'] }), /unknown run\(s\) deep-ferplus-seed4 .*seeds: deep-ferplus-seed1, deep-ferplus-seed2, deep-ferplus-seed3/);
  assert.throws(() => loadExperiment('no-such-experiment'), /no experiment 'no-such-experiment'.*available: .*default/s);
});

test('the defaults are the default experiment (5 epochs, batch 64, Adam, one-cycle to 3e-3, flips, seed 42), written out by hand', () => {
  assert.equal(DEFAULT_SETTINGS, {
    epochs: 5,
    batchSize: 64,
    lr: 3e-3,
    schedule: { name: 'onecycle', pctStart: 0.25, divFactor: 25, finalDivFactor: 1e4 },
    optimizer: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    augment: { flip: true, shift: 0 },
    labelSmoothing: 0,
    patience: 0,
    seed: 42,
    evalBatchSize: 256,
    initFrom: null,
    freeze: 'none',
    slice: { train: null, val: null, test: null },
  });
  // the default experiment states no setting: its runs are the defaults
  const runs = resolveRuns(base());
  for (const r of runs) {
    const { experiment: _e, name: _n, model: _m, labels: _l, ...settings } = r;
    assert.equal(settings, DEFAULT_SETTINGS, r.name);
  }
  assert.is(base().workers, undefined, 'no experiment pins workers: the default is one per core');
  for (const n of ['ferplus-modes', 'lr-grid', 'full']) assert.is(loadExperiment(n).workers, undefined, n);
  assert.is(loadExperiment('sweep-lr').name, 'lr-grid', 'the old name of lr-grid still loads it');
});

test('settings diffs: groups merge key by key, a schedule is replaced whole, later diffs win', () => {
  const m = mergeSettings(
    { optimizer: { weightDecay: 1e-4 }, schedule: { name: 'cosine', warmupEpochs: 2 } },
    { optimizer: { beta1: 0.8 }, schedule: { name: 'constant' } },
  );
  assert.equal(m, { optimizer: { weightDecay: 1e-4, beta1: 0.8 }, schedule: { name: 'constant' } });
  const e = base();
  e.settings = { epochs: 7, optimizer: { weightDecay: 1e-4 } };
  e.runs[0].settings = { optimizer: { beta2: 0.99 }, schedule: { name: 'step' } };
  const [r0, r1] = resolveRuns(e);
  assert.equal(r0.optimizer, { beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 1e-4 });
  assert.equal(r0.schedule, { name: 'step', milestones: [20, 40], gamma: 0.5 }, 'step schedule defaults filled in');
  assert.is(r0.epochs, 7);
  assert.equal(r1.optimizer, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 });
  e.runs[1].settings = { optimizer: { beta3: 1 } } as never;
  assert.throws(
    () => defineExperiment(e),
    (err: Error) => err instanceof ConfigError && /beta3/.test(err.message) && /deep-fer/.test(err.message),
  );
});

test.run();
