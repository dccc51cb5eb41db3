/**
 * tfjs Layers model -> ONNX ModelProto, written in TypeScript (no Python, no tf2onnx), serialised with the `onnx-proto`
 * package (onnx.proto of ONNX 1.10 compiled for protobufjs).
 *
 * Layouts. The graph input keeps tfjs' layout: `input` `[batch, H, W, C]` float32 (NHWC; for ferlab's models
 * `[batch, size, size, 1]` of their input spec, src/data/input.ts: `[batch, 48, 48, 1]` with pixels in [0, 1] by
 * default), `batch` a dynamic dimension. ONNX Conv / MaxPool / AveragePool /
 * BatchNormalization work on NCHW (ONNX Operators.md: "input data of size (N x C x H x W)"), so the first layer that
 * needs it is preceded by a Transpose perm [0, 3, 1, 2]; the graph then stays NCHW until a layer needs tfjs' own
 * order again: Flatten (tfjs flattens NHWC row-major, so a Transpose perm [0, 2, 3, 1] comes first and the following
 * Dense weights are used unchanged), a softmax activation on a 4-D tensor, or the graph output. A value read by several
 * layers (the input of a residual block) is transposed once.
 * Output: `logits` `[batch, numClasses]` float32, or with `softmax: true` `probabilities` (ONNX Softmax, axis -1).
 *
 * Rules, layer by layer (tfjs semantics from tfjs-layers src/layers/*.ts, ONNX semantics from onnx/docs/Operators.md):
 * - Conv2D -> Conv. tfjs kernels are `[kh, kw, inChannels, outChannels]` (HWIO); ONNX `W` is `[M, C, kH, kW]` (OIHW).
 *   `same` padding is TensorFlow's: out = ceil(in / stride), total = max((out - 1) * stride + (k - 1) * dilation + 1
 *   - in, 0), floor(total / 2) before and the rest after (TF `GetWindowedOutputSizeVerbose`), written as explicit
 *   `pads` [top, left, bottom, right]; `valid` is pads 0 (ONNX out = floor((in - k_eff) / stride) + 1 = TF's).
 *   Bias (optional) is ONNX Conv's input `B`; a fused activation follows as its own node.
 * - DepthwiseConv2D -> Conv with `group` = input channels C. tfjs' depthwise kernel is `[kh, kw, C, M]` (M = depth
 *   multiplier) and output channel c*M + m is input channel c filtered by kernel[.., c, m]; ONNX's grouped Conv gives
 *   group c the output channels c*M .. c*M + M - 1 from `W` `[C*M, 1, kH, kW]`, so W[c*M + m][0][y][x] =
 *   kernel[y][x][c][m]. Padding, strides, dilations, bias and activation as for Conv2D.
 * - SeparableConv2D -> the depthwise Conv above (the layer's padding, strides and dilations; no bias), then a 1x1 Conv
 *   with the pointwise kernel `[1, 1, C*M, filters]` as `W` `[filters, C*M, 1, 1]` and the layer's bias; activation
 *   after it (tf.separableConv2d: depthwiseConv2d, then conv2d 1x1 'valid').
 * - Add -> Add (a chain of Add nodes for more than two inputs); inputs of equal shape, in one layout (4-D ones NCHW).
 * - BatchNormalization -> ONNX BatchNormalization (inference mode: Y = (X - mean) / sqrt(var + epsilon) * scale + B)
 *   with the layer's own epsilon and moving statistics; gamma = 1 / beta = 0 when the layer has `scale` / `center`
 *   off. Kept as a node rather than folded into the convolution so that the exported weights are the trained ones
 *   bit for bit (ONNX Runtime folds Conv + BatchNormalization itself when it optimises the graph).
 * - Activation layers and fused activations: linear (no node), relu -> Relu, sigmoid -> Sigmoid, tanh -> Tanh,
 *   softmax -> Softmax over the last tfjs axis (opset >= 13 Softmax normalises one axis, as tfjs does).
 * - ReLU layer without maxValue -> Relu.
 * - MaxPooling2D -> MaxPool; AveragePooling2D -> AveragePool with count_include_pad = 0 (TF and tfjs average only the
 *   cells inside the image at `same` borders). Padding as for Conv2D (the padded cells never win a max in either).
 * - GlobalAveragePooling2D / GlobalMaxPooling2D -> GlobalAveragePool / GlobalMaxPool + Flatten (tfjs outputs
 *   `[batch, C]`).
 * - Flatten -> (Transpose to NHWC) + Flatten axis 1.
 * - Dense on a 2-D input -> Gemm (A `[batch, in]`, B = kernel `[in, units]` as stored by tfjs, C = bias).
 * - Dropout -> nothing (inference is the identity); InputLayer -> the graph input.
 * - Cropping2D (channelsLast; an ensemble member's centre window, src/export/ensemble.ts) -> Slice over the two spatial
 *   axes (H, W of NHWC, or axes 2, 3 when the value is held NCHW): starts [top, left], ends [H - bottom, W - right]
 *   (int64 initializers; tfjs-layers Cropping2D keeps rows top .. H - bottom - 1).
 * - Average (the ensemble's mean) -> a chain of Add nodes, then Mul by the float32 constant 1 / n: tfjs-layers' Average
 *   computes ((x1 + x2) + ...) + xn, then * (1 / n), in that order.
 *
 * Graphs: any model with one input and one output, Sequential or functional (residual blocks, ensembles): the layer
 * applications are converted in depth-first order from the output (for a Sequential model: input to output), each
 * symbolic tensor once. Add and Average are the layers with several inputs.
 *
 * Opset: 13 by default; 13-21 accepted (every operator above has the same float32 semantics in all of them). The IR
 * version is the one of the ONNX release that introduced the opset (onnx/docs/Versioning.md, "Released Versions").
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { PROJECT_ROOT } from '../util/paths';

/** Options of {@link tfjsToOnnx}. */
export interface OnnxExportOptions {
  /** ONNX opset of the default domain, 13-21 (default 13). */
  opset?: number;
  /** Append a Softmax over the classes; the output is then `probabilities` instead of `logits` (default false). */
  softmax?: boolean;
  /**
   * The model's own output already is class probabilities (an ensemble averaging probabilities, src/export/ensemble.ts):
   * the graph output is named `probabilities` and no Softmax is added (default false; not with `softmax`).
   */
  probabilitiesOutput?: boolean;
  /** Graph name (default: the tfjs model's name). */
  name?: string;
  /** Key/value pairs stored as ModelProto.metadata_props (e.g. class names, data set, training run). */
  metadata?: Record<string, string>;
}

