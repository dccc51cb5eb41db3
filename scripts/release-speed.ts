/**
 * Inference speed of the released models (models/README.md): one face per call (batch 1), median of 200 timed calls
 * after 20 warm-up calls, on this machine's CPU: TensorFlow.js on the wasm backend (ferlab's kernels, 1 thread) and
 * onnxruntime-node (1 intra-op thread). Model only: detection and the crop are not timed.
 *
 * Usage: npx tsx scripts/release-speed.ts        (prints a Markdown table)
 */
import * as tf from '@tensorflow/tfjs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/select';
import { recordedInputSpec } from '../src/data/input';
import { loadOnnxRuntime } from '../src/export/ort';
import { RELEASES, releaseDir } from '../src/export/release';
import { loadLayersModelFromDir } from '../src/models/io';
import { readFileSync } from 'node:fs';

const WARMUP = 20;
const RUNS = 200;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function time(call: () => Promise<void> | void): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await call();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await call();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

async function main(): Promise<void> {
  const backend = await initBackend('wasm');
  const rt = loadOnnxRuntime();
  const rows: string[] = [];
  for (const r of RELEASES) {
    const dir = releaseDir(r.name);
    const meta = JSON.parse(readFileSync(join(dir, 'ferlab.json'), 'utf8'));
    const S = recordedInputSpec(meta, join(dir, 'ferlab.json')).size;
    const x = new Float32Array(S * S).map((_, i) => (i % 255) / 255);
    const model = await loadLayersModelFromDir(dir);
    const tfjsMs = await time(() => {
      const out = tf.tidy(() => model.predict(tf.tensor4d(x, [1, S, S, 1])) as tf.Tensor);
      out.dataSync();
      out.dispose();
    });
    model.dispose();
    let ortMs = NaN;
    if (rt.ort) {
      const ort = rt.ort as unknown as {
        InferenceSession: { create(p: string, o: object): Promise<{ run(f: object): Promise<object>; release(): Promise<void> }> };
        Tensor: new (t: string, d: Float32Array, s: number[]) => unknown;
      };
      const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), { intraOpNumThreads: 1, interOpNumThreads: 1 });
      ortMs = await time(async () => {
        await session.run({ input: new ort.Tensor('float32', x, [1, S, S, 1]) });
      });
      await session.release();
    }
    rows.push(`| ${r.name} | ${S}x${S} | ${tfjsMs.toFixed(2)} ms | ${Number.isNaN(ortMs) ? 'not measured' : `${ortMs.toFixed(2)} ms`} |`);
  }
  console.log(`${cpus()[0]?.model ?? 'CPU'}, ${backend.description}; batch 1, median of ${RUNS} calls after ${WARMUP} warm-up calls`);
  console.log('| release | input | tfjs wasm, 1 thread | onnxruntime-node, 1 thread |');
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(row);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
