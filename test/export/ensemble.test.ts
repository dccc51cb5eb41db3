/**
 * Ensembles (issue 29, src/export/ensemble*.ts), on generated fixtures only (no data): three small registered models
 * with random trained-like weights, one of them taking 40x40 centre crops. The ensemble graph's output is compared with
 * the members run one by one on their own inputs (the crop cut in JavaScript here, not by the graph) and averaged by hand
 * (logits, or softmax probabilities computed here in float64); the graph saved and reloaded with plain
 * tf.loadLayersModel; its ONNX file in ONNX Runtime and its TFLite file in LiteRT.js against that same hand average;
 * greedy selection on a hand-made probability table against the hand-worked steps; the refusals (normalization, scale
 * resize) naming the member; the candidates of run / experiment / model folders.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { IMAGE_PIXELS } from '../../src/data/classes';
import { createModel } from '../../src/models';
import { loadLayersModelFromDir, saveLayersModel } from '../../src/models/io';
import { readModelMeta, writeModelMeta, type ModelMeta } from '../../src/records/model';
import { writeRunStatus } from '../../src/records/run';
import { buildEnsemble, EnsembleError, type EnsembleCombine, type EnsembleGraphMember } from '../../src/export/ensemble';
import { exportEnsembleFolder, findEnsembleCandidates, makeEnsemble } from '../../src/export/ensemble-make';
import { selectMembers } from '../../src/export/ensemble-select';
import { ONNX_INPUT_NAME, ONNX_LOGITS_NAME, ONNX_PROBABILITIES_NAME, tfjsToOnnx } from '../../src/export/onnx';
import { tfjsToTflite } from '../../src/export/tflite';
import { loadLiteRt, runTflite, type LiteRtModule } from '../../src/export/tflite-runtime';
import { predictProbabilitiesTTA } from '../../src/eval/tta';
import { evaluateMapped } from '../../src/eval/transfer';
import { classify } from '../../src/predict/faces';
import { loadPredictModel } from '../../src/predict/model';
import { makeRows, rng, tempDir, writeFixture } from '../helpers/fixtures';

const C = 7;
const N = 5;
/** tfjs graph vs members averaged by hand: the same float32 kernels, only the mean's order and rounding differ. */
const TOL_GRAPH = 1e-5;
/** ONNX Runtime / LiteRT.js vs the hand average: other float32 kernels (summation orders). */
const TOL_RUNTIME = 1e-4;

const UNIT48 = { size: 48, resize: 'none', normalize: 'unit' } as const;
const CROP40 = { size: 40, resize: 'crop', normalize: 'unit' } as const;

let members: EnsembleGraphMember[];
let x: Float32Array;
let litert: LiteRtModule | undefined;
let litertWhy = '';

/** Trained-like weights: kernels x sqrt(6) (He's variance instead of PyTorch's default), random biases and BatchNorm parameters. */
function roughen(model: tf.LayersModel, seed: number, kernelScale = Math.sqrt(6)): void {
  const r = rng(seed);
  const u = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (!ws.length) continue;
    layer.setWeights(
      ws.map((w, i) => {
        const name = (layer.weights[i].originalName.split('/').pop() ?? '').replace(/_\d+$/, '');
        if (name.endsWith('kernel')) return tf.mul(w, kernelScale);
        if (name === 'bias' || name === 'beta' || name === 'moving_mean') return tf.tensor(u(w.size, -0.2, 0.2), w.shape);
        if (name === 'gamma' || name === 'moving_variance') return tf.tensor(u(w.size, 0.5, 1.5), w.shape);
        return w;
      }),
    );
  }
}

/** `[n, C]` outputs of a model on `[n, S, S, 1]` inputs. */
function run(model: tf.LayersModel, input: Float32Array, n: number, S: number): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor4d(input, [n, S, S, 1])) as tf.Tensor).dataSync() as Float32Array);
}

