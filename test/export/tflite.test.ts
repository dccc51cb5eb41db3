/**
 * tfjsToTflite against LiteRT.js (`@litertjs/core`, Google's WebAssembly build of the TFLite / LiteRT runtime, run in
 * Node by src/export/tflite-runtime.ts): every registered model in float32 (max |logit diff| <= 1e-4 vs tfjs, batch
 * 8 and batch 1), float16 and dynamic-range int8 weights; hand-made models covering every branch of the converter
 * (valid/same padding, strides, dilation, bias or not, fused and unfused activations, batch norm folded or kept as
 * MUL + ADD, pools, global pools, depthwise and separable convolutions, residual Add, softmax head); the file's
 * structure (read back with the flatbuffers package's ByteBuffer); the errors, and that a failed write leaves nothing;
 * and, on the real data, `export --formats tflite` end to end. The reference is tfjs `model.predict` on the wasm backend
 * with ferlab's kernels (checked against tfjs' plain JavaScript cpu kernels in test/backend/kernels.test.ts), and the
 * TFLite outputs are computed by LiteRT.js, which nobody at ferlab wrote.
 * test-time-limit: 420
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { ByteBuffer } from 'flatbuffers';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, listModels } from '../../src/models';
import { initBackend } from '../../src/backend/select';
import {
  exportModel,
  loadLiteRt,
  runTflite,
  TFLITE_INPUT_NAME,
  TFLITE_LOGITS_NAME,
  TFLITE_PROBABILITIES_NAME,
  tfjsToTflite,
  TfliteExportError,
  writeTflite,
  type FormatCheck,
  type LiteRtModule,
  type TfliteWeights,
} from '../../src/export';
import { BuiltinOperator as OP, TensorType } from '../../src/export/tflite-schema';
import { IMAGE_PIXELS } from '../../src/data/classes';
import { loadDataset } from '../../src/data/dataset';
import { runLabels } from '../../src/exp/run';
import { values } from '../helpers/backends';
import { tempDir } from '../helpers/fixtures';
import { sharedQuickExperiment } from '../helpers/quick-experiment';
import { realDataDir, noRealDataReason } from '../helpers/realdata';
import { skipTest } from '../helpers/skip';
import { perturb, testImages, type TestImages } from './helpers';

const NUM_CLASSES = 7;
// 8 images: the reference (and perturb's batch-norm statistics) of vgg13 on tfjs' cpu backend alone took 24 s at 16
const BATCH = 8;
/** Largest |logit difference| accepted between tfjs and LiteRT.js, both float32 (different summation orders, BN folded). */
const TOL = 1e-4;
/** float16 weights: each weight moves by up to 2^-11 relative; measured <= 1.2e-2 on these models (logits up to ~5). */
const TOL_F16 = 0.05;
/** int8 dynamic range (int8 weights and on-the-fly int8 activations): measured <= 0.3; a layout error gives O(1+). */
const TOL_INT8 = 0.75;

let images: TestImages;
let litert: LiteRtModule;

test.before(async () => {
  await initBackend('wasm');
  images = await testImages(BATCH);
  console.log(`  images: ${images.source}`);
  const rt = await loadLiteRt();
  if (!rt.litert) throw new Error(`LiteRT.js (a dev dependency) does not load: ${rt.reason}`);
  litert = rt.litert;
  console.log(`  runtime: @litertjs/core ${rt.version}`);
});

function predict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
}

