/**
 * Run names become folder names (src/exp/config.ts RUN_NAME): a name that climbs out ('../x'), is absolute or holds a
 * '/' is refused before anything is written: by runOne (the run record), by resumeExperiment for the names read back from
 * experiment.json, and in experiment definitions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRunName, DEFAULT_SETTINGS, defineExperiment, isSafeRunName, type RunConfig } from '../../src/exp/config';
import type { FerDataset } from '../../src/data/dataset';
import { runOne } from '../../src/exp/run';
import { resumeExperiment } from '../../src/exp/experiment';
import { environment } from '../../src/util/env';
import { tempDir } from '../helpers/fixtures';

test('safe names: letters, digits, . _ -, 1-128 characters, starting with a letter or digit, no ..', () => {
  for (const ok of ['default', 'deep-fer-seed42', 'trial-0007', 'A.b_c-1', 'x'.repeat(128)]) assert.ok(isSafeRunName(ok), ok);
  for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', '/abs', '.hidden', '-x', 'a..b', 'x'.repeat(129), 'a b', 'é'])
    assert.not.ok(isSafeRunName(bad), JSON.stringify(bad));
  assert.throws(() => checkRunName('../x', 'run name in experiment.json'), /run name in experiment\.json "\.\.\/x" is not a safe folder name/);
});

test('runOne refuses a climbing run name before anything is written', async () => {
  const base = tempDir('ferlab-runone-');
  const experiment = join(base, 'experiment');
  mkdirSync(experiment);
  const run = { experiment: 'e', name: '../escaped', model: 'baseline', labels: 'fer', ...DEFAULT_SETTINGS } as RunConfig;
  let err: Error | undefined;
  await runOne(run, {} as FerDataset, { dir: join(experiment, run.name), env: environment('test') }).catch((e: Error) => (err = e));
  assert.is(err?.name, 'ConfigError');
  assert.match(err!.message, /run name "\.\.\/escaped" is not a safe folder name/);
  assert.equal(readdirSync(base), ['experiment']);
  assert.equal(readdirSync(experiment), []);
});

test('resumeExperiment refuses run names from experiment.json that are not plain folder names, before anything else', async () => {
  const dir = tempDir('ferlab-resume-names-');
  const runs = [{ experiment: 'default', name: '../../outside', model: 'baseline', labels: 'fer', ...DEFAULT_SETTINGS }];
  writeFileSync(join(dir, 'experiment.json'), JSON.stringify({ experiment: 'default', quick: true, overrides: [], runs }));
  let err: Error | undefined;
  await resumeExperiment(dir, { dataDir: join(dir, 'no-data') }).catch((e: Error) => (err = e));
  assert.is(err?.name, 'ConfigError');
  assert.match(err!.message, /run name in .*experiment\.json "\.\.\/\.\.\/outside" is not a safe folder name/);
  assert.not.ok(existsSync(join(dir, '..', '..', 'outside')));
});

test('experiment definitions: run names with .. or over 128 characters are refused', () => {
  const exp = (name: string) => ({ name: 'e', description: 'd', runs: [{ name, model: 'baseline', labels: 'fer' as const }], quick: {} });
  assert.throws(() => defineExperiment(exp('a..b')), /no '\.\.'/);
  assert.throws(() => defineExperiment(exp('x'.repeat(129))), /1-128/);
  defineExperiment(exp('deep-fer'));
});

test.run();
