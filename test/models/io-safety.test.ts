/**
 * Model folders cannot reach outside themselves (issue 26): a `weightsManifest` path with `..` or a symbolically linked
 * weight file is refused, with an error naming model.json and the path, by the one check every loader goes through
 * (src/models/io.ts modelFolderFile): loadLayersModelFromDir (eval, export, runs), predict's loadPredictModel, the
 * initFrom readers and the demo server. The same folder with its weights in place loads, so the refusals are about the
 * path alone. Export (a real one-epoch run on a generated dataset) writes nothing outside its output folder.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDemoServer } from '../../src/demo/server';
import { defineExperiment } from '../../src/exp/config';
import { runExperiment } from '../../src/exp/experiment';
import { exportModel } from '../../src/export';
import { readSavedModelInfo, readSavedWeights } from '../../src/models/init';
import { loadLayersModelFromDir, modelFolderFile } from '../../src/models/io';
import { loadPredictModel } from '../../src/predict/model';
import { DP_TEST_MODEL } from '../helpers/dp-model';
import { makeRows, tempDir, writeFixture } from '../helpers/fixtures';
import { writeModelFolder } from '../predict/helpers';

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

/** Sets model.json's weight paths to `paths`. */
function setPaths(modelDir: string, paths: string[]): void {
  const json = readJson(join(modelDir, 'model.json'));
  json.weightsManifest[0].paths = paths;
  writeFileSync(join(modelDir, 'model.json'), JSON.stringify(json));
}

/** Every loader of a model folder, each expected to refuse `dir` with an error matching `pattern`. */
async function assertAllRefuse(dir: string, pattern: RegExp): Promise<void> {
  const loaders: Array<[string, () => unknown]> = [
    ['loadLayersModelFromDir', () => loadLayersModelFromDir(dir)],
    ['loadPredictModel', () => loadPredictModel(dir)],
    ['readSavedModelInfo (initFrom)', () => readSavedModelInfo(dir)],
    ['readSavedWeights (initFrom)', () => readSavedWeights(dir)],
    ['startDemoServer', () => startDemoServer(dir, { port: 0 })],
  ];
  for (const [name, load] of loaders) {
    let err: Error | undefined;
    try {
      const r = await load();
      if (r && typeof (r as { close?: unknown }).close === 'function') await (r as { close: () => Promise<void> }).close();
    } catch (e) {
      err = e as Error;
    }
    assert.ok(err, `${name} loaded ${dir}`);
    assert.ok(err!.message.includes(join(dir, 'model.json')), `${name}: names model.json: ${err!.message}`);
    assert.match(err!.message, pattern, `${name}: ${err!.message}`);
  }
}

test('a weights path with ../ is refused by every loader; the same weights beside model.json load', async () => {
  const base = tempDir('ferlab-io-');
  const dir = await writeModelFolder(join(base, 'model'));
  assert.is((await loadLayersModelFromDir(dir)).countParams() > 0, true, 'the folder as saved loads');
  mkdirSync(join(base, 'outside'));
  renameSync(join(dir, 'weights.bin'), join(base, 'outside', 'weights.bin'));
  setPaths(dir, ['../outside/weights.bin']);
  await assertAllRefuse(dir, /weights path '\.\.\/outside\/weights\.bin' is not a file name beside model\.json/);
  setPaths(dir, [join(base, 'outside', 'weights.bin')]); // an absolute path
  await assertAllRefuse(dir, /is not a file name beside model\.json/);
});

test('a symbolically linked weights file (or model.json) is refused by every loader', async () => {
  const base = tempDir('ferlab-io-');
  const dir = await writeModelFolder(join(base, 'model'));
  renameSync(join(dir, 'weights.bin'), join(base, 'weights.bin'));
  symlinkSync(join(base, 'weights.bin'), join(dir, 'weights.bin'));
  await assertAllRefuse(dir, /weights path 'weights\.bin': .*weights\.bin is a symbolic link/);
  assert.throws(() => modelFolderFile(dir, 'weights.bin'), /symbolic link/);

  const dir2 = await writeModelFolder(join(base, 'model2'));
  renameSync(join(dir2, 'model.json'), join(base, 'model2.json'));
  symlinkSync(join(base, 'model2.json'), join(dir2, 'model.json'));
  await assertAllRefuse(dir2, /model\.json is a symbolic link/);
});

test('export: a run whose model.json names ../weights.bin is refused and nothing is written outside --out', async () => {
  const dataDir = writeFixture(makeRows({ train: 32, val: 16, test: 16 }, 5));
  const exp = defineExperiment({
    name: 'iosafety',
    description: 'one tiny run to export',
    settings: { epochs: 1, batchSize: 32 },
    runs: [{ name: 'tiny', model: DP_TEST_MODEL, labels: 'fer' }],
    quick: {},
  });
  const experiment = await runExperiment(exp, { dataDir, cacheDir: false, runsDir: tempDir(), workers: 1, replicas: 1, backend: 'wasm', log: () => {} });
  const run = join(experiment.dir, 'tiny');
  const model = join(run, 'model');
  // the untouched run exports (so the refusals below are about the weight path)
  const okParent = tempDir('ferlab-export-ok-');
  await exportModel(run, { out: join(okParent, 'out'), formats: ['tfjs'], dataDir, cacheDir: false, backend: 'wasm', log: () => {} });
  assert.ok(existsSync(join(okParent, 'out', 'weights.bin')));

  renameSync(join(model, 'weights.bin'), join(run, 'weights.bin'));
  setPaths(model, ['../weights.bin']);
  const parent = tempDir('ferlab-export-');
  const out = join(parent, 'out');
  const opts = { out, formats: ['tfjs' as const], dataDir, cacheDir: false as const, backend: 'wasm' as const, log: () => {} };
  /** The error `exportModel` rejects with, or undefined when it succeeds. */
  const exportError = () =>
    exportModel(run, opts).then(
      () => undefined,
      (e: Error) => e,
    );
  let err = await exportError();
  assert.ok(err, 'export refused the run');
  assert.ok(err!.message.includes(join(model, 'model.json')) && err!.message.includes("'../weights.bin'"), err!.message);
  assert.equal(readdirSync(parent), [], 'nothing written beside --out (no ../weights.bin copy, no temporary folder)');

  setPaths(model, ['weights.bin']);
  symlinkSync(join(run, 'weights.bin'), join(model, 'weights.bin'));
  err = await exportError();
  assert.match(err?.message ?? '', /is a symbolic link/);
  assert.equal(readdirSync(parent), []);
});

test.run();
