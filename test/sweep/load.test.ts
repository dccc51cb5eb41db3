/**
 * Sweep spec files (src/sweep/load.ts) and how a trial is reproduced (src/sweep/reproduce.ts), without training:
 * sweeps/sweep-recipe.ts loads and is kept apart from the experiments; its quick variant and budget overrides
 * resolve; bad variants, label sets and models are errors naming the field; a trial's resolved run config; the
 * reproduction command and experiment snippet give exactly the trial's settings.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyOverrides, ConfigError, resolveRuns, type RunConfig } from '../../src/exp/config';
import { listExperiments, loadExperiment } from '../../src/exp/experiment';
import { defineQuickSweep, listSweeps, loadSweep, resolveSweep } from '../../src/sweep/load';
import { overridesBetween, reproduceRun, settingsOf, shellQuote } from '../../src/sweep/reproduce';
import { trialRunConfig } from '../../src/sweep/runner';
import { trialSettingsDiff, type SweepSpecInput } from '../../src/sweep/spec';
import { TrainSettingsSchema } from '../../src/train/settings';
import { tempDir } from '../helpers/fixtures';

const ROOT = join(__dirname, '..', '..');

test('sweeps/sweep-recipe.ts: a sweep spec, listed as a sweep and not as an experiment', () => {
  assert.ok(listSweeps().includes('sweep-recipe'), `sweeps: ${listSweeps()}`);
  assert.not.ok(listExperiments().includes('sweep-recipe'), 'not an experiment');
  assert.ok(listExperiments().includes('default'));
  assert.throws(
    () => loadExperiment('sweep-recipe'),
    (e: Error) => e instanceof ConfigError && /sweep spec, not an experiment: .*ferlab -- sweep sweep-recipe/.test(e.message),
  );
  assert.throws(() => loadSweep('default'), /is an experiment, not a sweep spec: run it with npm run exp -- default/);
  assert.throws(() => loadSweep('no-such-sweep'), /no sweep spec 'no-such-sweep' .*sweep-recipe/);

  const def = loadSweep('sweep-recipe');
  const s = def.spec;
  // what the recipe is (its ranges and budget are tuned in the file; only its shape is checked here)
  assert.equal(
    [s.name, s.model, s.labels, s.sampler.name, s.objective.metric, s.objective.split],
    ['sweep-recipe', 'deep', 'majority', 'tpe', 'accuracy', 'PublicTest'],
  );
  assert.equal(s.pruner, { name: 'asha', minEpochs: 2, reductionFactor: 3, maxEpochs: 8 });
  assert.ok(s.budget.minutes! > 0, 'a time budget');
  assert.is((s.base as { epochs: number }).epochs, 8);
  for (const k of ['lr', 'optimizer.weightDecay', 'labelSmoothing', 'batchSize', 'augment.shift']) assert.ok(k in s.space, `searches ${k}`);
  assert.is(s.space.lr.kind, 'loguniform');
  assert.is(s.space['optimizer.weightDecay'].kind, 'loguniform');
  assert.is(s.space.batchSize.kind, 'choice');
  // every parameter is a setting of the training schema (defineSweep checked each one's bounds)
  const lows = Object.fromEntries(Object.entries(s.space).map(([k, p]) => [k, p.kind === 'choice' ? p.values[0] : p.low]));
  assert.ok(TrainSettingsSchema.safeParse(trialSettingsDiff(s, lows)).success);

  const q = resolveSweep(def, { quick: true });
  assert.ok(q.quick);
  assert.equal(q.slice, { train: 1280, val: 320, test: 320 });
  assert.equal(q.spec.budget, { trials: 4 });
  assert.is((q.spec.base as { epochs: number }).epochs, 2);
  assert.equal(q.spec.pruner, { name: 'asha', minEpochs: 1, reductionFactor: 3, maxEpochs: 2 });
  assert.equal(q.spec.space, s.space, 'the same search space');
  const full = resolveSweep(def, { trials: 3 });
  assert.equal(full.spec.budget, { minutes: s.budget.minutes, trials: 3 }, '--trials replaces the trial budget only');
  assert.equal(full.slice, { train: null, val: null, test: null });
  assert.equal(resolveSweep(def, { minutes: 5 }).spec.budget, { minutes: 5 });
});

const small = (over: Partial<SweepSpecInput> = {}): SweepSpecInput => ({
  name: 'small',
  model: 'baseline',
  labels: 'majority',
  base: { epochs: 2 },
  space: { lr: { kind: 'loguniform', low: 1e-3, high: 1e-2 }, batchSize: { kind: 'choice', values: [32, 64] } },
  objective: { metric: 'accuracy' },
  sampler: { name: 'random' },
  budget: { trials: 2 },
  seed: 1,
  ...over,
});

test('resolveSweep: errors name the field; a spec file path loads; a bad spec in a file throws while it loads', () => {
  assert.throws(() => resolveSweep({ spec: small() }, { quick: true }), /sweep 'small' has no quick variant/);
  assert.throws(() => resolveSweep({ spec: small({ labels: 'ferplus' }) }), /sweep 'small': labels: unknown label set 'ferplus'/);
  assert.throws(() => resolveSweep({ spec: small({ model: 'resnet9000' }) }), /sweep 'small': model: unknown model 'resnet9000'/);
  assert.throws(() => resolveSweep({ spec: small() }, { trials: 0 }), /--trials must be a positive number/);
  assert.throws(() => defineQuickSweep({ slice: { train: 0 } }), /quick\.slice\.train/);
  assert.throws(() => resolveSweep({ spec: small(), quick: { base: { epochz: 2 } } as never }, { quick: true }), /epochz/);

  const dir = tempDir('ferlab-sweep-files-');
  const file = join(dir, 'small.ts');
  const src = (space: string) => `import { defineSweep } from ${JSON.stringify(join(ROOT, 'src', 'sweep', 'spec'))};
export default defineSweep({ name: 'small', model: 'baseline', labels: 'fer', space: ${space}, objective: { metric: 'macroF1' }, sampler: { name: 'grid' }, budget: { trials: 2 }, seed: 1 });
`;
  writeFileSync(file, src(`{ batchSize: { kind: 'choice', values: [32, 64] } }`));
  const def = loadSweep(file);
  assert.equal([def.name, def.file, def.quick], ['small', file, undefined]);
  const bad = join(dir, 'bad.ts');
  writeFileSync(bad, src(`{ 'optimizer.weightDecay': { kind: 'loguniform', low: 0, high: 1e-2 } }`));
  assert.throws(
    () => loadSweep(bad),
    (e: Error) => e.name === 'SweepSpecError' && /search space parameter "optimizer\.weightDecay": loguniform needs low > 0/.test(e.message),
  );
});

test("trialRunConfig: defaults, then base, then the trial's params, then the slice, validated", () => {
  const { spec, slice } = resolveSweep({ spec: small(), quick: { slice: { train: 640 } } }, { quick: true });
  const params = { lr: 0.004, batchSize: 32 };
  const run = trialRunConfig(spec, slice, { trial: 7, params, settingsDiff: trialSettingsDiff(spec, params) });
  assert.equal(
    [run.experiment, run.name, run.model, run.labels, run.epochs, run.lr, run.batchSize],
    ['small', 'trial-0007', 'baseline', 'majority', 2, 0.004, 32],
  );
  assert.equal(run.slice, { train: 640, val: null, test: null });
  assert.is(run.seed, 42, 'defaults fill the rest');
  assert.throws(
    () => trialRunConfig(spec, slice, { trial: 3, params: { batchSize: 1 }, settingsDiff: trialSettingsDiff(spec, { batchSize: 1 }) }),
    (e: Error) => e instanceof ConfigError && /trial 3 \(\{"batchSize":1\}\): invalid settings: batchSize/.test(e.message),
  );
});

test('reproduceRun: an npm run exp command and an experiment file that give exactly the trial settings', () => {
  const base = resolveRuns(loadExperiment('default')).find((r) => r.name === 'deep-ferplus')!;
  const target: RunConfig = {
    ...structuredClone(base),
    experiment: 'sweep-x',
    name: 'trial-0003',
    lr: 0.0012345678901234,
    batchSize: 32,
    labelSmoothing: 0.1,
    schedule: { name: 'constant' },
    optimizer: { ...base.optimizer, weightDecay: 3.3e-5 },
    augment: { ...base.augment, shift: 2 },
    slice: { train: 1280, val: 320, test: 320 },
  };
  const ov = overridesBetween(settingsOf(base) as never, settingsOf(target) as never);
  assert.equal(ov, [
    'batchSize=32',
    'lr=0.0012345678901234',
    'schedule={"name":"constant"}',
    'optimizer.weightDecay=0.000033',
    'augment.shift=2',
    'labelSmoothing=0.1',
    'slice.train=1280',
    'slice.val=320',
    'slice.test=320',
  ]);
  const r = reproduceRun(target, 'sweep-x-trial-0003', 'trial 3 of sweep-x');
  assert.is(r.experiment, 'default');
  assert.is(r.run, 'deep-ferplus');
  assert.is(r.command, `npm run exp -- default --only deep-ferplus ${ov.map((o) => `--set ${shellQuote(o)}`).join(' ')} --replicas 1`);
  assert.match(r.command!, /--set 'schedule=\{"name":"constant"\}'/);
  assert.equal(JSON.stringify(applyOverrides(settingsOf(base), r.overrides)), JSON.stringify(settingsOf(target)));

  // the snippet is an experiment file: load it (with an absolute import) and resolve its one run
  const file = join(tempDir('ferlab-sweep-snippet-'), 'sweep-x-trial-0003.ts');
  writeFileSync(file, r.snippet.replace("'../src/exp/config'", JSON.stringify(join(ROOT, 'src', 'exp', 'config'))));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exp = require(file).default;
  const [run] = resolveRuns(exp);
  assert.equal([exp.name, run.name, run.model, run.labels], ['sweep-x-trial-0003', 'trial-0003', 'deep', 'majority']);
  assert.equal(JSON.stringify(settingsOf(run)), JSON.stringify(settingsOf(target)));
  assert.not.match(r.snippet, /beta1/, 'the snippet states only what differs from the defaults');
});

test.run();