/** Name of the graph input: `[batch, H, W, C]` float32, NHWC as in tfjs. */
export const ONNX_INPUT_NAME = 'input';
/** Name of the graph output without softmax: logits `[batch, numClasses]` float32. */
export const ONNX_LOGITS_NAME = 'logits';
/** Name of the graph output with `softmax: true`: probabilities `[batch, numClasses]` float32 (rows sum to 1). */
export const ONNX_PROBABILITIES_NAME = 'probabilities';
/** Lowest and highest opset {@link tfjsToOnnx} writes. */
export const ONNX_MIN_OPSET = 13;
export const ONNX_MAX_OPSET = 21;
export const ONNX_DEFAULT_OPSET = 13;

/** tfjs layer classes {@link tfjsToOnnx} converts. */
export const ONNX_SUPPORTED_LAYERS = [
  'InputLayer',
  'Conv2D',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'Add',
  'Average',
  'Cropping2D',
  'Dense',
  'Dropout',
] as const;

/** Activations {@link tfjsToOnnx} converts (Activation layers and the fused activation of Conv2D / Dense). */
export const ONNX_SUPPORTED_ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax'] as const;

/**
 * IR version of the ONNX release that introduced each opset (onnx/docs/Versioning.md, "Released Versions":
 * 1.8 -> IR 7 / opset 13, 1.9 -> 7 / 14, 1.10 -> 8 / 15, 1.11 -> 8 / 16, 1.12 -> 8 / 17, 1.13 -> 8 / 18,
 * 1.14 -> 9 / 19, 1.15 -> 9 / 20, 1.16 -> 10 / 21).
 */
