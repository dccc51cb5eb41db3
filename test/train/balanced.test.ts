/** Class-balanced sampling in the batch builder: classes equally frequent over epochs; off = every image once per epoch. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainBatches } from '../../src/train/batches';
import { Rng } from '../../src/util/rng';

/** 100 images: 90 of class 0, 9 of class 1, 1 of class 2; each image's first pixel holds its index. */
function build(balanced: boolean) {
  const n = 100;
  const pixels = new Uint8Array(n * 2304);
  const label = Uint8Array.from({ length: n }, (_, i) => (i < 90 ? 0 : i < 99 ? 1 : 2));
  for (let i = 0; i < n; i++) pixels[i * 2304] = i;
  const target = new Float32Array(n * 3);
  label.forEach((l, i) => (target[i * 3 + l] = 1));
  return new TrainBatches(pixels, { index: Int32Array.from({ length: n }, (_, i) => i), label, target }, 3, {
    batchSize: 10,
    augment: { flip: false, shift: 0 },
    loss: 'crossentropy',
    sampleOneHot: false,
    rng: new Rng(5),
    balanced,
  });
}

test('balanced: each class about 1/3 of the slots over 30 epochs; labels and pixels stay paired', () => {
  const b = build(true);
  const counts = [0, 0, 0];
  for (let e = 0; e < 30; e++)
    for (const batch of b.epoch())
      for (let i = 0; i < batch.n; i++) {
        counts[batch.label[i]]++;
        const img = Math.round(batch.x[i * 2304] * 255);
        assert.is(batch.label[i], img < 90 ? 0 : img < 99 ? 1 : 2, 'label of the drawn image');
      }
  // 3000 slots, binomial sd sqrt(3000 * 1/3 * 2/3) = 25.8: within 4 sd of 1000
  for (const c of counts) assert.ok(Math.abs(c - 1000) < 104, `class counts ${counts}, expected about 1000 each`);
});

test('off: every image exactly once per epoch', () => {
  const b = build(false);
  const seen = new Array<number>(100).fill(0);
  for (const batch of b.epoch()) for (let i = 0; i < batch.n; i++) seen[Math.round(batch.x[i * 2304] * 255)]++;
  assert.ok(
    seen.every((v) => v === 1),
    `each image once: ${seen.filter((v) => v !== 1).length} differ`,
  );
});

test.run();
