/**
 * tfjsToOnnx against ONNX Runtime (onnxruntime-node, CPU): every registered model, a softmax head, hand-made models
 * covering every branch of the converter (valid/same padding, strides, dilation, bias or not, fused activations,
 * BatchNorm on 4-D and 2-D inputs, average/global pooling, softmax on a 4-D tensor, depthwise convolutions with
 * depth multipliers 1 and 2, separable convolutions, residual Add of 2 and 3 inputs in mixed layouts), every accepted
 * opset, and the errors. The reference is tfjs `model.predict` on the wasm backend with ferlab's kernels (those are
 * checked against tfjs' plain JavaScript cpu kernels in test/backend/kernels.test.ts; the cpu backend here took 100 s
 * for the three large models' references alone).
 * test-time-limit: 420
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { createModel, listModels } from '../../src/models';
import { initBackend } from '../../src/backend/select';
import { ONNX_INPUT_NAME, ONNX_LOGITS_NAME, ONNX_MAX_OPSET, ONNX_MIN_OPSET, ONNX_PROBABILITIES_NAME, OnnxExportError, tfjsToOnnx } from '../../src/export';
import { values } from '../helpers/backends';
import { perturb, testImages, type TestImages } from './helpers';

const NUM_CLASSES = 7;
// 8 images: the references (and perturb's batch-norm statistics) of the large models are most of this file's time
const BATCH = 8;
/** Largest |logit difference| accepted between tfjs and ONNX Runtime (both float32; different summation orders). */
const TOL = 1e-4;

let images: TestImages;

test.before(async () => {
  await initBackend('wasm');
  images = await testImages(BATCH);
  console.log(`  images: ${images.source}`);
});

/** Runs ONNX bytes in ONNX Runtime on `x` `[n, ...inShape]`; returns the session's names and the output. */
async function runOrt(bytes: Uint8Array, x: Float32Array, shape: number[]) {
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', x, shape) });
  const name = session.outputNames[0];
  const out = result[name];
  return { inputNames: session.inputNames, outputNames: session.outputNames, data: out.data as Float32Array, dims: [...out.dims] };
}

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

