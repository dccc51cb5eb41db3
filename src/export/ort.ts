/**
 * ONNX Runtime for Node (onnxruntime-node, a dev dependency of ferlab), loaded lazily: `export` writes model.onnx
 * without it and only its check needs it; the inference benchmark measures it when it is there.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand so that ferlab works without it */
import { DEFAULT_INPUT, inputBatches, type InputSpec } from '../data/input';
import { ONNX_INPUT_NAME } from './onnx';

/** The onnxruntime-node module. */
export type OnnxRuntime = typeof import('onnxruntime-node');

/** onnxruntime-node when it loads, else why not (a sentence saying how to install it). */
export function loadOnnxRuntime(): { ort: OnnxRuntime; version: string } | { ort: undefined; reason: string } {
  try {
    const ort = require('onnxruntime-node') as OnnxRuntime;
    let version = 'unknown';
    try {
      version = String(require('onnxruntime-node/package.json').version);
    } catch {
      /* version is informational */
    }
    return { ort, version };
  } catch (e) {
    return {
      ort: undefined,
      reason: `onnxruntime-node is not installed or does not load here (${(e as Error).message.split('\n')[0]}); install it with npm install --save-dev onnxruntime-node`,
    };
  }
}

/**
 * Runs an ONNX model exported by {@link tfjsToOnnx} on dataset images with ONNX Runtime (CPU execution provider),
 * with the model's input spec (src/data/input.ts inputBatches; default: the standard preprocessing, pixel / 255).
 *
 * @param model path of a .onnx file, or its bytes. @param pixels `[N, 48, 48]` uint8 dataset images.
 * @param index `[m]` rows to run, in order. @param batchSize images per session.run. @param input the model's input
 *   spec: inputs `[batch, size, size, 1]` float32.
 * @returns `[m, C]` float32 outputs of the graph's first output (`logits` for ferlab's export).
 * @throws Error when the graph's input is not named `input`, ONNX Runtime refuses the `[batch, size, size, 1]`
 *   inputs, or the output is not 2-D.
 */
export async function onnxLogits(
  ort: OnnxRuntime,
  model: string | Uint8Array,
  pixels: Uint8Array,
  index: Int32Array,
  batchSize = 256,
  input: Readonly<InputSpec> = DEFAULT_INPUT,
): Promise<Float32Array> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    if (!session.inputNames.includes(ONNX_INPUT_NAME)) throw new Error(`ONNX graph inputs are [${session.inputNames}]; expected '${ONNX_INPUT_NAME}'`);
    const outName = session.outputNames[0];
    let out: Float32Array | undefined;
    let C = 0;
    const S = input.size;
    for (const b of inputBatches(pixels, index, batchSize, input)) {
      const x = new ort.Tensor('float32', Float32Array.from(b.x.subarray(0, b.n * S * S)), [b.n, S, S, 1]);
      const y = (await session.run({ [ONNX_INPUT_NAME]: x }))[outName];
      if (y.dims.length !== 2 || y.dims[0] !== b.n) throw new Error(`ONNX output '${outName}' has shape [${y.dims}]; expected [${b.n}, classes]`);
      C = y.dims[1];
      out ??= new Float32Array(index.length * C);
      out.set(y.data as Float32Array, b.start * C);
    }
    return out ?? new Float32Array(0);
  } finally {
    await session.release();
  }
}