const IR_VERSION_FOR_OPSET: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** A layer or setting {@link tfjsToOnnx} cannot convert. The message names the layer (name and class). */
export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const AT = onnx.AttributeProto.AttributeType;
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

/** A value in the graph: its ONNX name, its tfjs shape (NHWC for 4-D), and whether the ONNX tensor holds it as NCHW. */
interface Value {
  name: string;
  shape: (number | null)[];
  nchw: boolean;
}

type Attr = onnx.IAttributeProto;
const ints = (name: string, v: number[]): Attr => ({ name, type: AT.INTS, ints: v });
const int = (name: string, v: number): Attr => ({ name, type: AT.INT, i: v });
const float = (name: string, v: number): Attr => ({ name, type: AT.FLOAT, f: v });

class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>([ONNX_INPUT_NAME, ONNX_LOGITS_NAME, ONNX_PROBABILITIES_NAME]);

  /** A name not used yet, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Adds a float32 initializer (raw little-endian bytes) and returns its name. */
  initializer(base: string, dims: number[], data: Float32Array): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`initializer ${base}: shape [${dims}] holds ${size} values, got ${data.length}`);
    const name = this.fresh(base);
    const raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: raw });
    return name;
  }

  /** Adds an int64 initializer (raw little-endian bytes; Slice's starts / ends / axes) and returns its name. */
  int64Initializer(base: string, values: number[]): string {
    const name = this.fresh(base);
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: raw });
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  node(opType: string, inputs: string[], base: string, attribute: Attr[] = []): string {
    const output = this.fresh(base);
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  }
}

function ferlabVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

/** One step of the model's graph: a layer, its inputs and its output (tfjs symbolic tensors). Shared with tflite.ts. */
export interface Step {
  layer: tf.layers.Layer;
  inputs: tf.SymbolicTensor[];
  output: tf.SymbolicTensor;
}

/** Layer classes that may take several inputs. */
const MULTI_INPUT_LAYERS = ['Add', 'Average'];

/**
 * The model's layer applications in an order where every step comes after the steps producing its inputs: a
 * depth-first walk from the output (inputs in order), each symbolic tensor once. For a chain (Sequential) this is the
 * input-to-output order.
 * Shared with tflite.ts, which passes its own error class and name.
 * @throws OnnxExportError (or what `fail` makes) for several inputs or outputs, a layer with several inputs other
 *   than Add, or a path that does not lead to the model's input.
 */
export function stepsOf(model: tf.LayersModel, fail: (message: string) => Error = (m) => new OnnxExportError(m), who = 'tfjsToOnnx'): Step[] {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw fail(`${who} exports models with one input and one output; '${model.name}' has ${model.inputs.length} and ${model.outputs.length}`);
  }
  const steps: Step[] = [];
  const seen = new Set<number>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (seen.has(t.id)) return;
    seen.add(t.id);
    const layer = t.sourceLayer;
    if (layer.getClassName() === 'InputLayer') {
      if (t !== model.inputs[0]) throw fail(`the path from the output of '${model.name}' does not lead to its input`);
      return;
    }
    if (t.inputs.length !== 1 && !MULTI_INPUT_LAYERS.includes(layer.getClassName())) {
      throw fail(
        `layer '${layer.name}' (${layer.getClassName()}) takes ${t.inputs.length} inputs; ${who} converts layers with several inputs only for ${MULTI_INPUT_LAYERS.join(', ')}`,
      );
    }
    for (const i of t.inputs) visit(i);
    steps.push({ layer, inputs: t.inputs, output: t });
  };
  visit(model.outputs[0]);
  return steps;
}

