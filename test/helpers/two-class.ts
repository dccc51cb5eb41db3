/**
 * A tiny training task for tests of the training loop itself (test/train/release.test.ts,
 * test/backend/webgpu-train.test.ts): a registered tiny CNN and a 2-class dataset built from given pixels.
 */
import type { FerDataset } from '../../src/data/dataset';
import type { LabelSet } from '../../src/data/labels';
import { buildCnn } from '../../src/models/cnn';
import { registerModel } from '../../src/models/registry';

/** Registry name of the tiny CNN (conv 4 + BN + ReLU + max-pool, dense 8, no dropout), registered on import. */
export const TINY_CNN = 'test-tiny-cnn';

registerModel({
  name: TINY_CNN,
  description: 'test only: conv 4 + BN + ReLU + max-pool, dense 8',
  create: (o) => buildCnn({ blocks: [{ filters: 4, dropout: 0 }], dense: 8, denseDropout: 0 }, o.inputShape, o.numClasses, o.seed),
});

/**
 * A 2-class task over `pixels` ([n * 48 * 48] uint8) with labels `label` ([n], 0 or 1): the first `nTrain` images are
 * the training split (one-hot targets, cross-entropy), the rest both the validation and the test split.
 */
export function twoClassTask(pixels: Uint8Array, label: Uint8Array, nTrain: number, classes: [string, string]): { ds: FerDataset; labels: LabelSet } {
  const n = label.length;
  const range = (a: number, b: number) => Int32Array.from({ length: b - a }, (_, k) => a + k);
  const target = new Float32Array(nTrain * 2);
  for (let i = 0; i < nTrain; i++) target[i * 2 + label[i]] = 1;
  const ds = { n, pixels, emotion: label, usage: new Uint8Array(n) } as unknown as FerDataset;
  const labels = {
    name: 'fer',
    classes,
    numClasses: 2,
    loss: 'crossentropy',
    sampleOneHot: false,
    train: { index: range(0, nTrain), label: label.slice(0, nTrain), target },
    val: { index: range(nTrain, n), label: label.slice(nTrain) },
    test: { index: range(nTrain, n), label: label.slice(nTrain) },
  } as unknown as LabelSet;
  return { ds, labels };
}
