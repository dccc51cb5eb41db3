/**
 * tfjs Layers model -> TFLite flatbuffer (`.tflite`), written by ferlab in TypeScript: no JavaScript tool writes TFLite
 * models (TensorFlow's converter is Python, tfjs-tflite and LiteRT.js only run them), so the conversion is ours and
 * the flatbuffer tables are written with the `flatbuffers` npm package's Builder after TFLite's published schema
 * (tflite-schema.ts: schema.fbs version 3, revision 3d, from google-ai-edge/LiteRT; see TFLITE_SCHEMA_SOURCE).
 * The graph walk and weight lookup are shared with the ONNX writer (onnx.ts stepsOf / weightsByName).
 *
 * Layout. TFLite's builtin operators work on NHWC tensors as tfjs does (schema.fbs Tensor.shape: "builtin ops use:
 * [batch size, height, width, number of channels]"), so no transposes: input `input` `[batch, H, W, C]` float32
 * (for ferlab's models `[batch, size, size, 1]` of the input spec, src/data/input.ts: `[batch, 48, 48, 1]` with pixels
 * in [0, 1] by default; preprocessing happens outside the model, as for model.json and model.onnx), output `logits`
 * `[batch, numClasses]` float32 (or `probabilities` with `softmax: true`). The batch is static (`batch` option, default
 * 1); with `dynamicBatch` the tensors' `shape_signature` also marks it -1.
 *
 * Rules, layer by layer (tfjs semantics from tfjs-layers src/layers/*.ts; TFLite semantics from the LiteRT reference
 * kernels, tflite/kernels/internal/reference/*.h, and the kernels' Prepare functions in tflite/kernels/*.cc):
 * - Conv2D -> CONV_2D, version 1. tfjs kernel `[kh, kw, in, out]` (HWIO) -> TFLite filter `[out, kh, kw, in]` (OHWI):
 *   F[o][y][x][i] = kernel[y][x][i][o]; bias `[out]` (zeros when the layer has none: a bias input is always given).
 *   padding 'same' / 'valid' map to Padding SAME / VALID, which TFLite computes as TensorFlow does (out = ceil(in /
 *   stride), the odd pad cell at the bottom/right), the same rule tfjs uses. strides and dilations as options.
 * - DepthwiseConv2D -> DEPTHWISE_CONV_2D, version 1, depth_multiplier M. tfjs kernel `[kh, kw, C, M]`, output channel
 *   c*M + m -> TFLite filter `[1, kh, kw, C*M]` (1HWO): F[0][y][x][c*M + m] = kernel[y][x][c][m]. Dilation refused
 *   (tfjs-layers 4.22's DepthwiseConv2D ignores it, as onnx.ts notes).
 * - SeparableConv2D -> DEPTHWISE_CONV_2D (zero bias, the layer's dilation, version 2 when dilated) then a 1x1 CONV_2D
 *   with the pointwise kernel `[1, 1, C*M, filters]` as `[filters, 1, 1, C*M]` and the layer's bias.
 * - BatchNormalization (inference: y = (x - mean) / sqrt(var + epsilon) * gamma + beta, with gamma = 1 / beta = 0 when
 *   scale / center are off) right after a convolution or Dense whose output nothing else reads and that has no
 *   activation -> folded into that operator: with s = gamma / sqrt(var + epsilon) per output channel, F' = F * s
 *   along the filter's output axis and b' = (b - mean) * s + beta (computed in float64, stored as float32). Anywhere
 *   else -> MUL by s then ADD of beta - mean * s (constants `[C]`, broadcast over the last axis).
 * - Activations: relu -> the preceding operator's fused_activation_function RELU when that operator supports it (CONV_2D,
 *   DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL, pooling), has none yet and its output has no other reader; else a
 *   RELU operator. sigmoid -> LOGISTIC, tanh -> TANH (never fused: TFLite's CalculateActivationRange clamps only for the
 *   RELU kinds, so a fused TANH would be ignored by those kernels), softmax -> SOFTMAX (beta 1, last axis, as tfjs).
 *   ReLU layer: maxValue none -> relu, 6 -> RELU6; others refused.
 * - MaxPooling2D / AveragePooling2D -> MAX_POOL_2D / AVERAGE_POOL_2D (Padding as above; TFLite's average pool divides
 *   by the cells inside the image, as tfjs does).
 * - GlobalAveragePooling2D / GlobalMaxPooling2D -> MEAN / REDUCE_MAX over axes [1, 2] (int32 constant), keep_dims false.
 * - Flatten -> RESHAPE to `[-1, H*W*C]` (both flatten the NHWC tensor row-major).
 * - Dense on a 2-D input -> FULLY_CONNECTED, version 1: weights `[units, in]` (tfjs' `[in, units]` transposed), bias.
 * - Add -> ADD (a chain for more than two inputs), equal shapes only.
 * - Dropout -> nothing (the identity at inference); InputLayer -> the subgraph input.
 * - Cropping2D (channelsLast; an ensemble member's centre window, src/export/ensemble.ts) -> SLICE, version 1, with
 *   int32 begin [0, top, left, 0] and size [-1, H - top - bottom, W - left - right, -1] (-1: the rest of that axis).
 * - Average (the ensemble's mean) -> a chain of ADD, then MUL by the float32 constant 1 / n (shape [1], broadcast), the
 *   order tfjs-layers' Average computes in.
 *
 * Weights (`weights` option): 'float32' stores every constant as float32. 'float16' stores the filters and Dense
 * weights as float16, each read through a DEQUANTIZE operator (version 3: float16 input) placed before the other
 * operators, as TensorFlow's converter does for float16 quantization; biases and other constants stay float32.
 * 'int8' is dynamic-range quantization: filters and Dense weights as int8, symmetric (zero point 0), one scale per
 * output channel (max |w| / 127, quantized_dimension 0 for CONV_2D / FULLY_CONNECTED, 3 for DEPTHWISE_CONV_2D), read
 * by the hybrid kernels (CONV_2D version 5, DEPTHWISE_CONV_2D version 6, FULLY_CONNECTED version 12: float input,
 * int8 per-channel weights; versions from tflite/converter/tools/versioning/op_version.cc), which quantize the float
 * activations on the fly.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { PROJECT_ROOT } from '../util/paths';
import { ONNX_SUPPORTED_ACTIVATIONS, ONNX_SUPPORTED_LAYERS, stepsOf, weightsByName } from './onnx';
import { encodeFloat16 } from './quantize';
import {
  Activation,
  BuiltinOperator,
  buildTfliteModel,
  Padding,
  TensorType,
  TFLITE_SCHEMA_SOURCE,
  type ActivationValue,
  type BuiltinOperatorValue,
  type OperatorOptions,
  type PaddingValue,
  type QuantizationDesc,
  type TensorTypeValue,
} from './tflite-schema';

/** Storage of the weights in a .tflite file (see the file comment). */
export const TFLITE_WEIGHTS = ['float32', 'float16', 'int8'] as const;
export type TfliteWeights = (typeof TFLITE_WEIGHTS)[number];

