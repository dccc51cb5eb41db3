/**
 * src/records: every record schema accepts today's records (hand-written fixtures, and the real run and model folders
 * of this checkout when present), rejects a hand-written bad record with an error naming the file and the field path,
 * and the writers produce the exact bytes ferlab has always written (checked against hand-written text).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as r from '../../src/records';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint';

const tmp = mkdtempSync(join(tmpdir(), 'ferlab-records-'));
let n = 0;
/** A fresh folder holding `files` (name -> JSON value, or text). */
function folder(files: Record<string, unknown>): string {
  const dir = join(tmp, `f${n++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, v] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), typeof v === 'string' ? v : JSON.stringify(v, null, 2) + '\n');
  }
  return dir;
}

/** Asserts that `fn` throws a RecordError whose message names `file` and contains each of `parts`. */
function rejects(fn: () => unknown, file: string, ...parts: string[]): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, r.RecordError, `expected a RecordError, got ${String(e)}`);
    const msg = (e as Error).message;
    assert.ok(msg.startsWith(file), `message starts with ${file}: got ${msg}`);
    for (const p of parts) assert.ok(msg.includes(p), `message includes '${p}': got ${msg}`);
    return;
  }
  assert.unreachable(`expected an error naming ${file}`);
}

const metrics = (classes: string[]) => ({
  classes,
  n: 4,
  accuracy: 0.5,
  macroF1: 0.4,
  perClass: classes.map((c) => ({ class: c, precision: 0.5, recall: 0.5, f1: 0.5, support: 2 })),
  confusion: [
    [1, 1],
    [1, 1],
  ],
});
const interval = {
  accuracy: 0.5,
  n: 4,
  level: 0.95,
  lower: 0.25,
  upper: 0.75,
  method: 'percentile bootstrap (Efron & Tibshirani 1993, ch. 13.3)',
  resamples: 10,
  seed: 1,
};
const summary = {
  name: 'a',
  model: 'tiny',
  labels: 'fer',
  sizes: { train: 8, val: 4, test: 4 },
  epochs: 1,
  bestEpoch: 1,
  stoppedEarly: false,
  trainSeconds: 1,
  wallSeconds: 2,
  imagesPerSec: 8,
  val: metrics(['x', 'y']),
  test: metrics(['x', 'y']),
  cross: null,
  dir: '/runs/s/a',
  testInterval: interval,
  futureField: { kept: true },
};
const epoch = {
  epoch: 1,
  trainLoss: 1,
  trainAccuracy: 0.5,
  valLoss: 1,
  valAccuracy: 0.5,
  valMacroF1: 0.4,
  lr: 0.01,
  trainSeconds: 1,
  valSeconds: 1,
  imagesPerSec: 8,
};

test('status.json: writer bytes, reader, bad state named with its field', () => {
  const dir = folder({});
  r.writeRunStatus(dir, { state: 'running', epoch: null });
  const text = readFileSync(join(dir, r.STATUS_FILE), 'utf8');
  assert.match(text, /^\{\n {2}"state": "running",\n {2}"epoch": null,\n {2}"updated": "\d{4}-\d\d-\d\dT[\d:.]+Z"\n\}\n$/, `status.json text: ${text}`);
  assert.equal(r.readRunStatus(dir)?.state, 'running');
  assert.is(r.readRunStatus(folder({})), undefined, 'no status.json: undefined');
  const bad = folder({ 'status.json': { state: 'done', epoch: 1, updated: 'x' } });
  rejects(() => r.readRunStatus(bad), join(bad, 'status.json'), 'field state');
});

test('metrics.json: accepts a summary (unknown fields kept), rejects a bad nested field with its path', () => {
  const dir = folder({ 'metrics.json': summary });
  const s = r.readRunSummary(dir);
  assert.is(s.val.accuracy, 0.5);
  assert.equal((s as unknown as { futureField: unknown }).futureField, { kept: true }, 'fields the schema does not name are kept');
  const bad = folder({ 'metrics.json': { ...summary, val: { ...summary.val, perClass: [{ ...summary.val.perClass[0], f1: 'high' }] } } });
  rejects(() => r.readRunSummary(bad), join(bad, 'metrics.json'), 'field val.perClass[0].f1', 'number');
  const missing = folder({ 'metrics.json': { ...summary, test: undefined } });
  rejects(() => r.readRunSummary(missing), join(missing, 'metrics.json'), 'field test');
  const torn = folder({ 'metrics.json': '{"name": ' });
  rejects(() => r.readRunSummary(torn), join(torn, 'metrics.json'), 'not valid JSON');
  const none = folder({});
  rejects(() => r.readRunSummary(none), join(none, 'metrics.json'), 'cannot read it (ENOENT)');
});

test('metrics.json writer: 2-space JSON, key order kept, trailing newline', () => {
  const dir = folder({});
  r.writeRunSummary(dir, { name: 'a', cross: null } as unknown as r.RunSummary);
  assert.is(readFileSync(join(dir, 'metrics.json'), 'utf8'), '{\n  "name": "a",\n  "cross": null\n}\n');
});

test('epochs.jsonl: writer bytes, reader, bad line named as file:line and field', () => {
  const dir = folder({});
  r.writeEpochs(dir, [epoch, { ...epoch, epoch: 2 }]);
  const text = readFileSync(join(dir, r.EPOCHS_FILE), 'utf8');
  const line =
    '{"epoch":1,"trainLoss":1,"trainAccuracy":0.5,"valLoss":1,"valAccuracy":0.5,"valMacroF1":0.4,"lr":0.01,"trainSeconds":1,"valSeconds":1,"imagesPerSec":8}';
  assert.is(text, `${line}\n${line.replace('"epoch":1', '"epoch":2')}\n`);
  assert.equal(
    r.readEpochs(dir).map((e) => e.epoch),
    [1, 2],
  );
  const bad = folder({ 'epochs.jsonl': `${line}\n{"epoch":2,"trainLoss":null}\n` });
  rejects(() => r.readEpochs(bad), `${join(bad, 'epochs.jsonl')}:2`, 'field trainLoss');
});

test('predictions.json and config.json: accepted, and a bad field named', () => {
  const p = {
    classes: ['x', 'y'],
    index: [1, 2],
    label: [0, 1],
    pred: [0, 0],
    prob: [
      [0.9, 0.1],
      [0.6, 0.4],
    ],
  };
  assert.equal(r.readPredictions(folder({ 'predictions.json': p })).pred, [0, 0]);
  const bad = folder({ 'predictions.json': { ...p, prob: [[0.9, '0.1']] } });
  rejects(() => r.readPredictions(bad), join(bad, 'predictions.json'), 'field prob[0][1]');
  const run = { experiment: 'e', name: 'a', model: 'tiny', labels: 'fer', epochs: 3, slice: { train: null, val: 4, test: null } };
  const cfg = r.readRunConfigFile(folder({ 'config.json': { run, data: { kind: 'csv' } } }));
  assert.is(cfg.run.slice.val, 4);
  const noSlice = folder({ 'config.json': { run: { ...run, slice: undefined } } });
  rejects(() => r.readRunConfigFile(noSlice), join(noSlice, 'config.json'), 'field run.slice');
});

test('experiment.json, sweep.json, results.json: accepted, bad fields named', () => {
  const env = { ferlab: '0.1.0', node: 'v20' };
  const run = { experiment: 'e', name: 'a', model: 'tiny', labels: 'fer', slice: { train: null, val: null, test: null } };
  const experiment = { experiment: { name: 'e', runs: [{ name: 'a' }] }, quick: true, overrides: [], runs: [run], workers: 1, environment: env, started: 't' };
  assert.is(r.readExperimentRecord(folder({ 'experiment.json': experiment })).runs[0].name, 'a');
  const badExperiment = folder({ 'experiment.json': { ...experiment, runs: [{ ...run, name: 3 }] } });
  rejects(() => r.readExperimentRecord(badExperiment), join(badExperiment, 'experiment.json'), 'field runs[0].name');
  const sweep = {
    kind: 'sweep',
    name: 's',
    quick: true,
    spec: { name: 's', objective: { metric: 'accuracy' } },
    slice: run.slice,
    source: null,
    command: 'c',
    workers: 1,
    environment: env,
    started: 't',
    state: 'complete',
    stopReason: 'trials',
  };
  assert.is(r.readSweepRecord(folder({ 'sweep.json': sweep })).state, 'complete');
  const badSweep = folder({ 'sweep.json': { ...sweep, stopReason: 'bored' } });
  rejects(() => r.readSweepRecord(badSweep), join(badSweep, 'sweep.json'), 'field stopReason');
  const row = { trial: 0, run: 'trial-0000', dir: '/s/trial-0000', params: { lr: 0.1 }, state: 'complete', attempts: 1, objective: 0.5 };
  const fullRow = { ...row, publicTest: { accuracy: 0.5, macroF1: 0.4 }, privateTest: null, epochs: 1, bestEpoch: 1, trainSeconds: 1, wallSeconds: 2 };
  const results = {
    name: 's',
    quick: true,
    dir: '/s',
    state: 'complete',
    stopReason: 'trials',
    objective: { metric: 'accuracy' },
    trials: [fullRow],
    counts: { running: 0, complete: 1, pruned: 0, failed: 0 },
    best: null,
    wallSeconds: 3,
    workers: 1,
    environment: env,
    command: 'c',
  };
  assert.is(r.readSweepResult(folder({ 'results.json': results })).trials.length, 1);
  const badResults = folder({ 'results.json': { ...results, trials: [row] } });
  rejects(() => r.readSweepResult(badResults), join(badResults, 'results.json'), 'field trials[0].publicTest');
});

test('journal events: a bad line names file, line and field', () => {
  assert.is(r.parseJournalEvent({ event: 'intermediate', trial: 0, epoch: 1, value: 0.5, time: 1 }, 'j', 2).event, 'intermediate');
  assert.throws(
    () => r.parseJournalEvent({ event: 'state', trial: 0, state: 'asleep', time: 1 }, '/s/journal.jsonl', 3),
    (e: Error) => e.message.startsWith('/s/journal.jsonl:3: not a journal event: field state'),
  );
  assert.is(
    r.journalLine({ event: 'header', version: 1, sweep: 's', specHash: 'h', time: 5 }),
    '{"event":"header","version":1,"sweep":"s","specHash":"h","time":5}\n',
  );
});

test('ferlab.json: accepted with and without inputSpec, bad classes and temperature named', () => {
  const meta = { run: 'a', classes: ['x', 'y'], preprocessing: 'x = pixel / 255', output: 'logits [batch, 2] float32', temperature: 1.5 };
  assert.equal(r.readModelMeta(folder({ 'ferlab.json': meta })).classes, ['x', 'y']);
  const one = folder({ 'ferlab.json': { ...meta, classes: ['x'] } });
  rejects(() => r.readModelMeta(one), join(one, 'ferlab.json'), 'field classes', 'at least 2');
  const hot = folder({ 'ferlab.json': { ...meta, temperature: -1 } });
  rejects(() => r.readModelMeta(hot), join(hot, 'ferlab.json'), 'field temperature', 'positive');
  const notExported = folder({ 'ferlab.json': meta });
  rejects(() => r.readExportedModelMeta(notExported), join(notExported, 'ferlab.json'), 'field export', 'field evaluation');
});

test('checkpoint header: a bad blob dtype is named', () => {
  assert.throws(
    () => r.parseCheckpointHeader({ blobs: [{ dtype: 'float64', length: 1 }] }, '/r/checkpoint.bin'),
    (e: Error) => e.message.startsWith('/r/checkpoint.bin:') && e.message.includes('field blobs[0].dtype') && e.message.includes('field fingerprint'),
  );
});

test('checkpoint.bin: a header edited to a bad field is refused by loadCheckpoint, naming file and field', () => {
  const file = join(folder({}), 'checkpoint.bin');
  const state = {
    fingerprint: 'f',
    epoch: 1,
    step: 3,
    stopped: false,
    trainSeconds: 1,
    images: 8,
    history: [epoch],
    weights: [Float32Array.from([1, 2])],
    optimizer: { step: 3, m: [Float32Array.from([0])], v: [Float32Array.from([0])] },
    batches: { order: Int32Array.from([1, 0]), rng: [1, 2, 3, 4] as [number, number, number, number] },
    dropout: [0],
    best: { epoch: 1, accuracy: 0.5, metrics: {}, weights: [Float32Array.from([1, 2])] },
  };
  saveCheckpoint(file, state);
  assert.is(loadCheckpoint(file)?.step, 3);
  // same header length: "step":3 -> "step":"" is one byte longer, so change the number to a string of equal length
  const bytes = readFileSync(file);
  const text = bytes.toString('latin1');
  const at = text.indexOf('"stopped":false');
  assert.ok(at > 0, 'the header holds "stopped":false');
  bytes.write('"stopped":"no!"', at, 'latin1');
  writeFileSync(file, bytes);
  assert.throws(
    () => loadCheckpoint(file),
    (e: Error) => e.message.startsWith(`${file}:`) && e.message.includes('field stopped'),
  );
});

test('evaluation folders (ferlab evaluate --model): metrics.json and predictions.json accepted, bad fields named', () => {
  const mapping = { rows: [{ datasetClass: 'x', modelClass: 'x', modelIndex: 0 }], shared: ['x'], sharedOutputs: [0], unusedOutputs: [], identity: false };
  const record = {
    model: { dir: '/m', classes: ['x', 'y'], model: null, labelSet: null, weightsSha1: 'abc', input: { size: 48 } },
    modelClasses: ['x', 'y'],
    classesAssumed: false,
    data: { kind: 'csv' },
    labels: 'fer',
    split: 'test',
    limit: null,
    mapping,
    n: 4,
    excluded: 0,
    metrics: metrics(['x', 'y']),
  };
  const dir = folder({});
  const preds = { classes: ['x'], index: [3], file: ['a.png'], label: [0], pred: [0], prob: [[1]] };
  r.writeEvalRecords(dir, record as unknown as r.EvalRecord, preds);
  assert.is(r.readEvalRecord(dir).split, 'test');
  assert.equal(r.readEvalPredictions(dir).file, ['a.png']);
  const bad = folder({ 'metrics.json': { ...record, split: 'holdout', mapping: { ...mapping, identity: 'no' } } });
  rejects(() => r.readEvalRecord(bad), join(bad, 'metrics.json'), 'field split', 'field mapping.identity');
});

// today's records of this checkout (never copied into the repo): every one of them loads
test('legacy study.json (folders written before the experiment/study rename): read, detected, written back under its own name', () => {
  const env = { ferlab: '0.1.0', node: 'v20' };
  const run = { experiment: 'e', name: 'a', model: 'tiny', labels: 'fer', slice: { train: null, val: null, test: null } };
  const record = { experiment: { name: 'e', runs: [{ name: 'a' }] }, quick: true, overrides: [], runs: [run], workers: 1, environment: env, started: 't' };
  const legacy = folder({ 'study.json': record });
  assert.ok(r.isExperimentFolder(legacy), 'a folder with only study.json is an experiment folder');
  assert.is(r.experimentFilePath(legacy), join(legacy, 'study.json'));
  assert.is(r.readExperimentRecord(legacy).experiment.name, 'e');
  r.writeExperimentRecord(legacy, r.ExperimentRecordSchema.parse({ ...record, resumed: ['u'] }));
  assert.equal(readdirSync(legacy).sort(), ['study.json'], 'a resume writes study.json back, no second record');
  assert.equal(JSON.parse(readFileSync(join(legacy, 'study.json'), 'utf8')).resumed, ['u']);
  // both present (never written by ferlab): experiment.json wins
  const both = folder({ 'study.json': { ...record, quick: false }, 'experiment.json': record });
  assert.is(r.readExperimentRecord(both).quick, true, 'experiment.json is read when both exist');
  assert.not.ok(r.isExperimentFolder(folder({ 'config.json': {} })), 'a run record is no experiment folder');
  // ferlab.json of a model exported from such a folder says kind 'study'
  const kind = r.ExportInfoSchema.shape.export.shape.source.shape.kind;
  assert.is(kind.parse('study'), 'experiment');
  assert.is(kind.parse('run'), 'run');
  assert.throws(() => kind.parse('sweep'));
});

const root = join(__dirname, '..', '..');
const realRun = join(root, 'runs', 'best-cpu-20261207-044828');
test('the real experiment folder runs/best-cpu-20261207-044828 loads (when present)', () => {
  if (!existsSync(realRun)) return;
  assert.is(r.readExperimentRecord(realRun).experiment.name, 'best-cpu');
  assert.is(r.readExperimentResult(realRun).runs.length, 2);
  for (const run of ['deep-fer', 'deep-ferplus-ce']) {
    const dir = join(realRun, run);
    assert.is(r.readRunConfigFile(dir).run.name, run);
    assert.is(r.readRunStatus(dir)?.state, 'complete');
    const epochs = r.readEpochs(dir);
    assert.is(r.readRunSummary(dir).epochs, epochs.length, `${run}: metrics.json epochs = epochs.jsonl lines`);
    assert.is(r.readPredictions(dir).index.length, r.readRunSummary(dir).sizes.test);
    assert.is(r.readModelMeta(join(dir, 'model')).run, run);
  }
});

test('the released models models/*/ferlab.json load as exported model metadata (when present; ensembles as model metadata with members)', () => {
  const models = join(root, 'models');
  if (!existsSync(models)) return;
  for (const name of readdirSync(models)) {
    const dir = join(models, name);
    if (!existsSync(join(dir, 'ferlab.json'))) continue;
    const ensemble = r.readPartialModelMeta(dir)?.ensemble;
    if (ensemble) {
      // `ferlab ensemble` writes model metadata with its members, not an export of one run (src/export/ensemble-make.ts)
      assert.ok(ensemble.members.length >= 1, `${name}: an ensemble without members`);
      continue;
    }
    const meta = r.readExportedModelMeta(dir);
    assert.ok(meta.classes.length >= 7, `${name}: ${meta.classes.length} classes`);
    if (name.startsWith('ferlab-')) assert.is(meta.release?.name, name);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
