/**
 * Model-only inference speed of exported models: TensorFlow.js on the wasm backend (with ferlab's kernels, one
 * thread: Node's wasm backend is single-threaded) vs ONNX Runtime for Node (CPU execution provider, one intra-op
 * thread, and all cores), at batch 1 (one face, as in a webcam demo) and batch 64 (a folder of images). Each model is
 * a registered architecture exported by `tfjsToOnnx` exactly as `npm run ferlab -- export` does; speed does not
 * depend on the weights' values, so freshly initialised weights are used. Timed: building the input tensor from a
 * float32 buffer, the forward pass and reading the logits back (what an application pays per call), not model loading.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/paths';
import { findTorchPython, writeTorchSpec } from './torch';
import { IMAGE_PIXELS } from '../data/classes';
import { DEFAULT_INPUT, inputBatches } from '../data/input';
import { ONNX_INPUT_NAME, tfjsToOnnx } from '../export/onnx';
import { loadOnnxRuntime } from '../export/ort';
import { createModel, modelEntry } from '../models/registry';
import '../models';
import { Rng } from '../util/rng';
import { median } from './steps';
import { z } from 'zod';

/** What bench/torch_ref.py prints for inference timings: per model, threads and batch size, the runs in ms. */
const TorchInferenceSchema = z.object({
  torch: z.string(),
  models: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.object({ median_ms: z.number(), runs_ms: z.array(z.number()) })))),
  skipped: z.record(z.string(), z.string()).optional(),
});

/** Timing of one runtime at one batch size. */
export interface InferenceTiming {
  batchSize: number;
  /** Wall time of every timed call (ms), in order (after the warm-up calls). */
  runMs: number[];
  medianMs: number;
  /** batchSize * 1000 / medianMs. */
  imagesPerSec: number;
}

/** One model's inference timings, keyed by batch size. */
export interface InferenceModelResult {
  model: string;
  params: number;
  /** Size of its model.onnx (float32 weights), bytes. */
  onnxBytes: number;
  tfjsWasm: InferenceTiming[];
  /** ONNX Runtime, 1 intra-op thread (the same one core as tfjs wasm). */
  ort1?: InferenceTiming[];
  /** ONNX Runtime, intra-op threads = all cores (its default). */
  ortAll?: InferenceTiming[];
  /** PyTorch (bench/torch_ref.py --inference, eval mode, no_grad), 1 thread and all cores; absent when not measured. */
  torch1?: InferenceTiming[];
  torchAll?: InferenceTiming[];
  /** Max |logit difference| ONNX Runtime vs tfjs on the batch-64 input (a sanity check that both ran the same model). */
  maxAbsLogitDiff?: number;
}

/** Everything {@link benchInference} measured. */
export interface InferenceBench {
  batchSizes: number[];
  /** Timed calls per batch size (after warm-up). */
  runs: Record<string, number>;
  tfjs: string;
  /** onnxruntime-node version, or why it was not measured. */
  ort: { version: string; threadsAll: number } | { skipped: string };
  /** PyTorch version, or why it was not measured; per model, why a model was not (a topology it cannot translate). */
  torch?: { version: string; skippedModels: Record<string, string> } | { skipped: string };
  models: InferenceModelResult[];
}

/** Options of {@link benchInference}. */
export interface InferenceBenchOptions {
  /** Few calls (a smoke run). */
  quick?: boolean;
  /** Batch sizes (default 1 and 64). */
  batchSizes?: number[];
  /** Measure PyTorch too (bench/torch_ref.py --inference) when a python3 with torch exists (default: not in quick runs). */
  torch?: boolean;
  log?: (line: string) => void;
}

function timing(batchSize: number, runMs: number[]): InferenceTiming {
  const medianMs = median(runMs);
  return { batchSize, runMs, medianMs, imagesPerSec: (1000 * batchSize) / medianMs };
}

/** Timed calls per batch size: many small ones, fewer large ones. */
function runsFor(batchSize: number, quick: boolean): { runs: number; warmup: number } {
  if (quick) return { runs: batchSize === 1 ? 10 : 3, warmup: 1 };
  return { runs: batchSize === 1 ? 200 : 20, warmup: batchSize === 1 ? 20 : 3 };
}

/**
 * Times inference of each model on tfjs (the active backend, which {@link runBench} sets to wasm) and on
 * onnxruntime-node (loaded lazily; skipped with the reason when it is not installed).
 * @param models registered model names. @returns per model and batch size the median ms per call and images/s.
 */
