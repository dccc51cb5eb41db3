/**
 * LiteRT.js (`@litertjs/core`, Google's WebAssembly build of the LiteRT / TFLite runtime, a dev dependency of ferlab)
 * in Node, loaded lazily: `export` writes model.tflite without it and only its check needs it.
 *
 * LiteRT.js is written for browsers: its loader (`@litertjs/wasm-utils` createWasmLib) runs the Emscripten glue script
 * with `importScripts` (workers) or a `<script>` tag and then reads `self.ModuleFactory`. In Node, {@link loadLiteRt}
 * provides `self` and an `importScripts` that evaluates the glue script as CommonJS (the script's own Node branch then
 * reads the .wasm file with node:fs) for the duration of the load, and removes them again. Node 20's V8 has no relaxed
 * SIMD, so LiteRT.js picks its `litert_wasm_compat_internal` build; the model runs on its CPU path (XNNPACK, then the
 * builtin kernels for what XNNPACK leaves).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DEFAULT_INPUT, inputBatches, type InputSpec } from '../data/input';

/** The `@litertjs/core` module. */
export type LiteRtModule = typeof import('@litertjs/core');

let loading: Promise<{ litert: LiteRtModule; version: string } | { litert: undefined; reason: string }> | undefined;

/**
 * `@litertjs/core` with its WebAssembly runtime loaded (once per process), or why not (a sentence saying how to install
 * it).
 */