/** Options of {@link tfjsToTflite}. */
export interface TfliteExportOptions {
  /** 'float32' (default), 'float16' (float16 weights + DEQUANTIZE) or 'int8' (dynamic-range, hybrid kernels). */
  weights?: TfliteWeights;
  /** Batch of the input and every tensor (default 1: one face per call, the usual on-device use). */
  batch?: number;
  /**
   * Also write shape_signature with -1 on the batch axis (default false), for interpreters that resize inputs
   * (TFLite's Interpreter.resize_input_tensor). LiteRT.js 2.5's CompiledModel then refuses every input ("does not match
   * expected ranked tensor type Float32[-1, 48, 48, 1]"), so ferlab's export leaves it off.
   */
  dynamicBatch?: boolean;
  /** Append a SOFTMAX; the output is then `probabilities` instead of `logits` (default false). */
  softmax?: boolean;
  /**
   * The model's own output already is class probabilities (an ensemble averaging probabilities, src/export/ensemble.ts):
   * the output is named `probabilities` and no SOFTMAX is added (default false; not with `softmax`).
   */
  probabilitiesOutput?: boolean;
  /** Subgraph name (default: the tfjs model's name). */
  name?: string;
  /** Key/value pairs stored as JSON in a Model.metadata buffer named `ferlab` (e.g. classes, preprocessing). */
  metadata?: Record<string, string>;
}

/** Signature names of the input and outputs (SignatureDef `serving_default`), the same names as model.onnx's. */
export const TFLITE_INPUT_NAME = 'input';
export const TFLITE_LOGITS_NAME = 'logits';
export const TFLITE_PROBABILITIES_NAME = 'probabilities';
/** Model.metadata entry holding {@link TfliteExportOptions.metadata} as UTF-8 JSON. */
export const TFLITE_METADATA_NAME = 'ferlab';

/** tfjs layer classes {@link tfjsToTflite} converts (the ONNX writer's). */
export const TFLITE_SUPPORTED_LAYERS = ONNX_SUPPORTED_LAYERS;
/** Activations {@link tfjsToTflite} converts. */
export const TFLITE_SUPPORTED_ACTIVATIONS = ONNX_SUPPORTED_ACTIVATIONS;

/** A layer, setting or option {@link tfjsToTflite} cannot convert. The message names the layer (name and class). */
export class TfliteExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TfliteExportError';
  }
}

/** One tensor of the subgraph being built: a constant holds its float32 / int32 values until serialisation. */
interface TTensor {
  name: string;
  /** Shape with the batch axis (if any) at `batch`. */
  shape: number[];
  /** True when axis 0 is the batch (shape_signature -1 with `dynamicBatch`). */
  batched: boolean;
  data?: Float32Array | Int32Array;
  /** A filter / Dense weight (the tensors 'float16' and 'int8' store narrower), with its output-channel axis. */
  weightAxis?: number;
}

interface TOp {
  code: BuiltinOperatorValue;
  version: number;
  inputs: number[];
  outputs: number[];
  options?: OperatorOptions;
  /** The MUL of a BatchNormalization (its ADD follows it): a candidate for {@link foldBatchNorms}. */
  batchNorm?: { layer: string; scale: number[]; add: TOp };
}

/** Operators with a fused_activation_function in their options. */
type FusableOptions = Extract<OperatorOptions, { activation: ActivationValue }>;

/** What is known of the tensor that holds a tfjs value. */
interface Value {
  tensor: number;
  /** tfjs shape (batch axis null). */
  shape: (number | null)[];
}

function ferlabVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

const f32Bytes = (a: Float32Array | Int32Array | Int8Array | Uint16Array): Uint8Array => {
  // buffers are little-endian (schema.fbs Tensor.buffer: "the assumption that the target device is little-endian")
  const copy = a.slice();
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('tfjsToTflite needs a little-endian machine');
  return new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
};