/** The centre S x S window of each 48x48 image, cut here: rows and columns 4 .. 43 for 40 (round((48 - 40) / 2)). */
function centreCrop(images: Float32Array, n: number, S: number, offset: number): Float32Array {
  const out = new Float32Array(n * S * S);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < S; y++) for (let c = 0; c < S; c++) out[(i * S + y) * S + c] = images[i * IMAGE_PIXELS + (y + offset) * 48 + (c + offset)];
  return out;
}

/** Softmax of each row, float64. */
function softmax(z: Float32Array): Float64Array {
  const p = new Float64Array(z.length);
  for (let i = 0; i < z.length; i += C) {
    const m = Math.max(...z.subarray(i, i + C));
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[i + c] - m);
    for (let c = 0; c < C; c++) p[i + c] = Math.exp(z[i + c] - m) / s;
  }
  return p;
}

/** The weighted mean of the members' outputs, each run alone on its own input (the crop cut above), in float64. */
function handAverage(list: EnsembleGraphMember[], combine: EnsembleCombine): Float64Array {
  const acc = new Float64Array(N * C);
  const total = list.reduce((a, m) => a + (m.weight ?? 1), 0);
  for (const m of list) {
    const input = m.input.resize === 'crop' ? centreCrop(x, N, m.input.size, 4) : x;
    const z = run(m.model, input, N, m.input.size);
    const v = combine === 'probs' ? softmax(z) : z;
    for (let i = 0; i < acc.length; i++) acc[i] += ((m.weight ?? 1) * v[i]) / total;
  }
  return acc;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths');
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test.before(async () => {
  await initBackend('wasm');
  const r = rng(7);
  x = Float32Array.from({ length: N * IMAGE_PIXELS }, () => Math.round(255 * r()) / 255);
  const a = createModel('baseline', { numClasses: C, seed: 1 });
  const b = createModel('mini-xception', { numClasses: C, seed: 2, inputShape: [40, 40, 1] });
  const c = createModel('resnet-cpu', { numClasses: C, seed: 3 });
  // mini-xception's 10 convolutions would grow its logits to ~40 at He's scale (a saturated softmax hides a wrong crop)
  [a, b, c].forEach((m, k) => roughen(m, 10 + k, k === 1 ? 1 : Math.sqrt(6)));
  members = [
    { name: 'baseline-48', model: a, input: UNIT48 },
    { name: 'xception-40', model: b, input: CROP40, weight: 2 },
    { name: 'resnet-48', model: c, input: UNIT48 },
  ];
  const rt = await loadLiteRt();
  if (rt.litert) litert = rt.litert;
  else litertWhy = rt.reason;
});

for (const combine of ['logits', 'probs'] as const) {
  test(`mean of ${combine}: the graph equals the members averaged by hand (40x40 crop inside, weights 1, 2, 1); ONNX Runtime and LiteRT.js agree`, async () => {
    const graph = buildEnsemble(members, { combine });
    assert.equal(graph.inputs[0].shape, [null, 48, 48, 1], 'the ensemble takes the plain 48x48 input');
    assert.equal(
      graph.layers.map((l) => l.getClassName()).filter((c) => c === 'Cropping2D' || c === 'Average'),
      ['Cropping2D', 'Average'],
      'one crop (the 40x40 member) and one mean',
    );
    const want = handAverage(members, combine);
    const got = run(graph, x, N, 48);
    const d = maxAbs(got, want);
    const scale = Math.max(...Array.from(want, Math.abs));
    console.log(`  ${combine}: max |graph - hand average| ${d.toExponential(2)} (max |value| ${scale.toFixed(3)})`);
    assert.ok(scale > (combine === 'logits' ? 0.5 : 0.2), `outputs of size O(1) make the check meaningful; max |value| ${scale}`);
    assert.ok(d <= TOL_GRAPH, `max |graph - hand average| = ${d} exceeds ${TOL_GRAPH}`);
    if (combine === 'probs')
      for (let i = 0; i < N; i++) {
        const s = got.subarray(i * C, (i + 1) * C).reduce((p, q) => p + q, 0);
        assert.ok(Math.abs(s - 1) < 1e-5, `row ${i} of the probabilities sums to ${s}, expected 1`);
      }

    // saved and reloaded by plain tf.loadLayersModel (src/models/io.ts: tf.io.fromMemory, no custom layer)
    const dir = tempDir('ferlab-ensemble-');
    await saveLayersModel(graph, dir);
    const reloaded = await loadLayersModelFromDir(dir);
    const dr = maxAbs(run(reloaded, x, N, 48), got);
    assert.ok(dr === 0, `the reloaded graph differs from the built one by ${dr}`);

    const onnxBytes = tfjsToOnnx(graph, { probabilitiesOutput: combine === 'probs' });
    const session = await ort.InferenceSession.create(onnxBytes);
    assert.equal(session.inputNames, [ONNX_INPUT_NAME]);
    assert.equal(session.outputNames, [combine === 'probs' ? ONNX_PROBABILITIES_NAME : ONNX_LOGITS_NAME]);
    const res = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', x, [N, 48, 48, 1]) });
    const dOnnx = maxAbs(res[session.outputNames[0]].data as Float32Array, want);
    console.log(`  ${combine}: max |onnxruntime - hand average| ${dOnnx.toExponential(2)}`);
    assert.ok(dOnnx <= TOL_RUNTIME, `ONNX Runtime: max |diff| ${dOnnx} exceeds ${TOL_RUNTIME}`);

    if (!litert) {
      console.log(`  TFLite not checked: ${litertWhy}`);
      return;
    }
    const t = await runTflite(litert, tfjsToTflite(graph, { batch: N, probabilitiesOutput: combine === 'probs' }), x, N);
    const dLite = maxAbs(t.out, want);
    console.log(`  ${combine}: max |LiteRT.js - hand average| ${dLite.toExponential(2)}`);
    assert.ok(dLite <= TOL_RUNTIME, `LiteRT.js: max |diff| ${dLite} exceeds ${TOL_RUNTIME}`);
    graph.dispose();
    reloaded.dispose();
  });
}

test('one member once: no Average, the graph is the member (after its crop)', () => {
  const graph = buildEnsemble([{ ...members[1], weight: 1 }]);
  assert.not.ok(
    graph.layers.some((l) => l.getClassName() === 'Average'),
    'no Average layer for a single member',
  );
  const want = run(members[1].model, centreCrop(x, N, 40, 4), N, 40);
  const d = maxAbs(run(graph, x, N, 48), want);
  assert.ok(d <= TOL_GRAPH, `max |diff| ${d}`);
  graph.dispose();
});

test('refusals name the member: another normalization, a scale resize, different class counts, no member', () => {
  const m = members[0].model;
  assert.throws(
    () => buildEnsemble([members[0], { name: 'hist-member', model: m, input: { size: 48, resize: 'none', normalize: 'histeq' } }]),
    (e: Error) => e instanceof EnsembleError && /member 'hist-member'/.test(e.message) && /'histeq'/.test(e.message) && /'unit'/.test(e.message),
  );
  assert.throws(
    () => buildEnsemble([{ name: 'std-member', model: m, input: { size: 48, resize: 'none', normalize: 'standardize' } }]),
    (e: Error) => /member 'std-member'/.test(e.message),
  );
  const big = createModel('baseline', { numClasses: C, seed: 4, inputShape: [64, 64, 1] });
  assert.throws(
    () => buildEnsemble([{ name: 'scaled', model: big, input: { size: 64, resize: 'scale', normalize: 'unit' } }]),
    (e: Error) => /member 'scaled'/.test(e.message) && /'scale'/.test(e.message),
  );
  assert.throws(
    () => buildEnsemble([{ name: 'wrong-spec', model: m, input: CROP40 }]),
    (e: Error) => /member 'wrong-spec' takes inputs \[batch, 48, 48, 1\]/.test(e.message),
  );
  const eight = createModel('baseline', { numClasses: 8, seed: 5 });
  assert.throws(
    () => buildEnsemble([members[0], { name: 'ferplus', model: eight, input: UNIT48 }]),
    (e: Error) => /baseline-48 7, ferplus 8/.test(e.message),
  );
  assert.throws(() => buildEnsemble([]), /at least one member/);
  big.dispose();
  eight.dispose();
});

/**
 * Hand-made table: 3 candidates, 4 images, 2 classes, labels [0, 1, 0, 1]; p(true class) per image:
 *   A 0.90 0.80 0.35 0.38 (right on 2 of 4), B 0.20 0.45 0.90 0.90 (2 of 4), C 0.70 0.30 0.75 0.70 (3 of 4).
 * Greedy (mean of probabilities): step 1 C (0.75 against 0.5, 0.5). Step 2 from {C}: +A gives 0.80 0.55 0.55 0.54,
 * all right (1.0); +B 0.45 0.375 0.825 0.80 (0.5); +C stays 0.75: A. Step 3 from {C, A}: +A (2A + C) / 3 gives
 * 0.833 0.633 0.483 0.487 (0.5); +B (A + B + C) / 3 gives 0.60 0.517 0.667 0.66 (1.0); +C (A + 2C) / 3 gives 0.767
 * 0.467 0.617 0.593 (0.75): B, tied with step 2 on accuracy, kept for its lower NLL. NLL of step k: the mean of
 * -ln p(true class) of the ensemble.
 */
test('greedy forward selection on a hand-made table gives the hand-worked steps; all = every candidate once', () => {
  const pTrue = {
    A: [0.9, 0.8, 0.35, 0.38],
    B: [0.2, 0.45, 0.9, 0.9],
    C: [0.7, 0.3, 0.75, 0.7],
  };
  const labels = [0, 1, 0, 1];
  // each candidate's "logits": log of its probabilities, so that softmax gives the table back
  const outputs = Object.values(pTrue).map((ps) =>
    Float32Array.from(ps.flatMap((p, i) => (labels[i] === 0 ? [Math.log(p), Math.log(1 - p)] : [Math.log(1 - p), Math.log(p)]))),
  );
  const nll = (ps: number[]) => -ps.reduce((s, p) => s + Math.log(p), 0) / ps.length;
  const step1 = nll(pTrue.C);
  const step2 = nll([0.8, 0.55, 0.55, 0.54]);
  const step3 = nll([1.8 / 3, 1.55 / 3, 2.0 / 3, 1.98 / 3]);
  const sel = selectMembers(outputs, labels, 2, { method: 'greedy', combine: 'probs', maxSteps: 3 });
  assert.equal(
    sel.steps.map((s) => ['A', 'B', 'C'][s.added]),
    ['C', 'A', 'B'],
    'greedy adds C, then A, then B',
  );
  assert.equal(
    sel.steps.map((s) => s.accuracy),
    [0.75, 1, 1],
  );
  sel.steps.forEach((s, i) => {
    const want = [step1, step2, step3][i];
    assert.ok(Math.abs(s.nll - want) < 1e-6, `step ${i + 1} NLL ${s.nll}, hand-worked ${want}`);
  });
  assert.is(sel.kept, 3, 'step 3 ties step 2 on accuracy and has the lower NLL');
  assert.equal(sel.counts, [1, 1, 1]);
  const two = selectMembers(outputs, labels, 2, { method: 'greedy', combine: 'probs', maxSteps: 2 });
  assert.equal(two.counts, [1, 0, 1], 'two steps: C and A');
  assert.is(two.score.accuracy, 1);
  const all = selectMembers(outputs, labels, 2, { method: 'all', combine: 'probs' });
  assert.equal(all.counts, [1, 1, 1]);
  assert.ok(Math.abs(all.score.nll - step3) < 1e-6, `all: NLL ${all.score.nll}, hand-worked ${step3}`);
});

test('greedy selects with replacement: a candidate better than every mix is taken again and again', () => {
  // candidate 0 right on all 3 images with p 0.6; candidate 1 wrong on all with p(true) 0.1: every step adds candidate 0
  const labels = [0, 0, 0];
  const row = (p: number) => [Math.log(p), Math.log(1 - p)];
  const outputs = [Float32Array.from([0.6, 0.6, 0.6].flatMap(row)), Float32Array.from([0.1, 0.1, 0.1].flatMap(row))];
  const sel = selectMembers(outputs, labels, 2, { combine: 'logits', maxSteps: 4 });
  assert.equal(
    sel.steps.map((s) => s.added),
    [0, 0, 0, 0],
  );
  assert.is(sel.kept, 1, 'every step has the same score: the first, smallest ensemble is kept');
  assert.equal(sel.counts, [1, 0]);
});

test('a probabilities output: predict takes it as it is, flip TTA averages it, eval renormalises it; a temperature or an unknown output is refused', async () => {
  const graph = buildEnsemble(members, { combine: 'probs' });
  const classes = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
  const dir = tempDir('ferlab-ensemble-probs-');
  await saveLayersModel(graph, dir);
  const base = { classes, preprocessing: 'x', inputSpec: UNIT48, output: "probabilities [batch, 7] float32; the mean of the members' probabilities" };
  writeModelMeta(dir, base);
  const pm = await loadPredictModel(dir);
  const direct = run(graph, x, N, 48);
  const got = classify(pm, x);
  assert.ok(maxAbs(got.probabilities, direct) === 0, "predict reports the graph's probabilities unchanged (no softmax on top)");

  // flip TTA: the mean of the image's and the mirror's probabilities, mirrored here by hand
  const pixels = Uint8Array.from(x, (v) => Math.round(v * 255));
  const mirrored = new Float32Array(x.length);
  for (let i = 0; i < N; i++)
    for (let y = 0; y < 48; y++) for (let c = 0; c < 48; c++) mirrored[i * IMAGE_PIXELS + y * 48 + c] = x[i * IMAGE_PIXELS + y * 48 + 47 - c];
  const flipped = run(graph, mirrored, N, 48);
  const tta = predictProbabilitiesTTA(graph, pixels, [0, 1, 2, 3, 4], 'flip', { input: UNIT48, outputs: 'probabilities' });
  const want = Float64Array.from(direct, (v, i) => (v + flipped[i]) / 2);
  const dTta = maxAbs(tta.probabilities, want);
  assert.ok(dTta < 1e-6, `flip TTA of probabilities: max |diff| ${dTta}`);
  assert.throws(() => predictProbabilitiesTTA(graph, pixels, [0], 'flip', { input: UNIT48, outputs: 'probabilities', average: 'logits' }), /no logits/);

  // eval over 3 shared classes (labels 0, 3, 6 of the dataset's 3 classes): the probabilities renormalised over them
  const ev = evaluateMapped(
    graph,
    classes,
    pixels,
    { index: Int32Array.from([0, 1, 2, 3, 4]), label: Uint8Array.from([0, 1, 2, 0, 1]) },
    ['angry', 'happy', 'neutral'],
    8,
    UNIT48,
    'probabilities',
  );
  for (let i = 0; i < N; i++) {
    const p = [0, 3, 6].map((c) => direct[i * C + c]);
    const s = p[0] + p[1] + p[2];
    p.forEach((v, k) => assert.ok(Math.abs(ev.prob[i * 3 + k] - v / s) < 1e-6, `image ${i} class ${k}: ${ev.prob[i * 3 + k]} vs ${v / s}`));
  }

  writeModelMeta(dir, { ...base, temperature: 1.3 });
  let err = '';
  await loadPredictModel(dir).catch((e: Error) => (err = e.message));
  assert.match(err, /probabilities, which a temperature \(1\.3\) cannot rescale/);
  writeModelMeta(dir, { ...base, output: 'scores [batch, 7]' });
  err = '';
  await loadPredictModel(dir).catch((e: Error) => (err = e.message));
  assert.match(err, /output 'scores \[batch, 7\]' is neither logits nor probabilities/);
  graph.dispose();
  pm.model.dispose();
});

/** A saved model folder with a ferlab.json (its model is the baseline's topology; weights are never read here). */
async function modelFolder(dir: string, meta: Partial<ModelMeta>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await saveLayersModel(members[0].model, dir);
  writeModelMeta(dir, { classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], preprocessing: 'x', ...meta });
}