export function loadLiteRt(): Promise<{ litert: LiteRtModule; version: string } | { litert: undefined; reason: string }> {
  loading ??= (async () => {
    const req = createRequire(__filename);
    let pkgJson: string;
    let litert: LiteRtModule;
    try {
      pkgJson = req.resolve('@litertjs/core/package.json');
      litert = (await import('@litertjs/core')) as LiteRtModule;
    } catch (e) {
      return {
        litert: undefined,
        reason: `@litertjs/core is not installed or does not load here (${(e as Error).message.split('\n')[0]}); install it with npm install --save-dev @litertjs/core`,
      };
    }
    const g = globalThis as Record<string, unknown>;
    const had = { self: 'self' in g, importScripts: 'importScripts' in g };
    if (!had.self) g.self = globalThis;
    if (!had.importScripts)
      g.importScripts = (url: string) => {
        const file = String(url);
        const module = { exports: {} as unknown };
        // the Emscripten glue script as CommonJS: its Node branch locates the .wasm beside __dirname
        new Function('module', 'exports', 'require', '__filename', '__dirname', readFileSync(file, 'utf8'))(module, module.exports, req, file, dirname(file));
        g.ModuleFactory = module.exports;
      };
    // LiteRT's C++ logs (INFO lines for every model compiled) go through Emscripten's Module.printErr: keep the rest
    const had2 = 'Module' in g;
    if (!had2) g.Module = { printErr: (line: string) => /^INFO: |^WARNING: \[npu_registry/.test(line) || process.stderr.write(`${line}\n`) };
    // Environment.create asks navigator.gpu for a WebGPU device and warns when there is none (Node has none)
    const warn = console.warn;
    console.warn = (...args: unknown[]) => (String(args[0]).startsWith('Failed to create default WebGPU device') ? undefined : warn(...args));
    try {
      await litert.loadLiteRt(join(dirname(pkgJson), 'wasm') + '/');
    } catch (e) {
      return { litert: undefined, reason: `@litertjs/core's WebAssembly runtime does not load here: ${(e as Error).message.split('\n')[0]}` };
    } finally {
      console.warn = warn;
      if (!had2) delete g.Module;
      if (!had.importScripts) delete g.importScripts;
      if (!had.self) delete g.self;
    }
    const version = String(JSON.parse(readFileSync(pkgJson, 'utf8')).version);
    return { litert, version };
  })();
  return loading;
}

/**
 * Runs a .tflite model on `n` float32 inputs (for ferlab's models `[n, S, S, 1]` NHWC images) with LiteRT.js (CPU,
 * 'wasm' accelerator).
 *
 * The compiled model's input shape is fixed (LiteRT.js' CompiledModel does not resize inputs), so images go in groups
 * of the model's batch (axis 0 of its input), the last group padded with zeros.
 *
 * @param model an already loaded module ({@link loadLiteRt}). @param bytes the .tflite file's bytes.
 * @param x `[n * (size of one input)]` float32, e.g. `[n, S, S, 1]` images NHWC, S that of the model's input.
 * @returns `[n, C]` float32 outputs of the model's first output, and the input shape the model declares.
 * @throws Error when the model does not compile, its input is not a float32 tensor `[batch, ...]` of a static batch
 *   matching x's size, or its output is not 2-D.
 */
export async function runTflite(litert: LiteRtModule, bytes: Uint8Array, x: Float32Array, n: number): Promise<{ out: Float32Array; inputShape: number[] }> {
  const compiled = await litert.loadAndCompile(bytes, { accelerator: 'wasm' });
  try {
    const [inDetail] = compiled.getInputDetails();
    const inputShape = Array.from(inDetail.shape);
    if (inputShape.length < 2 || inDetail.dtype !== 'float32')
      throw new Error(`TFLite input is ${inDetail.dtype} [${inputShape}]; expected float32 [batch, ...]`);
    const per = inputShape.slice(1).reduce((a, d) => a * d, 1);
    if (x.length !== n * per) throw new Error(`${x.length} input values for ${n} images of the model's [${inputShape.slice(1)}]`);
    const B = inputShape[0];
    if (!(B > 0)) throw new Error(`TFLite input [${inputShape}] has a dynamic batch; LiteRT.js runs static shapes only`);
    let out: Float32Array | undefined;
    let C = 0;
    for (let start = 0; start < n; start += B) {
      const m = Math.min(B, n - start);
      const chunk = new Float32Array(B * per);
      chunk.set(x.subarray(start * per, (start + m) * per));
      const input = new litert.Tensor(chunk, inputShape);
      const results = await compiled.run(input);
      input.delete();
      try {
        const y = results[0];
        const dims = Array.from(y.type.layout.dimensions);
        if (dims.length !== 2 || dims[0] !== B) throw new Error(`TFLite output has shape [${dims}]; expected [${B}, classes]`);
        C = dims[1];
        out ??= new Float32Array(n * C);
        out.set((y.toTypedArray() as Float32Array).subarray(0, m * C), start * C);
      } finally {
        for (const r of results) r.delete();
      }
    }
    return { out: out ?? new Float32Array(0), inputShape };
  } finally {
    compiled.delete();
  }
}

/**
 * Runs a .tflite model (ferlab's export, tflite.ts) on dataset images with LiteRT.js, with the model's input spec
 * (src/data/input.ts inputBatches; default: the standard preprocessing, pixel / 255), as ort.ts onnxLogits does for
 * ONNX. Loads LiteRT.js on first use ({@link loadLiteRt}).
 *
 * @param model path of a .tflite file, or its bytes. @param pixels `[N, 48, 48]` uint8 dataset images.
 * @param index `[m]` rows to run, in order. @param input the model's input spec: its input is `[batch, size, size, 1]`
 *   float32.
 * @returns `[m, C]` float32 outputs (`logits` for ferlab's export).
 * @throws Error when LiteRT.js is not installed or does not load (the message says how to install it), or what
 *   {@link runTflite} throws.
 */
export async function tfliteLogits(
  model: string | Uint8Array,
  pixels: Uint8Array,
  index: Int32Array,
  input: Readonly<InputSpec> = DEFAULT_INPUT,
): Promise<Float32Array> {
  const rt = await loadLiteRt();
  if (!rt.litert) throw new Error(rt.reason);
  const bytes = typeof model === 'string' ? new Uint8Array(readFileSync(model)) : model;
  const S = input.size;
  const x = new Float32Array(index.length * S * S);
  for (const b of inputBatches(pixels, index, 256, input)) x.set(b.x.subarray(0, b.n * S * S), b.start * S * S);
  return (await runTflite(rt.litert, bytes, x, index.length)).out;
}
