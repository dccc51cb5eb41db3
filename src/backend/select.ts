import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from './wasm/kernels';
import { chooseVariant } from './wasm/module';
import { setupWebGpu, type AdapterDescription } from './webgpu/device';
import { registerWebgpuKernels } from './webgpu';
import { NATIVE_BACKEND, registerNativeBackend } from './native/backend';
import { loadNativeAddon } from './native/addon';

/**
 * Backends ferlab can train on, in the order `auto` tries them (fastest first): a hardware GPU (`tensorflow-gpu`:
 * tfjs-node-gpu with CUDA; `webgpu`: tfjs' webgpu backend on any Vulkan / Metal / D3D12 GPU through Dawn, the optional
 * `webgpu` package, with ferlab's WGSL kernels), then the CPU: `native` (the wasm backend with oneDNN kernels for
 * convolutions, matmuls and pooling, src/backend/native/; an optional addon built at install when a C++ compiler and
 * oneDNN are present: 2.66x / 1.63x / 1.37x PyTorch on one thread for baseline / deep / vgg13, bench/results/latest.md,
 * issue 28), `tensorflow` (tfjs-node, libtensorflow on the CPU), `wasm` (ferlab's wasm kernels, the fall back
 * everywhere), `cpu` (plain JavaScript).
 */
