/** Experiment configs: strict validation, strict overrides, --quick, run selection, the experiment files. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyOverrides, ConfigError, defineExperiment, resolveRuns, type Experiment } from '../../src/exp/config';
import { listExperiments, loadExperiment } from '../../src/exp/study';

const base = (): Experiment => structuredClone(loadExperiment('default'));

test('every experiment file loads and validates; default has the 4-run study', () => {
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
  (e.defaults as Record<string, unknown>).epochz = 3;
  assert.throws(
    () => defineExperiment(e as unknown as Experiment),
    (err: Error) => err instanceof ConfigError && /epochz/.test(err.message),
  );
  const e2 = base();
  (e2.defaults as unknown as Record<string, unknown>).lr = '0.1';
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
  const s = base().defaults;
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
  assert.throws(() => applyOverrides(s, ['optimizer.momentum=0.9']), /unknown key 'optimizer.momentum'/);
  assert.throws(() => applyOverrides(s, ['epochs=three']), /epochs/);
  assert.throws(() => applyOverrides(s, ['epochs=0']), /epochs/);
  assert.throws(() => applyOverrides(s, ['epochs']), /key=value/);
  assert.throws(() => applyOverrides(s, ['schedule={"name":"onecycle"}']), /pctStart/);
});

test('resolveRuns: defaults < run settings < quick < overrides; --only selects runs', () => {
  const e = base();
  e.runs[1].settings = { epochs: 9 };
  const normal = resolveRuns(e);
  assert.is(normal[1].epochs, 9);
  assert.is(normal[0].epochs, e.defaults.epochs);
  const quick = resolveRuns(e, { quick: true });
  assert.is(quick[0].epochs, e.quick.epochs!);
  assert.equal(quick[0].slice, e.quick.slice);
  const over = resolveRuns(e, { quick: true, overrides: ['epochs=1'] });
  assert.ok(over.every((r) => r.epochs === 1));
  const only = resolveRuns(e, { only: ['deep-fer'] });
  assert.equal(
    only.map((r) => r.name),
    ['deep-fer'],
  );
  assert.throws(() => resolveRuns(e, { only: ['nope'] }), /unknown run\(s\) nope/);
  assert.throws(() => loadExperiment('no-such-experiment'), /no experiment 'no-such-experiment'.*available: .*default/s);
});

test.run();
