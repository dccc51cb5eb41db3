import { spawnSync } from 'node:child_process';
import { workerCode as threadCode } from '../util/threads';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { backendFromEnv, initBackend, nodeBindingAvailable, type BackendChoice } from '../backend/select';
import { listModels } from '../models/registry';
import { registeredModelStats } from '../models/stats';
import '../models';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { environment, type Environment } from '../util/env';
import { PROJECT_ROOT, defaultDataDir } from '../util/paths';
import { median, kernelProfile, timeTrainingSteps, timeTrainingStepsOnDevice, type StepTiming } from './steps';
import type { BenchWorkerInit } from './worker';
import { findTorchPython, writeTorchSpec } from './torch';
import { measureMaddPeak, type MaddPeak } from './ceiling';
import { benchInference, inferenceMarkdown, type InferenceBench } from './inference';
import { benchPredict, type PredictBenchResult } from '../predict/bench';
import { loadNativeAddon } from '../backend/native/addon';

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Timed steps per measurement (default 20; 5 with quick). */
  steps?: number;
  /** Models to measure (default: all registered). */
  models?: string[];
  /** Output folder (default bench/results). */
  outDir?: string;
  /** Smoke run: few steps, no PyTorch, no experiment measurement. */
  quick?: boolean;
  /** Data for the experiment-speedup measurement (default FERLAB_DATA_DIR or data/); skipped when absent. */
  dataDir?: string;
  log?: (line: string) => void;
  /** Backend (default FERLAB_BACKEND): `webgpu` runs {@link runWebgpuBench}; anything else the wasm benchmark. */
  backend?: BackendChoice;
}

/** PyTorch timing of one model: thread count -> median ms/step. */
type TorchTimes = Record<string, { median_ms: number; steps_ms: number[] }>;

/** Everything one `npm run bench` measured (bench/results/latest.json). */
export interface BenchResult {
  command: string;
  date: string;
  environment: Environment;
  batchSize: number;
  steps: number;
  models: Array<{
    model: string;
    params: number;
    macsPerImage: number;
    /** Multiply-adds of a training step per image as direct convolution (ModelStats.trainingMacs). */
    trainingMacsPerImage?: number;
    /** ferlab on wasm, one training on one core (ferlab kernels, FMA build when available). */
    wasm1: StepTiming;
    /** Two trainings side by side, one per core: each worker's timing; throughput = sum. */
    wasm2: StepTiming[];
    /** One training on 2 cores: data-parallel with 2 replicas (src/train/parallel.ts). */
    wasmDp2?: StepTiming;
    /** ferlab kernels without relaxed SIMD (plain SIMD128 build), one core. */
    wasmSimd1?: StepTiming;
    /** tfjs-node, when installed. */
    tfjsNode?: StepTiming;
    /** ferlab on the native backend (oneDNN), one training with 1 oneDNN thread; absent without the addon. */
    native1?: StepTiming;
    /** The same with 2 oneDNN threads (one training on 2 cores). */
    native2?: StepTiming;
    torch?: TorchTimes;
    profile: Array<{ kernel: string; ms: number; calls: number }>;
  }>;
  torch?: { version: string; python: string } | { skipped: string };
  /** The native backend measured (oneDNN version and instruction set), or why not (the addon is not built). */
  native?: { oneDNN: string; isa: string; peak: { isa: string; lanes: number; gflops: number } } | { skipped: string };
  /** The wasm multiply-add peak of one core, measured in the same run (ceiling.ts). */
  ceiling?: MaddPeak;
  /** Wall time of the default experiment cut to a few steps per run, with 1 and with 2 workers. */
  experiment?: { stepsPerRun: number; oneWorkerSeconds: number; twoWorkersSeconds: number; speedup: number } | { skipped: string };
  /** Model-only inference of the exported models: tfjs wasm vs onnxruntime-node, batch 1 and 64 (inference.ts). */
  inference?: InferenceBench;
  /** End-to-end `predict` on a multi-face photo: decode, detect, crop, classify (src/predict/bench.ts). */
  predict?: PredictBenchResult;
}

/** What `npm run bench -- --inference-only` writes (bench/results/inference-latest.json). */
export interface InferenceBenchResult {
  command: string;
  date: string;
  environment: Environment;
  inference: InferenceBench;
  /** End-to-end `predict` on a multi-face photo (src/predict/bench.ts). */
  predict?: PredictBenchResult;
}

