/**
 * Experiment and sweep spec files are code (issue 26): a mistyped name must run no file. The name is matched to
 * `experiments/<name>.ts` first; the names listed in the error come from file names (and source text), with nothing
 * imported. Checked on the real experiments/ folder (no experiments/ module is in require.cache afterwards; this file
 * runs in its own process, so nothing loaded them before) and on a temporary folder whose file writes a marker when
 * imported.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/exp/config';
import { listSpecFiles } from '../../src/exp/specfiles';
import { listExperiments, loadExperiment } from '../../src/exp/experiment';
import { listSweeps, loadSweep } from '../../src/sweep/load';
import { PROJECT_ROOT } from '../../src/util/paths';
import { tempDir } from '../helpers/fixtures';

const experimentsLoaded = () =>
  Object.keys(require.cache).filter((f) => f.startsWith(join(PROJECT_ROOT, 'experiments')) || f.startsWith(join(PROJECT_ROOT, 'sweeps')));

test('a mistyped experiment or sweep name imports no file of experiments/; the error lists the names', () => {
  assert.equal(experimentsLoaded(), [], 'nothing loaded before');
  assert.throws(
    () => loadExperiment('defualt'),
    (e: Error) => e instanceof ConfigError && /no experiment 'defualt' .*available: .*\bdefault\b/.test(e.message) && !/sweep-recipe\b/.test(e.message),
  );
  assert.throws(() => loadSweep('sweep-recipee'), /no sweep spec 'sweep-recipee' .*sweeps: .*sweep-recipe/);
  assert.throws(() => loadSweep('default'), /is an experiment, not a sweep spec/);
  assert.throws(() => loadExperiment('sweep-recipe'), /is a sweep spec, not an experiment/);
  assert.ok(listExperiments().includes('default') && !listExperiments().includes('sweep-recipe'));
  assert.ok(listSweeps().includes('sweep-recipe') && !listSweeps().includes('default'));
  assert.equal(experimentsLoaded(), [], `no experiments/ module was imported: ${experimentsLoaded().join(', ')}`);
  // sweep specs live in sweeps/, experiments in experiments/ (src/exp/specfiles.ts)
  assert.ok(existsSync(join(PROJECT_ROOT, 'sweeps', 'sweep-recipe.ts')) && !existsSync(join(PROJECT_ROOT, 'experiments', 'sweep-recipe.ts')));
  loadExperiment('default');
  assert.equal(
    experimentsLoaded().map((f) => f.slice(PROJECT_ROOT.length + 1)),
    ['experiments/default.ts'],
    'loading by its name imports that one file',
  );
});

test('a spec folder with a file that writes a marker when imported: a typo lists it without running it', () => {
  const dir = tempDir('ferlab-specs-');
  const marker = join(dir, 'MARKER');
  writeFileSync(join(dir, 'marker.ts'), `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nexport default {};\n`);
  writeFileSync(join(dir, 'swp.ts'), `// export default defineSweep({...})\nrequire('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
  assert.equal(
    listSpecFiles(dir).map((f) => [f.name, f.sweep]),
    [
      ['marker', false],
      ['swp', true],
    ],
  );
  assert.throws(() => loadExperiment('markr', dir), /no experiment 'markr' \(looked for .*markr\.ts\); available: marker$/);
  assert.throws(() => loadSweep('swq', dir), /no sweep spec 'swq' .*: swp$/);
  assert.throws(() => loadSweep('marker', dir), /is an experiment, not a sweep spec/);
  assert.throws(() => loadExperiment('../marker', dir), /no experiment '\.\.\/marker'/);
  assert.not.ok(existsSync(marker), 'no spec file ran');
  loadExperiment('marker', dir);
  assert.ok(existsSync(marker), 'loading it by its exact name runs it (the control)');
});

test.run();