/**
 * Converts a tfjs Layers model to a TFLite model (the bytes of a `.tflite` file).
 *
 * @param model a tfjs Layers model with one input and one output (tf.Sequential or functional, e.g. residual networks)
 *   made of the layers in {@link TFLITE_SUPPORTED_LAYERS}: every model in ferlab's registry (`listModels()`). Input
 *   `[batch, H, W, C]` float32 NHWC with static H, W, C; output logits `[batch, numClasses]` float32.
 * @param opts weights ('float32' | 'float16' | 'int8'), batch (static batch, default 1), dynamicBatch (also mark it
 *   -1 in shape_signature), softmax, subgraph name, metadata.
 * @returns the .tflite bytes: schema.fbs version 3, file identifier "TFL3", one subgraph, SignatureDef
 *   `serving_default` with input `input` `[batch, H, W, C]` float32 and output `logits` (or `probabilities`)
 *   `[batch, numClasses]` float32. See the file comment for each layer's rule.
 * @throws TfliteExportError naming the layer (name and class) and the supported layers/activations for a layer,
 *   activation, padding, data format, axis or weight it cannot convert (including a missing or wrongly sized weight, or
 *   a non-finite one); for a model with several inputs/outputs, a non-float32 input or a non-static H/W/C; for a
 *   batch that is not a positive integer or an unknown `weights`.
 */