/** TensorFlow 'same' / 'valid' padding of one spatial axis as [before, after] (TF GetWindowedOutputSizeVerbose). */
function padsFor(padding: string, size: number, kernel: number, stride: number, dilation: number, where: string): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (padding !== 'same') throw new OnnxExportError(`${where}: padding '${padding}' is not supported (expected 'same' or 'valid')`);
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Weights of a layer by their tfjs names without the layer prefix and uniquifying suffix (`kernel`, `bias`, `gamma`, ...). Shared with tflite.ts. */
export function weightsByName(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  const values = layer.getWeights();
  const out = new Map<string, tf.Tensor>();
  layer.weights.forEach((w, i) => {
    const base = w.originalName.split('/').pop() ?? w.originalName;
    out.set(base.replace(/_\d+$/, ''), values[i]);
  });
  return out;
}

/**
 * Serialises a tfjs Layers model to an ONNX ModelProto (binary protobuf, the bytes of a `.onnx` file).
 *
 * @param model a tfjs Layers model with one input and one output (tf.Sequential, or a functional model such as a
 *   residual network) made of the layers in {@link ONNX_SUPPORTED_LAYERS}: every model in ferlab's registry
 *   (`listModels()`). Input
 *   `[batch, H, W, C]` float32 (NHWC) with static H, W, C; output logits `[batch, numClasses]` float32.
 * @param opts opset (13-21, default 13), softmax (append Softmax; output `probabilities`), graph name, metadata_props.
 * @returns ModelProto bytes: graph input `input` `[batch, H, W, C]` float32 NHWC (`batch` dynamic), output `logits`
 *   (or `probabilities`) `[batch, numClasses]` float32; weights as float32 initializers. See the file comment for the
 *   NCHW transposes inside the graph and the rule used for each layer.
 * @throws OnnxExportError naming the layer (name and class) and the supported layers/activations for a layer,
 *   activation, padding, data format or axis it cannot convert; for an opset outside 13-21; for a model with several
 *   inputs/outputs or a non-float32 input, or a non-static H/W/C; for a layer with several inputs other than Add.
 */
