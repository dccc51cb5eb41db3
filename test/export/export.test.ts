/**
 * `npm run ferlab -- export` on a quick experiment of the default experiment trained here on the real data (~1 min):
 * the run picked is the best by PublicTest (also when PublicTest and PrivateTest disagree, in an edited copy of the
 * experiment and as a sweep folder); the tfjs model loads with plain tf.loadLayersModel over HTTP (as a browser loads it)
 * and reproduces the recorded accuracy; model.onnx in ONNX Runtime matches tfjs (max |logit diff| <= 1e-4, same
 * accuracy); float16 and uint8 models reload and stay within 0.5 points; ferlab.json and the model card hold the
 * required fields; bad folders and settings give clear errors. Every expected value is computed here from the run
 * record and the data (pixel / 255 written out by hand), not by the exporter.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { onnx } from 'onnx-proto';
import { initBackend } from '../../src/backend/select';
import { IMAGE_PIXELS } from '../../src/data/classes';
import { loadDataset, type FerDataset } from '../../src/data/dataset';
import { IMAGE_CONVERSION } from '../../src/data/image';
import { PREPROCESSING } from '../../src/data/preprocess';
import type { ExperimentResult } from '../../src/exp/experiment';
import { runLabels } from '../../src/exp/run';
import { ExportError, exportModel, selectRun, type ExportResult, type FormatCheck } from '../../src/export';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';
import { sharedQuickExperiment } from '../helpers/quick-experiment';
import { runCli } from '../helpers/cli';

const dataDir = realDataDir();
/** Largest |logit difference| accepted between ONNX Runtime and tfjs (both float32; different summation orders). */
const TOL = 1e-4;

let experiment: ExperimentResult;
let ds: FerDataset;
let exported: ExportResult;
const out = tempDir('ferlab-export-');
// quiet, and re-scored on wasm: the checks compare the export's accuracies with those computed here on wasm and
// recorded by the shared quick experiment (trained on wasm); `auto` would pick native where its addon is built
const silent = { log: () => {}, backend: 'wasm' as const };

function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const file = normalize(join(root, decodeURIComponent((req.url ?? '/').split('?')[0])));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

/** Loads `<dir>/model.json` with plain tf.loadLayersModel over HTTP, as a browser does. */
async function loadOverHttp(dir: string): Promise<tf.LayersModel> {
  const { server, url } = await serve(dir);
  try {
    return await tf.loadLayersModel(`${url}/model.json`);
  } finally {
    server.close();
  }
}

/** The run's PrivateTest images as float32 pixel / 255 (written out here), and their labels. */
function privateTest(runDir: string): { x: Float32Array; n: number; label: Uint8Array } {
  const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
  const t = runLabels(ds, config.run).test;
  const n = t.index.length;
  const x = new Float32Array(n * IMAGE_PIXELS);
  t.index.forEach((row, i) => {
    for (let p = 0; p < IMAGE_PIXELS; p++) x[i * IMAGE_PIXELS + p] = ds.pixels[row * IMAGE_PIXELS + p] / 255;
  });
  return { x, n, label: t.label };
}

function logitsOf(model: tf.LayersModel, x: Float32Array, n: number): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor4d(x, [n, 48, 48, 1])) as tf.Tensor).dataSync() as Float32Array);
}

function accuracy(logits: Float32Array, label: Uint8Array): number {
  const C = logits.length / label.length;
  let correct = 0;
  for (let i = 0; i < label.length; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
    if (best === label[i]) correct++;
  }
  return correct / label.length;
}

/** Best run by PublicTest accuracy from the metrics.json files, first in folder order on ties (computed here). */
function bestByPublicTest(dir: string): { name: string; val: number; test: number; bestTest: string } {
  let best: { name: string; val: number; test: number } | undefined;
  let bestTest: { name: string; test: number } | undefined;
  for (const name of readdirSync(dir).sort()) {
    const f = join(dir, name, 'metrics.json');
    if (!existsSync(f)) continue;
    const m = JSON.parse(readFileSync(f, 'utf8'));
    if (!best || m.val.accuracy > best.val) best = { name, val: m.val.accuracy, test: m.test.accuracy };
    if (!bestTest || m.test.accuracy > bestTest.test) bestTest = { name, test: m.test.accuracy };
  }
  return { ...best!, bestTest: bestTest!.name };
}

