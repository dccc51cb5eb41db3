/* eslint-disable @typescript-eslint/no-require-imports -- the modules under test load after the require hook is set */
/**
 * Without onnxruntime-node (simulated: its require throws MODULE_NOT_FOUND, as when the optional dev dependency is not
 * installed), ferlab still loads its export and bench modules, says clearly what is missing and how to install it,
 * and the inference benchmark measures tfjs alone and marks ONNX Runtime as skipped.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initBackend } from '../../src/backend/select';

// make require('onnxruntime-node') fail in this process, before any module asks for it
// Module._resolveFilename (not in the typings) resolves every require
const mod = require('node:module') as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolveFilename = mod._resolveFilename;
mod._resolveFilename = function (request: string, ...rest: unknown[]) {
  if (request === 'onnxruntime-node' || request.startsWith('onnxruntime-node/')) {
    const e = new Error(`Cannot find module '${request}'`) as Error & { code: string };
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  return resolveFilename.call(this, request, ...rest);
};

test('loadOnnxRuntime says onnxruntime-node is not installed and how to install it', async () => {
  const { loadOnnxRuntime } = require('../../src/export/ort') as typeof import('../../src/export/ort');
  const r = loadOnnxRuntime();
  assert.is(r.ort, undefined);
  assert.match((r as { reason: string }).reason, /^onnxruntime-node is not installed or does not load here \(Cannot find module 'onnxruntime-node'\)/);
  assert.match((r as { reason: string }).reason, /npm install --save-dev onnxruntime-node$/);
});

test('the inference benchmark measures tfjs and marks ONNX Runtime as skipped, with the reason', async () => {
  await initBackend('wasm');
  const { benchInference, inferenceMarkdown } = require('../../src/bench/inference') as typeof import('../../src/bench/inference');
  const r = await benchInference(['baseline'], { quick: true, batchSizes: [1], log: () => {} });
  assert.ok('skipped' in r.ort);
  assert.match((r.ort as { skipped: string }).skipped, /onnxruntime-node is not installed/);
  const m = r.models[0];
  assert.is(m.tfjsWasm.length, 1);
  assert.is(m.ort1, undefined);
  assert.is(m.maxAbsLogitDiff, undefined);
  const md = inferenceMarkdown(r).join('\n');
  assert.match(md, /ONNX Runtime: skipped \(onnxruntime-node is not installed/);
  assert.match(md, /\| baseline \| 1\.28 M \| 4\.87 MiB \| \d+ \(\d+\.\d\d\) \| - \| - \| - \| - \|/);
});

test.run();
