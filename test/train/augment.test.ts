/**
 * Augmentation inside the training batch builder (src/train/batches.ts TrainBatches): every produced image equals
 * the expected mirrored / shifted image built here independently, with the flip and shift drawn from an identically
 * seeded Rng (src/util/rng.ts) in the order TrainBatches documents and uses: per epoch one Fisher-Yates shuffle of
 * the split order, then per image (in batch order) a flip draw `uniform() < 0.5` when flip is on, then dx and dy, each
 * `int(2 * shift + 1) - shift`, when shift > 0. Semantics pinned here (src/train/batches.ts, writeImage): the image is
 * mirrored left-right, then translated so that pixel (r, c) lands at (r + dy, c + dx), edges replicated; values are
 * float32(pixel / 255). Labels and targets follow the shuffled order.
 *
 * The images encode their coordinates: pixel(img, r, c) = (48 r + c + 37 img) mod 251, so any wrong row, column,
 * mirror, shift direction, edge rule or image changes some value.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TrainBatches } from '../../src/train/batches';
import { Rng } from '../../src/util/rng';

const S = 48;
const P = S * S;
const N_IMAGES = 7;
const C = 3;

/** `[7, 48, 48]` uint8 dataset. */
const pixels = new Uint8Array(N_IMAGES * P);
for (let img = 0; img < N_IMAGES; img++) for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) pixels[img * P + r * S + c] = (48 * r + c + 37 * img) % 251;

/** The training split: 5 of the 7 images, not in file order; hard labels and soft targets that differ per entry. */
const split = {
  index: Int32Array.from([5, 0, 3, 6, 1]),
  label: Uint8Array.from([2, 0, 1, 2, 1]),
  target: Float32Array.from([0.1, 0.2, 0.7, 0.6, 0.3, 0.1, 0.25, 0.5, 0.25, 0, 0.4, 0.6, 0.3, 0.45, 0.25]),
};

/** Expected image, written from the definition: mirror, then translate by (dx, dy) with edge replication. */
function expectedImage(row: number, flip: boolean, dx: number, dy: number): Float32Array {
  const at = (r: number, c: number) => pixels[row * P + r * S + c];
  const mirrored = (r: number, c: number) => (flip ? at(r, S - 1 - c) : at(r, c));
  const clamp = (v: number) => (v < 0 ? 0 : v > S - 1 ? S - 1 : v);
  const out = new Float32Array(P);
  for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) out[r * S + c] = Math.fround(mirrored(clamp(r - dy), clamp(c - dx)) / 255);
  return out;
}