function argmaxRows(v: Float32Array, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < v.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (v[r * cols + c] > v[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}

/** max |got - ref| and max |ref|. */
function diffOf(got: Float32Array, ref: Float32Array, what: string): [number, number] {
  assert.is(got.length, ref.length, `${what}: output length`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return [diff, scale];
}

function assertMatches(got: Float32Array, ref: Float32Array, what: string, tol = TOL): [number, number] {
  const [diff, scale] = diffOf(got, ref, what);
  assert.ok(diff <= tol, `${what}: max |LiteRT.js - tfjs| = ${diff.toExponential(2)} exceeds ${tol} (max |tfjs| ${scale.toFixed(3)})`);
  return [diff, scale];
}

/**
 * A reader of the written file for structure assertions only (the values are LiteRT.js' business): field ids as in
 * TFLite's schema.fbs (Model: version 0, operator_codes 1, subgraphs 2, buffers 4, metadata 6, signature_defs 7; ...).
 */
function readTflite(bytes: Uint8Array) {
  const bb = new ByteBuffer(bytes);
  const root = bb.readInt32(0);
  const field = (pos: number, id: number) => bb.__offset(pos, 4 + 2 * id);
  const tables = (pos: number, id: number): number[] => {
    const o = field(pos, id);
    if (!o) return [];
    const v = bb.__vector(pos + o);
    return Array.from({ length: bb.__vector_len(pos + o) }, (_, i) => bb.__indirect(v + 4 * i));
  };
  const ints = (pos: number, id: number): number[] => {
    const o = field(pos, id);
    if (!o) return [];
    const v = bb.__vector(pos + o);
    return Array.from({ length: bb.__vector_len(pos + o) }, (_, i) => bb.readInt32(v + 4 * i));
  };
  const int = (pos: number, id: number, dflt = 0) => (field(pos, id) ? bb.readInt32(pos + field(pos, id)) : dflt);
  const byte = (pos: number, id: number, dflt = 0) => (field(pos, id) ? bb.readInt8(pos + field(pos, id)) : dflt);
  const str = (pos: number, id: number) => (field(pos, id) ? (bb.__string(pos + field(pos, id)) as string) : '');
  const codes = tables(root, 1).map((p) => ({ code: int(p, 3), version: int(p, 2, 1) }));
  const sg = tables(root, 2)[0];
  const tensors = tables(sg, 0).map((p) => ({ shape: ints(p, 0), type: byte(p, 1), buffer: int(p, 2), name: str(p, 3), signature: ints(p, 7) }));
  const ops = tables(sg, 3).map((p) => {
    const options = field(p, 4) ? bb.__indirect(p + field(p, 4)) : 0;
    return { ...codes[int(p, 0)], inputs: ints(p, 1), outputs: ints(p, 2), optionsType: byte(p, 3), option: (id: number) => (options ? byte(options, id) : 0) };
  });
  const buffers = tables(root, 4).map((p) => (field(p, 0) ? bb.__vector_len(p + field(p, 0)) : 0));
  const bufferBytes = (i: number) => {
    const p = tables(root, 4)[i];
    const v = bb.__vector(p + field(p, 0));
    return bytes.subarray(v, v + buffers[i]);
  };
  const sig = tables(root, 7)[0];
  const maps = (id: number) => tables(sig, id).map((p) => ({ name: str(p, 0), tensor: int(p, 1) }));
  return {
    identifier: bb.getBufferIdentifier(),
    version: int(root, 0),
    tensors,
    ops,
    buffers,
    bufferBytes,
    inputs: ints(sg, 1),
    outputs: ints(sg, 2),
    signature: { key: str(sig, 2), inputs: maps(0), outputs: maps(1) },
    metadata: tables(root, 6).map((p) => ({ name: str(p, 0), buffer: int(p, 1) })),
  };
}

const count = (ops: { code: number }[], code: number) => ops.filter((o) => o.code === code).length;
const classCount = (m: tf.LayersModel, cls: string) => m.layers.filter((l) => l.getClassName() === cls).length;

test(`every registered model: LiteRT.js logits match tfjs on ${BATCH} images (float32 <= ${TOL}, float16 <= ${TOL_F16}, int8 <= ${TOL_INT8})`, async () => {
  const rows: string[] = [];
  for (const name of listModels()) {
    const model = createModel(name, { numClasses: NUM_CLASSES, seed: 5 });
    const shape = [BATCH, 48, 48, 1];
    perturb(model, 17, images.x, shape);
    const ref = predict(model, images.x, shape);
    const sizes: Partial<Record<TfliteWeights, number>> = {};
    const diffs: Partial<Record<TfliteWeights, number>> = {};
    for (const weights of ['float32', 'float16', 'int8'] as const) {
      const bytes = tfjsToTflite(model, { weights, batch: BATCH, name: `ferlab-${name}` });
      sizes[weights] = bytes.length;
      const { out, inputShape } = await runTflite(litert, bytes, images.x, BATCH);
      assert.equal(inputShape, [BATCH, 48, 48, 1]);
      const tol = { float32: TOL, float16: TOL_F16, int8: TOL_INT8 }[weights];
      const [diff, scale] = assertMatches(out, ref, `${name} ${weights}`, tol);
      diffs[weights] = diff;
      if (weights === 'float32') {
        assert.ok(scale >= 1, `${name}: logits are O(1) (max |logit| ${scale.toFixed(3)}), so a ${TOL} tolerance is a tight one`);
        assert.equal(argmaxRows(out, NUM_CLASSES), argmaxRows(ref, NUM_CLASSES), `${name}: argmax per image`);
      }

      // structure: batch norm folded into the convolutions, ReLU fused, filters OHWI / 1HWO, weights stored as asked
      const f = readTflite(bytes);
      assert.is(f.identifier, 'TFL3');
      assert.is(f.version, 3);
      assert.is(f.buffers[0], 0, 'buffer 0 is the empty sentinel');
      const ops = f.ops.filter((o) => o.code !== OP.DEQUANTIZE);
      assert.is(count(ops, OP.MUL), 0, `${name}: every BatchNormalization folded (no MUL left)`);
      assert.is(count(ops, OP.RELU), 0, `${name}: every ReLU fused`);
      const convs = classCount(model, 'Conv2D') + classCount(model, 'SeparableConv2D');
      assert.is(count(ops, OP.CONV_2D), convs, `${name}: one CONV_2D per Conv2D and SeparableConv2D`);
      assert.is(count(ops, OP.DEPTHWISE_CONV_2D), classCount(model, 'SeparableConv2D') + classCount(model, 'DepthwiseConv2D'));
      assert.is(count(ops, OP.FULLY_CONNECTED), classCount(model, 'Dense'));
      assert.is(count(ops, OP.ADD), classCount(model, 'Add'));
      const filterOf = (o: (typeof ops)[number]) => f.tensors[o.inputs[1]]; // for float16: DEQUANTIZE's float32 output
      const firstConv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
      const k = firstConv.getWeights()[0].shape; // [kh, kw, in, out]
      assert.equal(filterOf(ops.find((o) => o.code === OP.CONV_2D)!).shape, [k[3], k[0], k[1], k[2]], `${name}: first filter OHWI`);
      if (weights === 'float16') {
        assert.is(count(f.ops, OP.DEQUANTIZE), count(ops, OP.CONV_2D) + count(ops, OP.DEPTHWISE_CONV_2D) + count(ops, OP.FULLY_CONNECTED));
        assert.ok(
          f.ops.filter((o) => o.code === OP.DEQUANTIZE).every((o) => f.tensors[o.inputs[0]].type === TensorType.FLOAT16 && o.version === 3),
          'DEQUANTIZE v3 of float16 tensors',
        );
      }
      if (weights === 'int8')
        assert.ok(
          ops
            .filter((o) => ([OP.CONV_2D, OP.DEPTHWISE_CONV_2D, OP.FULLY_CONNECTED] as number[]).includes(o.code))
            .every((o) => f.tensors[o.inputs[1]].type === TensorType.INT8),
          'int8 weights',
        );
    }
    assert.ok(sizes.float16! < 0.55 * sizes.float32!, `${name}: float16 file ${sizes.float16} vs float32 ${sizes.float32}`);
    assert.ok(sizes.int8! < 0.4 * sizes.float32!, `${name}: int8 file ${sizes.int8} vs float32 ${sizes.float32}`);

    // the default: batch 1, as an app calls it (one face per call)
    const one = tfjsToTflite(model);
    const r1 = await runTflite(litert, one, images.x, BATCH);
    assert.equal(r1.inputShape, [1, 48, 48, 1]);
    assertMatches(r1.out, ref, `${name} float32, batch 1`);
    rows.push(
      `  ${name}: max |logit diff| float32 ${diffs.float32!.toExponential(2)}, float16 ${diffs.float16!.toExponential(2)}, int8 ${diffs.int8!.toExponential(2)}; ` +
        `${(sizes.float32! / 2 ** 20).toFixed(2)} / ${(sizes.float16! / 2 ** 20).toFixed(2)} / ${(sizes.int8! / 2 ** 20).toFixed(2)} MiB`,
    );
    model.dispose();
  }
  console.log(rows.join('\n'));
});

/**
 * Hand-made model 1 (functional), input [batch, 21, 18, 3] (odd, non-square): valid stride-2 conv with bias + fused
 * relu; same conv with dilation 2, no bias, fused sigmoid (LOGISTIC, never fused); BatchNorm after the sigmoid (kept as
 * MUL + ADD); ReLU layer (fused into that ADD); same 3x3/2 conv whose output two layers read (a BatchNorm and an Add: no
 * fold); same 3x3/2 max pool (uneven padding); same 3x3/1 average pool (border cells averaged over the image only);
 * ReLU maxValue 6 (RELU6 fused into the pool); Activation tanh; Flatten; Dense + relu; Dense without bias followed by
 * BatchNorm (folded into FULLY_CONNECTED) and tanh; Dropout; Dense.
 */
function handModel1(seed: number): tf.LayersModel {
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;
  const input = tf.input({ shape: [21, 18, 3], name: 'pixels' });
  let t = apply(
    tf.layers.conv2d({ name: 'c_valid_s2', filters: 5, kernelSize: [3, 4], strides: 2, padding: 'valid', activation: 'relu', kernelInitializer: init() }),
    input,
  );
  t = apply(
    tf.layers.conv2d({
      name: 'c_same_d2',
      filters: 6,
      kernelSize: 3,
      dilationRate: 2,
      padding: 'same',
      useBias: false,
      activation: 'sigmoid',
      kernelInitializer: init(),
    }),
    t,
  );
  t = apply(tf.layers.batchNormalization({ name: 'bn_after_sigmoid', epsilon: 1e-3 }), t);
  t = apply(tf.layers.reLU({ name: 'relu_layer' }), t);
  const c = apply(tf.layers.conv2d({ name: 'c_same_s2', filters: 6, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init() }), t);
  const bn = apply(tf.layers.batchNormalization({ name: 'bn_shared_input' }), c);
  t = apply(tf.layers.add({ name: 'add_c_bn' }), [c, bn]);
  t = apply(tf.layers.maxPooling2d({ name: 'max_same', poolSize: 3, strides: 2, padding: 'same' }), t);
  t = apply(tf.layers.averagePooling2d({ name: 'avg_same', poolSize: 3, strides: 1, padding: 'same' }), t);
  t = apply(tf.layers.reLU({ name: 'relu6', maxValue: 6 }), t);
  t = apply(tf.layers.activation({ name: 'tanh_layer', activation: 'tanh' }), t);
  t = apply(tf.layers.flatten({ name: 'flat' }), t);
  t = apply(tf.layers.dense({ name: 'd_relu', units: 10, activation: 'relu', kernelInitializer: init() }), t);
  t = apply(tf.layers.dense({ name: 'd_nobias', units: 9, useBias: false, kernelInitializer: init() }), t);
  t = apply(tf.layers.batchNormalization({ name: 'bn2d', center: false }), t);
  t = apply(tf.layers.activation({ name: 'tanh2', activation: 'tanh' }), t);
  t = apply(tf.layers.dropout({ name: 'drop', rate: 0.3 }), t);
  t = apply(tf.layers.dense({ name: 'out', units: 4, kernelInitializer: init() }), t);
  return tf.model({ inputs: input, outputs: t, name: 'hand1' });
}

/**
 * Hand-made model 2 (Sequential), input [batch, 9, 11, 2]: conv with fused softmax (a softmax over the channels of a
 * 4-D tensor), valid 2x2 average pool, 1x1 conv, valid 3x3/2 max pool on the 4x5 map, GlobalAveragePooling2D, Dense.
 */
function handModel2(seed: number): tf.LayersModel {
  const m = tf.sequential({ name: 'hand2' });
  m.add(
    tf.layers.conv2d({
      inputShape: [9, 11, 2],
      filters: 3,
      kernelSize: 2,
      padding: 'same',
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(tf.layers.averagePooling2d({ poolSize: 2, padding: 'valid' }));
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  m.add(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid' }));
  m.add(tf.layers.globalAveragePooling2d({}));
  m.add(tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }));
  return m;
}

/** Hand-made model 3: GlobalMaxPooling2D straight after the input, then a Dense with softmax activation. */
function handModel3(seed: number): tf.LayersModel {
  const m = tf.sequential({ name: 'hand3' });
  m.add(tf.layers.globalMaxPooling2d({ inputShape: [5, 7, 4] }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  return m;
}

/**
 * Hand-made model 4 (functional, residual), input [batch, 13, 10, 4]: DepthwiseConv2D x2 depth multiplier, stride 2,
 * 'same' (uneven padding), bias, fused relu -> [7, 5, 8]; SeparableConv2D 4x3 'valid' without bias; SeparableConv2D x2
 * multiplier, stride 2, 'same', bias, fused tanh; SeparableConv2D 3x3 dilation 2 'same' + BatchNorm (folded into the
 * pointwise CONV_2D); Add of the branches; DepthwiseConv2D 3x3 'same' without bias + BatchNorm (folded into the
 * DEPTHWISE_CONV_2D); Add of three inputs; conv whose output a Dropout and an Add read, the Dropout then a ReLU (not
 * fused: the conv's output has two readers); the input added to a 'same' separable conv of it; two heads added.
 */
function handModel4(seed: number): tf.LayersModel {
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const input = tf.input({ shape: [13, 10, 4], name: 'pixels4' });
  const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor;
  const bias = () => tf.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed++ });
  const a = apply(
    tf.layers.depthwiseConv2d({
      name: 'dw_m2_s2',
      kernelSize: 3,
      depthMultiplier: 2,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      depthwiseInitializer: init(),
      biasInitializer: bias(),
    }),
    input,
  );
  const b1 = apply(
    tf.layers.separableConv2d({ name: 'sep_valid', filters: 6, kernelSize: [4, 3], padding: 'valid', useBias: false, depthwiseInitializer: init() }),
    a,
  );
  const b2 = apply(
    tf.layers.separableConv2d({
      name: 'sep_m2_s2',
      filters: 6,
      kernelSize: 3,
      depthMultiplier: 2,
      strides: 2,
      padding: 'same',
      activation: 'tanh',
      depthwiseInitializer: init(),
      biasInitializer: bias(),
    }),
    a,
  );
  const b3 = apply(
    tf.layers.batchNormalization({ name: 'bn_sep' }),
    apply(tf.layers.separableConv2d({ name: 'sep_d2', filters: 6, kernelSize: 3, dilationRate: 2, padding: 'same', depthwiseInitializer: init() }), a),
  );
  const b3s = apply(tf.layers.maxPooling2d({ name: 'pool_b3', poolSize: 2, strides: 2, padding: 'same' }), b3);
  const sum = apply(tf.layers.add({ name: 'add2' }), [b1, b2, b3s]);
  const c = apply(
    tf.layers.batchNormalization({ name: 'bn_dw' }),
    apply(tf.layers.depthwiseConv2d({ name: 'dw_same', kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init() }), sum),
  );
  const d = apply(tf.layers.conv2d({ name: 'pw', filters: 6, kernelSize: 1, kernelInitializer: init() }), sum);
  const dr = apply(tf.layers.reLU({ name: 'relu_after_drop' }), apply(tf.layers.dropout({ name: 'drop_pw', rate: 0.5 }), d));
  const sum3 = apply(tf.layers.add({ name: 'add3' }), [sum, c, d, dr]);
  const e = apply(tf.layers.separableConv2d({ name: 'sep_same', filters: 4, kernelSize: 3, padding: 'same', depthwiseInitializer: init() }), input);
  const mixed = apply(tf.layers.add({ name: 'add_mixed' }), [input, e]);
  const p1 = apply(tf.layers.dense({ name: 'head1', units: 5, kernelInitializer: init() }), apply(tf.layers.globalAveragePooling2d({ name: 'gap1' }), sum3));
  const p2 = apply(tf.layers.dense({ name: 'head2', units: 5, kernelInitializer: init() }), apply(tf.layers.globalAveragePooling2d({ name: 'gap2' }), mixed));
  const out = apply(tf.layers.dense({ name: 'out4', units: 3, kernelInitializer: init() }), apply(tf.layers.add({ name: 'add_heads' }), [p1, p2]));
  return tf.model({ inputs: input, outputs: out, name: 'hand4' });
}

const HAND = [
  { build: handModel1, inShape: [21, 18, 3], outUnits: 4 },
  { build: handModel2, inShape: [9, 11, 2], outUnits: 3 },
  { build: handModel3, inShape: [5, 7, 4], outUnits: 3 },
  { build: handModel4, inShape: [13, 10, 4], outUnits: 3 },
];

test('hand-made models: every converter branch matches tfjs in LiteRT.js (float32, batch 6 and 1)', async () => {
  // the small hand-made models keep tfjs' plain JavaScript cpu kernels as their reference (seconds here): the wasm
  // kernels' other summation order (Winograd) moves these larger logits by ~1e-4
  await initBackend('cpu');
  for (const [k, h] of HAND.entries()) {
    const model = h.build(100 + 10 * k);
    const shape = [6, ...h.inShape];
    const x = values(
      shape.reduce((a, b) => a * b, 1),
      20 + k,
    );
    perturb(model, 7 + k, x, shape);
    const ref = predict(model, x, shape);
    const got = await runTflite(litert, tfjsToTflite(model, { batch: 6 }), x, 6);
    assert.equal(got.inputShape, shape);
    assertMatches(got.out, ref, `${model.name}, batch 6`);
    assertMatches((await runTflite(litert, tfjsToTflite(model), x, 6)).out, ref, `${model.name}, batch 1`);
    model.dispose();
  }

  // what was fused and folded, and what was not
  const f1 = readTflite(tfjsToTflite(handModel1(1)));
  const codes1 = f1.ops.map((o) => o.code);
  assert.equal(codes1, [
    OP.CONV_2D, // c_valid_s2 + relu
    OP.CONV_2D, // c_same_d2
    OP.LOGISTIC, // its sigmoid
    OP.MUL, // bn_after_sigmoid (after an activation: kept)
    OP.ADD, // ... + relu_layer fused
    OP.CONV_2D, // c_same_s2: two readers, so bn_shared_input is not folded
    OP.MUL,
    OP.ADD,
    OP.ADD, // add_c_bn
    OP.MAX_POOL_2D,
    OP.AVERAGE_POOL_2D, // + relu6 fused
    OP.TANH,
    OP.RESHAPE,
    OP.FULLY_CONNECTED, // d_relu + relu
    OP.FULLY_CONNECTED, // d_nobias + bn2d folded
    OP.TANH,
    OP.FULLY_CONNECTED,
  ]);
  const act = (o: (typeof f1.ops)[number]) => o.option({ [OP.CONV_2D]: 3, [OP.FULLY_CONNECTED]: 0, [OP.ADD]: 0, [OP.AVERAGE_POOL_2D]: 5 }[o.code] ?? -1);
  assert.equal(
    f1.ops.map((o) => (([OP.CONV_2D, OP.FULLY_CONNECTED, OP.ADD, OP.AVERAGE_POOL_2D] as number[]).includes(o.code) ? act(o) : null)),
    [1, 0, null, null, 1, 0, null, 0, 0, null, 3, null, null, 1, 0, null, 0],
    'fused activations (1 = RELU, 3 = RELU6)',
  );
  // Padding (0 SAME, 1 VALID) of the convs, and the filters in OHWI order
  assert.equal(
    f1.ops.filter((o) => o.code === OP.CONV_2D).map((o) => o.option(0)),
    [1, 0, 0],
  );
  assert.equal(
    f1.ops.filter((o) => o.code === OP.CONV_2D).map((o) => f1.tensors[o.inputs[1]].shape),
    [
      [5, 3, 4, 3],
      [6, 3, 3, 5],
      [6, 3, 3, 6],
    ],
  );

  // hand model 4: depthwise filters 1HWO with their multipliers, BNs folded into DEPTHWISE_CONV_2D and the pointwise CONV_2D
  const f4 = readTflite(tfjsToTflite(handModel4(1)));
  assert.equal(
    f4.ops.filter((o) => o.code === OP.DEPTHWISE_CONV_2D).map((o) => [f4.tensors[o.inputs[1]].shape, o.option(3), o.version]),
    [
      [[1, 3, 3, 8], 2, 1],
      [[1, 4, 3, 8], 1, 1],
      [[1, 3, 3, 16], 2, 1],
      [[1, 3, 3, 8], 1, 2],
      [[1, 3, 3, 6], 1, 1],
      [[1, 3, 3, 4], 1, 1],
    ],
    '[filter shape, depth_multiplier, version]',
  );
  assert.is(count(f4.ops, OP.MUL), 0, 'bn_sep and bn_dw folded');
  assert.is(count(f4.ops, OP.RELU), 1, 'relu_after_drop stays a RELU (the conv output has two readers)');
  await initBackend('wasm');
});

test('a model without operators (Dropout only) gets a RESHAPE; a model whose output is 4-D keeps NHWC', async () => {
  const m = tf.sequential();
  m.add(tf.layers.dropout({ inputShape: [4], rate: 0.5 }));
  const x = Float32Array.from([1, -2, 3, -4]);
  assert.equal(Array.from((await runTflite(litert, tfjsToTflite(m), x, 1)).out), [1, -2, 3, -4]);
  const maps = tf.sequential({ name: 'maps' });
  maps.add(
    tf.layers.conv2d({ inputShape: [6, 5, 2], filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
  );
  const xm = values(2 * 6 * 5 * 2, 4);
  // runTflite reads 2-D outputs only; flatten the feature maps for it (NHWC row-major, as tfjs)
  maps.add(tf.layers.flatten());
  assertMatches((await runTflite(litert, tfjsToTflite(maps, { batch: 2 }), xm, 2)).out, predict(maps, xm, [2, 6, 5, 2]), 'conv feature maps', 1e-5);
});

test('the file: TFL3 version 3, signature serving_default (input -> logits), metadata, names LiteRT.js reports', async () => {
  const model = createModel('mini-xception', { numClasses: NUM_CLASSES, seed: 1 });
  const bytes = tfjsToTflite(model, { name: 'ferlab-mini', metadata: { classes: '["a","b"]', preprocessing: 'pixel / 255' } });
  const f = readTflite(bytes);
  assert.is(new TextDecoder().decode(bytes.subarray(4, 8)), 'TFL3');
  assert.is(f.version, 3);
  assert.is(f.signature.key, 'serving_default');
  assert.equal(
    f.signature.inputs.map((i) => [i.name, i.tensor]),
    [[TFLITE_INPUT_NAME, f.inputs[0]]],
  );
  assert.equal(
    f.signature.outputs.map((o) => [o.name, o.tensor]),
    [[TFLITE_LOGITS_NAME, f.outputs[0]]],
  );
  assert.equal(f.tensors[f.inputs[0]].shape, [1, 48, 48, 1]);
  assert.equal(f.tensors[f.outputs[0]].shape, [1, NUM_CLASSES]);
  assert.equal(f.tensors[f.inputs[0]].signature, [], 'no shape_signature without dynamicBatch');
  assert.is(f.tensors[f.outputs[0]].name, TFLITE_LOGITS_NAME);
  assert.equal(
    f.metadata.map((m) => m.name),
    ['ferlab'],
  );
  assert.equal(JSON.parse(new TextDecoder().decode(f.bufferBytes(f.metadata[0].buffer))), { classes: '["a","b"]', preprocessing: 'pixel / 255' });
  // every tensor's buffer exists; constants' buffers are 16-byte aligned (schema.fbs Buffer.data force_align: 16)
  for (const t of f.tensors) assert.ok(t.buffer < f.buffers.length);
  for (let i = 1; i < f.buffers.length; i++) assert.is(f.bufferBytes(i).byteOffset % 16, 0, `buffer ${i} aligned`);
  const compiled = await litert.loadAndCompile(bytes, { accelerator: 'wasm' });
  console.log(`  LiteRT.js names: inputs ${compiled.getInputDetails().map((d) => d.name)}, outputs ${compiled.getOutputDetails().map((d) => d.name)}`);
  assert.equal(
    compiled.getOutputDetails().map((d) => Array.from(d.shape)),
    [[1, NUM_CLASSES]],
  );
  compiled.delete();

  // dynamicBatch: shape_signature -1 on the batch axis (for TFLite's Interpreter.resize_input_tensor)
  const dyn = readTflite(tfjsToTflite(model, { dynamicBatch: true }));
  assert.equal(dyn.tensors[dyn.inputs[0]].signature, [-1, 48, 48, 1]);
  model.dispose();
});

test('softmax: true appends a SOFTMAX; output `probabilities` = softmax(tfjs logits), rows sum to 1', async () => {
  const model = createModel('baseline', { numClasses: NUM_CLASSES, seed: 2 });
  const shape = [BATCH, 48, 48, 1];
  perturb(model, 3, images.x, shape);
  const ref = tf.tidy(() => tf.softmax(model.predict(tf.tensor(images.x, shape)) as tf.Tensor).dataSync() as Float32Array);
  const bytes = tfjsToTflite(model, { softmax: true, batch: BATCH });
  const f = readTflite(bytes);
  assert.equal(
    f.signature.outputs.map((o) => o.name),
    [TFLITE_PROBABILITIES_NAME],
  );
  const got = (await runTflite(litert, bytes, images.x, BATCH)).out;
  assertMatches(got, ref, 'probabilities', 1e-5);
  for (let r = 0; r < BATCH; r++) {
    const sum = got.subarray(r * NUM_CLASSES, (r + 1) * NUM_CLASSES).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
  }
  model.dispose();
});

test('layers, activations, corrupt weights and options it cannot convert are clear errors naming the layer; nothing is written', () => {
  const expectError = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert.instance(e, TfliteExportError);
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`expected an error matching ${re}`);
  };
  const seq = (...layers: tf.layers.Layer[]) => {
    const m = tf.sequential();
    layers.forEach((l) => m.add(l));
    return m;
  };
  const up = seq(tf.layers.upSampling2d({ inputShape: [4, 4, 1], size: [2, 2], name: 'upsample' }), tf.layers.flatten());
  expectError(
    () => tfjsToTflite(up),
    /cannot convert layer 'upsample' \(UpSampling2D\): this layer class is not supported\. Supported layers: InputLayer, Conv2D/,
  );
  // a corrupt weight: NaN in a kernel, and a moving variance that makes var + epsilon negative
  const corrupt = seq(tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, name: 'conv_bad' }));
  const [k, b] = corrupt.layers[0].getWeights();
  const kv = k.dataSync().slice();
  kv[5] = NaN;
  corrupt.layers[0].setWeights([tf.tensor(kv, k.shape), b]);
  expectError(() => tfjsToTflite(corrupt), /cannot convert layer 'conv_bad' \(Conv2D\): weight 'kernel' holds a non-finite value \(NaN at index 5\)/);
  const bnBad = seq(tf.layers.batchNormalization({ inputShape: [3], name: 'bn_bad', epsilon: 1e-3 }));
  const w = bnBad.layers[0].getWeights();
  bnBad.layers[0].setWeights([w[0], w[1], w[2], tf.tensor([1, -0.5, 1])]);
  expectError(() => tfjsToTflite(bnBad), /layer 'bn_bad' \(BatchNormalization\): moving_variance\[1\] \+ epsilon = -0\.499 is not positive/);
  const dwDil = seq(tf.layers.depthwiseConv2d({ inputShape: [8, 8, 2], kernelSize: 3, dilationRate: 2, name: 'dw' }));
  expectError(() => tfjsToTflite(dwDil), /cannot convert layer 'dw' \(DepthwiseConv2D\): dilationRate \[2, 2\]/);
  const elu = seq(tf.layers.dense({ inputShape: [3], units: 2, activation: 'elu', name: 'd_elu' }));
  expectError(() => tfjsToTflite(elu), /cannot convert layer 'd_elu' \(Dense\): activation 'elu' is not supported/);
  const relu3 = seq(tf.layers.reLU({ inputShape: [3], maxValue: 3, name: 'relu3' }));
  expectError(() => tfjsToTflite(relu3), /layer 'relu3' \(ReLU\): maxValue 3/);
  const nchw = seq(tf.layers.conv2d({ inputShape: [1, 4, 4], filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', name: 'cf' }));
  expectError(() => tfjsToTflite(nchw), /layer 'cf' \(Conv2D\): dataFormat 'channelsFirst'/);
  const bnAxis = seq(tf.layers.batchNormalization({ inputShape: [4, 4, 2], axis: 1, name: 'bn_h' }));
  expectError(() => tfjsToTflite(bnAxis), /layer 'bn_h' \(BatchNormalization\): axis 1/);
  const dense3d = seq(tf.layers.dense({ inputShape: [4, 3], units: 2, name: 'd3' }));
  expectError(() => tfjsToTflite(dense3d), /layer 'd3' \(Dense\): input of rank 3/);
  const a = tf.input({ shape: [3] });
  const c = tf.input({ shape: [3] });
  expectError(
    () => tfjsToTflite(tf.model({ inputs: [a, c], outputs: tf.layers.add({}).apply([a, c]) as tf.SymbolicTensor })),
    /tfjsToTflite .*one input and one output/,
  );
  const d = tf.input({ shape: [3] });
  const sq = tf.layers.multiply({ name: 'square' }).apply([d, d]) as tf.SymbolicTensor;
  expectError(() => tfjsToTflite(tf.model({ inputs: d, outputs: sq })), /layer 'square' \(Multiply\) takes 2 inputs; tfjsToTflite .* only for Add/);
  const ok = seq(tf.layers.dense({ inputShape: [3], units: 2 }));
  expectError(() => tfjsToTflite(ok, { weights: 'bfloat16' as TfliteWeights }), /weights 'bfloat16' is not supported: expected one of float32, float16, int8/);
  expectError(() => tfjsToTflite(ok, { batch: 0 }), /batch 0 must be a positive integer/);
  const soft = seq(tf.layers.dense({ inputShape: [3], units: 2, activation: 'softmax' }), tf.layers.dropout({ rate: 0.1 }));
  expectError(() => tfjsToTflite(soft, { softmax: true }), /already ends with a softmax/);

  // writeTflite: a failed conversion writes nothing (no file, no temporary file) and leaves an earlier file as it was
  const dir = tempDir('ferlab-tflite-');
  expectError(() => writeTflite(up, join(dir, 'model.tflite')), /layer 'upsample'/);
  assert.equal(readdirSync(dir), []);
  writeFileSync(join(dir, 'model.tflite'), 'earlier');
  expectError(() => writeTflite(corrupt, join(dir, 'model.tflite')), /layer 'conv_bad'/);
  assert.equal(readdirSync(dir), ['model.tflite']);
  assert.is(readFileSync(join(dir, 'model.tflite'), 'utf8'), 'earlier');
  const n = writeTflite(ok, join(dir, 'model.tflite'));
  assert.equal(readdirSync(dir), ['model.tflite']);
  assert.ok(Buffer.from(readFileSync(join(dir, 'model.tflite'))).equals(Buffer.from(tfjsToTflite(ok))));
  assert.is(n, readFileSync(join(dir, 'model.tflite')).length);
});

const dataDir = realDataDir();
if (!dataDir) skipTest('export --formats tflite on a trained run', noRealDataReason());
else
  test('export --formats tfjs,tflite of a trained run: model.tflite beside model.json, its LiteRT.js check in ferlab.json (float32 and float16)', async () => {
    // the quick default experiment, trained once per test run (test/helpers/quick-experiment.ts); its baseline-fer run is exported
    const experiment = await sharedQuickExperiment(dataDir);
    const out = tempDir('ferlab-export-tflite-');
    const ds = await loadDataset({ dataDir, log: () => {} });
    const runDir = join(experiment.dir, 'baseline-fer');
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
    const t = runLabels(ds, config.run).test;
    const n = t.index.length;
    // the PrivateTest inputs written out here: pixel / 255 (the default input spec)
    const x = new Float32Array(n * IMAGE_PIXELS);
    t.index.forEach((row, i) => {
      for (let p = 0; p < IMAGE_PIXELS; p++) x[i * IMAGE_PIXELS + p] = ds.pixels[row * IMAGE_PIXELS + p] / 255;
    });
    const acc = (l: Float32Array) => argmaxRows(l, NUM_CLASSES).filter((p, i) => p === t.label[i]).length / n;
    for (const weights of ['float32', 'float16'] as const) {
      const dir = join(out, weights);
      const r = await exportModel(runDir, {
        out: dir,
        formats: ['tfjs', 'tflite'],
        tfliteWeights: weights,
        dataDir,
        backend: 'wasm',
        log: () => {},
      });
      assert.equal(readdirSync(dir).sort(), ['ferlab.json', 'model-card.md', 'model.json', 'model.tflite', 'weights.bin']);
      // the exported tfjs model, loaded by tfjs itself from the two files
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      const tfModel = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
          weightData: new Uint8Array(readFileSync(join(dir, json.weightsManifest[0].paths[0]))).buffer,
        }),
      );
      const ref = predict(tfModel, x, [n, 48, 48, 1]);
      tfModel.dispose();
      const got = (await runTflite(litert, new Uint8Array(readFileSync(join(dir, 'model.tflite'))), x, n)).out;
      const [diff] = diffOf(got, ref, weights);
      const meta = JSON.parse(readFileSync(join(dir, 'ferlab.json'), 'utf8'));
      const check = meta.export.formats.tflite.check as FormatCheck;
      console.log(
        `  ${weights}: PrivateTest ${(100 * acc(got)).toFixed(2)}% (tfjs ${(100 * acc(ref)).toFixed(2)}%), max |logit diff| ${diff.toExponential(2)} on ${n} images; ` +
          `ferlab.json says ${(100 * check.privateTestAccuracy).toFixed(2)}%, ${check.maxAbsLogitDiff.toExponential(2)}, ${check.runtime}`,
      );
      assert.is(meta.export.formats.tflite.weights, weights);
      assert.is(meta.export.formats.tflite.bytes, readFileSync(join(dir, 'model.tflite')).length);
      assert.is(check.n, n);
      assert.is(check.privateTestAccuracy, acc(got), 'ferlab.json accuracy = the LiteRT.js accuracy computed here');
      // export's reference logits and this test's both come from the wasm backend
      assert.ok(Math.abs(check.maxAbsLogitDiff - diff) <= 1e-5, `ferlab.json max |logit diff| ${check.maxAbsLogitDiff} vs ${diff} here`);
      assert.match(check.runtime, /^LiteRT\.js \(@litertjs\/core \d+\.\d+\.\d+, WebAssembly CPU\)$/);
      if (weights === 'float32') {
        assert.ok(diff <= TOL, `float32: max |logit diff| ${diff}`);
        assert.is(acc(got), acc(ref), 'float32: same PrivateTest accuracy as tfjs');
      } else {
        assert.ok(diff <= TOL_F16, `float16: max |logit diff| ${diff}`);
        assert.ok(Math.abs(acc(got) - acc(ref)) <= 0.005, `float16: accuracy ${acc(got)} vs ${acc(ref)}`);
      }
      assert.ok(existsSync(join(dir, 'model-card.md')));
      assert.is(r.info.export.formats.tflite!.weights, weights);
    }
  });

test.run();