if (!dataDir) skipFile(noRealDataReason());
else {
  test('export of a quick experiment: the best run by PublicTest, tfjs + ONNX + ferlab.json + model card', async () => {
    experiment = await sharedQuickExperiment(dataDir); // the quick default experiment, trained once per test run (test/helpers/quick-experiment.ts)
    assert.is(experiment.runs.length, 4);
    ds = await loadDataset({ dataDir });
    exported = await exportModel(experiment.dir, { out: join(out, 'both'), dataDir, ...silent });
    const expected = bestByPublicTest(experiment.dir);
    console.log(
      `  picked ${exported.selection.best.name} (PublicTest ${expected.val}); best by PrivateTest would be ${expected.bestTest}` +
        (expected.bestTest !== expected.name ? ' (they disagree in this experiment)' : ''),
    );
    assert.is(exported.selection.best.name, expected.name);
    assert.is(exported.selection.kind, 'experiment');
    for (const f of ['model.json', 'weights.bin', 'model.onnx', 'ferlab.json', 'model-card.md']) assert.ok(existsSync(join(out, 'both', f)), `${f} written`);
    // float32 tfjs: the run's own files, byte for byte
    const runDir = join(experiment.dir, expected.name);
    assert.ok(readFileSync(join(out, 'both', 'weights.bin')).equals(readFileSync(join(runDir, 'model', 'weights.bin'))), 'weights.bin = the run model');

    await initBackend('wasm');
    const model = await loadOverHttp(join(out, 'both'));
    const { x, n, label } = privateTest(runDir);
    const acc = accuracy(logitsOf(model, x, n), label);
    model.dispose();
    assert.is(acc, expected.test, `plain tf.loadLayersModel: PrivateTest accuracy ${acc} vs recorded ${expected.test}`);
    const meta = JSON.parse(readFileSync(join(out, 'both', 'ferlab.json'), 'utf8'));
    assert.is(meta.export.formats.tfjs.check.privateTestAccuracy, acc);
    assert.is(meta.export.source.run, expected.name);
    assert.is(meta.export.formats.tfjs.bytes, statSync(join(out, 'both', 'model.json')).size + statSync(join(out, 'both', 'weights.bin')).size);
    assert.is(meta.export.formats.onnx.bytes, statSync(join(out, 'both', 'model.onnx')).size);
  });

  test('an experiment folder written before the experiment/study rename (study.json) is selected the same way', () => {
    const legacy = join(out, 'legacy-experiment');
    cpSync(experiment.dir, legacy, { recursive: true });
    renameSync(join(legacy, 'experiment.json'), join(legacy, 'study.json'));
    const sel = selectRun(legacy);
    assert.is(sel.kind, 'experiment');
    assert.is(sel.quick, true, 'the quick flag is read from study.json');
    assert.is(sel.best.name, exported.selection.best.name);
    assert.match(selectRun(join(legacy, sel.best.name)).experiment ?? '', /^default$/, 'a run inside it finds its experiment');
  });

  test(`ONNX parity on the trained model: ONNX Runtime vs tfjs max |logit diff| <= ${TOL}, identical accuracy`, async () => {
    let ort: typeof import('onnxruntime-node');
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a load failure is reported as the assertion below
      ort = require('onnxruntime-node');
    } catch (e) {
      assert.unreachable(`onnxruntime-node (a dev dependency) does not load: ${(e as Error).message}`);
      return;
    }
    const dir = join(out, 'both');
    const runDir = join(experiment.dir, exported.selection.best.name);
    const { x, n, label } = privateTest(runDir);
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    assert.equal(session.inputNames, ['input']);
    assert.equal(session.outputNames, ['logits']);
    const onnxLogits = (await session.run({ input: new ort.Tensor('float32', x, [n, 48, 48, 1]) })).logits.data as Float32Array;
    const model = await loadOverHttp(dir);
    const tfLogits = logitsOf(model, x, n);
    model.dispose();
    let diff = 0;
    for (let i = 0; i < tfLogits.length; i++) diff = Math.max(diff, Math.abs(onnxLogits[i] - tfLogits[i]));
    console.log(`  max |logit diff| ${diff.toExponential(2)} on ${n} PrivateTest images`);
    assert.ok(diff <= TOL, `max |onnxruntime - tfjs| = ${diff} exceeds ${TOL}`);
    const recorded = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')).test.accuracy;
    assert.is(accuracy(onnxLogits, label), recorded, 'ONNX accuracy = recorded PrivateTest accuracy');
    const meta = JSON.parse(readFileSync(join(dir, 'ferlab.json'), 'utf8'));
    assert.is(meta.export.formats.onnx.check.privateTestAccuracy, recorded);
    assert.ok(meta.export.formats.onnx.check.maxAbsLogitDiff <= TOL);
    assert.is(meta.export.formats.onnx.opset, 13);
    // the classes travel with the file, in output order
    const proto = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
    const props = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    assert.equal(JSON.parse(props.classes), meta.classes);
    assert.is(props.preprocessing, PREPROCESSING);
  });

  for (const q of ['float16', 'uint8'] as const) {
    test(`--quantize ${q}: reloads with plain tf.loadLayersModel, PrivateTest accuracy within 0.5 points, ${q === 'float16' ? '2 bytes' : '1 byte'} per weight`, async () => {
      const dir = join(out, q);
      const r = await exportModel(experiment.dir, { out: dir, quantize: q, formats: ['tfjs'], dataDir, ...silent });
      assert.not.ok(existsSync(join(dir, 'model.onnx')), '--formats tfjs writes no ONNX');
      const runDir = join(experiment.dir, r.selection.best.name);
      const { x, n, label } = privateTest(runDir);
      const model = await loadOverHttp(dir);
      const acc = accuracy(logitsOf(model, x, n), label);
      model.dispose();
      const float = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')).test.accuracy;
      console.log(`  ${q}: PrivateTest ${(100 * acc).toFixed(2)}% vs float32 ${(100 * float).toFixed(2)}% on ${n} images`);
      assert.ok(Math.abs(acc - float) <= 0.005 + 1e-12, `${q} accuracy ${acc} vs float32 ${float}: more than 0.5 points apart`);
      const meta = JSON.parse(readFileSync(join(dir, 'ferlab.json'), 'utf8'));
      assert.is((meta.export.formats.tfjs.check as FormatCheck).privateTestAccuracy, acc);
      assert.is(meta.export.formats.tfjs.weights, q);
      // every weight stored in q: the file size is (number of weight values) x bytes per value
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const specs = json.weightsManifest[0].weights as Array<{ shape: number[]; quantization?: { dtype: string } }>;
      assert.ok(
        specs.every((s) => s.quantization?.dtype === q),
        'every weight quantized',
      );
      const values = specs.reduce((a, s) => a + s.shape.reduce((p, d) => p * d, 1), 0);
      assert.is(statSync(join(dir, 'weights.bin')).size, values * (q === 'float16' ? 2 : 1));
    });
  }

  test('PublicTest and PrivateTest disagree (edited copy): the pick follows PublicTest, as an experiment and as a sweep folder', async () => {
    const copy = join(tempDir(), 'experiment');
    cpSync(experiment.dir, copy, { recursive: true });
    const names = readdirSync(copy)
      .filter((d) => existsSync(join(copy, d, 'metrics.json')))
      .sort();
    assert.is(names.length, 4);
    // run 1 is best on PublicTest, run 0 best on PrivateTest
    const edits = [
      [0.3, 0.9],
      [0.6, 0.1],
      [0.5, 0.2],
      [0.4, 0.3],
    ];
    names.forEach((name, i) => {
      const f = join(copy, name, 'metrics.json');
      const m = JSON.parse(readFileSync(f, 'utf8'));
      m.val.accuracy = edits[i][0];
      m.test.accuracy = edits[i][1];
      writeFileSync(f, JSON.stringify(m));
    });
    const sel = selectRun(copy);
    assert.is(sel.best.name, names[1]);
    assert.is.not(sel.best.name, names[0], 'PrivateTest never selects');
    assert.equal(
      sel.candidates.map((c) => [c.name, c.publicTest, c.privateTest]),
      names.map((n, i) => [n, edits[i][0], edits[i][1]]),
    );
    // a sweep folder: run records without experiment.json / results.json
    for (const f of ['experiment.json', 'results.json', 'results.md', 'report.html']) rmSync(join(copy, f), { force: true });
    const sweep = selectRun(copy);
    assert.is(sweep.kind, 'folder');
    assert.is(sweep.best.name, names[1]);
    // the export says which and why
    const r = await exportModel(copy, { out: join(out, 'edited'), formats: ['onnx'], dataDir, ...silent });
    assert.is(r.info.export.source.run, names[1]);
    assert.equal(
      r.info.export.source.candidates.map((c) => c.publicTestAccuracy),
      edits.map((e) => e[0]),
    );
    const card = readFileSync(join(out, 'edited', 'model-card.md'), 'utf8');
    assert.match(card, `| ${names[1]} |`);
    assert.match(card, /\| 60\.00% \(320\) \| 10\.00% \(320\) \| <- \|/);
    assert.match(card, /PrivateTest is reported, never used to select/);
    // a failed run does not compete, and the export says so
    writeFileSync(join(copy, names[1], 'status.json'), JSON.stringify({ state: 'failed', epoch: 2, error: 'worker thread died' }));
    const without = selectRun(copy);
    assert.is(without.best.name, names[2], 'next best by PublicTest (0.5)');
    assert.equal(without.skipped, [{ name: names[1], why: "status.json says 'failed' (worker thread died)" }]);
  });

  test('ferlab.json keeps the run model ferlab.json and adds the export fields; the model card has the required fields', () => {
    const dir = join(out, 'both');
    const meta = JSON.parse(readFileSync(join(dir, 'ferlab.json'), 'utf8'));
    const card = readFileSync(join(dir, 'model-card.md'), 'utf8');
    const runDir = join(experiment.dir, exported.selection.best.name);
    const base = JSON.parse(readFileSync(join(runDir, 'model', 'ferlab.json'), 'utf8'));
    for (const [k, v] of Object.entries(base)) assert.equal(meta[k], v, `ferlab.json keeps '${k}' of the run's model/ferlab.json`);
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
    const preds = JSON.parse(readFileSync(join(runDir, 'predictions.json'), 'utf8'));

    // classes in output order, input shape and layout, preprocessing, image conversion
    assert.equal(meta.io.output.classes, metrics.test.classes);
    assert.match(card, `**Classes in output order**: ${metrics.test.classes.map((c: string, i: number) => `${i} ${c}`).join(', ')}.`);
    assert.equal(meta.io.input.shape, [null, 48, 48, 1]);
    assert.is(meta.io.input.layout, 'NHWC');
    assert.match(card, '`[batch, 48, 48, 1]` float32, layout NHWC');
    assert.match(card, PREPROCESSING);
    assert.match(card, IMAGE_CONVERSION);
    // label set, data MD5, resolved config, commit
    assert.is(meta.labels.set, config.run.labels);
    assert.match(card, `**Label set** \`${config.run.labels}\``);
    assert.is(meta.data.record.fer2013Md5, config.data.fer2013Md5);
    assert.match(card, config.data.fer2013Md5);
    assert.match(card, JSON.stringify(config.run, null, 2));
    assert.match(card, config.environment.commit);
    // accuracies with 95% bootstrap intervals: PrivateTest from predictions.json, PublicTest re-scored
    const correct = preds.pred.filter((p: number, i: number) => p === preds.label[i]).length / preds.pred.length;
    const pt = meta.evaluation.privateTest.interval;
    assert.is(pt.accuracy, correct);
    assert.is(pt.accuracy, metrics.test.accuracy);
    assert.is(meta.evaluation.publicTest.interval.accuracy, metrics.val.accuracy);
    assert.is(pt.n, preds.pred.length);
    assert.ok(pt.lower < pt.accuracy && pt.accuracy < pt.upper && pt.upper - pt.lower < 0.15, `interval [${pt.lower}, ${pt.upper}]`);
    const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
    assert.match(card, `| PrivateTest | reported only (never used to select) | ${pt.n} | ${pct(pt.accuracy)} | ${pct(pt.lower)}-${pct(pt.upper)} |`);
    const pub = meta.evaluation.publicTest.interval;
    assert.match(
      card,
      `| PublicTest | model selection (best epoch; best run of the folder) | ${pub.n} | ${pct(pub.accuracy)} | ${pct(pub.lower)}-${pct(pub.upper)} |`,
    );
    assert.match(card, /Efron & Tibshirani 1993/);
    // per-class F1 and the confusion matrix (rows = true class)
    for (const m of metrics.test.perClass)
      assert.match(card, `| ${m.class} | ${m.precision.toFixed(3)} | ${m.recall.toFixed(3)} | ${m.f1.toFixed(3)} | ${m.support} |`);
    metrics.test.confusion.forEach((row: number[], i: number) => assert.match(card, `| ${metrics.test.classes[i]} | ${row.join(' | ')} |`));
    assert.match(card, /rows = true class, columns = predicted class/);
    // formats, sizes, per-format accuracy, ONNX opset
    assert.match(card, /\| TensorFlow\.js layers model \| `model\.json` \+ `weights\.bin` \|/);
    assert.match(card, /\| ONNX \(opset 13\) \| `model\.onnx` \|/);
    // intended use and limitations
    for (const s of [
      '## Intended use',
      '## Out-of-scope uses',
      '## Limitations and ethical considerations',
      'hiring',
      'policing',
      'health',
      'education',
      'frontal',
      'web-scraped',
      'grayscale',
      'did not document',
      'felt emotion',
    ])
      assert.match(card, s);
    // the class imbalance is stated with the data's own numbers: the rarest class of the training split
    const counts = (meta.data.fullTrainCounts ?? meta.data.trainCounts) as Record<string, number>;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const rarest = Object.entries(counts).sort((a, b) => a[1] - b[1])[0];
    assert.match(card, `${rarest[0]} has ${((100 * rarest[1]) / total).toFixed(1)}% (${rarest[1]} images)`);
  });

  test('bad folders and settings give clear errors', async () => {
    const err = async (f: () => unknown, re: RegExp) => {
      try {
        await f();
      } catch (e) {
        assert.instance(e, ExportError);
        assert.match((e as Error).message, re);
        return;
      }
      assert.unreachable(`expected an ExportError matching ${re}`);
    };
    await err(() => selectRun('/nonexistent/ferlab-experiment'), /\/nonexistent\/ferlab-experiment: no such folder \(expected a run record, an experiment or a sweep folder\)/);
    const empty = tempDir();
    await err(() => selectRun(empty), /none of its subfolders is a finished run record \(it has no subfolders\)/);
    const partial = tempDir();
    mkdirSync(join(partial, 'half-run'));
    cpSync(join(experiment.dir, experiment.runs[0].name, 'metrics.json'), join(partial, 'half-run', 'metrics.json'));
    await err(() => selectRun(partial), /half-run: missing config\.json, predictions\.json, model\/model\.json/);
    await err(() => selectRun(join(partial, 'half-run')), /is not a finished run record: missing config\.json/);
    const failed = join(tempDir(), 'failed-run');
    cpSync(join(experiment.dir, experiment.runs[0].name), failed, { recursive: true });
    writeFileSync(join(failed, 'status.json'), JSON.stringify({ state: 'failed', epoch: 1, error: 'NaN loss' }));
    await err(() => selectRun(failed), /status\.json says 'failed' \(NaN loss\)/);
    await err(() => selectRun(experiment.dir, { labels: 'happy' }), /--labels 'happy' is not a label set: expected ferplus or one of fer, majority/);
    await err(
      () => exportModel(experiment.dir, { formats: ['coreml' as 'tfjs'], ...silent }),
      /--formats 'coreml': expected a comma-separated subset of tfjs, onnx, tflite/,
    );
    await err(() => exportModel(experiment.dir, { quantize: 'int4' as 'uint8', ...silent }), /--quantize 'int4': expected one of float16, uint8/);
    const notOurs = tempDir();
    writeFileSync(join(notOurs, 'notes.txt'), 'mine');
    await err(() => exportModel(experiment.dir, { out: notOurs, dataDir, ...silent }), /is not empty and holds no ferlab\.json .* refusing to replace it/);
    assert.ok(existsSync(join(notOurs, 'notes.txt')), 'nothing was removed');
    // data other than the run's
    const other = join(tempDir(), 'run');
    cpSync(join(experiment.dir, experiment.runs[0].name), other, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'));
    cfg.data.fer2013Md5 = '0123456789abcdef0123456789abcdef';
    writeFileSync(join(other, 'config.json'), JSON.stringify(cfg));
    await err(
      () => exportModel(other, { out: join(out, 'md5'), dataDir, ...silent }),
      /is not the data run .* was trained on \(MD5 0123456789abcdef0123456789abcdef/,
    );
    assert.not.ok(existsSync(join(out, 'md5')), 'nothing written');
  });

  test('the CLI prints the candidates and the choice, and a bad folder as one line without a stack trace', () => {
    const cli = runCli;
    const ok = cli(['--data-dir', dataDir, 'export', experiment.dir, '--formats', 'onnx', '--out', join(out, 'cli')]);
    assert.is(ok.status, 0, ok.stderr);
    const best = bestByPublicTest(experiment.dir).name;
    assert.match(ok.stdout, 'PublicTest acc (selects)');
    assert.match(ok.stdout, `chosen: ${best} (best PublicTest accuracy`);
    assert.ok(existsSync(join(out, 'cli', 'model.onnx')));
    const meta = JSON.parse(readFileSync(join(out, 'cli', 'ferlab.json'), 'utf8'));
    assert.match(meta.export.command, `npm run ferlab -- --data-dir ${dataDir} export ${experiment.dir} --formats onnx`);
    const bad = cli(['export', '/nonexistent/ferlab-experiment']);
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /^ferlab: \/nonexistent\/ferlab-experiment: no such folder \(expected a run record, an experiment or a sweep folder\)$/m);
    assert.not.match(bad.stderr, /\n\s+at /, 'no stack trace');
  });
}

test.run();