export function tfjsToTflite(model: tf.LayersModel, opts: TfliteExportOptions = {}): Uint8Array {
  const weights = opts.weights ?? 'float32';
  if (!(TFLITE_WEIGHTS as readonly string[]).includes(weights))
    throw new TfliteExportError(`weights '${weights}' is not supported: expected one of ${TFLITE_WEIGHTS.join(', ')}`);
  const B = opts.batch ?? 1;
  if (!Number.isInteger(B) || B < 1) throw new TfliteExportError(`batch ${B} must be a positive integer`);
  const steps = stepsOf(model, (m) => new TfliteExportError(m), 'tfjsToTflite');
  const inputSym = model.inputs[0];
  if (inputSym.dtype !== 'float32') throw new TfliteExportError(`model input dtype is ${inputSym.dtype}; tfjsToTflite expects float32`);
  if (inputSym.shape.slice(1).some((d) => d == null))
    throw new TfliteExportError(`model input shape [${inputSym.shape.map((d) => d ?? 'null')}] must be static except the batch axis`);

  const tensors: TTensor[] = [];
  const ops: TOp[] = [];
  const withBatch = (shape: (number | null)[]): number[] => shape.map((d, i) => (i === 0 ? B : (d as number)));
  const addTensor = (t: TTensor): number => tensors.push(t) - 1;
  const activationTensor = (name: string, shape: (number | null)[]): number => addTensor({ name, shape: withBatch(shape), batched: true });
  const constant = (name: string, shape: number[], data: Float32Array | Int32Array, weightAxis?: number): number => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`constant ${name}: shape [${shape}] holds ${size} values, got ${data.length}`);
    return addTensor({ name, shape, batched: false, data, weightAxis });
  };
  const addOp = (op: TOp): TOp => (ops.push(op), op);

  const values = new Map<number, Value>([[inputSym.id, { tensor: activationTensor(TFLITE_INPUT_NAME, inputSym.shape), shape: inputSym.shape }]]);
  let endsWithSoftmax = false;

  const unsupported = (layer: tf.layers.Layer, why: string): never => {
    throw new TfliteExportError(
      `cannot convert layer '${layer.name}' (${layer.getClassName()}): ${why}. Supported layers: ${TFLITE_SUPPORTED_LAYERS.join(', ')}; ` +
        `activations: ${TFLITE_SUPPORTED_ACTIVATIONS.join(', ')}`,
    );
  };
  /** A weight's float32 values, checked for its expected size and finiteness (a corrupt weight names its layer). */
  const data = (layer: tf.layers.Layer, key: string, t: tf.Tensor, size: number): Float32Array => {
    if (t.dtype !== 'float32') unsupported(layer, `weight '${key}' has dtype ${t.dtype} (expected float32)`);
    const v = t.dataSync() as Float32Array;
    if (v.length !== size) unsupported(layer, `weight '${key}' holds ${v.length} values, expected ${size}`);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) unsupported(layer, `weight '${key}' holds a non-finite value (${v[bad]} at index ${bad})`);
    return v;
  };
  const spatial = (layer: tf.layers.Layer, v: Value): void => {
    if (v.shape.length !== 4) unsupported(layer, `expected a 4-D [batch, H, W, C] input, got shape [${v.shape.map((d) => d ?? 'null')}]`);
    const cfg = layer.getConfig();
    if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') unsupported(layer, `dataFormat '${cfg.dataFormat}' (expected 'channelsLast')`);
  };
  const padding = (layer: tf.layers.Layer, p: unknown): PaddingValue => {
    if (p === 'same') return Padding.SAME;
    if (p === 'valid') return Padding.VALID;
    return unsupported(layer, `padding '${p}' is not supported (expected 'same' or 'valid')`);
  };

  /** Emits `activation` (tfjs name) on `v` as its own operator (fuseActivations merges RELU / RELU6 later). */
  const activation = (layer: tf.layers.Layer, name: string, v: Value, out: (number | null)[]): Value => {
    endsWithSoftmax = name === 'softmax';
    if (name === 'linear') return v;
    const codes: Record<string, BuiltinOperatorValue> = {
      relu: BuiltinOperator.RELU,
      relu6: BuiltinOperator.RELU6,
      sigmoid: BuiltinOperator.LOGISTIC,
      tanh: BuiltinOperator.TANH,
      softmax: BuiltinOperator.SOFTMAX,
    };
    const code = codes[name];
    if (code === undefined) return unsupported(layer, `activation '${name}' is not supported`);
    const t = activationTensor(`${layer.name}/${name}`, out);
    addOp({ code, version: 1, inputs: [v.tensor], outputs: [t], ...(name === 'softmax' ? { options: { type: 'SoftmaxOptions' as const, beta: 1 } } : {}) });
    return { tensor: t, shape: out };
  };

  for (const { layer, inputs: inSyms, output } of steps) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    const base = layer.name;
    const cur = values.get(inSyms[0].id)!;
    const out = output.shape;
    if (cls !== 'Dropout') endsWithSoftmax = false;
    let next: Value;
    switch (cls) {
      case 'Conv2D': {
        spatial(layer, cur);
        const w = weightsByName(layer);
        const kernel = w.get('kernel');
        if (!kernel) return unsupported(layer, 'no kernel weight');
        if (kernel.rank !== 4) unsupported(layer, `kernel of rank ${kernel.rank} (expected [kh, kw, in, out])`);
        const [kh, kw, cin, cout] = kernel.shape;
        if (cin !== cur.shape[3]) unsupported(layer, `kernel has ${cin} input channels, the input ${cur.shape[3]}`);
        const k = data(layer, 'kernel', kernel, kh * kw * cin * cout);
        const [sh, sw] = cfg.strides as number[];
        const [dh, dw] = cfg.dilationRate as number[];
        // HWIO -> OHWI: F[o][y][x][i] = kernel[y][x][i][o]
        const f = new Float32Array(k.length);
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++)
            for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) f[((o * kh + y) * kw + x) * cin + i] = k[((y * kw + x) * cin + i) * cout + o];
        const bias = w.get('bias');
        const b = cfg.useBias && bias ? Float32Array.from(data(layer, 'bias', bias, cout)) : new Float32Array(cout);
        const weight = constant(`${base}/filter`, [cout, kh, kw, cin], f, 0);
        const biasT = constant(`${base}/bias`, [cout], b);
        const t = activationTensor(base, out);
        addOp({
          code: BuiltinOperator.CONV_2D,
          version: 1,
          inputs: [cur.tensor, weight, biasT],
          outputs: [t],
          options: {
            type: 'Conv2DOptions',
            padding: padding(layer, cfg.padding),
            strideW: sw,
            strideH: sh,
            activation: Activation.NONE,
            dilationW: dw,
            dilationH: dh,
          },
        });
        next = activation(layer, cfg.activation as string, { tensor: t, shape: out }, out);
        break;
      }
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        spatial(layer, cur);
        const w = weightsByName(layer);
        const kernel = w.get('depthwise_kernel');
        if (!kernel) return unsupported(layer, 'no depthwise_kernel weight');
        if (kernel.rank !== 4) unsupported(layer, `depthwise_kernel of rank ${kernel.rank} (expected [kh, kw, C, M])`);
        const [kh, kw, cin, mult] = kernel.shape;
        if (cin !== cur.shape[3]) unsupported(layer, `depthwise_kernel has ${cin} input channels, the input ${cur.shape[3]}`);
        const k = data(layer, 'depthwise_kernel', kernel, kh * kw * cin * mult);
        const [sh, sw] = cfg.strides as number[];
        const [dh, dw] = (cfg.dilationRate as number[] | undefined) ?? [1, 1];
        if (cls === 'DepthwiseConv2D' && (dh !== 1 || dw !== 1)) unsupported(layer, `dilationRate [${dh}, ${dw}] (tfjs' DepthwiseConv2D ignores it)`);
        const separable = cls === 'SeparableConv2D';
        const bias = w.get('bias');
        // [kh, kw, C, M] -> [1, kh, kw, C*M]: F[0][y][x][c*M + m] = kernel[y][x][c][m] (the same memory order)
        const dwF = Float32Array.from(k);
        const dwBias = !separable && cfg.useBias && bias ? Float32Array.from(data(layer, 'bias', bias, cin * mult)) : new Float32Array(cin * mult);
        const dwWeight = constant(`${base}/depthwise_filter`, [1, kh, kw, cin * mult], dwF, 3);
        const dwBiasT = constant(`${base}/${separable ? 'depthwise_bias' : 'bias'}`, [cin * mult], dwBias);
        const dwOut: (number | null)[] = separable ? [null, out[1], out[2], cin * mult] : out;
        const dwT = activationTensor(separable ? `${base}/depthwise` : base, dwOut);
        addOp({
          code: BuiltinOperator.DEPTHWISE_CONV_2D,
          version: dh !== 1 || dw !== 1 ? 2 : 1,
          inputs: [cur.tensor, dwWeight, dwBiasT],
          outputs: [dwT],
          options: {
            type: 'DepthwiseConv2DOptions',
            padding: padding(layer, cfg.padding),
            strideW: sw,
            strideH: sh,
            depthMultiplier: mult,
            activation: Activation.NONE,
            dilationW: dw,
            dilationH: dh,
          },
        });
        let v: Value = { tensor: dwT, shape: dwOut };
        if (separable) {
          const pointwise = w.get('pointwise_kernel');
          if (!pointwise) return unsupported(layer, 'no pointwise_kernel weight');
          const [ph, pw, pin, cout] = pointwise.shape;
          if (ph !== 1 || pw !== 1 || pin !== cin * mult)
            unsupported(layer, `pointwise_kernel of shape [${pointwise.shape}] (expected [1, 1, ${cin * mult}, filters])`);
          const p = data(layer, 'pointwise_kernel', pointwise, pin * cout);
          // [1, 1, C*M, filters] -> [filters, 1, 1, C*M]: F[o][0][0][i] = pointwise[0][0][i][o]
          const pf = new Float32Array(p.length);
          for (let i = 0; i < pin; i++) for (let o = 0; o < cout; o++) pf[o * pin + i] = p[i * cout + o];
          const pb = cfg.useBias && bias ? Float32Array.from(data(layer, 'bias', bias, cout)) : new Float32Array(cout);
          const pwWeight = constant(`${base}/pointwise_filter`, [cout, 1, 1, pin], pf, 0);
          const pwBias = constant(`${base}/bias`, [cout], pb);
          const t = activationTensor(base, out);
          addOp({
            code: BuiltinOperator.CONV_2D,
            version: 1,
            inputs: [dwT, pwWeight, pwBias],
            outputs: [t],
            options: { type: 'Conv2DOptions', padding: Padding.VALID, strideW: 1, strideH: 1, activation: Activation.NONE, dilationW: 1, dilationH: 1 },
          });
          v = { tensor: t, shape: out };
        }
        next = activation(layer, cfg.activation as string, v, out);
        break;
      }
      case 'Add':
      case 'Average': {
        const ins = inSyms.map((t) => values.get(t.id)!);
        if (ins.some((v) => v.shape.join() !== ins[0].shape.join()))
          unsupported(
            layer,
            `inputs of different shapes (${ins.map((v) => `[${v.shape.map((d) => d ?? 'null')}]`).join(', ')}); only equal shapes are supported`,
          );
        const average = cls === 'Average';
        let acc = ins[0];
        for (let i = 1; i < ins.length; i++) {
          const t = activationTensor(i === ins.length - 1 && !average ? base : `${base}/add${i}`, out);
          addOp({
            code: BuiltinOperator.ADD,
            version: 1,
            inputs: [acc.tensor, ins[i].tensor],
            outputs: [t],
            options: { type: 'AddOptions', activation: Activation.NONE },
          });
          acc = { tensor: t, shape: out };
        }
        if (average) {
          const inverse = constant(`${base}/inverse_n`, [1], Float32Array.of(1 / ins.length));
          const t = activationTensor(base, out);
          addOp({
            code: BuiltinOperator.MUL,
            version: 1,
            inputs: [acc.tensor, inverse],
            outputs: [t],
            options: { type: 'MulOptions', activation: Activation.NONE },
          });
          acc = { tensor: t, shape: out };
        }
        next = acc;
        break;
      }
      case 'Cropping2D': {
        spatial(layer, cur);
        const [[top], [left]] = cfg.cropping as [[number, number], [number, number]];
        const begin = constant(`${base}/begin`, [4], Int32Array.from([0, top, left, 0]));
        const size = constant(`${base}/size`, [4], Int32Array.from([-1, out[1] as number, out[2] as number, -1]));
        const t = activationTensor(base, out);
        addOp({ code: BuiltinOperator.SLICE, version: 1, inputs: [cur.tensor, begin, size], outputs: [t], options: { type: 'SliceOptions' } });
        next = { tensor: t, shape: out };
        break;
      }
      case 'BatchNormalization': {
        const rank = cur.shape.length;
        const axis = cfg.axis as number;
        if (axis !== -1 && axis !== rank - 1) unsupported(layer, `axis ${axis} (only the channel axis, -1, is supported)`);
        if (rank !== 2 && rank !== 4) unsupported(layer, `input of rank ${rank} (expected 2 or 4)`);
        const w = weightsByName(layer);
        const C = cur.shape[rank - 1] as number;
        const get = (key: string, fill: number): Float32Array => {
          const t = w.get(key);
          return t ? data(layer, key, t, C) : new Float32Array(C).fill(fill);
        };
        if (!w.has('moving_mean') || !w.has('moving_variance')) unsupported(layer, 'no moving_mean/moving_variance weights');
        const [gamma, beta, mean, variance] = [get('gamma', 1), get('beta', 0), get('moving_mean', NaN), get('moving_variance', NaN)];
        const eps = cfg.epsilon as number;
        const bad = variance.findIndex((v) => !(v + eps > 0));
        if (bad >= 0) unsupported(layer, `moving_variance[${bad}] + epsilon = ${variance[bad] + eps} is not positive`);
        // s = gamma / sqrt(var + eps), shift = beta - mean * s (float64, then float32)
        const s = Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + eps));
        const scale = constant(`${base}/scale`, [C], Float32Array.from(s));
        const shift = constant(
          `${base}/shift`,
          [C],
          Float32Array.from(s, (sc, c) => beta[c] - mean[c] * sc),
        );
        const m = activationTensor(`${base}/mul`, out);
        const t = activationTensor(base, out);
        const add: TOp = {
          code: BuiltinOperator.ADD,
          version: 1,
          inputs: [m, shift],
          outputs: [t],
          options: { type: 'AddOptions', activation: Activation.NONE },
        };
        addOp({
          code: BuiltinOperator.MUL,
          version: 1,
          inputs: [cur.tensor, scale],
          outputs: [m],
          options: { type: 'MulOptions', activation: Activation.NONE },
          batchNorm: { layer: base, scale: s, add },
        });
        addOp(add);
        next = { tensor: t, shape: out };
        break;
      }
      case 'Activation':
        next = activation(layer, cfg.activation as string, cur, out);
        break;
      case 'ReLU': {
        const max = cfg.maxValue as number | null | undefined;
        if (max != null && max !== 6) unsupported(layer, `maxValue ${max} (only a plain ReLU or maxValue 6 is supported)`);
        next = activation(layer, max === 6 ? 'relu6' : 'relu', cur, out);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        spatial(layer, cur);
        const [ph, pw] = cfg.poolSize as number[];
        const [sh, sw] = (cfg.strides as number[] | null) ?? [ph, pw];
        const t = activationTensor(base, out);
        addOp({
          code: cls === 'MaxPooling2D' ? BuiltinOperator.MAX_POOL_2D : BuiltinOperator.AVERAGE_POOL_2D,
          version: 1,
          inputs: [cur.tensor],
          outputs: [t],
          options: {
            type: 'Pool2DOptions',
            padding: padding(layer, cfg.padding),
            strideW: sw,
            strideH: sh,
            filterWidth: pw,
            filterHeight: ph,
            activation: Activation.NONE,
          },
        });
        next = { tensor: t, shape: out };
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        spatial(layer, cur);
        if (cfg.keepDims) unsupported(layer, 'keepDims true (only the [batch, C] output is supported)');
        const axes = constant(`${base}/axes`, [2], Int32Array.from([1, 2]));
        const t = activationTensor(base, out);
        addOp({
          code: cls === 'GlobalAveragePooling2D' ? BuiltinOperator.MEAN : BuiltinOperator.REDUCE_MAX,
          version: 1,
          inputs: [cur.tensor, axes],
          outputs: [t],
          options: { type: 'ReducerOptions', keepDims: false },
        });
        next = { tensor: t, shape: out };
        break;
      }
      case 'Flatten': {
        const features = out[1] as number;
        const shape = constant(`${base}/shape`, [2], Int32Array.from([-1, features]));
        const t = activationTensor(base, out);
        addOp({
          code: BuiltinOperator.RESHAPE,
          version: 1,
          inputs: [cur.tensor, shape],
          outputs: [t],
          options: { type: 'ReshapeOptions', newShape: [-1, features] },
        });
        next = { tensor: t, shape: out };
        break;
      }
      case 'Dense': {
        if (cur.shape.length !== 2) unsupported(layer, `input of rank ${cur.shape.length} (only a 2-D [batch, features] input is supported; add a Flatten)`);
        const w = weightsByName(layer);
        const kernel = w.get('kernel');
        if (!kernel) return unsupported(layer, 'no kernel weight');
        const [nin, units] = kernel.shape;
        if (kernel.rank !== 2 || nin !== cur.shape[1]) unsupported(layer, `kernel of shape [${kernel.shape}] for an input of ${cur.shape[1]} features`);
        const k = data(layer, 'kernel', kernel, nin * units);
        // [in, units] -> [units, in]: W[u][i] = kernel[i][u]
        const f = new Float32Array(k.length);
        for (let i = 0; i < nin; i++) for (let u = 0; u < units; u++) f[u * nin + i] = k[i * units + u];
        const bias = w.get('bias');
        const b = cfg.useBias && bias ? Float32Array.from(data(layer, 'bias', bias, units)) : new Float32Array(units);
        const weight = constant(`${base}/weights`, [units, nin], f, 0);
        const biasT = constant(`${base}/bias`, [units], b);
        const t = activationTensor(base, out);
        addOp({
          code: BuiltinOperator.FULLY_CONNECTED,
          version: 1,
          inputs: [cur.tensor, weight, biasT],
          outputs: [t],
          options: { type: 'FullyConnectedOptions', activation: Activation.NONE, keepNumDims: false, asymmetricQuantizeInputs: false },
        });
        next = activation(layer, cfg.activation as string, { tensor: t, shape: out }, out);
        break;
      }
      case 'Dropout':
        next = cur; // the identity at inference
        break;
      default:
        return unsupported(layer, 'this layer class is not supported');
    }
    values.set(output.id, next);
  }

  let last = values.get(model.outputs[0].id)!;
  const outShape = model.outputs[0].shape;
  if (opts.softmax) {
    if (endsWithSoftmax) throw new TfliteExportError(`softmax: true, but the model '${model.name}' already ends with a softmax (its outputs are not logits)`);
    const t = activationTensor(TFLITE_PROBABILITIES_NAME, outShape);
    addOp({ code: BuiltinOperator.SOFTMAX, version: 1, inputs: [last.tensor], outputs: [t], options: { type: 'SoftmaxOptions', beta: 1 } });
    last = { tensor: t, shape: outShape };
  }
  if (last.tensor === values.get(inputSym.id)!.tensor) {
    // a model of Dropouts only: the output needs a tensor of its own
    const shape = constant(
      'output/shape',
      [outShape.length],
      Int32Array.from(outShape, (d, i) => (i === 0 ? -1 : (d as number))),
    );
    const t = activationTensor('output', outShape);
    addOp({ code: BuiltinOperator.RESHAPE, version: 1, inputs: [last.tensor, shape], outputs: [t], options: { type: 'ReshapeOptions', newShape: [] } });
    last = { tensor: t, shape: outShape };
  }
  if (opts.softmax && opts.probabilitiesOutput)
    throw new TfliteExportError('softmax and probabilitiesOutput exclude each other: the output is already probabilities');
  const outputName = opts.softmax || opts.probabilitiesOutput ? TFLITE_PROBABILITIES_NAME : TFLITE_LOGITS_NAME;
  tensors[last.tensor].name = outputName;

  const inputTensor = values.get(inputSym.id)!.tensor;
  const folded = fuseActivations(foldBatchNorms(tensors, ops, last.tensor), last.tensor);
  return serialise(tensors, folded, {
    weights,
    dynamicBatch: opts.dynamicBatch ?? false,
    inputTensor,
    outputTensor: last.tensor,
    outputName,
    name: opts.name ?? model.name,
    modelName: model.name,
    metadata: opts.metadata,
  });
}

