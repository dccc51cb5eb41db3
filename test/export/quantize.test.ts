/**
 * Weight quantization in the tfjs manifest format: float16 bit patterns worked out by hand from IEEE 754 and checked
 * against NumPy's `astype(np.float16)`, uint8 min/scale/bytes worked out by hand and from tensorflowjs'
 * quantization.py, the manifest layout tfjs reads, and whole models quantized, reloaded with plain
 * `tf.loadLayersModel(tf.io.fromMemory(...))` and compared with the float32 model.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../../src/models';
import { initBackend } from '../../src/backend/select';
import { encodeFloat16, float32ToFloat16Bits, quantizeModel, quantizeUint8, quantizeWeights } from '../../src/export';
import { perturb, testImages } from './helpers';

test.before(async () => {
  await initBackend('cpu');
});

const hex = (a: ArrayLike<number>, width: number) => Array.from(a, (v) => v.toString(16).padStart(width, '0')).join('');

test('float16: hand-worked IEEE 754 binary16 encodings, round to nearest, ties to even', () => {
  const cases: Array<[number, number, string]> = [
    [1, 0x3c00, 'exponent 15 (bias), mantissa 0'],
    [-2, 0xc000, 'sign bit, exponent 16'],
    [65504, 0x7bff, 'largest finite half: (2 - 2^-10) * 2^15'],
    [65519, 0x7bff, 'below the midpoint 65520 between 65504 and 2^16: rounds down'],
    [65520, 0x7c00, 'the midpoint; 65504 has an odd mantissa, so the tie goes up to 2^16 = overflow = Infinity'],
    [65536, 0x7c00, 'overflow'],
    [0.1, 0x2e66, '0.1 = 1.6 * 2^-4: mantissa round(0.6 * 1024) = 614 = 0x266, exponent 11'],
    [1e-8, 0x0000, 'below 2^-25 (half the smallest subnormal 2^-24 = 5.96e-8): zero'],
    [2 ** -24, 0x0001, 'smallest subnormal'],
    [2 ** -25, 0x0000, 'tie between 0 and 2^-24: to even (0)'],
    [3 * 2 ** -25, 0x0002, 'tie between 1 and 2 subnormal steps: to even (2)'],
    [0.75 * 2 ** -24, 0x0001, 'above the midpoint: up to the smallest subnormal'],
    [2 ** -14, 0x0400, 'smallest normal'],
    [2 ** -14 - 2 ** -25, 0x0400, 'tie between the largest subnormal 0x3ff (odd) and 2^-14 (even): up'],
    [1 + 2 ** -11, 0x3c00, 'tie between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01): down to even'],
    [1 + 3 * 2 ** -11, 0x3c02, 'tie between 0x3c01 (odd) and 0x3c02 (even): up to even'],
    [-0, 0x8000, 'negative zero keeps its sign'],
    [Infinity, 0x7c00, '+Infinity'],
    [-Infinity, 0xfc00, '-Infinity'],
    [NaN, 0x7e00, 'the default (quiet) NaN'],
  ];
  for (const [x, want, why] of cases) {
    const got = float32ToFloat16Bits(x);
    assert.is(got, want, `${x}: expected 0x${want.toString(16)}, got 0x${got.toString(16)} (${why})`);
  }
});

test('float16: 128 values over 48 binades (subnormals to overflow) match NumPy astype(np.float16)', () => {
  // x_i = float32(((i * 7919) % 20001 - 10000) / 1000 * 2^(i % 48 - 30)): exact in both languages (one correctly
  // rounded division, a power-of-2 product, one rounding to float32). Expected bits from NumPy 2.4.6:
  // np.array([...], np.float32).astype(np.float16).view(np.uint16).tobytes().hex() (little-endian pairs)
  const NUMPY =
    '00800080000001800000050002800b001b800a0093005d8042018783dc00640c9b8a9e107797440b30206b9f3624dfab0412f7331eb49b3724c0c3b18f4786c8' +
    'cb4a58d423ca275beedcfa5d8ce8b2e0bf6e56f12a7100fc53f6007c00fc007c00800080000001800000050002800b001a800b0094005a8047017c83f400700c' +
    '6b8ab6105f97600c3c203b9f4e24c7ab7b18083406b4cb3718c046b0a7476ec8fa4a4cd464c93f5bd6dc2a5e80e853e0d76e3ef15a7100fcf4f5007c00fc007c' +
    '00800080000001800000050002800b001a800c00960057804d0170830c017c0c3b8ace1047971f0d48200c9f6524b0ab751b1334dcb3fa370cc091adbf4756c8';
  const x = Float32Array.from({ length: 128 }, (_, i) => ((((i * 7919) % 20001) - 10000) / 1000) * 2 ** ((i % 48) - 30));
  const got = encodeFloat16(x);
  const le = new Uint8Array(got.length * 2);
  got.forEach((h, i) => {
    le[2 * i] = h & 0xff;
    le[2 * i + 1] = h >> 8;
  });
  for (let i = 0; i < 128; i++) {
    const want = parseInt(NUMPY.slice(4 * i + 2, 4 * i + 4) + NUMPY.slice(4 * i, 4 * i + 2), 16);
    assert.is(got[i], want, `x[${i}] = ${x[i]}: NumPy 0x${want.toString(16)}, got 0x${got[i].toString(16)}`);
  }
  assert.is(hex(le, 2), NUMPY);
});

test('float16: tfjs decodes every encoding to the nearest half (relative error <= 2^-11 for normals)', () => {
  // tfjs' own decoder (io_utils getFloat16Decoder via decodeWeights) is the independent reader here
  const n = 4096;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37) * 2 ** ((i % 30) - 14));
  const bits = encodeFloat16(x);
  const weights = tf.io.decodeWeights(bits.buffer as ArrayBuffer, [{ name: 'w', shape: [n], dtype: 'float32', quantization: { dtype: 'float16' } }]);
  const decoded = weights['w'].dataSync();
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[i]);
    const err = Math.abs(decoded[i] - x[i]);
    const bound = a >= 2 ** -14 ? a * 2 ** -11 : 2 ** -25; // half an ulp: relative for normals, absolute for subnormals
    assert.ok(err <= bound, `x[${i}] = ${x[i]} decoded ${decoded[i]}: error ${err} > ${bound}`);
  }
});

test('uint8: hand-worked affine quantization (nudged zero, ties to even), as tensorflowjs quantization.py', () => {
  // [-1, 2]: scale = 3/255; zero point round(1 / scale) = 85, so min stays -1 (nudging changes nothing);
  // q = (x + 1) / scale = 85 (x + 1): -0.5 -> 42.5 -> 42, 0.5 -> 127.5 -> 128, 1.5 -> 212.5 -> 212 (ties to even),
  // 0.25 -> 106.25 -> 106, -0.75 -> 21.25 -> 21, 0 -> 85, 1 -> 170, 2 -> 255
  const t = quantizeUint8(Float32Array.from([-1, -0.5, 0, 0.5, 1, 1.5, 2, 0.25, -0.75]));
  assert.equal(Array.from(t.data), [0, 42, 85, 128, 170, 212, 255, 106, 21]);
  assert.is(t.min, -1);
  assert.is(t.scale, 3 / 255);

  // the example in tensorflowjs write_weights.py `_quantize_entry`: [0, -0.1, 1.2] -> [20, 0, 255],
  // min -0.10196078817, scale 0.00509803940852. By hand: float32 -0.1 = -0.10000000149, 1.2 = 1.20000004768;
  // scale = 1.30000004917 / 255 = 0.00509803941; zero point round(0.1 / scale) = round(19.6154) = 20, so
  // min = -20 * scale = -0.10196078817 (0 is exactly q = 20); 1.2 is clipped to max = 255 * scale + min = 1.19803922
  const ex = quantizeUint8(Float32Array.from([0, -0.1, 1.2]));
  assert.equal(Array.from(ex.data), [20, 0, 255]);
  const scale = (Math.fround(1.2) - Math.fround(-0.1)) / 255;
  assert.is(ex.scale, scale);
  assert.is(ex.min, -20 * scale);
  assert.ok(Math.abs(ex.min - -0.10196078817) < 1e-11 && Math.abs(ex.scale - 0.00509803940852) < 1e-14, `${ex.min} ${ex.scale}`);
  // 0 is represented exactly: q * scale + min = 0 for q = 20
  assert.is(20 * ex.scale + ex.min, 0);

  // the clip matters when the zero point is an exact tie: [-1.5, 253.5] gives scale 1 and zero point round(1.5) = 2
  // (to even), so min = -2 and max = 253; 253.5 is clipped to 253 (q = 255; unclipped it would be 255.5 -> 256)
  const tie = quantizeUint8(Float32Array.from([-1.5, 0, 253.5]));
  assert.equal(Array.from(tie.data), [0, 2, 255]);
  assert.equal([tie.min, tie.scale], [-2, 1]);

  // all positive (BatchNorm moving variance): no nudging, min = the minimum, q = 0 and 255 at the ends
  const pos = quantizeUint8(Float32Array.from([0.5, 1, 2.5]));
  assert.equal(Array.from(pos.data), [0, 64, 255]); // (1 - 0.5) / (2 / 255) = 63.75 -> 64
  assert.is(pos.min, 0.5);
  assert.is(pos.scale, 2 / 255);

  // a constant tensor (e.g. moving variance 1 before training): all zeros, scale 1, min = the value
  const c = quantizeUint8(new Float32Array(5).fill(0.25));
  assert.equal(Array.from(c.data), [0, 0, 0, 0, 0]);
  assert.equal([c.min, c.scale], [0.25, 1]);
  assert.throws(() => quantizeUint8(Float32Array.from([1, NaN])), /finite values; value 1 is NaN/);
});

test('uint8: tensors match tensorflowjs quantization.py quantize_weights (run under NumPy 2.4.6)', () => {
  // T1 mixed signs (nudged min), T2 small positive values (no nudging), T3 a float64-vs-float32 rounding case; bytes and {min, scale} printed by
  // quantization.quantize_weights(np.array([...], np.float32), np.uint8) from tensorflow/tfjs tfjs-converter/python
  const cases = [
    {
      x: Float32Array.from({ length: 24 }, (_, i) => (((i * 7919) % 2001) - 700) / 1000),
      q: '00fff4e8ddd2c6bbb0a4998e82776c60554a3f33281d1106',
      min: -0.6987764519803664,
      scale: 0.007513725290111467,
    },
    {
      x: Float32Array.from({ length: 24 }, (_, i) => ((((i * 7919) % 1000) + 500) / 1000) * 0.01),
      q: '00f7e2ccb6a08a755f49331d08ffe9d3bea8927c66513b25',
      min: 0.004999999888241291,
      scale: 3.713725463432424e-5,
    },
    {
      // 16 draws of N(0, 0.1) as float32 (bytes below): value 14 lands within float32 rounding of a .5 boundary, where
      // the converter's expression gives q = 0x91 under NumPy >= 2 (float64) but 0x90 under NumPy 1.x (float32)
      x: new Float32Array(
        Uint8Array.from(
          'bafb5b3c8266bfbd58e82fbed2ec57bddb8b723d3ac5f33c37016ebca26dca3ddc6b1a3d2fe428be12a01ebd2ff70c3e03203ebd6d2c19be8cd2463b4ae218be'.match(/../g)!,
          (b) => parseInt(b, 16),
        ).buffer,
      ),
      q: '99410063bfa782dfad066eff68139113',
      min: -0.17231919356420927,
      scale: 0.0012135154476352766,
    },
  ];
  for (const [k, c] of cases.entries()) {
    const got = quantizeUint8(c.x);
    assert.is(hex(got.data, 2), c.q, `T${k + 1} bytes`);
    assert.is(got.min, c.min, `T${k + 1} min`);
    assert.is(got.scale, c.scale, `T${k + 1} scale`);
  }
});

test('quantizeWeights: manifest entries and bytes as tensorflowjs_converter writes them; tfjs decodes them', () => {
  const specs: tf.io.WeightsManifestEntry[] = [
    { name: 'a/kernel', shape: [2, 2], dtype: 'float32' },
    { name: 'steps', shape: [2], dtype: 'int32' },
    { name: 'a/bias', shape: [3], dtype: 'float32' },
  ];
  const a = Float32Array.from([-1, 0, 0.5, 2]);
  const steps = Int32Array.from([7, -3]);
  const bias = Float32Array.from([1, 1.00048828125, 65520]);
  const data = [a.buffer, steps.buffer, bias.buffer]; // WeightData may be several buffers
  const half = quantizeWeights(specs, data, 'float16');
  assert.equal(half.specs, [
    { name: 'a/kernel', shape: [2, 2], dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } },
    { name: 'steps', shape: [2], dtype: 'int32' },
    { name: 'a/bias', shape: [3], dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } },
  ]);
  // -1 = 0xbc00, 0, 0.5 = 0x3800, 2 = 0x4000 | int32 7, -3 unchanged | 1 = 0x3c00, 1 + 2^-11 (tie) -> 0x3c00, 65520 -> inf
  assert.is(hex(new Uint8Array(half.data), 2), '00bc000000380040' + '07000000fdffffff' + '003c003c007c');
  const u8 = quantizeWeights(specs, data, 'uint8');
  assert.equal(JSON.stringify(u8.specs[0].quantization), JSON.stringify({ dtype: 'uint8', min: -1, scale: 3 / 255, original_dtype: 'float32' }));
  assert.equal(u8.specs[2].quantization, { dtype: 'uint8', min: 1, scale: (65520 - 1) / 255, original_dtype: 'float32' });
  // a/kernel: q = 85 (x + 1) -> 0, 85, 128 (127.5, tie to even), 255 | int32 | a/bias: 0, round(0.00048828125 / 256.93) = 0, 255
  assert.is(hex(new Uint8Array(u8.data), 2), '005580ff' + '07000000fdffffff' + '0000ff');

  // tfjs' reader (decodeWeights) turns them back into float32 / int32
  const back = tf.io.decodeWeights(u8.data, u8.specs);
  assert.equal(Array.from(back['steps'].dataSync()), [7, -3]);
  // tfjs dequantizes as q * scale + min, stored as float32: each value within scale / 2 of the original
  const dequant = back['a/kernel'].dataSync();
  assert.equal(
    Array.from(dequant),
    [0, 85, 128, 255].map((q) => Math.fround(q * (3 / 255) - 1)),
  );
  a.forEach((v, i) => assert.ok(Math.abs(dequant[i] - v) <= 1.5 / 255 + 1e-7, `a/kernel[${i}]: ${v} -> ${dequant[i]}`));
  const backHalf = tf.io.decodeWeights(half.data, half.specs);
  assert.equal(Array.from(backHalf['a/bias'].dataSync()), [1, 1, Infinity]);

  assert.throws(() => quantizeWeights(half.specs, half.data, 'uint8'), /weight 'a\/kernel' is already quantized \(float16\)/);
  assert.throws(() => quantizeWeights(specs, a.buffer, 'uint8'), /weight 'steps' needs bytes 16-24 but the weight data holds 16 bytes/);
  assert.throws(() => quantizeWeights(specs.slice(0, 1), data, 'uint8'), /describe 16 bytes but the weight data holds 36/);
  assert.throws(() => quantizeWeights([{ name: 's', shape: [1], dtype: 'string' }], new ArrayBuffer(8), 'uint8'), /weight 's' has dtype 'string'/);
  assert.throws(() => quantizeWeights(specs.slice(0, 1), Float32Array.from([0, NaN, 1, 2]).buffer, 'uint8'), /weight 'a\/kernel': .*value 1 is NaN/);
  assert.throws(() => quantizeWeights(specs, data, 'int4' as 'uint8'), /'int4' is not one of float16, uint8/);
});

/**
 * Largest |logit difference| between the reloaded quantized model and the float32 model, as a fraction of the largest
 * |logit|. float16 rounds every weight to within 2^-11 (0.05%) of its value; through 4 weight layers plus BatchNorm,
 * with cancellation in the sums, the logits move by about 0.1% (measured 0.11% on baseline): 1% leaves a margin of 9x.
 * uint8 puts every weight within half a step, (max - min) / 510 of its tensor, i.e. about 1% of a typical weight; the
 * logits move by about 2% (measured 2.1%): 5% leaves a margin of 2.4x.
 */