test('candidates: run folders, experiment folders (finished runs, one label set) and exported model folders; an ensemble is refused', async () => {
  const root = tempDir('ferlab-ensemble-cands-');
  const exp = join(root, 'exp-20260101-000000');
  writeFileSync(join(root, 'note.txt'), 'not a folder');
  await modelFolder(join(exp, 'r1', 'model'), { run: 'r1', labelSet: 'fer', inputSpec: CROP40, testAccuracy: 0.6 });
  writeRunStatus(join(exp, 'r1'), { state: 'complete', epoch: 2 });
  await modelFolder(join(exp, 'r2', 'model'), { run: 'r2', labelSet: 'majority', classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] });
  writeRunStatus(join(exp, 'r2'), { state: 'complete', epoch: 2 });
  mkdirSync(join(exp, 'r3'), { recursive: true });
  writeRunStatus(join(exp, 'r3'), { state: 'running', epoch: 1 });
  await modelFolder(join(root, 'released'), { run: 'r1', labelSet: 'fer' });

  const found = findEnsembleCandidates([exp, join(root, 'released')]);
  assert.equal(
    found.candidates.map((c) => c.name),
    ['r1', 'r1#2'],
    'r1 of the experiment, and the exported folder of another r1',
  );
  assert.equal(found.candidates[0].input, CROP40);
  assert.is(found.labelSet, 'fer');
  assert.is(found.skipped.length, 2, `skipped: ${JSON.stringify(found.skipped)}`);
  assert.match(found.skipped.find((s) => s.name.endsWith('r2'))!.why, /label set 'majority', not 'fer'/);
  assert.match(found.skipped.find((s) => s.name.endsWith('r3'))!.why, /unfinished/);
  // the same run given twice counts once
  assert.is(findEnsembleCandidates([join(exp, 'r1'), join(exp, 'r1', 'model')]).candidates.length, 1);

  await modelFolder(join(root, 'ens'), {
    labelSet: 'fer',
    ensemble: {
      combine: 'logits',
      members: [{ name: 'r1', source: 'runs/x/r1', inputSpec: CROP40, weight: 1, publicTestAccuracy: 0.5 }],
      selection: { method: 'all', criterion: 'c', steps: [], candidates: [] },
      publicTest: [],
      privateTest: {
        interval: {
          accuracy: 0.5,
          n: 1,
          level: 0.95,
          lower: 0,
          upper: 1,
          method: 'percentile bootstrap (Efron & Tibshirani 1993, ch. 13.3)',
          resamples: 1,
          seed: 1,
        },
        macroF1: 0,
        flipTta: {
          accuracy: 0.5,
          n: 1,
          level: 0.95,
          lower: 0,
          upper: 1,
          method: 'percentile bootstrap (Efron & Tibshirani 1993, ch. 13.3)',
          resamples: 1,
          seed: 1,
        },
      },
      formats: {},
      graphCheck: { maxAbsDiff: 0, images: 1, against: 'x' },
      date: 'd',
      command: 'c',
    },
  });
  assert.throws(
    () => findEnsembleCandidates([join(root, 'ens')]),
    (e: Error) => e instanceof EnsembleError && /is an ensemble itself/.test(e.message) && /runs\/x\/r1/.test(e.message),
  );
  assert.throws(
    () => findEnsembleCandidates([join(root, 'nowhere')]),
    (e: Error) => /no such folder/.test(e.message),
  );
  assert.throws(
    () => findEnsembleCandidates([join(exp, 'r3')]),
    (e: Error) => /holds no model/.test(e.message),
  );
  // an experiment still training (no finished run): listed as skipped beside the other folders, an error alone
  const running = join(root, 'exp-running');
  mkdirSync(join(running, 'r1'), { recursive: true });
  writeRunStatus(join(running, 'r1'), { state: 'running', epoch: 1 });
  const withRunning = findEnsembleCandidates([running, join(root, 'released')]);
  assert.equal(
    withRunning.candidates.map((c) => c.name),
    ['r1'],
  );
  assert.match(withRunning.skipped[0].why, /unfinished/);
  assert.throws(
    () => findEnsembleCandidates([running]),
    (e: Error) => /no candidate/.test(e.message) && /unfinished/.test(e.message),
  );
});