/** The `predict` line of the bench Markdown. */
function predictMarkdown(p: PredictBenchResult): string {
  const ms = [...p.msPerRun].sort((a, b) => a - b)[Math.floor(p.msPerRun.length / 2)];
  return `predict end to end (${basename(p.image)}, ${p.faces} faces, ${p.model}, ${p.backend}, 1 core): **${p.facesPerSec.toFixed(1)} faces/s**, ${p.imagesPerSec.toFixed(2)} photos/s (median ${ms.toFixed(0)} ms per photo over ${p.runs} runs: decode, detect, crop, classify).`;
}

/**
 * `npm run bench -- --inference-only`: only the inference benchmark of exported models (tfjs wasm vs
 * onnxruntime-node, batch 1 and 64; see inference.ts) and `predict` end to end on a multi-face photo, in a few minutes
 * instead of the whole benchmark. Writes
 * bench/results/inference-latest.{json,md} and a dated copy, and prints the Markdown.
 */
export async function runInferenceBench(opts: BenchOptions = {}): Promise<InferenceBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const outDir = opts.outDir ?? join(PROJECT_ROOT, 'bench', 'results');
  const info = await initBackend('wasm');
  const result: InferenceBenchResult = {
    command: `npm run bench -- --inference-only${opts.quick ? ' --quick' : ''}${opts.models ? ` --models ${opts.models.join(',')}` : ''}`,
    date: new Date().toISOString(),
    environment: environment(info.description),
    inference: await benchInference(opts.models ?? listModels(), { quick: opts.quick, log }),
  };
  log('bench: predict end to end on a multi-face photo');
  result.predict = await benchPredict({ runs: opts.quick ? 2 : 10, backend: 'wasm' });
  const e = result.environment;
  const md = [
    '# ferlab inference benchmark',
    '',
    `Command: \`${result.command}\` · ${result.date.slice(0, 16).replace('T', ' ')} UTC · ${e.cpu}, ${e.cores} cores, ${e.memoryGiB} GiB · Node ${e.node} · ferlab ${e.commit ?? e.ferlab}`,
    '',
    ...inferenceMarkdown(result.inference),
    '',
    predictMarkdown(result.predict),
  ].join('\n');
  const day = result.date.slice(0, 10);
  writeJsonAtomic(join(outDir, 'inference-latest.json'), result);
  writeFileAtomic(join(outDir, 'inference-latest.md'), md);
  writeJsonAtomic(join(outDir, `inference-${day}.json`), result);
  writeFileAtomic(join(outDir, `inference-${day}.md`), md);
  log(md);
  log(`bench: wrote ${join(outDir, 'inference-latest.md')} and inference-latest.json`);
  return result;
}

/** What the webgpu benchmark writes (bench/results/webgpu-latest.json, or webgpu-stock-latest.json with FERLAB_KERNELS=off). */
export interface WebgpuBenchResult {
  command: string;
  date: string;
  environment: Environment;
  /** The WebGPU adapter (GPU) it ran on: device name (driver), from GPUAdapterInfo. */
  adapter: string;
  /** GPUAdapterInfo's fields as read. */
  adapterInfo?: { vendor: string; architecture: string; device: string; driver: string };
  /** `ferlab` (ferlab's WGSL kernels) or `stock` (tfjs' own, FERLAB_KERNELS=off). */
  kernels: string;
  batchSize: number;
  steps: number;
  models: Array<{
    model: string;
    params: number;
    macsPerImage: number;
    webgpu: StepTiming;
    /** PyTorch on the same machine's CUDA GPU (bench/torch_gpu_ref.py), when available. */
    torchGpu?: { median_ms: number; steps_ms: number[] };
    /** tf.profile of one step; 0 ms everywhere when the adapter has no timestamp queries. */
    profile: Array<{ kernel: string; ms: number; calls: number }>;
  }>;
  torch?: { version: string; device: string } | { skipped: string };
}

/**
 * `FERLAB_BACKEND=webgpu npm run bench -- --models baseline,deep`: training throughput on tfjs' webgpu backend
 * (batch 64, loss read every 10 steps as the training loop does on webgpu), a per-kernel profile of one step
 * (tf.profile with the GPU's timestamp queries) and, where python3 has PyTorch with CUDA, the same models in PyTorch
 * on the same GPU (bench/torch_gpu_ref.py). Writes bench/results/webgpu-latest.{json,md} (webgpu-stock-* with
 * FERLAB_KERNELS=off) and a dated copy, and prints the Markdown.
 * @throws Error when no WebGPU adapter exists.
 */