/** First index where a and b differ, or -1. */
function firstDiff(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

interface Draw {
  j: number;
  flip: boolean;
  dx: number;
  dy: number;
}

/** The draws of `epochs` epochs, replayed from a fresh Rng(seed) in the documented order. */
function replay(seed: number, epochs: number, batchSize: number, flip: boolean, shift: number): Draw[][] {
  const rng = new Rng(seed);
  const m = split.index.length;
  const order = Int32Array.from({ length: m }, (_, i) => i);
  const steps = Math.floor(m / batchSize);
  const out: Draw[][] = [];
  for (let e = 0; e < epochs; e++) {
    rng.shuffle(order); // reshuffled in place: epoch e + 1 starts from epoch e's order
    const draws: Draw[] = [];
    for (let k = 0; k < steps * batchSize; k++) {
      const f = flip && rng.uniform() < 0.5;
      const dx = shift ? rng.int(2 * shift + 1) - shift : 0;
      const dy = shift ? rng.int(2 * shift + 1) - shift : 0;
      draws.push({ j: order[k], flip: f, dx, dy });
    }
    out.push(draws);
  }
  return out;
}

/** Runs `epochs` epochs of TrainBatches and checks every image, label and target against the replayed draws. */
function check(seed: number, batchSize: number, flip: boolean, shift: number, epochs: number): Draw[] {
  const batches = new TrainBatches(pixels, split, C, { batchSize, augment: { flip, shift }, loss: 'crossentropy', sampleOneHot: false, rng: new Rng(seed) });
  assert.is(batches.steps, Math.floor(5 / batchSize), 'steps per epoch: the last partial batch is dropped');
  const expected = replay(seed, epochs, batchSize, flip, shift);
  for (let e = 0; e < epochs; e++) {
    let k = 0;
    for (const batch of batches.epoch()) {
      assert.is(batch.n, batchSize);
      for (let b = 0; b < batchSize; b++, k++) {
        const d = expected[e][k];
        const what = `epoch ${e + 1}, image ${k} (split entry ${d.j}, row ${split.index[d.j]}, flip ${d.flip}, dx ${d.dx}, dy ${d.dy})`;
        const want = expectedImage(split.index[d.j], d.flip, d.dx, d.dy);
        const got = batch.x.subarray(b * P, (b + 1) * P);
        const i = firstDiff(got, want);
        assert.ok(i < 0, `${what}: pixel (${Math.floor(i / S)}, ${i % S}) is ${got[i] * 255}/255, expected ${want[i] * 255}/255`);
        assert.is(batch.label[b], split.label[d.j], `${what}: hard label`);
        assert.equal(Array.from(batch.y.subarray(b * C, (b + 1) * C)), Array.from(split.target.subarray(d.j * C, (d.j + 1) * C)), `${what}: target row`);
      }
    }
    assert.is(k, expected[e].length, `epoch ${e + 1}: number of images`);
  }
  return expected.flat();
}

test('flip + shift 3: every image is the mirrored / shifted original with replicated edges, in the replayed draw order', () => {
  const draws = check(7, 2, true, 3, 3);
  // the draws exercise what they should: both flip outcomes, both shift directions, the full range (edge replication)
  assert.ok(draws.some((d) => d.flip) && draws.some((d) => !d.flip), 'both flip outcomes drawn');
  assert.ok(draws.some((d) => d.dx === 3 || d.dx === -3) && draws.some((d) => d.dy === 3 || d.dy === -3), 'a full 3-pixel shift drawn');
  assert.ok(draws.some((d) => d.dx > 0) && draws.some((d) => d.dx < 0) && draws.some((d) => d.dy > 0) && draws.some((d) => d.dy < 0), 'both directions drawn');
  assert.ok(draws.every((d) => Math.abs(d.dx) <= 3 && Math.abs(d.dy) <= 3));
});

test('shift only (no flip) and flip only (no shift) consume only their own draws', () => {
  check(11, 2, false, 2, 2);
  check(12, 2, true, 0, 2);
});

test('no augmentation: exact pixel / 255 copies; labels and targets follow the shuffled order; no draw but the shuffle', () => {
  const draws = check(3, 1, false, 0, 2);
  assert.ok(draws.every((d) => !d.flip && d.dx === 0 && d.dy === 0));
  // the order really is shuffled (and reshuffled): not file order in both epochs
  const orders = [draws.slice(0, 5).map((d) => d.j), draws.slice(5).map((d) => d.j)];
  assert.not.equal(orders[0], [0, 1, 2, 3, 4], 'epoch 1 is shuffled');
  assert.not.equal(orders[0], orders[1], 'epoch 2 is reshuffled');
  assert.equal([...orders[0]].sort(), [0, 1, 2, 3, 4], 'batch size 1: every entry exactly once per epoch');
});

test('expectedImage itself: a hand-checked pixel of a mirrored, shifted image and its replicated edge', () => {
  // image 0, flip, dx = 2, dy = -1: out(0, 0) = mirrored(clamp(1), clamp(-2)) = mirrored(1, 0) = pixel(1, 47) = 95
  // out(47, 47) = mirrored(47, 45) = pixel(47, 2) = (48 * 47 + 2) mod 251 = 2258 mod 251 = 250
  const img = expectedImage(0, true, 2, -1);
  assert.is(img[0], Math.fround(95 / 255));
  assert.is(img[P - 1], Math.fround(250 / 255));
  // row 46 replicates row 47's source: dy = -1 maps output row 47 and 46 to sources 47 (clamped) and 47
  assert.equal(Array.from(img.subarray(46 * S, 47 * S)), Array.from(img.subarray(47 * S, 48 * S)));
});

test.run();