export async function benchInference(models: string[], opts: InferenceBenchOptions = {}): Promise<InferenceBench> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const quick = opts.quick ?? false;
  const batchSizes = opts.batchSizes ?? [1, 64];
  const rt = loadOnnxRuntime();
  const threadsAll = availableParallelism();
  const result: InferenceBench = {
    batchSizes,
    runs: Object.fromEntries(batchSizes.map((b) => [String(b), runsFor(b, quick).runs])),
    tfjs: `${tf.version.tfjs} ${tf.getBackend()}`,
    ort: rt.ort ? { version: rt.version, threadsAll } : { skipped: rt.reason },
    models: [],
  };
  const rng = new Rng(7);
  const maxBatch = Math.max(...batchSizes);
  const images = Uint8Array.from({ length: maxBatch * IMAGE_PIXELS }, () => rng.int(256));
  const rows = Int32Array.from({ length: maxBatch }, (_, i) => i);

  for (const name of models) {
    const model = createModel(name, { numClasses: 8, seed: 1 });
    // random images made into the model's inputs as its input spec says (default: pixel / 255, [48, 48, 1])
    const spec = modelEntry(name).input ?? DEFAULT_INPUT;
    const S = spec.size;
    const input = inputBatches(images, rows, maxBatch, spec).next().value!.x.slice();
    const onnxBytes = tfjsToOnnx(model, { name: `ferlab-${name}` });
    const row: InferenceModelResult = { model: name, params: model.countParams(), onnxBytes: onnxBytes.length, tfjsWasm: [] };
    let tfjsLogits: Float32Array | undefined;
    for (const b of batchSizes) {
      log(`bench: inference ${name} batch ${b}: tfjs ${tf.getBackend()}`);
      const x = input.subarray(0, b * S * S);
      const call = () => {
        const y = tf.tidy(() => model.predict(tf.tensor4d(x, [b, S, S, 1])) as tf.Tensor);
        const out = y.dataSync() as Float32Array;
        y.dispose();
        return out;
      };
      const { runs, warmup } = runsFor(b, quick);
      for (let i = 0; i < warmup; i++) call();
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const out = call();
        ms.push(performance.now() - t0);
        if (b === maxBatch) tfjsLogits = out;
      }
      row.tfjsWasm.push(timing(b, ms));
    }
    if (rt.ort) {
      const ort = rt.ort;
      for (const [key, threads] of [
        ['ort1', 1],
        ['ortAll', threadsAll],
      ] as const) {
        const session = await ort.InferenceSession.create(onnxBytes, {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
        });
        const timings: InferenceTiming[] = [];
        for (const b of batchSizes) {
          log(`bench: inference ${name} batch ${b}: onnxruntime-node ${threads} thread(s)`);
          const x = input.slice(0, b * S * S);
          const call = async () => {
            const out = await session.run({ [ONNX_INPUT_NAME]: new ort.Tensor('float32', x, [b, S, S, 1]) });
            return out[session.outputNames[0]].data as Float32Array;
          };
          const { runs, warmup } = runsFor(b, quick);
          for (let i = 0; i < warmup; i++) await call();
          const ms: number[] = [];
          let last: Float32Array | undefined;
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            last = await call();
            ms.push(performance.now() - t0);
          }
          if (b === maxBatch && tfjsLogits && last && key === 'ort1') {
            let d = 0;
            for (let i = 0; i < last.length; i++) d = Math.max(d, Math.abs(last[i] - tfjsLogits[i]));
            row.maxAbsLogitDiff = d;
          }
          timings.push(timing(b, ms));
        }
        await session.release();
        row[key] = timings;
      }
    }
    model.dispose();
    result.models.push(row);
  }
  if (opts.torch ?? !quick) torchInference(result, models, quick, log);
  return result;
}

/**
 * Adds PyTorch's inference timings (bench/torch_ref.py --inference: eval mode under no_grad, input from a float32
 * numpy buffer, logits read back, at 1 thread and all cores) to `result`; records why when there is no PyTorch.
 */