export const BACKENDS = ['tensorflow-gpu', 'webgpu', 'native', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
/** A backend request: a name, or `auto` for the fastest available. */
export type BackendChoice = BackendName | 'auto';

/** What {@link initBackend} chose, and why. */
export interface BackendInfo {
  /** tfjs backend name now active: `tensorflow` is tfjs-node / tfjs-node-gpu, else `wasm` or `cpu`. */
  name: string;
  /** The requested choice. */
  requested: BackendChoice;
  /** Human-readable description printed at start-up (package, GPU, kernel variant). */
  description: string;
  /** For wasm: which ferlab kernel build runs (`relaxed` = FMA, `simd`), or `stock` with FERLAB_KERNELS=off; for webgpu `ferlab` or `stock`. */
  kernels?: string;
  /** For webgpu: the adapter (GPU) it runs on. */
  adapter?: AdapterDescription;
  /** For native: oneDNN's OpenMP threads for this run. */
  threads?: number;
  /**
   * For `auto` on a CPU: why `native` was passed over (its addon is not built or fails to load, or FERLAB_KERNELS=off),
   * the message {@link initBackend} printed once on stderr; absent when native ran or was not tried (a GPU came first).
   */
  nativeUnavailable?: string;
}

let current: BackendInfo | undefined;

/** The cpu backend prints a "install tfjs-node" banner on first use; ferlab chose the backend knowingly. */
function quietFirstUse(): void {
  const warn = console.warn;
  console.warn = () => {};
  try {
    tf.tidy(() => tf.scalar(0).dataSync());
  } finally {
    console.warn = warn;
  }
}

function tryRequire(name: string): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- probes whether an optional module is installed
    require(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether tfjs-node(-gpu) is installed and loads. They are optional peer dependencies: ferlab never requires them,
 * and their install downloads libtensorflow, which only works with internet access.
 */
export function nodeBindingAvailable(gpu: boolean): boolean {
  return tryRequire(gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
}

/** Every valid backend choice, in the order error messages list them. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', ...BACKENDS];

/**
 * Validates a backend name from the user (environment variable, CLI option, function argument). There is no silent
 * fall back: a misspelt name must not quietly train on the ~300x slower cpu backend.
 * @param value the requested name, e.g. `wasm`.
 * @param source where it came from, named in the error: `FERLAB_BACKEND`, `--backend`, `initBackend()`.
 * @throws Error `<source>='<value>' is not a valid backend; expected one of auto, tensorflow-gpu, webgpu, native, tensorflow, wasm, cpu`.
 */
export function parseBackendChoice(value: string, source: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new Error(`${source}='${value}' is not a valid backend; expected one of ${BACKEND_CHOICES.join(', ')}`);
}

/**
 * The backend choice from `FERLAB_BACKEND` (default `auto` when unset or empty).
 * @throws Error for an unknown name (see {@link parseBackendChoice}).
 */
export function backendFromEnv(): BackendChoice {
  return parseBackendChoice(process.env.FERLAB_BACKEND || 'auto', 'FERLAB_BACKEND');
}

async function useWasm(): Promise<BackendInfo['kernels']> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the backend registers itself when loaded, only when chosen
  require('@tensorflow/tfjs-backend-wasm');
  const names = registerWasmKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to initialise');
  await tf.ready();
  return names.length ? chooseVariant() : 'stock';
}

/**
 * oneDNN threads of a `native` run: `FERLAB_NATIVE_THREADS` (default 1: one core per run, as wasm, so that workers x
 * threads stays within the cores).
 * @throws Error when it is set to anything but a positive integer.
 */
export function nativeThreadsFromEnv(): number {
  const v = process.env.FERLAB_NATIVE_THREADS;
  if (v === undefined || v === '') return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FERLAB_NATIVE_THREADS='${v}' must be a positive integer`);
  return n;
}

/**
 * The `native` backend: the wasm backend (with ferlab's kernels) under a second name, its convolutions and matmuls on
 * oneDNN (src/backend/native/backend.ts).
 * @throws Error when the addon is not built or fails to load: the message says why and what to install.
 */
async function useNative(threads: number): Promise<{ kernels: string; isa: string; version: string }> {
  const loaded = loadNativeAddon(); // before wasm starts: `auto` then goes on to the next backend untouched
  if ('error' in loaded) throw new Error(loaded.error);
  const kernels = await useWasm();
  if (kernels === 'stock') throw new Error("FERLAB_KERNELS=off: the native backend builds on ferlab's wasm kernels");
  const { addon } = registerNativeBackend(threads);
  if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error('the native backend failed to initialise');
  const v = addon.version();
  return { kernels: kernels!, isa: v.isa, version: `${v.major}.${v.minor}.${v.patch}` };
}

/** Dispatches ferlab records on webgpu before submitting them to the GPU queue (see useWebGpu). */
export const WEBGPU_SUBMIT_BATCH = 50;

/**
 * tfjs' webgpu backend on the adapter {@link setupWebGpu} finds, with ferlab's WGSL kernels. `navigator.gpu` must
 * exist before @tensorflow/tfjs-backend-webgpu is loaded (it registers the backend at import only then).
 * @param allowSoftware accept SwiftShader / lavapipe (explicit `webgpu` only; `auto` wants a hardware GPU).
 */
async function useWebGpu(allowSoftware: boolean): Promise<{ adapter: AdapterDescription; kernels: string }> {
  const adapter = await setupWebGpu(allowSoftware);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the backend registers itself when loaded, only when chosen
  require('@tensorflow/tfjs-backend-webgpu');
  // dispatches recorded before a queue submit: tfjs' default is 15; 50 measured faster on an H100 (bench/results/
  // webgpu-latest.md, 2026-11-26: baseline 2,724 -> 3,316 img/s, deep 2,160 -> 3,379 img/s at batch 64; 200 was
  // slower again, the GPU then idles while the host records). FERLAB_WEBGPU_SUBMIT_BATCH overrides it for tuning.
  const batch = Number(process.env.FERLAB_WEBGPU_SUBMIT_BATCH ?? WEBGPU_SUBMIT_BATCH);
  if (batch > 0) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', batch);
  const names = registerWebgpuKernels();
  const warn = console.warn;
  console.warn = () => {}; // tfjs warns once when the adapter lacks timestamp queries (profiling then reports 0 ms)
  try {
    if (!(await tf.setBackend('webgpu'))) throw new Error(`the tfjs webgpu backend failed to initialise on ${adapter.description}`);
    await tf.ready();
  } finally {
    console.warn = warn;
  }
  trackGpuData(tf.findBackend('webgpu'));
  return { adapter, kernels: names.length ? 'ferlab' : 'stock' };
}

/** Data ids of the webgpu backend's live tensors (its tensorMap is a WeakMap, not enumerable). */
const gpuData = new Set<object>();
let tracked: object | undefined;

/** Keeps {@link gpuData} in step with the webgpu backend's tensorMap (set / delete). */
function trackGpuData(backend: unknown): void {
  if (!backend || tracked === backend) return;
  tracked = backend;
  const map = (backend as { tensorMap: { set(id: object, v: unknown): void; delete(id: object): boolean } }).tensorMap;
  const set = map.set.bind(map);
  const del = map.delete.bind(map);
  map.set = (id, v) => {
    gpuData.add(id);
    set(id, v);
  };
  map.delete = (id) => {
    gpuData.delete(id);
    return del(id);
  };
}

/**
 * For the training loop: true when the chosen backend ({@link initBackend}) is webgpu, after making it the active one
 * again (a previous training or {@link beginSyncReads} may have left wasm active for synchronous reads).
 */
export async function trainingOnDevice(): Promise<boolean> {
  if (current?.name !== 'webgpu') return false;
  if (tf.getBackend() !== 'webgpu' && !(await tf.setBackend('webgpu'))) throw new Error('could not switch back to the webgpu backend');
  return true;
}

/**
 * Makes synchronous reads (`dataSync`, and so validation and checkpoints written for wasm) work while tfjs' webgpu
 * backend is active in Node, where it cannot read the GPU synchronously (its readSync needs OffscreenCanvas, which
 * Node lacks): downloads every live GPU tensor with one round of asynchronous reads (the backend keeps the values on
 * the CPU), then makes the wasm backend (with ferlab's kernels) the active one, so that what runs until the returned
 * function is awaited computes on wasm; tensors move between the backends as they are used (weights: a few MB).
 * Elsewhere (not webgpu) it does nothing.
 *
 * @returns a function that makes webgpu the active backend again.
 */
export async function beginSyncReads(): Promise<() => Promise<void>> {
  if (tf.getBackend() !== 'webgpu') return async () => {};
  const backend = tf.findBackend('webgpu') as unknown as {
    tensorMap: { data: WeakMap<object, { values?: unknown; resource?: unknown }> };
    read(id: object): Promise<unknown>;
  };
  const pending = [...gpuData].filter((id) => {
    const d = backend.tensorMap.data.get(id);
    return d && d.values == null && d.resource != null;
  });
  await Promise.all(pending.map((id) => backend.read(id)));
  await useWasm();
  return async () => {
    if (!(await tf.setBackend('webgpu'))) throw new Error('could not switch back to the webgpu backend');
  };
}

/**
 * The backend a record names: the `backend` of a run record's environment (experiment.json, sweep.json), which is the
 * {@link BackendInfo.description} of the backend that trained it, e.g. `native (oneDNN 2.6.3 (avx512_core_bf16, 1
 * thread) + wasm ferlab kernels (FMA))` or `wasm (XNNPACK + ferlab kernels, FMA (relaxed SIMD), 1 thread)`: its first
 * word is the backend name, and native's first `N thread(s)` its oneDNN thread count.
 * @returns undefined when the text names no backend (a record from remote workers, a hand-made record, no text).
 */
export function recordedBackend(description: unknown): { name: BackendName; threads?: number } | undefined {
  if (typeof description !== 'string') return undefined;
  const name = /^([a-z-]+)\b/.exec(description)?.[1];
  if (!name || !(BACKENDS as readonly string[]).includes(name)) return undefined;
  const threads = name === 'native' ? Number(/\b(\d+) threads?\b/.exec(description)?.[1]) : NaN;
  return Number.isInteger(threads) && threads > 0 ? { name: name as BackendName, threads } : { name: name as BackendName };
}

/** Whether {@link initBackend} has printed why `auto` passed over native (once per process). */
let nativeReasonShown = false;

/**
 * Selects and initialises the tfjs backend. `auto` (the default, or `FERLAB_BACKEND`) picks the fastest one that
 * loads, in the order of {@link BACKENDS}: tfjs-node-gpu when it loads and sees a GPU, then webgpu on a hardware GPU
 * (never a software adapter such as SwiftShader), then `native` when its oneDNN addon is built and loads (wasm with
 * oneDNN convolutions, matmuls and pooling, FERLAB_NATIVE_THREADS threads), then tfjs-node, then wasm (with ferlab's
 * training kernels), then cpu. When `auto` passes over native (addon not built or not loading), it says why once per
 * process on stderr (`ferlab: backend auto: native unavailable, using wasm: <reason and what to install>`) and in
 * {@link BackendInfo.nativeUnavailable}. Naming a backend forces it (`webgpu` then also takes a software adapter).
 * Run records name the backend that ran (its description, in the environment of experiment.json / sweep.json).
 * Idempotent per process for the same choice; `auto` keeps a backend already initialised.
 *
 * @throws Error for `native` when the oneDNN addon is not built or does not load, saying why and what to install;
 *   for `native` and `auto` when FERLAB_NATIVE_THREADS is not a positive integer.
 *
 * @throws Error for a name that is not a backend (listing the valid ones; see {@link parseBackendChoice}), and when a
 * forced backend is not available (e.g. `tensorflow` without @tensorflow/tfjs-node installed).
 */
export async function initBackend(choice: BackendChoice = backendFromEnv()): Promise<BackendInfo> {
  choice = parseBackendChoice(choice, 'initBackend()');
  if (current && (current.requested === choice || choice === 'auto') && tf.getBackend() === current.name) return current;
  const order: BackendName[] = choice === 'auto' ? [...BACKENDS] : [choice];
  // a bad FERLAB_NATIVE_THREADS is an error, also under `auto` (never a quiet fall back to wasm)
  const threads = order.includes('native') ? nativeThreadsFromEnv() : 1;
  const errors: string[] = [];
  let nativeError: string | undefined;
  for (const b of order) {
    try {
      if (b === 'tensorflow-gpu') {
        if (!nodeBindingAvailable(true)) throw new Error('@tensorflow/tfjs-node-gpu is not installed');
        await tf.setBackend('tensorflow');
        const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
        if (!gpu) throw new Error('tfjs-node-gpu loaded but sees no GPU');
        current = { name: 'tensorflow', requested: choice, description: 'tensorflow (tfjs-node-gpu, CUDA GPU)' };
      } else if (b === 'webgpu') {
        const { adapter, kernels } = await useWebGpu(choice === 'webgpu');
        const what = kernels === 'stock' ? 'stock kernels (FERLAB_KERNELS=off)' : 'ferlab WGSL kernels';
        const kind = adapter.software ? 'software adapter, CPU' : 'GPU';
        current = { name: 'webgpu', requested: choice, description: `webgpu (Dawn, ${what}) on ${adapter.description} (${kind})`, kernels, adapter };
      } else if (b === 'tensorflow') {
        if (!nodeBindingAvailable(false) && !nodeBindingAvailable(true)) throw new Error('@tensorflow/tfjs-node is not installed');
        await tf.setBackend('tensorflow');
        current = { name: 'tensorflow', requested: choice, description: 'tensorflow (tfjs-node, libtensorflow CPU)' };
      } else if (b === 'native') {
        const n = await useNative(threads);
        const what = `oneDNN ${n.version} (${n.isa}, ${threads} thread${threads === 1 ? '' : 's'}) + wasm ferlab kernels (${n.kernels === 'relaxed' ? 'FMA' : 'SIMD128'})`;
        current = { name: 'native', requested: choice, description: `native (${what})`, kernels: n.kernels, threads };
      } else if (b === 'wasm') {
        const kernels = await useWasm();
        const what =
          kernels === 'stock'
            ? 'stock kernels (FERLAB_KERNELS=off: cannot train convolutions)'
            : `ferlab kernels, ${kernels === 'relaxed' ? 'FMA (relaxed SIMD)' : 'SIMD128'}`;
        current = { name: 'wasm', requested: choice, description: `wasm (XNNPACK + ${what}, 1 thread)`, kernels };
      } else {
        await tf.setBackend('cpu');
        await tf.ready();
        quietFirstUse();
        current = { name: 'cpu', requested: choice, description: 'cpu (pure JavaScript: for tiny tests only, ~300x slower than PyTorch)' };
      }
      if (choice === 'auto' && nativeError !== undefined) {
        current.nativeUnavailable = nativeError;
        if (!nativeReasonShown) console.warn(`ferlab: backend auto: native unavailable, using ${current.name}: ${nativeError}`);
        nativeReasonShown = true;
      }
      return current;
    } catch (e) {
      errors.push(`${b}: ${(e as Error).message}`);
      if (b === 'native') nativeError = (e as Error).message;
    }
  }
  throw new Error(`no usable tfjs backend for '${choice}':\n  ${errors.join('\n  ')}`);
}

/** The backend chosen by the last {@link initBackend}, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