/** Asserts ONNX Runtime's output matches tfjs' within TOL (absolute) and returns [max |diff|, max |reference|]. */
function assertMatches(got: Float32Array, ref: Float32Array, what: string, tol = TOL): [number, number] {
  assert.is(got.length, ref.length, `${what}: output length`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  assert.ok(diff <= tol, `${what}: max |onnxruntime - tfjs| = ${diff.toExponential(2)} exceeds ${tol} (max |tfjs| ${scale.toFixed(3)})`);
  return [diff, scale];
}

for (const name of listModels()) {
  test(`${name}: ONNX Runtime logits match tfjs on ${BATCH} images (max |diff| <= ${TOL}, same argmax)`, async () => {
    const model = createModel(name, { numClasses: NUM_CLASSES, seed: 5 });
    const shape = [BATCH, 48, 48, 1];
    perturb(model, 17, images.x, shape);
    const bytes = tfjsToOnnx(model, { metadata: { classes: 'angry,disgust,fear,happy,sad,surprise,neutral' }, name: `ferlab-${name}` });

    // the file itself: opset, IR version, names, dynamic batch, metadata
    const proto = onnx.ModelProto.decode(bytes);
    assert.equal(
      proto.opsetImport.map((o) => [o.domain, Number(o.version)]),
      [['', 13]],
    );
    assert.is(Number(proto.irVersion), 7, 'IR version 7 for opset 13 (ONNX 1.8)');
    assert.is(proto.graph!.name, `ferlab-${name}`);
    assert.equal(
      proto.metadataProps.map((p) => [p.key, p.value]),
      [['classes', 'angry,disgust,fear,happy,sad,surprise,neutral']],
    );
    const dims = (v: onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    assert.equal(dims(proto.graph!.input![0]), ['batch', 48, 48, 1]);
    assert.equal(dims(proto.graph!.output![0]), ['batch', NUM_CLASSES]);
    assert.ok(!proto.graph!.node!.some((n) => n.opType === 'Dropout'), 'no Dropout nodes');
    const bnLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    const bnNodes = proto.graph!.node!.filter((n) => n.opType === 'BatchNormalization');
    assert.is(bnNodes.length, bnLayers.length, 'one BatchNormalization node per BatchNormalization layer');
    for (const n of bnNodes) assert.is(Math.fround(n.attribute![0].f!), Math.fround(1e-5), `${n.name} epsilon`);

    const ref = predict(model, images.x, shape);
    const got = await runOrt(bytes, images.x, shape);
    assert.equal(got.inputNames, [ONNX_INPUT_NAME]);
    assert.equal(got.outputNames, [ONNX_LOGITS_NAME]);
    assert.equal(got.dims, [BATCH, NUM_CLASSES]);
    const [diff, scale] = assertMatches(got.data, ref, name);
    assert.ok(scale >= 1, `${name}: logits are O(1) (max |logit| ${scale.toFixed(3)}), so a ${TOL} tolerance is a tight one`);
    assert.equal(argmaxRows(got.data, NUM_CLASSES), argmaxRows(ref, NUM_CLASSES), `${name}: argmax per image`);
    console.log(`  ${name}: max |diff| ${diff.toExponential(2)}, max |logit| ${scale.toFixed(2)}, ${(bytes.length / 2 ** 20).toFixed(1)} MiB`);

    // a batch of one: the batch dimension is dynamic
    const one = await runOrt(bytes, images.x.subarray(0, 48 * 48), [1, 48, 48, 1]);
    assertMatches(one.data, ref.subarray(0, NUM_CLASSES), `${name}, batch of 1`);
    model.dispose();
  });
}

test('softmax: true appends a Softmax; output `probabilities` = softmax(tfjs logits), rows sum to 1', async () => {
  const model = createModel('baseline', { numClasses: NUM_CLASSES, seed: 2 });
  const shape = [BATCH, 48, 48, 1];
  perturb(model, 3, images.x, shape);
  const ref = tf.tidy(() => tf.softmax(model.predict(tf.tensor(images.x, shape)) as tf.Tensor).dataSync() as Float32Array);
  const got = await runOrt(tfjsToOnnx(model, { softmax: true }), images.x, shape);
  assert.equal(got.outputNames, [ONNX_PROBABILITIES_NAME]);
  assertMatches(got.data, ref, 'probabilities', 1e-5);
  for (let r = 0; r < BATCH; r++) {
    const sum = got.data.subarray(r * NUM_CLASSES, (r + 1) * NUM_CLASSES).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
  }
  model.dispose();
});

/**
 * Hand-made model 1 (functional, so model.layers includes the InputLayer), input [batch, 21, 18, 3] (odd, non-square):
 * valid stride-2 conv with bias + fused relu; same conv with dilation 2, no bias, fused sigmoid; BatchNorm (4-D);
 * ReLU layer; same 3x3/2 max-pool (uneven padding); same 3x3/2 average pool (border cells averaged over the image
 * only); Activation tanh; Flatten; Dense + bias + relu; BatchNorm without center/scale (2-D); Dense without bias +
 * tanh; Dropout; Dense.
 */
function handModel1(seed: number): tf.LayersModel {
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const input = tf.input({ shape: [21, 18, 3], name: 'pixels' });
  let t = tf.layers
    .conv2d({ name: 'c_valid_s2', filters: 5, kernelSize: [3, 4], strides: 2, padding: 'valid', activation: 'relu', kernelInitializer: init() })
    .apply(input) as tf.SymbolicTensor;
  t = tf.layers
    .conv2d({
      name: 'c_same_d2',
      filters: 6,
      kernelSize: 3,
      dilationRate: 2,
      padding: 'same',
      useBias: false,
      activation: 'sigmoid',
      kernelInitializer: init(),
    })
    .apply(t) as tf.SymbolicTensor;
  t = tf.layers.batchNormalization({ name: 'bn4d', epsilon: 1e-3 }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.reLU({ name: 'relu_layer' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.conv2d({ name: 'c_same_s2', filters: 4, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init() }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.maxPooling2d({ name: 'max_same', poolSize: 3, strides: 2, padding: 'same' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.averagePooling2d({ name: 'avg_same', poolSize: 3, strides: 1, padding: 'same' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.activation({ name: 'tanh_layer', activation: 'tanh' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.flatten({ name: 'flat' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.dense({ name: 'd_relu', units: 10, activation: 'relu', kernelInitializer: init() }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.batchNormalization({ name: 'bn2d', center: false, scale: false }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.dense({ name: 'd_nobias', units: 9, useBias: false, activation: 'tanh', kernelInitializer: init() }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.dropout({ name: 'drop', rate: 0.3 }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.dense({ name: 'out', units: 4, kernelInitializer: init() }).apply(t) as tf.SymbolicTensor;
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
 * 'same' (uneven padding), bias, fused relu -> [7, 5, 8]; SeparableConv2D 4x3 'valid' without bias -> [4, 3, 6]; a
 * second branch SeparableConv2D x2 multiplier, stride 2, 'same', bias, fused tanh -> [4, 3, 6]; Add of the two branches; DepthwiseConv2D 3x3
 * 'same' without bias on the sum; Add of three inputs (the sum, that conv, and a 1x1 conv of it); the input itself
 * added to a 'same' separable conv of it (an Add whose inputs come in NHWC and NCHW); GlobalAveragePooling2D of both
 * paths' ends joined by a Dense each, added, Dense.
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
  const sum = apply(tf.layers.add({ name: 'add2' }), [b1, b2]);
  const c = apply(tf.layers.depthwiseConv2d({ name: 'dw_same', kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init() }), sum);
  const d = apply(tf.layers.conv2d({ name: 'pw', filters: 6, kernelSize: 1, kernelInitializer: init() }), sum);
  const sum3 = apply(tf.layers.add({ name: 'add3' }), [sum, c, d]);
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

test('hand-made models: every converter branch matches tfjs in ONNX Runtime, at every opset 13-21', async () => {
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
    for (let opset = ONNX_MIN_OPSET; opset <= ONNX_MAX_OPSET; opset++) {
      const got = await runOrt(tfjsToOnnx(model, { opset }), x, shape);
      assert.equal(got.dims, [6, h.outUnits], `${model.name} opset ${opset}: output shape`);
      assertMatches(got.data, ref, `${model.name} at opset ${opset}`);
    }
    model.dispose();
  }
  // the 'same' paddings of hand model 1, computed by hand with TensorFlow's rule (extra row/column at the bottom/right)
  const proto = onnx.ModelProto.decode(tfjsToOnnx(handModel1(1)));
  const attr = (op: string, name: string) =>
    proto
      .graph!.node!.filter((n) => n.opType === op)
      .map((n) => {
        const a = n.attribute!.find((x) => x.name === name)!;
        return a.type === onnx.AttributeProto.AttributeType.INTS ? a.ints!.map(Number) : Number(a.i);
      });
  // c_valid_s2: 21x18 -> floor((21-3)/2)+1 = 10 x floor((18-4)/2)+1 = 8; c_same_d2 (effective kernel 5): total 4 -> [2, 2];
  // c_same_s2 on 10x8: out 5x4, total H (5-1)*2+3-10 = 1 -> [0, 1], W (4-1)*2+3-8 = 1 -> [0, 1]; pads [top, left, bottom, right]
  assert.equal(attr('Conv', 'pads'), [
    [0, 0, 0, 0],
    [2, 2, 2, 2],
    [0, 0, 1, 1],
  ]);
  // max_same on 5x4, 3x3 / 2: out 3x2, total H 2*2+3-5 = 2 -> [1, 1], W 1*2+3-4 = 1 -> [0, 1]
  assert.equal(attr('MaxPool', 'pads'), [[1, 0, 1, 1]]);
  assert.equal(attr('AveragePool', 'count_include_pad'), [0]);

  // hand model 4: grouped convs (group = input channels) with their weights' shapes; one Transpose of the input
  // although three layers read it; a chain of two Add nodes for the three inputs of add3
  const p4 = onnx.ModelProto.decode(tfjsToOnnx(handModel4(1)));
  const nodes = p4.graph!.node!;
  const init = new Map(p4.graph!.initializer!.map((t) => [t.name!, t.dims!.map(Number)]));
  const groups = nodes
    .filter((n) => n.opType === 'Conv')
    .map((n) => [n.name, Number(n.attribute!.find((a) => a.name === 'group')?.i ?? 1), init.get(n.input![1])]);
  assert.equal(groups, [
    ['dw_m2_s2/conv', 4, [8, 1, 3, 3]],
    ['sep_valid/depthwise', 8, [8, 1, 4, 3]],
    ['sep_valid', 1, [6, 8, 1, 1]],
    ['sep_m2_s2/depthwise', 8, [16, 1, 3, 3]],
    ['sep_m2_s2/pointwise', 1, [6, 16, 1, 1]],
    ['dw_same', 6, [6, 1, 3, 3]],
    ['pw', 1, [6, 6, 1, 1]],
    ['sep_same/depthwise', 4, [4, 1, 3, 3]],
    ['sep_same', 1, [4, 4, 1, 1]],
  ]);
  assert.is(nodes.filter((n) => n.opType === 'Transpose' && n.input![0] === ONNX_INPUT_NAME).length, 1, 'the input is transposed once');
  assert.is(nodes.filter((n) => n.opType === 'Add').length, 5, 'Add nodes: add2, add3 (2), add_mixed, add_heads');
  await initBackend('wasm');
});

test('a model whose tfjs output is 4-D keeps NHWC at the output (Transpose back from NCHW)', async () => {
  const m = tf.sequential({ name: 'maps' });
  m.add(tf.layers.conv2d({ inputShape: [6, 5, 2], filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  const shape = [2, 6, 5, 2];
  const x = values(2 * 6 * 5 * 2, 4);
  const got = await runOrt(tfjsToOnnx(m), x, shape);
  assert.equal(got.dims, [2, 6, 5, 3]);
  assertMatches(got.data, predict(m, x, shape), 'conv feature maps', 1e-5);
});

test('a model without nodes (Dropout only) exports an Identity', async () => {
  const m = tf.sequential();
  m.add(tf.layers.dropout({ inputShape: [4], rate: 0.5 }));
  const proto = onnx.ModelProto.decode(tfjsToOnnx(m));
  assert.equal(
    proto.graph!.node!.map((n) => n.opType),
    ['Identity'],
  );
  const x = Float32Array.from([1, -2, 3, -4]);
  const got = await runOrt(tfjsToOnnx(m), x, [1, 4]);
  assert.equal(Array.from(got.data), [1, -2, 3, -4]);
});

test('layers, activations and settings it cannot convert are clear errors naming the layer', () => {
  const expectError = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert.instance(e, OnnxExportError);
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
  const SUPPORTED =
    /Supported layers: InputLayer, Conv2D, BatchNormalization, Activation, ReLU, MaxPooling2D, AveragePooling2D, .*Dense, Dropout; activations: linear, relu/;
  // a layer class it does not know
  const up = seq(tf.layers.upSampling2d({ inputShape: [4, 4, 1], size: [2, 2], name: 'upsample' }), tf.layers.flatten());
  expectError(() => tfjsToOnnx(up), /cannot convert layer 'upsample' \(UpSampling2D\): this layer class is not supported/);
  expectError(() => tfjsToOnnx(up), SUPPORTED);
  const dwDil = seq(tf.layers.depthwiseConv2d({ inputShape: [8, 8, 2], kernelSize: 3, dilationRate: 2, name: 'dw' }));
  expectError(() => tfjsToOnnx(dwDil), /cannot convert layer 'dw' \(DepthwiseConv2D\): dilationRate \[2, 2\]/);
  // an activation it does not know, fused and as a layer
  const elu = seq(tf.layers.dense({ inputShape: [3], units: 2, activation: 'elu', name: 'd_elu' }));
  expectError(() => tfjsToOnnx(elu), /cannot convert layer 'd_elu' \(Dense\): activation 'elu' is not supported/);
  const selu = seq(tf.layers.activation({ inputShape: [3], activation: 'selu', name: 'a_selu' }));
  expectError(() => tfjsToOnnx(selu), /cannot convert layer 'a_selu' \(Activation\): activation 'selu'/);
  // settings
  const relu6 = seq(tf.layers.reLU({ inputShape: [3], maxValue: 6, name: 'relu6' }));
  expectError(() => tfjsToOnnx(relu6), /layer 'relu6' \(ReLU\): maxValue 6/);
  const nchw = seq(tf.layers.conv2d({ inputShape: [1, 4, 4], filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', name: 'cf' }));
  expectError(() => tfjsToOnnx(nchw), /layer 'cf' \(Conv2D\): dataFormat 'channelsFirst'/);
  const bnAxis = seq(tf.layers.batchNormalization({ inputShape: [4, 4, 2], axis: 1, name: 'bn_h' }));
  expectError(() => tfjsToOnnx(bnAxis), /layer 'bn_h' \(BatchNormalization\): axis 1/);
  const dense3d = seq(tf.layers.dense({ inputShape: [4, 3], units: 2, name: 'd3' }));
  expectError(() => tfjsToOnnx(dense3d), /layer 'd3' \(Dense\): input of rank 3/);
  // models it cannot express
  const a = tf.input({ shape: [3] });
  const b = tf.input({ shape: [3] });
  const added = tf.layers.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
  expectError(() => tfjsToOnnx(tf.model({ inputs: [a, b], outputs: added })), /one input and one output/);
  const c = tf.input({ shape: [3] });
  const twice = tf.layers.multiply({ name: 'square' }).apply([c, c]) as tf.SymbolicTensor;
  expectError(() => tfjsToOnnx(tf.model({ inputs: c, outputs: twice })), /layer 'square' \(Multiply\) takes 2 inputs; .* only for Add/);
  // options
  const ok = seq(tf.layers.dense({ inputShape: [3], units: 2 }));
  expectError(() => tfjsToOnnx(ok, { opset: 12 }), /opset 12 is not supported: expected an integer from 13 to 21/);
  expectError(() => tfjsToOnnx(ok, { opset: 22 }), /opset 22 is not supported/);
  const soft = seq(tf.layers.dense({ inputShape: [3], units: 2, activation: 'softmax' }), tf.layers.dropout({ rate: 0.1 }));
  expectError(() => tfjsToOnnx(soft, { softmax: true }), /already ends with a softmax/);
});

test.run();