function torchInference(result: InferenceBench, models: string[], quick: boolean, log: (l: string) => void): void {
  const python = findTorchPython();
  if (!python) {
    result.torch = { skipped: 'no python3 with torch found (set FERLAB_PYTHON)' };
    return;
  }
  log(`bench: inference in PyTorch (${python})`);
  const threadsAll = availableParallelism();
  const small = runsFor(1, quick).runs;
  const large = runsFor(64, quick).runs;
  const r = spawnSync(
    python,
    [
      join(PROJECT_ROOT, 'bench', 'torch_ref.py'),
      '--spec',
      writeTorchSpec(models),
      '--inference',
      result.batchSizes.join(','),
      '--threads',
      `1,${threadsAll}`,
      '--runs-small',
      String(small),
      '--runs-large',
      String(large),
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) {
    result.torch = { skipped: r.stderr.trim().split('\n').pop() || `bench/torch_ref.py exited ${r.status}` };
    return;
  }
  const parsed = TorchInferenceSchema.safeParse(JSON.parse(r.stdout));
  if (!parsed.success) throw new Error(`bench/torch_ref.py printed JSON of an unexpected shape: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const out = parsed.data;
  result.torch = { version: out.torch, skippedModels: out.skipped ?? {} };
  for (const row of result.models) {
    const t = out.models[row.model];
    if (!t) continue;
    const at = (threads: number) => result.batchSizes.map((b) => timing(b, t[String(threads)][String(b)].runs_ms));
    row.torch1 = at(1);
    row.torchAll = at(threadsAll);
  }
}

/** The inference section of the benchmark's Markdown. */
export function inferenceMarkdown(r: InferenceBench): string[] {
  const L: string[] = [];
  const ortLabel = 'version' in r.ort ? `onnxruntime-node ${r.ort.version}` : undefined;
  L.push('## Inference of exported models (model only)', '');
  L.push(
    `Forward pass of each registered architecture as \`npm run ferlab -- export\` writes it: TensorFlow.js layers model on tfjs ${r.tfjs} (ferlab kernels, 1 thread) vs ` +
      `model.onnx on ${ortLabel ?? 'ONNX Runtime (not measured)'} (CPU execution provider; 1 intra-op thread, and ${'version' in r.ort ? r.ort.threadsAll : '-'} threads). ` +
      `Timed per call: input tensor from a float32 buffer, forward pass, logits read back; median of ${r.batchSizes.map((b) => `${r.runs[String(b)]} calls at batch ${b}`).join(', ')} after warm-up.`,
    '',
  );
  if (!ortLabel) L.push(`ONNX Runtime: skipped (${(r.ort as { skipped: string }).skipped}).`, '');
  if (r.torch && 'version' in r.torch) {
    const sk = Object.entries(r.torch.skippedModels);
    L.push(
      `PyTorch ${r.torch.version} (bench/torch_ref.py --inference: eval mode, no_grad, input from a float32 numpy buffer, logits read back; 1 thread and all cores).` +
        (sk.length ? ` Not translated to PyTorch: ${sk.map(([m, why]) => `${m} (${why})`).join('; ')}.` : ''),
      '',
    );
  } else if (r.torch) L.push(`PyTorch: skipped (${r.torch.skipped}).`, '');
  const head = ['model', 'params', 'model.onnx'];
  for (const b of r.batchSizes)
    head.push(
      `batch ${b}: tfjs wasm img/s (ms)`,
      `ORT 1 thread img/s (ms)`,
      `ORT/tfjs`,
      `ORT all threads img/s`,
      `PyTorch 1 thread img/s (ms)`,
      `tfjs/PyTorch`,
      `PyTorch all threads img/s`,
    );
  head.push('max |logit diff|');
  L.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  const f = (t?: InferenceTiming) => (t ? `${t.imagesPerSec.toFixed(0)} (${t.medianMs.toFixed(2)})` : '-');
  for (const m of r.models) {
    const cells = [m.model, `${(m.params / 1e6).toFixed(2)} M`, `${(m.onnxBytes / 1024 / 1024).toFixed(2)} MiB`];
    r.batchSizes.forEach((b, i) => {
      const t = m.tfjsWasm[i];
      const o1 = m.ort1?.[i];
      const p1 = m.torch1?.[i];
      cells.push(
        f(t),
        f(o1),
        o1 ? `${(o1.imagesPerSec / t.imagesPerSec).toFixed(2)}x` : '-',
        m.ortAll?.[i] ? m.ortAll[i].imagesPerSec.toFixed(0) : '-',
        f(p1),
        p1 ? `${(t.imagesPerSec / p1.imagesPerSec).toFixed(2)}x` : '-',
        m.torchAll?.[i] ? m.torchAll[i].imagesPerSec.toFixed(0) : '-',
      );
    });
    cells.push(m.maxAbsLogitDiff !== undefined ? m.maxAbsLogitDiff.toExponential(1) : '-');
    L.push(`| ${cells.join(' | ')} |`);
  }
  L.push('');
  return L;
}
