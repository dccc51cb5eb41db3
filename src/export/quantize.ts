/**
 * Weight quantization in the tfjs weights-manifest format, written the way tensorflowjs_converter writes it
 * (`--quantize_float16` / `--quantize_uint8` with no name patterns: every float32 weight), so that plain
 * `tf.loadLayersModel` reads the result: tfjs can load quantized weights (tfjs-core src/io/io_utils.ts `decodeWeights`
 * dequantizes `uint8` as `q * scale + min` and `float16` with `getFloat16Decoder`) but has no writer.
 *
 * Sources: tfjs-converter/python/tensorflowjs/quantization.py (`quantize_weights`, `_get_affine_quantization_range`)
 * and write_weights.py (`_quantize_entry`: only float32 tensors are quantized; `_get_weights_manifest_for_group`: the
 * manifest entry keeps `dtype: 'float32'` and gains `quantization: { dtype, min, scale, original_dtype }`), in the
 * tensorflow/tfjs repository.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/paths';
import { roundHalfEven } from '../util/round';

/** Storage types of quantized weights that ferlab writes (the converter's `--quantize_float16` / `--quantize_uint8`). */
export type WeightQuantization = 'float16' | 'uint8';
export const WEIGHT_QUANTIZATIONS: readonly WeightQuantization[] = ['float16', 'uint8'];

/** A weights-manifest entry as the converter writes it for a quantized weight (tfjs' type plus `original_dtype`). */
export type QuantizedWeightsManifestEntry = tf.io.WeightsManifestEntry & {
  quantization?: tf.io.WeightsManifestEntry['quantization'] & { original_dtype?: string };
};

// Scratch views for reading the bits of a float32 (float32ToFloat16Bits).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * IEEE 754 binary16 bits of a float32 value, rounded to nearest, ties to even, as NumPy's `astype(np.float16)` (what
 * the converter calls): overflow (|x| >= 65520, the midpoint between 65504 and 2^16) gives +-Infinity (0x7c00), values
 * below 2^-14 become subnormals (multiples of 2^-24), |x| <= 2^-25 gives +-0, NaN stays NaN (the default NaN gives
 * 0x7e00), the sign of zero is kept.
 *
 * ferlab's own code: no float16 encoder is among the installed packages (tfjs only decodes float16; Node 20 has no
 * Math.f16round / Float16Array, which arrive with ES2025). `@petamoriken/float16` on npm does this too.
 *
 * @param x a number; it is first rounded to float32 (Math.fround), as the weights are float32.
 * @returns the 16-bit pattern, 0..0xffff.
 */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  return halfBitsOfFloatBits(u32[0]);
}

/** {@link float32ToFloat16Bits} on the bit pattern of a float32 (so NaN payloads survive). */
function halfBitsOfFloatBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  if (exponent === 0xff) {
    // Infinity, or NaN keeping the top 10 payload bits (NumPy's npy_floatbits_to_halfbits; never the Infinity pattern)
    const payload = (bits & 0x7fffff) >>> 13;
    return sign | ((bits & 0x7fffff) === 0 ? 0x7c00 : 0x7c00 + (payload || 1));
  }
  u32[0] = bits & 0x7fffffff;
  const a = f32[0];
  // unbiased exponent of a (float32 subnormals are far below half's range and use -14 like half's subnormals)
  const e = Math.max(exponent - 127, -14);
  if (e > 15) return sign | 0x7c00;
  // a = m * 2^(e - 10) with m in [1024, 2048) for normals (m < 1024 for subnormals); scaling by a power of 2 is exact
  const m = roundHalfEven(a * 2 ** (10 - e));
  // biased exponent (e + 15) times 1024 plus the mantissa; m rounding up to 2048 carries into the exponent
  const h = (e + 14) * 1024 + m;
  return sign | Math.min(h, 0x7c00);
}

/** {@link float32ToFloat16Bits} of every value: `[n]` float32 -> `[n]` uint16 bit patterns. */
export function encodeFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = halfBitsOfFloatBits(bits[i]);
  return out;
}

/** uint8 affine quantization of one tensor: value ~= q * scale + min. */
export interface AffineUint8 {
  /** `[n]` quantized values 0..255. */
  data: Uint8Array;
  /** The (nudged) minimum: the value of q = 0. */
  min: number;
  /** Step between consecutive q; 1 for a constant tensor. */
  scale: number;
}