/**
 * `makeEnsemble` end to end on a generated data set (60 PublicTest, 60 PrivateTest images): two saved members (48x48,
 * and a 40x40 crop); the PrivateTest accuracy it records is recomputed here from the members run one by one on their
 * own inputs and averaged by hand with the weights ferlab.json gives; the chosen combination is the better PublicTest
 * score of the two it records; the ONNX and TFLite checks agree; `export` of the folder rewrites it.
 */
test('makeEnsemble: generated data, two saved members; the record matches a hand recomputation; export rewrites it', async () => {
  const root = tempDir('ferlab-ensemble-make-');
  const dataDir = writeFixture(makeRows({ train: 4, val: 60, test: 60 }, 3));
  const classes = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
  for (const [k, m] of [members[0], members[1]].entries()) {
    const dir = join(root, 'exp', `run${k}`, 'model');
    mkdirSync(dir, { recursive: true });
    await saveLayersModel(m.model, dir);
    writeModelMeta(dir, { run: m.name, model: m.name, labelSet: 'fer', classes, preprocessing: 'x', inputSpec: m.input, testAccuracy: 0.25 });
    writeRunStatus(join(root, 'exp', `run${k}`), { state: 'complete', epoch: 1 });
  }
  const out = join(root, 'models', 'ens');
  const lines: string[] = [];
  const r = await makeEnsemble([join(root, 'exp')], { out, formats: ['onnx', 'tflite'], dataDir, cacheDir: false, backend: 'wasm', log: (l) => lines.push(l) });
  const meta = readModelMeta(out);
  const e = meta.ensemble!;
  assert.ok(e, 'ferlab.json has ensemble');
  assert.equal(meta.inputSpec, UNIT48, 'the ensemble takes the plain input');
  assert.equal(
    e.selection.candidates.map((c) => c.name),
    ['baseline-48', 'xception-40'],
  );
  assert.equal(
    e.members.map((m) => [m.name, m.inputSpec]),
    e.members.map((m) => [m.name, m.name === 'xception-40' ? CROP40 : UNIT48]),
  );
  assert.is(e.publicTest.length, 4, 'greedy and all, logits and probs');
  const greedy = e.publicTest.filter((p) => p.select === 'greedy');
  const best = greedy[1].accuracy > greedy[0].accuracy || (greedy[1].accuracy === greedy[0].accuracy && greedy[1].nll < greedy[0].nll) ? 'probs' : 'logits';
  assert.is(e.combine, best, `--combine auto takes the better PublicTest score: ${JSON.stringify(greedy)}`);
  assert.ok(e.graphCheck.maxAbsDiff <= TOL_GRAPH, `graph vs hand average ${e.graphCheck.maxAbsDiff}`);
  assert.is(meta.output!.split(' ')[0], e.combine === 'probs' ? 'probabilities' : 'logits');
  for (const f of ['onnx', 'tflite'] as const) {
    const c = e.formats[f]!.check;
    assert.ok('maxAbsLogitDiff' in c && c.maxAbsLogitDiff <= TOL_RUNTIME, `${f}: ${JSON.stringify(c)}`);
  }

  // PrivateTest recomputed: the fixture's PrivateTest rows (the last 60), each member on its own input, weights from ferlab.json
  const rows = makeRows({ train: 4, val: 60, test: 60 }, 3).slice(64);
  const px = Float32Array.from(rows.flatMap((row) => row.pixels.map((p) => p / 255)));
  const n = rows.length;
  const list = e.members.map((m) => ({ ...members.find((g) => g.name === m.name)!, weight: m.weight }));
  const acc = new Float64Array(n * C);
  const total = list.reduce((a, m) => a + m.weight, 0);
  for (const m of list) {
    const input = m.input.resize === 'crop' ? centreCrop(px, n, 40, 4) : px;
    const z = run(m.model, input, n, m.input.size);
    const v = e.combine === 'probs' ? softmax(z) : z;
    for (let i = 0; i < acc.length; i++) acc[i] += (m.weight * v[i]) / total;
  }
  let correct = 0;
  const ensembleRight: boolean[] = [];
  for (let i = 0; i < n; i++) {
    let b = 0;
    for (let c = 1; c < C; c++) if (acc[i * C + c] > acc[i * C + b]) b = c;
    if (b === rows[i].emotion) correct++;
    ensembleRight.push(b === rows[i].emotion);
  }
  assert.is(meta.testAccuracy, correct / n, `PrivateTest accuracy recorded ${meta.testAccuracy}, recomputed ${correct / n}`);
  assert.is(e.privateTest.interval.n, n);
  // McNemar against the best PublicTest candidate (first on ties): b and c recounted from predictions made here
  const bestName = e.selection.candidates.reduce((a, c) => (c.publicTestAccuracy > a.publicTestAccuracy ? c : a)).name;
  const vs = e.privateTest.vsBestMember!;
  assert.ok(vs, 'privateTest.vsBestMember recorded');
  assert.is(vs.name, bestName, 'the best PublicTest candidate');
  const bm = members.find((g) => g.name === bestName)!;
  const zb = run(bm.model, bm.input.resize === 'crop' ? centreCrop(px, n, 40, 4) : px, n, bm.input.size);
  let onlyEnsemble = 0;
  let onlyMember = 0;
  for (let i = 0; i < n; i++) {
    let b = 0;
    for (let c = 1; c < C; c++) if (zb[i * C + c] > zb[i * C + b]) b = c;
    const memberRight = b === rows[i].emotion;
    if (ensembleRight[i] && !memberRight) onlyEnsemble++;
    if (!ensembleRight[i] && memberRight) onlyMember++;
  }
  assert.equal(
    [vs.mcnemar.b, vs.mcnemar.c],
    [onlyEnsemble, onlyMember],
    `McNemar b, c recorded ${vs.mcnemar.b}, ${vs.mcnemar.c}; recounted ${onlyEnsemble}, ${onlyMember}`,
  );
  assert.ok(lines.some((l) => /chosen on PublicTest/.test(l)));
  assert.is(r.dir, out);
  // TTA: none is the plain score, flip the recorded flip score, tencrop on shifted images only when a member crops; the
  // chosen mode has the best PublicTest accuracy (ties to fewer views)
  const t = e.tta!;
  assert.ok(t, 'ferlab.json ensemble.tta recorded');
  assert.equal(t.modes[0].privateTest, e.privateTest.interval);
  assert.equal(t.modes[1].privateTest, e.privateTest.flipTta);
  const crops = e.members.some((m) => m.inputSpec.resize === 'crop');
  assert.equal(
    t.modes.map((m) => [m.mode, m.views, m.shift]),
    crops
      ? [
          ['none', 1, undefined],
          ['flip', 2, undefined],
          ['tencrop', 10, 40],
        ]
      : [
          ['none', 1, undefined],
          ['flip', 2, undefined],
        ],
  );
  const top = t.modes.reduce((a, m) => (m.publicTestAccuracy > a.publicTestAccuracy ? m : a));
  assert.is(t.chosen, top.mode, `chosen ${t.chosen}; PublicTest ${JSON.stringify(t.modes.map((m) => [m.mode, m.publicTestAccuracy]))}`);

  const again = await exportEnsembleFolder(out, {
    out: join(root, 'models', 'ens-onnx'),
    formats: ['onnx'],
    dataDir,
    cacheDir: false,
    backend: 'wasm',
    log: () => {},
  });
  const m2 = readModelMeta(again.dir);
  assert.equal(Object.keys(m2.ensemble!.formats).sort(), ['onnx', 'tfjs']);
  assert.equal(m2.ensemble!.members, e.members);
  assert.is(m2.testAccuracy, meta.testAccuracy);
});

test.run();