/** How many operators read tensor `t` (the graph output counting as a reader). */
function readers(ops: TOp[], t: number, graphOutput: number): number {
  return ops.reduce((n, op) => n + op.inputs.filter((i) => i === t).length, t === graphOutput ? 1 : 0);
}

/** Operators whose filter and bias a following BatchNormalization folds into (output channel = last axis of the output). */
const FOLD_INTO: readonly BuiltinOperatorValue[] = [BuiltinOperator.CONV_2D, BuiltinOperator.DEPTHWISE_CONV_2D, BuiltinOperator.FULLY_CONNECTED];

/**
 * Folds each BatchNormalization (MUL by s, ADD of shift = beta - mean * s) into the CONV_2D / DEPTHWISE_CONV_2D /
 * FULLY_CONNECTED that writes its input, when that operator has no fused activation and nothing else reads its output:
 * (x * F + b) * s + shift = x * (F * s) + (b * s + shift), s along the filter's output-channel axis. The operator then
 * writes the BatchNorm's output tensor; the MUL and ADD go.
 * @returns the operators left, in the same order.
 */
function foldBatchNorms(tensors: TTensor[], ops: TOp[], graphOutput: number): TOp[] {
  let list = ops;
  for (const mul of ops) {
    if (!mul.batchNorm) continue;
    const x = mul.inputs[0];
    const producer = list.find((op) => op.outputs.includes(x));
    if (!producer || !FOLD_INTO.includes(producer.code) || (producer.options as FusableOptions).activation !== Activation.NONE) continue;
    if (readers(list, x, graphOutput) !== 1) continue;
    const w = tensors[producer.inputs[1]];
    const b = tensors[producer.inputs[2]];
    const s = mul.batchNorm.scale;
    const shift = tensors[mul.batchNorm.add.inputs[1]].data as Float32Array;
    if (!(w.data instanceof Float32Array) || w.weightAxis === undefined || !(b.data instanceof Float32Array) || w.shape[w.weightAxis] !== s.length) continue;
    const inner = w.shape.slice(w.weightAxis + 1).reduce((a, d) => a * d, 1);
    const f = w.data;
    for (let i = 0; i < f.length; i++) f[i] = f[i] * s[Math.floor(i / inner) % s.length];
    for (let c = 0; c < s.length; c++) b.data[c] = b.data[c] * s[c] + shift[c];
    w.name += `*${mul.batchNorm.layer}`;
    b.name += `*${mul.batchNorm.layer}`;
    producer.outputs = [...mul.batchNorm.add.outputs];
    list = list.filter((op) => op !== mul && op !== mul.batchNorm!.add);
  }
  return list;
}

