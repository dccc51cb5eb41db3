import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel } from '../models/registry';
import '../models';

/**
 * The PyTorch yardstick of the benchmarks (bench/torch_ref.py, bench/torch_gpu_ref.py): finding a python3 with
 * PyTorch, and the model spec those scripts build their networks from.
 */

/** A python3 that imports torch: FERLAB_PYTHON, python3 or /usr/bin/python3 (Debian `python3-torch`), else undefined. */
export function findTorchPython(): string | undefined {
  for (const py of [process.env.FERLAB_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/**
 * Writes the models' Keras-style layer lists (tfjs `model.toJSON`, what the PyTorch scripts translate) to a
 * spec.json in a fresh temporary folder. @param numClasses classifier outputs (8 in the benchmarks).
 * @returns the path of spec.json.
 */
export function writeTorchSpec(models: string[], numClasses = 8): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferlab-bench-'));
  const spec: Record<string, unknown> = {};
  for (const m of models) {
    const model = createModel(m, { numClasses });
    spec[m] = { layers: (model.toJSON(null, false) as unknown as { config: { layers: unknown[] } }).config.layers, num_classes: numClasses };
    model.dispose();
  }
  const file = join(dir, 'spec.json');
  writeFileSync(file, JSON.stringify({ models: spec }));
  return file;
}
