/**
 * `npm run bench` machinery on a smoke run (--quick: few steps, no PyTorch, no experiment): it measures every mode,
 * writes latest.json/latest.md with the command, and its numbers are internally consistent. (Speed itself is
 * measured by the benchmark, not asserted by tests.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBench } from '../src/bench/bench';
import { tempDir } from './helpers/fixtures';

test('bench --quick writes results with 1-core, 2-worker and SIMD128 timings and a kernel profile', async () => {
  const out = tempDir();
  const r = await runBench({ quick: true, models: ['baseline'], outDir: out, log: () => {} });
  assert.ok(existsSync(join(out, 'latest.json')));
  const md = readFileSync(join(out, 'latest.md'), 'utf8');
  assert.match(md, /npm run bench -- --quick/);
  assert.match(md, /\| baseline \|/);
  const m = r.models[0];
  assert.is(m.wasm1.stepsMs.length, 5);
  assert.is(m.wasm2.length, 2, 'two side-by-side trainings');
  assert.ok(m.wasmDp2 && m.wasmDp2.stepsMs.length === 5, 'one training on 2 data-parallel replicas measured');
  assert.ok(m.wasmSimd1 && m.wasmSimd1.stepsMs.length === 5, 'plain SIMD128 build measured');
  assert.ok(Math.abs(m.wasm1.imagesPerSec - (1000 * 64) / m.wasm1.medianMs) < 1e-6);
  const kernels = m.profile.map((k) => k.kernel);
  for (const k of ['Conv2D', 'Conv2DBackpropFilter', 'FerlabBatchNormTrain', 'FerlabAdam']) assert.ok(kernels.includes(k), `profile has ${k}: ${kernels}`);
  assert.ok(m.wasm1.batchBuildMs < m.wasm1.medianMs, 'building a batch is cheaper than a step');
  // the ceiling: baseline's step as direct convolution, by hand: forward 48*48*9*32 + 24*24*9*32*64 + 12*12*9*64*128
  // + 4608*256 + 256*8 = 23,078,912 MACs, three times that less conv1's input gradient (48*48*9*32), x 2 flop x 64
  assert.ok(r.ceiling && r.ceiling.gflops > 0, `a wasm multiply-add peak was measured: ${JSON.stringify(r.ceiling)}`);
  assert.is(m.trainingMacsPerImage, 3 * 23_078_912 - 48 * 48 * 9 * 32);
  assert.match(md, /\| baseline \| 8\.78 \| /);
});

test.run();
