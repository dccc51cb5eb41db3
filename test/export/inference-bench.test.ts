/**
 * The inference benchmark of exported models (src/bench/inference.ts, `npm run bench -- --inference-only`) on a
 * smoke run: it measures tfjs wasm and ONNX Runtime (1 thread and all cores) at each batch size, both runtimes run the
 * same model (logits agree), its numbers are internally consistent, and it writes its JSON and Markdown. (Speed
 * itself is measured by the benchmark, not asserted.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { runInferenceBench } from '../../src/bench/bench';
import { createModel } from '../../src/models';
import { tempDir } from '../helpers/fixtures';

test('bench --inference-only --quick: tfjs wasm vs onnxruntime-node at batch 1 and 64, JSON + Markdown', async () => {
  const out = tempDir();
  const r = await runInferenceBench({ quick: true, models: ['baseline'], outDir: out, log: () => {} });
  const inf = r.inference;
  assert.equal(inf.batchSizes, [1, 64]);
  assert.ok('version' in inf.ort, `ONNX Runtime measured (${JSON.stringify(inf.ort)})`);
  assert.is((inf.ort as { threadsAll: number }).threadsAll, availableParallelism());
  assert.is(inf.models.length, 1);
  const m = inf.models[0];
  const model = createModel('baseline', { numClasses: 8 });
  assert.is(m.params, model.countParams());
  model.dispose();
  // float32 ONNX: 4 bytes per parameter plus the graph (well under 64 KiB for baseline)
  assert.ok(m.onnxBytes > 4 * m.params && m.onnxBytes < 4 * m.params + 65536, `model.onnx ${m.onnxBytes} bytes for ${m.params} parameters`);
  for (const timings of [m.tfjsWasm, m.ort1!, m.ortAll!]) {
    assert.equal(
      timings.map((t) => t.batchSize),
      [1, 64],
    );
    for (const t of timings) {
      assert.is(t.runMs.length, inf.runs[String(t.batchSize)]);
      const sorted = [...t.runMs].sort((a, b) => a - b);
      const med = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
      assert.is(t.medianMs, med);
      assert.ok(Math.abs(t.imagesPerSec - (1000 * t.batchSize) / t.medianMs) < 1e-9);
    }
  }
  assert.ok(m.maxAbsLogitDiff !== undefined && m.maxAbsLogitDiff <= 1e-4, `ORT vs tfjs logits differ by ${m.maxAbsLogitDiff}`);
  const md = readFileSync(join(out, 'inference-latest.md'), 'utf8');
  assert.match(md, /npm run bench -- --inference-only --quick --models baseline/);
  assert.match(md, /## Inference of exported models \(model only\)/);
  assert.match(md, `| baseline | ${(m.params / 1e6).toFixed(2)} M |`);
  assert.match(md, `| ${m.tfjsWasm[0].imagesPerSec.toFixed(0)} (${m.tfjsWasm[0].medianMs.toFixed(2)}) |`);
  const json = JSON.parse(readFileSync(join(out, 'inference-latest.json'), 'utf8'));
  assert.equal(json.inference.models[0].onnxBytes, m.onnxBytes);
  assert.ok(existsSync(join(out, `inference-${r.date.slice(0, 10)}.md`)), 'dated copy');
});

test.run();