/** Operators with a fused_activation_function that TFLite's kernels apply (CalculateActivationRange: RELU kinds). */
const FUSE_INTO: readonly BuiltinOperatorValue[] = [
  BuiltinOperator.CONV_2D,
  BuiltinOperator.DEPTHWISE_CONV_2D,
  BuiltinOperator.FULLY_CONNECTED,
  BuiltinOperator.ADD,
  BuiltinOperator.MUL,
  BuiltinOperator.MAX_POOL_2D,
  BuiltinOperator.AVERAGE_POOL_2D,
];

/**
 * Merges each RELU / RELU6 into the operator that writes its input as fused_activation_function RELU / RELU6, when that
 * operator has none yet and nothing else reads its output. @returns the operators left, in the same order.
 */
function fuseActivations(ops: TOp[], graphOutput: number): TOp[] {
  let list = ops;
  for (const act of ops) {
    if (act.code !== BuiltinOperator.RELU && act.code !== BuiltinOperator.RELU6) continue;
    const x = act.inputs[0];
    const producer = list.find((op) => op.outputs.includes(x));
    if (!producer || !FUSE_INTO.includes(producer.code)) continue;
    const opts = producer.options as FusableOptions;
    if (opts.activation !== Activation.NONE || readers(list, x, graphOutput) !== 1) continue;
    opts.activation = act.code === BuiltinOperator.RELU ? Activation.RELU : Activation.RELU6;
    producer.outputs = [...act.outputs];
    list = list.filter((op) => op !== act);
  }
  return list;
}