export async function runWebgpuBench(opts: BenchOptions = {}): Promise<WebgpuBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const steps = opts.steps ?? (opts.quick ? 10 : 50);
  // V8 and the pipeline cache need about 20 steps to reach the steady state that a training run spends its time in
  const warmup = opts.quick ? 2 : 20;
  const outDir = opts.outDir ?? join(PROJECT_ROOT, 'bench', 'results');
  const info = await initBackend('webgpu');
  const models = opts.models ?? listModels();
  const stock = info.kernels === 'stock';
  const result: WebgpuBenchResult = {
    command: `${stock ? 'FERLAB_KERNELS=off ' : ''}FERLAB_BACKEND=webgpu npm run bench --${opts.quick ? ' --quick' : ''} --models ${models.join(',')}${opts.steps ? ` --steps ${opts.steps}` : ''}`,
    date: new Date().toISOString(),
    environment: environment(info.description),
    adapter: info.adapter?.description ?? '?',
    adapterInfo: info.adapter && {
      vendor: info.adapter.vendor,
      architecture: info.adapter.architecture,
      device: info.adapter.device,
      driver: info.adapter.driver,
    },
    kernels: info.kernels ?? '?',
    batchSize: 64,
    steps,
    models: [],
  };
  log(`bench: ${info.description}; ${steps} timed steps per model, batch 64`);
  const python = opts.quick ? undefined : findTorchPython();
  let torchOut: { torch: string; device: string; models: Record<string, { median_ms: number; steps_ms: number[] }> } | undefined;
  if (python) {
    const specFile = writeTorchSpec(models);
    const r = spawnSync(python, [join(PROJECT_ROOT, 'bench', 'torch_gpu_ref.py'), '--spec', specFile, '--steps', String(steps), '--warmup', String(warmup)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (r.status === 0) {
      torchOut = JSON.parse(r.stdout);
      result.torch = { version: torchOut!.torch, device: torchOut!.device };
    } else result.torch = { skipped: r.stderr.trim().split('\n').pop() || `bench/torch_gpu_ref.py exited ${r.status}` };
  } else result.torch = { skipped: opts.quick ? 'quick run' : 'no python3 with torch found (set FERLAB_PYTHON)' };

  for (const model of models) {
    const stats = registeredModelStats(model, 8);
    log(`bench: ${model} on webgpu`);
    const webgpu = await timeTrainingStepsOnDevice(model, steps, warmup);
    log(`bench: ${model}: ${webgpu.imagesPerSec.toFixed(0)} img/s; per-kernel profile`);
    const profile = await kernelProfile(model);
    result.models.push({ model, params: stats.params, macsPerImage: stats.macs, webgpu, torchGpu: torchOut?.models[model], profile });
  }
  const md = webgpuBenchMarkdown(result);
  const name = stock ? 'webgpu-stock' : 'webgpu';
  writeJsonAtomic(join(outDir, `${name}-latest.json`), result);
  writeFileAtomic(join(outDir, `${name}-latest.md`), md);
  writeJsonAtomic(join(outDir, `${name}-${result.date.slice(0, 10)}.json`), result);
  writeFileAtomic(join(outDir, `${name}-${result.date.slice(0, 10)}.md`), md);
  log(md);
  log(`bench: wrote ${join(outDir, `${name}-latest.md`)} and ${name}-latest.json`);
  return result;
}

/** The webgpu benchmark as Markdown: throughput per model with the PyTorch-on-the-same-GPU ratio, kernel profiles. */
export function webgpuBenchMarkdown(r: WebgpuBenchResult): string {
  const e = r.environment;
  const t = r.torch && 'version' in r.torch ? r.torch : undefined;
  const L = [
    `# ferlab training benchmark on WebGPU (${r.kernels === 'stock' ? "tfjs' stock webgpu kernels" : "ferlab's WGSL kernels"})`,
    '',
    `Command: \`${r.command}\` · ${r.date.slice(0, 16).replace('T', ' ')} UTC · adapter **${r.adapter}** · ${e.cpu}, ${e.cores} cores · Node ${e.node} · tfjs ${e.tfjs} · ferlab ${e.commit ?? e.ferlab}`,
    `Backend: ${e.backend}. ${t ? `PyTorch ${t.version} on ${t.device} (CUDA).` : `PyTorch on the GPU: ${(r.torch as { skipped: string })?.skipped}.`}`,
    '',
    `Full training steps (forward, loss, backward, Adam), batch ${r.batchSize} of 48x48x1, median over ${r.steps} steps after warm-up (loss read every 10 steps). Ratio = ferlab / PyTorch images/s.`,
    '',
    '| model | params | MMAC/img | webgpu ms/step | of which JS recording | img/s | PyTorch CUDA ms/step | img/s | ratio |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const m of r.models) {
    const p = m.torchGpu ? (1000 * r.batchSize) / m.torchGpu.median_ms : undefined;
    L.push(
      `| ${m.model} | ${(m.params / 1e6).toFixed(2)} M | ${(m.macsPerImage / 1e6).toFixed(1)} | ${ms(m.webgpu.medianMs)} | ${m.webgpu.hostMs !== undefined ? ms(m.webgpu.hostMs) : '-'} | ${rate(m.webgpu.imagesPerSec)} | ${m.torchGpu ? ms(m.torchGpu.median_ms) : '-'} | ${p ? rate(p) : '-'} | ${p ? (m.webgpu.imagesPerSec / p).toFixed(2) : '-'} |`,
    );
  }
  L.push('', `## Time per kernel in one training step (ms, GPU timestamps, tf.profile) on ${r.adapter}`, '');
  for (const m of r.models) {
    const total = m.profile.reduce((a, k) => a + k.ms, 0);
    const calls = m.profile.reduce((a, k) => a + k.calls, 0);
    L.push(
      `**${m.model}** (kernels total ${ms(total)} ms in ${calls} kernel calls): ` +
        m.profile
          .slice(0, 14)
          .map((k) => `${k.kernel} ${k.ms.toFixed(2)} (${k.calls})`)
          .join(' · '),
      '',
    );
  }
  return L.join('\n');
}

function workerCode(): string {
  return threadCode(__dirname, 'worker', __filename.endsWith('.ts'));
}

/** Runs `count` benchmark workers that time the same model at the same time; resolves with their timings. */
function parallelTimings(count: number, init: Omit<BenchWorkerInit, 'waitForGo'>, env: NodeJS.ProcessEnv = process.env): Promise<StepTiming[]> {
  return new Promise((resolve, reject) => {
    const workers: Worker[] = [];
    const results: StepTiming[] = [];
    let ready = 0;
    for (let i = 0; i < count; i++) {
      const w = new Worker(workerCode(), { eval: true, workerData: { ...init, waitForGo: true } satisfies BenchWorkerInit, env });
      workers.push(w);
      w.on('message', (m: { type: string; timing?: StepTiming; error?: string }) => {
        if (m.type === 'ready' && ++ready === count) workers.forEach((x) => x.postMessage('go'));
        else if (m.type === 'done') {
          results.push(m.timing!);
          w.terminate();
          if (results.length === count) resolve(results);
        } else if (m.type === 'failed') {
          workers.forEach((x) => x.terminate());
          reject(new Error(m.error));
        }
      });
      w.on('error', reject);
    }
  });
}

/** A Python with PyTorch: FERLAB_PYTHON, `python3`, or Debian's /usr/bin/python3. */
const ms = (v: number) => v.toFixed(1);
const rate = (v: number) => v.toFixed(0);
const imgs = (t: StepTiming[]) => t.reduce((a, x) => a + x.imagesPerSec, 0);

/**
 * `npm run bench`: for every registered model, median training-step time (batch 64, Adam) of ferlab on the wasm
 * backend with one core and with two side-by-side trainings, of the same architecture in PyTorch (1 and 2 threads)
 * in the same run, the ferlab/PyTorch throughput ratios, a per-kernel profile of one step, the plain-SIMD kernel
 * build, tfjs-node when installed, model-only inference of the exported model on tfjs wasm vs onnxruntime-node
 * (batch 1 and 64, inference.ts), the native backend (oneDNN) with 1 and 2 threads when its addon is built, and the wall-time speedup of the default experiment with 2 workers over 1. Writes
 * bench/results/latest.{json,md} and a dated copy, and prints the Markdown. With FERLAB_BACKEND=webgpu it runs
 * {@link runWebgpuBench} instead.
 */
export async function runBench(opts: BenchOptions & { backend: 'webgpu' }): Promise<WebgpuBenchResult>;
export async function runBench(opts?: BenchOptions): Promise<BenchResult>;
export async function runBench(opts: BenchOptions = {}): Promise<BenchResult | WebgpuBenchResult> {
  // FERLAB_BACKEND=webgpu: the CLI's `npm run bench` gets the webgpu benchmark (its result type differs)
  if ((opts.backend ?? backendFromEnv()) === 'webgpu') return runWebgpuBench(opts);
  const log = opts.log ?? ((l: string) => console.log(l));
  const steps = opts.steps ?? (opts.quick ? 5 : 20);
  const warmup = opts.quick ? 1 : 3;
  const outDir = opts.outDir ?? join(PROJECT_ROOT, 'bench', 'results');
  const info = await initBackend('wasm');
  const env = environment(info.description);
  const models = opts.models ?? listModels();
  const result: BenchResult = {
    command: `npm run bench${opts.quick ? ' -- --quick' : ''}`,
    date: new Date().toISOString(),
    environment: env,
    batchSize: 64,
    steps,
    models: [],
  };
  log(`bench: ${info.description}; ${steps} timed steps per measurement, batch 64`);
  result.ceiling = measureMaddPeak();
  log(`bench: wasm multiply-add peak (${result.ceiling.variant}, 1 core): ${result.ceiling.gflops.toFixed(1)} GFLOP/s`);

  const python = opts.quick ? undefined : findTorchPython();
  let torchOut: { torch: string; models: Record<string, TorchTimes> } | undefined;
  if (python) {
    const specFile = writeTorchSpec(models);
    log(`bench: PyTorch yardstick with ${python}`);
    const r = spawnSync(
      python,
      [join(PROJECT_ROOT, 'bench', 'torch_ref.py'), '--spec', specFile, '--steps', String(steps), '--warmup', String(warmup), '--threads', '1,2'],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    if (r.status !== 0) throw new Error(`bench/torch_ref.py failed:\n${r.stderr}`);
    torchOut = JSON.parse(r.stdout);
    result.torch = { version: torchOut!.torch, python };
  } else {
    result.torch = { skipped: opts.quick ? 'quick run' : 'no python3 with torch found (set FERLAB_PYTHON)' };
  }

  const nativeAddon = loadNativeAddon();
  if ('addon' in nativeAddon) {
    const v = nativeAddon.addon.version();
    // the float32 FMA peak of one thread on the CPU's widest vectors (src/backend/native/peak.cc), best of 10 x 0.2 s
    const { isa, lanes, gflops } = nativeAddon.addon.fmaPeak(2e7, 10);
    result.native = { oneDNN: `${v.major}.${v.minor}.${v.patch}`, isa: v.isa, peak: { isa, lanes, gflops } };
    log(`bench: native ${isa} multiply-add peak (${lanes} lanes, 1 thread): ${gflops.toFixed(1)} GFLOP/s`);
  } else {
    result.native = { skipped: nativeAddon.error };
    log(`bench: native backend skipped: ${nativeAddon.error}`);
  }

  for (const model of models) {
    const stats = registeredModelStats(model, 8);
    log(`bench: ${model}: 1 core`);
    const wasm1 = await timeTrainingSteps(model, steps, warmup);
    log(`bench: ${model}: 1 training on 2 cores (data-parallel, 2 replicas)`);
    const wasmDp2 = await timeTrainingSteps(model, steps, warmup, 64, 8, 2);
    log(`bench: ${model}: 2 trainings side by side`);
    const wasm2 = await parallelTimings(2, { backend: 'wasm', model, steps, warmup });
    log(`bench: ${model}: plain SIMD128 kernels`);
    const [wasmSimd1] = await parallelTimings(1, { backend: 'wasm', model, steps, warmup }, { ...process.env, FERLAB_KERNELS: 'simd' });
    let tfjsNode: StepTiming | undefined;
    if (nodeBindingAvailable(false) || nodeBindingAvailable(true)) {
      log(`bench: ${model}: tfjs-node`);
      [tfjsNode] = await parallelTimings(1, { backend: 'tensorflow' as BackendChoice, model, steps, warmup });
    }
    let native1: StepTiming | undefined;
    let native2: StepTiming | undefined;
    if (result.native && 'isa' in result.native) {
      log(`bench: ${model}: native (oneDNN), 1 thread`);
      [native1] = await parallelTimings(1, { backend: 'native', model, steps, warmup }, { ...process.env, FERLAB_NATIVE_THREADS: '1' });
      log(`bench: ${model}: native (oneDNN), 2 threads`);
      [native2] = await parallelTimings(1, { backend: 'native', model, steps, warmup }, { ...process.env, FERLAB_NATIVE_THREADS: '2' });
    }
    const profile = await kernelProfile(model);
    result.models.push({
      model,
      params: stats.params,
      macsPerImage: stats.macs,
      trainingMacsPerImage: stats.trainingMacs,
      wasm1,
      wasm2,
      wasmDp2,
      wasmSimd1,
      tfjsNode,
      native1,
      native2,
      torch: torchOut?.models[model],
      profile,
    });
  }

  log('bench: inference of exported models (tfjs wasm vs onnxruntime-node)');
  result.inference = await benchInference(models, { quick: opts.quick, log });
  log('bench: predict end to end on a multi-face photo');
  result.predict = await benchPredict({ runs: opts.quick ? 2 : 10 });

  if (opts.quick) {
    result.experiment = { skipped: 'quick run' };
  } else {
    result.experiment = await experimentSpeedup(opts.dataDir ?? defaultDataDir(), log);
  }

  const md = benchMarkdown(result);
  const day = result.date.slice(0, 10);
  writeJsonAtomic(join(outDir, 'latest.json'), result);
  writeFileAtomic(join(outDir, 'latest.md'), md);
  writeJsonAtomic(join(outDir, `${day}.json`), result);
  writeFileAtomic(join(outDir, `${day}.md`), md);
  log(md);
  log(`bench: wrote ${join(outDir, 'latest.md')} and latest.json`);
  return result;
}

/** The native backend's table: 1 and 2 oneDNN threads against PyTorch 1 and 2 threads and wasm 1 core, same run. */
function nativeMarkdown(r: BenchResult): string[] {
  const n = r.native && 'isa' in r.native ? r.native : undefined;
  const L = [
    `ferlab on the native backend (wasm heap and kernels, convolutions, matmuls and pooling on oneDNN ${n?.oneDNN ?? '?'}, ${n?.isa ?? '?'}; one training, 1 and 2 oneDNN threads), same steps and batch. Ratios are throughput ratios (> 1: native faster). Peak: ${n ? `${n.peak.isa} multiply-adds (${n.peak.lanes} float32 lanes) at ${n.peak.gflops.toFixed(1)} GFLOP/s on one thread (src/backend/native/peak.cc)` : '-'}; each 1-thread step's GFLOP/s (direct convolution count, as the ceiling table) as a fraction of it:`,
    '',
    '| model | native 1 thread ms/step | img/s | x PyTorch 1 thread | x wasm 1 core | native 2 threads ms/step | img/s | x PyTorch 2 threads | x native 1 thread | native 1 thread / peak | PyTorch 1 thread / peak |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const m of r.models.filter((x) => x.native1)) {
    const t1 = m.torch?.['1']?.median_ms;
    const t2 = m.torch?.['2']?.median_ms;
    const n1 = m.native1!;
    const n2 = m.native2;
    const gflop = m.trainingMacsPerImage ? (2 * m.trainingMacsPerImage * r.batchSize) / 1e9 : undefined;
    const ofPeak = (stepMs: number | undefined) => (gflop && stepMs && n ? (gflop / (stepMs / 1000) / n.peak.gflops).toFixed(2) : '-');
    L.push(
      `| ${m.model} | ${ms(n1.medianMs)} | ${rate(n1.imagesPerSec)} | ${t1 ? (t1 / n1.medianMs).toFixed(2) : '-'} | ${(m.wasm1.medianMs / n1.medianMs).toFixed(2)} | ${n2 ? ms(n2.medianMs) : '-'} | ${n2 ? rate(n2.imagesPerSec) : '-'} | ${n2 && t2 ? (t2 / n2.medianMs).toFixed(2) : '-'} | ${n2 ? (n1.medianMs / n2.medianMs).toFixed(2) : '-'} | ${ofPeak(n1.medianMs)} | ${ofPeak(t1)} |`,
    );
  }
  return L;
}

/**
 * The ceiling table: each model's training step counted as direct convolution (GFLOP per step) and the rate that
 * ferlab (1 core) and PyTorch (1 thread) reach on it, also as a multiple of the wasm multiply-add peak of the run.
 */
function ceilingMarkdown(r: BenchResult): string[] {
  const c = r.ceiling!;
  const L = [
    `Ceiling: this core runs ${c.variant === 'relaxed' ? 'relaxed-SIMD fused multiply-adds' : 'SIMD128 multiply-adds'} (4 float32 lanes, the widest wasm has) at **${c.gflops.toFixed(1)} GFLOP/s** at best (src/bench/ceiling.ts, best of ${c.runs.length}). Each training step counted as direct convolution and matmul (forward, weight gradients, input gradients but the first layer's; ModelStats.trainingMacs), and the rate reached on it; a multiple of the peak above 1 is only possible with fewer multiplies than direct convolution (ferlab's Winograd F(2x2, 3x3): up to 2.25x fewer on 3x3 layers) or wider vectors (PyTorch's oneDNN: AVX2 8 lanes, AVX-512 16):`,
    '',
    '| model | GFLOP per step (direct) | ferlab 1 core GFLOP/s | x wasm peak | PyTorch 1 thread GFLOP/s | x wasm peak |',
    '|---|---|---|---|---|---|',
  ];
  for (const m of r.models) {
    if (!m.trainingMacsPerImage) continue;
    const gflop = (2 * m.trainingMacsPerImage * r.batchSize) / 1e9;
    const ferlab = gflop / (m.wasm1.medianMs / 1000);
    const t1 = m.torch?.['1']?.median_ms;
    const torch = t1 ? gflop / (t1 / 1000) : undefined;
    L.push(
      `| ${m.model} | ${gflop.toFixed(2)} | ${ferlab.toFixed(1)} | ${(ferlab / c.gflops).toFixed(2)} | ${torch ? torch.toFixed(1) : '-'} | ${torch ? (torch / c.gflops).toFixed(2) : '-'} |`,
    );
  }
  return L;
}

/** Wall time of the default experiment with every run cut to 120 steps, 1 worker vs 2 workers (real runner, real data). */
async function experimentSpeedup(dataDir: string, log: (l: string) => void): Promise<BenchResult['experiment']> {
  if (!existsSync(join(dataDir, 'fer2013.csv.gz')) && !existsSync(join(dataDir, 'fer2013.csv'))) {
    return { skipped: `no data in ${dataDir} (pass --data-dir)` };
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadExperiment, runExperiment } = require('../exp/experiment') as typeof import('../exp/experiment');
  const stepsPerRun = 120;
  const overrides = ['epochs=1', `slice.train=${stepsPerRun * 64}`, 'slice.val=256', 'slice.test=256'];
  const runsDir = mkdtempSync(join(tmpdir(), 'ferlab-bench-experiment-'));
  const exp = loadExperiment('default');
  const wall: number[] = [];
  for (const workers of [1, 2]) {
    log(`bench: default experiment, ${stepsPerRun} steps per run, ${workers} worker(s)`);
    const r = await runExperiment(exp, { overrides, workers, dataDir, runsDir, log: () => {} });
    wall.push(r.wallSeconds);
  }
  return { stepsPerRun, oneWorkerSeconds: wall[0], twoWorkersSeconds: wall[1], speedup: wall[0] / wall[1] };
}

/** The benchmark as Markdown: throughput table with PyTorch ratios, experiment speedup, per-kernel profiles. */
export function benchMarkdown(r: BenchResult): string {
  const L: string[] = [];
  const e = r.environment;
  L.push(`# ferlab training benchmark`, '');
  L.push(
    `Command: \`${r.command}\` · ${r.date.slice(0, 16).replace('T', ' ')} UTC · ${e.cpu}, ${e.cores} cores, ${e.memoryGiB} GiB · Node ${e.node} · tfjs ${e.tfjs} · ferlab ${e.commit ?? e.ferlab}`,
  );
  L.push(
    `Backend: ${e.backend}. ${'version' in (r.torch ?? {}) ? `PyTorch ${(r.torch as { version: string }).version} (${(r.torch as { python: string }).python}).` : `PyTorch: ${(r.torch as { skipped: string })?.skipped}.`}`,
  );
  L.push(
    '',
    `Full training steps (forward, loss, backward, Adam), batch ${r.batchSize} of 48x48x1, median of ${r.steps} steps after warm-up. Ratio = ferlab images/s / PyTorch images/s (1.0 = as fast).`,
    '',
  );
  L.push(
    '| model | params | MMAC/img | ferlab 1 core ms/step | img/s | PyTorch 1 thread ms/step | img/s | ratio | ferlab 2 cores img/s | PyTorch 2 threads img/s | ratio | SIMD128-only 1 core ms/step | batch build ms |',
  );
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const m of r.models) {
    const t1 = m.torch?.['1']?.median_ms;
    const t2 = m.torch?.['2']?.median_ms;
    const p1 = t1 ? (1000 * r.batchSize) / t1 : undefined;
    const p2 = t2 ? (1000 * r.batchSize) / t2 : undefined;
    const w2 = imgs(m.wasm2);
    L.push(
      `| ${m.model} | ${(m.params / 1e6).toFixed(2)} M | ${(m.macsPerImage / 1e6).toFixed(1)} | ${ms(m.wasm1.medianMs)} | ${rate(m.wasm1.imagesPerSec)} | ${t1 ? ms(t1) : '-'} | ${p1 ? rate(p1) : '-'} | ${p1 ? (m.wasm1.imagesPerSec / p1).toFixed(2) : '-'} | ${rate(w2)} (2 x ${rate(w2 / 2)}) | ${p2 ? rate(p2) : '-'} | ${p2 ? (w2 / p2).toFixed(2) : '-'} | ${m.wasmSimd1 ? ms(m.wasmSimd1.medianMs) : '-'} | ${ms(m.wasm1.batchBuildMs)} |`,
    );
  }
  if (r.models.some((m) => m.wasmDp2)) {
    L.push(
      '',
      'One training on 2 cores, data-parallel (2 replicas, one thread each, gradients added every step; src/train/parallel.ts), same step and batch:',
      '',
      '| model | ferlab 1 run, 2 cores ms/step | img/s | x its 1-core img/s | PyTorch 2 threads img/s | ratio |',
      '|---|---|---|---|---|---|',
    );
    for (const m of r.models.filter((x) => x.wasmDp2)) {
      const t2 = m.torch?.['2']?.median_ms;
      const p2 = t2 ? (1000 * r.batchSize) / t2 : undefined;
      const d = m.wasmDp2!;
      L.push(
        `| ${m.model} | ${ms(d.medianMs)} | ${rate(d.imagesPerSec)} | ${(d.imagesPerSec / m.wasm1.imagesPerSec).toFixed(2)} | ${p2 ? rate(p2) : '-'} | ${p2 ? (d.imagesPerSec / p2).toFixed(2) : '-'} |`,
      );
    }
  }
  if (r.models.some((m) => m.native1)) L.push('', ...nativeMarkdown(r));
  else if (r.native && 'skipped' in r.native) L.push('', `native backend (oneDNN): skipped (${r.native.skipped}).`);
  if (r.ceiling) L.push('', ...ceilingMarkdown(r));
  if (r.models.some((m) => m.tfjsNode)) {
    L.push(
      '',
      'tfjs-node: ' +
        r.models
          .filter((m) => m.tfjsNode)
          .map((m) => `${m.model} ${ms(m.tfjsNode!.medianMs)} ms/step`)
          .join(', '),
    );
  }
  L.push('');
  if (r.experiment && 'speedup' in r.experiment) {
    const s = r.experiment;
    L.push(
      `Default experiment (4 runs, each cut to ${s.stepsPerRun} steps + evaluation, real runner and data): 1 worker ${s.oneWorkerSeconds.toFixed(1)} s, 2 workers ${s.twoWorkersSeconds.toFixed(1)} s: **${s.speedup.toFixed(2)}x** faster with both cores.`,
    );
  } else if (r.experiment) {
    L.push(`Default experiment speedup: skipped (${r.experiment.skipped}).`);
  }
  if (r.inference) L.push('', ...inferenceMarkdown(r.inference));
  if (r.predict) L.push('', predictMarkdown(r.predict));
  L.push('', '## Time per kernel in one training step (ms, ferlab wasm, 1 core, tf.profile)', '');
  for (const m of r.models) {
    const total = m.profile.reduce((a, k) => a + k.ms, 0);
    L.push(
      `**${m.model}** (kernels total ${ms(total)} ms): ` +
        m.profile
          .slice(0, 12)
          .map((k) => `${k.kernel} ${ms(k.ms)} (${k.calls})`)
          .join(' · '),
      '',
    );
  }
  L.push(
    `Median of the two side-by-side trainings' step times: ${r.models.map((m) => `${m.model} ${ms(median(m.wasm2.map((t) => t.medianMs)))} ms`).join(', ')}.`,
    '',
  );
  return L.join('\n');
}