export function tfjsToOnnx(model: tf.LayersModel, opts: OnnxExportOptions = {}): Uint8Array {
  const opset = opts.opset ?? ONNX_DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < ONNX_MIN_OPSET || opset > ONNX_MAX_OPSET) {
    throw new OnnxExportError(`opset ${opset} is not supported: expected an integer from ${ONNX_MIN_OPSET} to ${ONNX_MAX_OPSET}`);
  }
  const steps = stepsOf(model);
  const inputSym = model.inputs[0];
  if (inputSym.dtype !== 'float32') throw new OnnxExportError(`model input dtype is ${inputSym.dtype}; tfjsToOnnx expects float32`);
  if (inputSym.shape.slice(1).some((d) => d == null)) {
    throw new OnnxExportError(`model input shape [${inputSym.shape.map((d) => d ?? 'null')}] must be static except the batch axis`);
  }

  const g = new GraphBuilder();
  /** The ONNX value of each symbolic tensor converted so far, by tensor id. */
  const values = new Map<number, Value>([[inputSym.id, { name: ONNX_INPUT_NAME, shape: inputSym.shape, nchw: false }]]);
  let cur: Value = values.get(inputSym.id)!;
  let endsWithSoftmax = false;

  // transposed copies by source value name, so that a value read by several layers is transposed once
  const transposed = new Map<string, Value>();
  const transpose = (v: Value, perm: number[], base: string, suffix: string): Value => {
    let t = transposed.get(v.name);
    if (!t) {
      t = { ...v, name: g.node('Transpose', [v.name], `${base}/${suffix}`, [ints('perm', perm)]), nchw: perm === TO_NCHW };
      transposed.set(v.name, t);
    }
    return t;
  };
  const toNchw = (v: Value, base: string): Value => (v.shape.length === 4 && !v.nchw ? transpose(v, TO_NCHW, base, 'to_nchw') : v);
  const toNhwc = (v: Value, base: string): Value => (v.shape.length === 4 && v.nchw ? transpose(v, TO_NHWC, base, 'to_nhwc') : v);

  const unsupported = (layer: tf.layers.Layer, why: string): never => {
    throw new OnnxExportError(
      `cannot convert layer '${layer.name}' (${layer.getClassName()}): ${why}. Supported layers: ${ONNX_SUPPORTED_LAYERS.join(', ')}; ` +
        `activations: ${ONNX_SUPPORTED_ACTIVATIONS.join(', ')}`,
    );
  };

  /** Applies a tfjs activation (by its serialised name) to `v`. */
  const activation = (layer: tf.layers.Layer, name: string, v: Value, base: string): Value => {
    endsWithSoftmax = name === 'softmax';
    switch (name) {
      case 'linear':
        return v;
      case 'relu':
        return { ...v, name: g.node('Relu', [v.name], base) };
      case 'sigmoid':
        return { ...v, name: g.node('Sigmoid', [v.name], base) };
      case 'tanh':
        return { ...v, name: g.node('Tanh', [v.name], base) };
      case 'softmax': {
        const last = toNhwc(v, base); // tfjs normalises the last axis of the NHWC tensor
        return { ...last, name: g.node('Softmax', [last.name], base, [int('axis', -1)]) };
      }
      default:
        return unsupported(layer, `activation '${name}' is not supported`);
    }
  };

  const spatial = (layer: tf.layers.Layer, v: Value): [number, number] => {
    if (v.shape.length !== 4) unsupported(layer, `expected a 4-D [batch, H, W, C] input, got shape [${v.shape.map((d) => d ?? 'null')}]`);
    const cfg = layer.getConfig();
    if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') unsupported(layer, `dataFormat '${cfg.dataFormat}' (expected 'channelsLast')`);
    return [v.shape[1] as number, v.shape[2] as number];
  };

  /** HWIO-style `[kh, kw, C, M]` depthwise kernel -> ONNX grouped-Conv `W` `[C*M, 1, kh, kw]`. */
  const depthwiseW = (kernel: tf.Tensor): Float32Array => {
    const [kh, kw, cin, mult] = kernel.shape;
    const k = kernel.dataSync() as Float32Array;
    const out = new Float32Array(k.length);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let c = 0; c < cin; c++) for (let m = 0; m < mult; m++) out[((c * mult + m) * kh + y) * kw + x] = k[((y * kw + x) * cin + c) * mult + m];
    return out;
  };

  for (const { layer, inputs: inSyms, output } of steps) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    const base = layer.name;
    cur = values.get(inSyms[0].id)!;
    if (cls !== 'Dropout') endsWithSoftmax = false;
    switch (cls) {
      case 'Conv2D': {
        const [h, w] = spatial(layer, cur);
        const weights = weightsByName(layer);
        const kernel = weights.get('kernel');
        if (!kernel) return unsupported(layer, 'no kernel weight');
        const [kh, kw, cin, cout] = kernel.shape;
        const [sh, sw] = cfg.strides as number[];
        const [dh, dw] = cfg.dilationRate as number[];
        const [top, bottom] = padsFor(cfg.padding as string, h, kh, sh, dh, `layer '${base}' (Conv2D)`);
        const [left, right] = padsFor(cfg.padding as string, w, kw, sw, dw, `layer '${base}' (Conv2D)`);
        // HWIO -> OIHW: W[o][i][y][x] = kernel[y][x][i][o]
        const k = kernel.dataSync() as Float32Array;
        const oihw = new Float32Array(k.length);
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++)
            for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) oihw[((o * cin + i) * kh + y) * kw + x] = k[((y * kw + x) * cin + i) * cout + o];
        const inputs = [toNchw(cur, base).name, g.initializer(`${base}/W`, [cout, cin, kh, kw], oihw)];
        const bias = weights.get('bias');
        if (cfg.useBias && bias) inputs.push(g.initializer(`${base}/B`, [cout], bias.dataSync() as Float32Array));
        const attrs = [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('dilations', [dh, dw]), ints('pads', [top, left, bottom, right])];
        const act = cfg.activation as string;
        cur = { name: g.node('Conv', inputs, act === 'linear' ? base : `${base}/conv`, attrs), shape: output.shape, nchw: true };
        cur = activation(layer, act, cur, `${base}/${act}`);
        break;
      }
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        const [h, w] = spatial(layer, cur);
        const weights = weightsByName(layer);
        const kernel = weights.get('depthwise_kernel');
        if (!kernel) return unsupported(layer, 'no depthwise_kernel weight');
        const [kh, kw, cin, mult] = kernel.shape;
        const [sh, sw] = cfg.strides as number[];
        const [dh, dw] = (cfg.dilationRate as number[] | undefined) ?? [1, 1];
        // tfjs-layers 4.22's DepthwiseConv2D.call passes no dilation to tf.depthwiseConv2d: refuse rather than guess
        if (cls === 'DepthwiseConv2D' && (dh !== 1 || dw !== 1)) unsupported(layer, `dilationRate [${dh}, ${dw}] (tfjs' DepthwiseConv2D ignores it)`);
        const [top, bottom] = padsFor(cfg.padding as string, h, kh, sh, dh, `layer '${base}' (${cls})`);
        const [left, right] = padsFor(cfg.padding as string, w, kw, sw, dw, `layer '${base}' (${cls})`);
        const separable = cls === 'SeparableConv2D';
        const act = cfg.activation as string;
        const bias = weights.get('bias');
        const dwInputs = [toNchw(cur, base).name, g.initializer(`${base}/depthwise_W`, [cin * mult, 1, kh, kw], depthwiseW(kernel))];
        if (!separable && cfg.useBias && bias) dwInputs.push(g.initializer(`${base}/B`, [cin * mult], bias.dataSync() as Float32Array));
        const attrs = [
          ints('kernel_shape', [kh, kw]),
          ints('strides', [sh, sw]),
          ints('dilations', [dh, dw]),
          ints('pads', [top, left, bottom, right]),
          int('group', cin),
        ];
        const last = !separable && act === 'linear';
        let name = g.node('Conv', dwInputs, last ? base : separable ? `${base}/depthwise` : `${base}/conv`, attrs);
        if (separable) {
          const pointwise = weights.get('pointwise_kernel');
          if (!pointwise) return unsupported(layer, 'no pointwise_kernel weight');
          const [, , pin, cout] = pointwise.shape;
          // [1, 1, C*M, filters] -> [filters, C*M, 1, 1]: W[o][i] = pointwise[0][0][i][o]
          const p = pointwise.dataSync() as Float32Array;
          const pw = new Float32Array(p.length);
          for (let i = 0; i < pin; i++) for (let o = 0; o < cout; o++) pw[o * pin + i] = p[i * cout + o];
          const pwInputs = [name, g.initializer(`${base}/pointwise_W`, [cout, pin, 1, 1], pw)];
          if (cfg.useBias && bias) pwInputs.push(g.initializer(`${base}/B`, [cout], bias.dataSync() as Float32Array));
          name = g.node('Conv', pwInputs, act === 'linear' ? base : `${base}/pointwise`, [ints('kernel_shape', [1, 1])]);
        }
        cur = { name, shape: output.shape, nchw: true };
        cur = activation(layer, act, cur, `${base}/${act}`);
        break;
      }
      case 'Add':
      case 'Average': {
        const ins = inSyms.map((t) => values.get(t.id)!);
        if (ins.some((v) => v.shape.join() !== ins[0].shape.join())) {
          unsupported(
            layer,
            `inputs of different shapes (${ins.map((v) => `[${v.shape.map((d) => d ?? 'null')}]`).join(', ')}); only equal shapes are supported`,
          );
        }
        const same = ins.map((v) => toNchw(v, base));
        let name = same[0].name;
        const average = cls === 'Average';
        for (let i = 1; i < same.length; i++) name = g.node('Add', [name, same[i].name], i === same.length - 1 && !average ? base : `${base}/add${i}`);
        if (average) name = g.node('Mul', [name, g.initializer(`${base}/inverse_n`, [], Float32Array.of(1 / same.length))], base);
        cur = { name, shape: output.shape, nchw: same[0].nchw };
        break;
      }
      case 'Cropping2D': {
        const [h, w] = spatial(layer, cur);
        const [[top, bottom], [left, right]] = cfg.cropping as [[number, number], [number, number]];
        const axes = cur.nchw ? [2, 3] : [1, 2];
        const inputs = [
          cur.name,
          g.int64Initializer(`${base}/starts`, [top, left]),
          g.int64Initializer(`${base}/ends`, [h - bottom, w - right]),
          g.int64Initializer(`${base}/axes`, axes),
        ];
        cur = { name: g.node('Slice', inputs, base), shape: output.shape, nchw: cur.nchw };
        break;
      }
      case 'BatchNormalization': {
        const rank = cur.shape.length;
        const axis = cfg.axis as number;
        if (axis !== -1 && axis !== rank - 1) unsupported(layer, `axis ${axis} (only the channel axis, -1, is supported)`);
        if (rank !== 2 && rank !== 4) unsupported(layer, `input of rank ${rank} (expected 2 or 4)`);
        const weights = weightsByName(layer);
        const channels = cur.shape[rank - 1] as number;
        const get = (key: string, fill: number): Float32Array => {
          const t = weights.get(key);
          return t ? (t.dataSync() as Float32Array) : new Float32Array(channels).fill(fill);
        };
        if (!weights.has('moving_mean') || !weights.has('moving_variance')) unsupported(layer, 'no moving_mean/moving_variance weights');
        const x = toNchw(cur, base);
        const inputs = [
          x.name,
          g.initializer(`${base}/scale`, [channels], get('gamma', 1)),
          g.initializer(`${base}/B`, [channels], get('beta', 0)),
          g.initializer(`${base}/mean`, [channels], get('moving_mean', NaN)),
          g.initializer(`${base}/var`, [channels], get('moving_variance', NaN)),
        ];
        cur = { ...x, name: g.node('BatchNormalization', inputs, base, [float('epsilon', cfg.epsilon as number)]) };
        break;
      }
      case 'Activation':
        cur = activation(layer, cfg.activation as string, cur, base);
        break;
      case 'ReLU':
        if (cfg.maxValue != null) unsupported(layer, `maxValue ${cfg.maxValue} (only a plain ReLU is supported)`);
        cur = activation(layer, 'relu', cur, base);
        break;
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const [h, w] = spatial(layer, cur);
        const [ph, pw] = cfg.poolSize as number[];
        const [sh, sw] = (cfg.strides as number[] | null) ?? [ph, pw];
        const [top, bottom] = padsFor(cfg.padding as string, h, ph, sh, 1, `layer '${base}' (${cls})`);
        const [left, right] = padsFor(cfg.padding as string, w, pw, sw, 1, `layer '${base}' (${cls})`);
        const attrs = [ints('kernel_shape', [ph, pw]), ints('strides', [sh, sw]), ints('pads', [top, left, bottom, right])];
        if (cls === 'AveragePooling2D') attrs.push(int('count_include_pad', 0));
        cur = { name: g.node(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [toNchw(cur, base).name], base, attrs), shape: output.shape, nchw: true };
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        spatial(layer, cur);
        if (cfg.keepDims) unsupported(layer, 'keepDims true (only the [batch, C] output is supported)');
        const pooled = g.node(cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [toNchw(cur, base).name], `${base}/pool`);
        cur = { name: g.node('Flatten', [pooled], base, [int('axis', 1)]), shape: output.shape, nchw: false };
        break;
      }
      case 'Flatten': {
        const x = toNhwc(cur, base); // tfjs flattens the NHWC tensor row-major
        cur = { name: g.node('Flatten', [x.name], base, [int('axis', 1)]), shape: output.shape, nchw: false };
        break;
      }
      case 'Dense': {
        if (cur.shape.length !== 2) unsupported(layer, `input of rank ${cur.shape.length} (only a 2-D [batch, features] input is supported; add a Flatten)`);
        const weights = weightsByName(layer);
        const kernel = weights.get('kernel');
        if (!kernel) return unsupported(layer, 'no kernel weight');
        const [nin, units] = kernel.shape;
        const inputs = [cur.name, g.initializer(`${base}/kernel`, [nin, units], kernel.dataSync() as Float32Array)];
        const bias = weights.get('bias');
        if (cfg.useBias && bias) inputs.push(g.initializer(`${base}/bias`, [units], bias.dataSync() as Float32Array));
        const act = cfg.activation as string;
        cur = { name: g.node('Gemm', inputs, act === 'linear' ? base : `${base}/gemm`), shape: output.shape, nchw: false };
        cur = activation(layer, act, cur, `${base}/${act}`);
        break;
      }
      case 'Dropout':
        break; // the identity at inference
      default:
        unsupported(layer, 'this layer class is not supported');
    }
    values.set(output.id, cur);
  }

  if (opts.softmax && opts.probabilitiesOutput)
    throw new OnnxExportError('softmax and probabilitiesOutput exclude each other: the output is already probabilities');
  const probabilities = !!(opts.softmax || opts.probabilitiesOutput);
  const outputName = probabilities ? ONNX_PROBABILITIES_NAME : ONNX_LOGITS_NAME;
  cur = toNhwc(cur, 'output');
  if (opts.softmax) {
    if (endsWithSoftmax) throw new OnnxExportError(`softmax: true, but the model '${model.name}' already ends with a softmax (its outputs are not logits)`);
    cur = { ...cur, name: g.node('Softmax', [cur.name], 'softmax', [int('axis', -1)]) };
  }
  // name the last tensor after the graph output (an Identity when no node produced it, e.g. a model of Dropouts only)
  const last = g.nodes.find((n) => n.output?.[0] === cur.name);
  if (last) {
    last.output = [outputName];
    last.name = outputName;
  } else {
    g.nodes.push({ opType: 'Identity', input: [cur.name], output: [outputName], name: outputName });
  }

  const dims = (shape: (number | null)[]): onnx.TensorShapeProto.IDimension[] =>
    shape.map((d, i) => (i === 0 ? { dimParam: 'batch' } : d == null ? { dimParam: `dim${i}` } : { dimValue: d }));
  const valueInfo = (name: string, shape: (number | null)[], docString: string): onnx.IValueInfoProto => ({
    name,
    docString,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims(shape) } } },
  });
  const outShape = model.outputs[0].shape;
  const graph: onnx.IGraphProto = {
    name: opts.name ?? model.name,
    node: g.nodes,
    initializer: g.initializers,
    input: [valueInfo(ONNX_INPUT_NAME, inputSym.shape, 'images [batch, H, W, C] float32, NHWC as in tfjs')],
    output: [valueInfo(outputName, outShape, probabilities ? 'softmax probabilities [batch, numClasses] float32' : 'logits [batch, numClasses] float32')],
    docString: `converted from the tfjs Layers model '${model.name}' by ferlab tfjsToOnnx; input NHWC, NCHW inside (Transpose nodes)`,
  };
  const proto: onnx.IModelProto = {
    irVersion: IR_VERSION_FOR_OPSET[opset],
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'ferlab',
    producerVersion: ferlabVersion(),
    graph,
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value: String(value) })),
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish();
}