/**
 * uint8 affine quantization of one float32 tensor, as tensorflowjs/quantization.py `quantize_weights` computes it:
 * min/max of the data (float32 values taken as float64); a constant tensor gives q = 0, scale = 1, min = the value;
 * otherwise scale = (max - min) / 255 and, when min <= 0 <= max, the range is "nudged" so that 0.0 is exactly
 * representable (`_get_affine_quantization_range`, after TF-Lite's NudgeQuantizationRange): zero point
 * z = round((0 - min) / scale), min = -z * scale, max = 255 * scale + min; then q = round((clip(x, min, max) - min) /
 * scale). Rounding is NumPy's (half to even).
 *
 * Arithmetic is float64, as the converter's expression evaluates under NumPy >= 2 (NEP 50: the float64 scalars
 * `min` / `scale` promote the float32 array), which current tensorflowjs installs use (its requirements.txt no longer
 * pins NumPy). Under NumPy 1.x (value-based casting) the same expression ran in float32, which can round a value
 * lying within float32 rounding error of a .5 boundary to the neighbouring q; the manifest's min and scale are the same.
 *
 * @throws Error when a value is NaN or infinite (the range, hence the scale, would not be finite).
 */
export function quantizeUint8(values: Float32Array): AffineUint8 {
  const n = values.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new Error(`uint8 quantization needs finite values; value ${i} is ${v}`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const data = new Uint8Array(n);
  if (n === 0) return { data, min: 0, scale: 1 };
  if (lo === hi) return { data, min: lo, scale: 1 };
  const quantMax = 255;
  const scale = (hi - lo) / quantMax;
  let min = lo;
  let max = hi;
  if (lo <= 0 && 0 <= hi) {
    const zeroPoint = roundHalfEven((0 - lo) / scale);
    min = -zeroPoint * scale;
    max = quantMax * scale + min;
  }
  for (let i = 0; i < n; i++) {
    const clipped = Math.min(Math.max(values[i], min), max);
    const q = roundHalfEven((clipped - min) / scale);
    if (!(q >= 0 && q <= quantMax)) throw new Error(`internal: quantized value ${q} of value ${i} (${values[i]}) is outside 0..255`);
    data[i] = q;
  }
  return { data, min, scale };
}

/** Weights in the tfjs manifest format: entries in order and their concatenated bytes. */
export interface WeightsInManifestFormat {
  specs: QuantizedWeightsManifestEntry[];
  data: ArrayBuffer;
}

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/**
 * Quantizes the float32 weights of a tfjs weights manifest (`weightSpecs` + `weightData`, as `model.save` produces
 * them) like tensorflowjs_converter with `--quantize_<dtype>` and no name patterns: every float32 weight (kernels,
 * biases, BatchNorm gamma/beta and moving statistics) is quantized, each tensor with its own min/scale; weights of
 * other dtypes (int32, bool, complex64) are copied unchanged (write_weights.py `_quantize_entry`).
 *
 * Output bytes, little-endian, in spec order: float16 = 2 bytes per value (IEEE binary16, {@link float32ToFloat16Bits});
 * uint8 = 1 byte per value ({@link quantizeUint8}). Entries keep `dtype: 'float32'` and gain
 * `quantization: { dtype: 'uint8', min, scale, original_dtype: 'float32' }` or `{ dtype: 'float16', original_dtype:
 * 'float32' }` (key order as the converter writes them).
 *
 * @param specs weights-manifest entries, in the order of their bytes in `data`.
 * @param data the concatenated weight bytes (one buffer or several, as tfjs' WeightData).
 * @throws Error naming the weight when an entry is already quantized, is a string tensor, has non-finite values
 *   (uint8), or when `data` holds fewer or more bytes than the specs describe; an unknown `dtype` argument.
 */
export function quantizeWeights(specs: tf.io.WeightsManifestEntry[], data: tf.io.WeightData, dtype: WeightQuantization): WeightsInManifestFormat {
  if (!WEIGHT_QUANTIZATIONS.includes(dtype)) throw new Error(`quantization dtype '${dtype}' is not one of ${WEIGHT_QUANTIZATIONS.join(', ')}`);
  const bytes = new Uint8Array(Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data);
  const chunks: Uint8Array[] = [];
  const outSpecs: QuantizedWeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) throw new Error(`weight '${spec.name}' is already quantized (${spec.quantization.dtype})`);
    const per = BYTES_PER_VALUE[spec.dtype];
    if (per === undefined) throw new Error(`weight '${spec.name}' has dtype '${spec.dtype}'; quantizeWeights handles float32, int32, bool, complex64`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const end = offset + size * per;
    if (end > bytes.length) throw new Error(`weight '${spec.name}' needs bytes ${offset}-${end} but the weight data holds ${bytes.length} bytes`);
    if (spec.dtype !== 'float32') {
      chunks.push(bytes.slice(offset, end));
      outSpecs.push({ ...spec });
      offset = end;
      continue;
    }
    const values = new Float32Array(bytes.slice(offset, end).buffer);
    if (dtype === 'float16') {
      const half = encodeFloat16(values);
      const out = new Uint8Array(half.length * 2);
      const view = new DataView(out.buffer);
      half.forEach((h, i) => view.setUint16(i * 2, h, true));
      chunks.push(out);
      outSpecs.push({ ...spec, quantization: { dtype: 'float16', original_dtype: 'float32' } });
    } else {
      let q: AffineUint8;
      try {
        q = quantizeUint8(values);
      } catch (e) {
        throw new Error(`weight '${spec.name}': ${(e as Error).message}`);
      }
      chunks.push(q.data);
      outSpecs.push({ ...spec, quantization: { dtype: 'uint8', min: q.min, scale: q.scale, original_dtype: 'float32' } });
    }
    offset = end;
  }
  if (offset !== bytes.length) throw new Error(`the weight specs describe ${offset} bytes but the weight data holds ${bytes.length}`);
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return { specs: outSpecs, data: out.buffer };
}