const TOLERANCE = { float16: 0.01, uint8: 0.05 } as const;

test('quantizeModel: baseline reloads with tf.loadLayersModel(tf.io.fromMemory(...)); logits close to float32', async () => {
  const images = await testImages(16);
  const shape = [16, 48, 48, 1];
  const model = createModel('baseline', { numClasses: 7, seed: 4 });
  perturb(model, 9, images.x, shape);
  const ref = tf.tidy(() => (model.predict(tf.tensor(images.x, shape)) as tf.Tensor).dataSync() as Float32Array);
  const refMax = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const params = model.countParams();
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);

  for (const dtype of ['float16', 'uint8'] as const) {
    const q = await quantizeModel(model, dtype);
    // sizes: 2 bytes or 1 byte per parameter (every baseline weight is float32)
    assert.is(q.weightsBin.length, params * (dtype === 'float16' ? 2 : 1), `${dtype}: weights.bin bytes`);
    assert.equal(q.modelJson.weightsManifest[0].paths, ['weights.bin']);
    assert.ok(
      q.modelJson.weightsManifest[0].weights.every((w) => w.quantization?.dtype === dtype && w.dtype === 'float32'),
      'every weight quantized, declared float32',
    );
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(q.artifacts));
    // every reloaded weight within half a quantization step of the original
    reloaded.getWeights().forEach((w, i) => {
      const v = w.dataSync();
      const o = weights[i];
      const spec = q.modelJson.weightsManifest[0].weights[i];
      for (let j = 0; j < o.length; j++) {
        const a = Math.abs(o[j]);
        const bound = dtype === 'float16' ? Math.max(a * 2 ** -11, 2 ** -25) : spec.quantization!.scale! / 2 + 1e-7 * (1 + a);
        assert.ok(Math.abs(v[j] - o[j]) <= bound, `${dtype} ${spec.name}[${j}]: ${o[j]} reloaded as ${v[j]} (bound ${bound})`);
      }
    });
    const got = tf.tidy(() => (reloaded.predict(tf.tensor(images.x, shape)) as tf.Tensor).dataSync() as Float32Array);
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(got[i] - ref[i]));
    const tol = TOLERANCE[dtype] * refMax;
    assert.ok(diff <= tol, `${dtype}: max |logit diff| ${diff.toExponential(2)} exceeds ${TOLERANCE[dtype]} x max |logit| ${refMax.toFixed(3)}`);
    assert.ok(diff > 0, `${dtype}: the reloaded model differs from float32 (the weights were quantized)`);
    // argmax: the same wherever the float32 top-2 margin exceeds 2 x tol (where quantization cannot swap the top class)
    let checked = 0;
    for (let r = 0; r < 16; r++) {
      const row = (v: Float32Array) => Array.from(v.subarray(r * 7, r * 7 + 7));
      const sorted = row(ref).sort((p, q) => q - p);
      if (sorted[0] - sorted[1] <= 2 * tol) continue;
      checked++;
      const am = (v: number[]) => v.indexOf(Math.max(...v));
      assert.is(am(row(got)), am(row(ref)), `${dtype}: image ${r} argmax`);
    }
    console.log(`  ${dtype}: max |logit diff| ${diff.toExponential(2)} (max |logit| ${refMax.toFixed(2)}); argmax checked on ${checked}/16 images`);
    reloaded.dispose();
  }
  model.dispose();
});

test.run();