/** Per-output-channel symmetric int8 quantization of a weight: q = round(w / scale_c), scale_c = max |w_c| / 127. */
function quantizeInt8PerChannel(data: Float32Array, shape: number[], axis: number): { q: Int8Array; quantization: QuantizationDesc } {
  const channels = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  const max = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    max[c] = Math.max(max[c], Math.abs(data[i]));
  }
  // an all-zero channel gets scale 1 (any scale represents zeros exactly; TFLite rejects a zero scale)
  const scale = Array.from(max, (m) => Math.fround(m > 0 ? m / 127 : 1));
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(data[i] / scale[Math.floor(i / inner) % channels])));
  return { q, quantization: { scale, zeroPoint: new Array(channels).fill(0), quantizedDimension: axis } };
}

/** Hybrid (float activations, int8 per-channel weights) kernel versions, op_version.cc. */
const HYBRID_VERSION: Partial<Record<BuiltinOperatorValue, number>> = {
  [BuiltinOperator.CONV_2D]: 5,
  [BuiltinOperator.DEPTHWISE_CONV_2D]: 6,
  [BuiltinOperator.FULLY_CONNECTED]: 12,
};

function serialise(
  tensors: TTensor[],
  ops: TOp[],
  o: {
    weights: TfliteWeights;
    dynamicBatch: boolean;
    inputTensor: number;
    outputTensor: number;
    outputName: string;
    name: string;
    modelName: string;
    metadata?: Record<string, string>;
  },
): Uint8Array {
  // keep the tensors some operator (or the signature) uses, renumbered in order
  const used = new Set<number>([o.inputTensor, o.outputTensor]);
  for (const op of ops) for (const i of [...op.inputs, ...op.outputs]) if (i >= 0) used.add(i);
  const renumber = new Map<number, number>();
  const kept = tensors.filter((_, i) => used.has(i) && renumber.set(i, renumber.size));
  const at = (i: number) => (i < 0 ? i : renumber.get(i)!);
  ops = ops.map((op) => ({ ...op, inputs: op.inputs.map(at), outputs: op.outputs.map(at) }));
  tensors = kept;

  const buffers: Uint8Array[] = [new Uint8Array(0)];
  const desc = tensors.map((t) => ({
    name: t.name,
    shape: t.shape,
    ...(t.batched && o.dynamicBatch ? { shapeSignature: t.shape.map((d, i) => (i === 0 ? -1 : d)) } : {}),
    type: (t.data instanceof Int32Array ? TensorType.INT32 : TensorType.FLOAT32) as TensorTypeValue,
    buffer: 0,
    quantization: undefined as QuantizationDesc | undefined,
  }));
  const dequantize: TOp[] = [];
  const consumers = (i: number) => ops.filter((op) => op.inputs.includes(i));
  tensors.forEach((t, i) => {
    if (!t.data) return;
    if (t.weightAxis !== undefined && o.weights === 'float16') {
      // float16 copy + DEQUANTIZE into the float32 tensor the operator reads (which then has no buffer)
      const half = desc.push({ name: `${t.name}/float16`, shape: t.shape, type: TensorType.FLOAT16, buffer: buffers.length, quantization: undefined }) - 1;
      buffers.push(f32Bytes(encodeFloat16(t.data as Float32Array)));
      dequantize.push({ code: BuiltinOperator.DEQUANTIZE, version: 3, inputs: [half], outputs: [i], options: { type: 'DequantizeOptions' } });
      return;
    }
    if (t.weightAxis !== undefined && o.weights === 'int8') {
      const { q, quantization } = quantizeInt8PerChannel(t.data as Float32Array, t.shape, t.weightAxis);
      desc[i].type = TensorType.INT8;
      desc[i].quantization = quantization;
      desc[i].buffer = buffers.length;
      buffers.push(f32Bytes(q));
      for (const op of consumers(i)) {
        const v = HYBRID_VERSION[op.code];
        if (v === undefined) throw new Error(`tfjsToTflite: int8 weight '${t.name}' is read by operator ${op.code}, which has no hybrid kernel`);
        op.version = v;
        if (op.options?.type === 'FullyConnectedOptions') op.options.asymmetricQuantizeInputs = true;
      }
      return;
    }
    desc[i].buffer = buffers.length;
    buffers.push(f32Bytes(t.data));
  });

  const metadata: { name: string; buffer: number }[] = [];
  if (o.metadata && Object.keys(o.metadata).length) {
    metadata.push({ name: TFLITE_METADATA_NAME, buffer: buffers.length });
    buffers.push(new TextEncoder().encode(JSON.stringify(o.metadata)));
  }
  return buildTfliteModel({
    description: `converted from the tfjs Layers model '${o.modelName}' by ferlab ${ferlabVersion()} tfjsToTflite (${o.weights} weights; ${TFLITE_SCHEMA_SOURCE})`,
    buffers,
    tensors: desc,
    operators: [...dequantize, ...ops],
    inputs: [{ name: TFLITE_INPUT_NAME, tensor: at(o.inputTensor) }],
    outputs: [{ name: o.outputName, tensor: at(o.outputTensor) }],
    subgraphName: o.name,
    metadata,
  });
}

/**
 * Converts `model` with {@link tfjsToTflite} and writes the bytes to `path` atomically (src/util/atomic.ts: a temporary
 * file in the same folder, renamed over `path` once complete), so a failed conversion or write leaves no file and no
 * half-written one.
 * @returns the number of bytes written.
 * @throws what tfjsToTflite throws (nothing is written then), or the file system's error.
 */
export function writeTflite(model: tf.LayersModel, path: string, opts: TfliteExportOptions = {}): number {
  const bytes = tfjsToTflite(model, opts);
  writeFileAtomic(path, bytes);
  return bytes.length;
}