/** A quantized model: model.json content, the weights file, and the same as tfjs ModelArtifacts. */
export interface QuantizedModel {
  /** Content of model.json (tfjs layers-model format); its weightsManifest points at `weightsPath`. */
  modelJson: tf.io.ModelJSON;
  /** Content of the weights file named in modelJson.weightsManifest[0].paths[0]. */
  weightsBin: Uint8Array;
  /** For `tf.loadLayersModel(tf.io.fromMemory(artifacts))`. */
  artifacts: tf.io.ModelArtifacts;
}

function ferlabVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

/**
 * Saves a tfjs Layers model with its float32 weights quantized ({@link quantizeWeights}): one weights group, one file
 * (`weightsPath`, default `weights.bin`, tfjs' own file-save layout with a single shard). Load it with
 * `tf.loadLayersModel('file://.../model.json')` or `tf.loadLayersModel(tf.io.fromMemory(result.artifacts))`; tfjs
 * dequantizes to float32 at load time, so inference cost is unchanged and only the file shrinks (about 1/2 for
 * float16, 1/4 for uint8).
 *
 * @param model any tfjs Layers model (its topology is saved as tfjs' `model.save` writes it, without optimizer).
 * @throws Error as {@link quantizeWeights}.
 */
export async function quantizeModel(model: tf.LayersModel, dtype: WeightQuantization, opts: { weightsPath?: string } = {}): Promise<QuantizedModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
  if (!saved || !saved.weightSpecs || !saved.weightData) throw new Error(`model '${model.name}' saved no weights`);
  const { specs, data } = quantizeWeights(saved.weightSpecs, saved.weightData, dtype);
  const convertedBy = `ferlab ${ferlabVersion()} quantizeModel (${dtype} weights)`;
  const modelJson: tf.io.ModelJSON = {
    modelTopology: saved.modelTopology as object,
    format: saved.format,
    generatedBy: saved.generatedBy,
    convertedBy,
    weightsManifest: [{ paths: [opts.weightsPath ?? 'weights.bin'], weights: specs }],
    ...(saved.trainingConfig ? { trainingConfig: saved.trainingConfig } : {}),
    ...(saved.userDefinedMetadata ? { userDefinedMetadata: saved.userDefinedMetadata } : {}),
  };
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: saved.modelTopology,
    format: saved.format,
    generatedBy: saved.generatedBy,
    convertedBy,
    weightSpecs: specs,
    weightData: data,
  };
  return { modelJson, weightsBin: new Uint8Array(data), artifacts };
}
