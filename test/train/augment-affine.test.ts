/**
 * The augmentation knobs beyond flip and shift (src/train/augment.ts, AugmentSchema in src/train/settings.ts): the
 * affine warp against images built here by index arithmetic and bilinear values worked out by hand, random erasing
 * and random resized crops against their documented bounds and draw counts, TrainBatches against an independent
 * replay of the old flip / shift code (default settings must stay bit-identical), and the schema's presets against
 * the values written out from their sources.
 *
 * Conventions pinned here: x = column, y = row (down), pixel centres at integers, image centre (23.5, 23.5); the
 * matrix maps an output pixel to the source point it samples; positive angles rotate counter-clockwise on screen;
 * edges are replicated; values are float32(value / 255).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { writeImage } from '../../src/data/preprocess';
import { affineMatrix, drawCrop, randomErase, warpAffine, type CropBox } from '../../src/train/augment';
import { TrainBatches } from '../../src/train/batches';
import { AugmentSchema, TRAIN_DEFAULTS, TrainSettingsSchema, type Augment } from '../../src/train/settings';
import { applyOverrides, DEFAULT_SETTINGS } from '../../src/exp/config';
import { Rng } from '../../src/util/rng';

const S = 48;
const P = S * S;

/** A seeded random (hence asymmetric) `[48, 48]` uint8 image. */
function randomImage(seed: number): Uint8Array {
  const r = new Rng(seed);
  return Uint8Array.from({ length: P }, () => r.u32() & 255);
}
/** The linear ramp L(r, c) = 2 r + 3 c + 10 (max 245): bilinear sampling of it at (y, x) is exactly 2 y + 3 x + 10. */
const ramp = Uint8Array.from({ length: P }, (_, i) => 2 * Math.floor(i / S) + 3 * (i % S) + 10);

const f32 = (v: number) => Math.fround(v / 255);

/** Warps `src` with the matrix of `params` into a fresh `[48, 48]` float32 image. */
function warp(src: Uint8Array, params: Parameters<typeof affineMatrix>[0]): Float32Array {
  const out = new Float32Array(P);
  warpAffine(src, 0, out, 0, affineMatrix(params));
  return out;
}

/** Asserts |got - want(r, c)| <= tol at every pixel, naming the first that is not. */
function expectImage(got: Float32Array, want: (r: number, c: number) => number, tol: number, what: string): void {
  for (let r = 0; r < S; r++)
    for (let c = 0; c < S; c++) {
      const w = want(r, c);
      if (!(Math.abs(got[r * S + c] - w) <= tol)) assert.unreachable(`${what}: pixel (${r}, ${c}) is ${got[r * S + c] * 255}/255, expected ${w * 255}/255`);
    }
}

const close = (a: ArrayLike<number>, b: number[], tol = 1e-12) => Array.from(a).every((v, i) => Math.abs(v - b[i]) <= tol);

test('identity parameters: the identity matrix, and every pixel exactly float32(pixel / 255)', () => {
  assert.equal(Array.from(affineMatrix({})), [1, 0, 0, 0, 1, 0]);
  const src = randomImage(1);
  expectImage(warp(src, {}), (r, c) => f32(src[r * S + c]), 0, 'identity');
  expectImage(
    warp(src, { angle: 360, scale: 1, tx: 0, ty: 0, crop: { x: 0, y: 0, w: 48, h: 48 } }),
    (r, c) => f32(src[r * S + c]),
    0,
    'full turn, whole-image crop',
  );
});

test('rotation by 90, 180 and 270 degrees (counter-clockwise on screen) is an exact index permutation', () => {
  const src = randomImage(2);
  const px = (r: number, c: number) => src[r * S + c];
  // the source must not be symmetric under the rotations, or the test would prove nothing
  assert.ok(px(0, 47) !== px(0, 0) || px(47, 0) !== px(0, 0));
  // 90 degrees CCW: the top-right corner goes to the top-left: out(r, c) = src(row c, column 47 - r);
  // as a matrix: srcX = 47 - y, srcY = x
  assert.ok(close(affineMatrix({ angle: 90 }), [0, -1, 47, 1, 0, 0]), `matrix ${Array.from(affineMatrix({ angle: 90 }))}`);
  expectImage(warp(src, { angle: 90 }), (r, c) => f32(px(c, 47 - r)), 1e-6, '90 degrees');
  assert.is(warp(src, { angle: 90 })[0], f32(px(0, 47)), 'top-right corner now top-left');
  expectImage(warp(src, { angle: 180 }), (r, c) => f32(px(47 - r, 47 - c)), 1e-6, '180 degrees');
  expectImage(warp(src, { angle: -90 }), (r, c) => f32(px(47 - c, r)), 1e-6, '-90 degrees');
  expectImage(warp(src, { angle: 270 }), (r, c) => f32(px(47 - c, r)), 1e-6, '270 degrees');
});

test('rotation by 45 degrees: the corner samples outside the image, clamped to the top row', () => {
  const src = randomImage(3);
  // out(0, 0): centred (-23.5, -23.5) rotated back by 45 degrees -> (0, -23.5 sqrt 2) -> source (x 23.5, y -9.73) -> row 0
  const out = warp(src, { angle: 45 });
  assert.ok(Math.abs(out[0] - (src[23] + src[24]) / 2 / 255) < 1e-6, `${out[0] * 255} vs ${(src[23] + src[24]) / 2}`);
});

test('half-pixel translations give the average of the neighbours; edges replicate', () => {
  const src = randomImage(4);
  const px = (r: number, c: number) => src[r * S + c];
  // content moved right by 0.5 px: out(r, c) samples x = c - 0.5
  expectImage(warp(src, { tx: 0.5 }), (r, c) => (c === 0 ? f32(px(r, 0)) : Math.fround((px(r, c - 1) + px(r, c)) / 2 / 255)), 0, 'tx 0.5');
  // down by 0.5 px
  expectImage(warp(src, { ty: 0.5 }), (r, c) => (r === 0 ? f32(px(0, c)) : Math.fround((px(r - 1, c) + px(r, c)) / 2 / 255)), 0, 'ty 0.5');
  // both: the mean of four neighbours (interior)
  const both = warp(src, { tx: 0.5, ty: 0.5 });
  assert.ok(Math.abs(both[10 * S + 20] - (px(9, 19) + px(9, 20) + px(10, 19) + px(10, 20)) / 4 / 255) < 1e-7);
  // the ramp: out(5, 10) with tx 0.5 samples (y 5, x 9.5) = 2 * 5 + 3 * 9.5 + 10 = 48.5
  assert.is(warp(ramp, { tx: 0.5 })[5 * S + 10], Math.fround(48.5 / 255));
  // edge replication: 3.5 px right -> columns 0..3 sample x <= -0.5, clamped to column 0; column 4 samples x = 0.5
  const right = warp(src, { tx: 3.5 });
  for (let r = 0; r < S; r += 7) {
    for (let c = 0; c <= 3; c++) assert.is(right[r * S + c], f32(px(r, 0)), `row ${r}, column ${c}: left edge replicated`);
    assert.is(right[r * S + 4], Math.fround((px(r, 0) + px(r, 1)) / 2 / 255));
  }
  // 10 px up: rows 38..47 sample y >= 47, the bottom row
  const up = warp(src, { ty: -10 });
  for (let r = 38; r < S; r++) for (let c = 0; c < S; c += 5) assert.is(up[r * S + c], f32(px(47, c)), `row ${r}: bottom edge replicated`);
});

test('zoom 2x about the centre: matrix and the sampled values around the centre', () => {
  // out(x) samples 23.5 + (x - 23.5) / 2 = 0.5 x + 11.75
  assert.equal(Array.from(affineMatrix({ scale: 2 })), [0.5, 0, 11.75, 0, 0.5, 11.75]);
  const out = warp(ramp, { scale: 2 });
  // out(23, 23) samples (23.25, 23.25): 2 * 23.25 + 3 * 23.25 + 10 = 126.25; out(24, 24) samples (23.75, 23.75): 128.75
  assert.is(out[23 * S + 23], Math.fround(126.25 / 255));
  assert.is(out[24 * S + 24], Math.fround(128.75 / 255));
  // out(0, 0) samples (11.75, 11.75): 68.75; out(47, 0) samples (y 35.25, x 11.75): 115.75
  assert.is(out[0], Math.fround(68.75 / 255));
  assert.is(out[47 * S], Math.fround(115.75 / 255));
  // on a random image: out(23, 23) = 9/16 src(23, 23) + 3/16 src(23, 24) + 3/16 src(24, 23) + 1/16 src(24, 24)
  const src = randomImage(5);
  const px = (r: number, c: number) => src[r * S + c];
  const want = (9 * px(23, 23) + 3 * px(23, 24) + 3 * px(24, 23) + px(24, 24)) / 16 / 255;
  assert.ok(Math.abs(warp(src, { scale: 2 })[23 * S + 23] - want) < 1e-7);
});

test('shears and crops: matrices worked out by hand', () => {
  // x' = x + 0.5 y (centred) -> x = x' - 0.5 (y' - 23.5)
  assert.equal(Array.from(affineMatrix({ shearX: 0.5 })), [1, -0.5, 11.75, 0, 1, 0]);
  assert.equal(Array.from(affineMatrix({ shearY: 0.5 })), [1, 0, 0, -0.5, 1, 11.75]);
  // shearY first, then shearX: forward [[1 + kx ky, kx], [ky, 1]], inverse [[1, -kx], [-ky, 1 + kx ky]]
  assert.equal(Array.from(affineMatrix({ shearX: 0.5, shearY: 0.5 })), [1, -0.5, 11.75, -0.5, 1.25, 5.875]);
  // top-left quarter resized to 48: output c samples (c + 0.5) / 2 - 0.5 = 0.5 c - 0.25
  assert.equal(Array.from(affineMatrix({ crop: { x: 0, y: 0, w: 24, h: 24 } })), [0.5, 0, -0.25, 0, 0.5, -0.25]);
  // a 24 x 12 box at (10, 30): x = 10 + (c + 0.5) / 2 - 0.5, y = 30 + (r + 0.5) / 4 - 0.5
  assert.equal(Array.from(affineMatrix({ crop: { x: 10, y: 30, w: 24, h: 12 } })), [0.5, 0, 9.75, 0, 0.25, 29.625]);
  // the crop is resized first, then translated: 2 output px right = 1 source px
  assert.equal(Array.from(affineMatrix({ crop: { x: 0, y: 0, w: 24, h: 24 }, tx: 2 })), [0.5, 0, -1.25, 0, 0.5, -0.25]);
});

test("flip (and flip + integer shift) through the affine path equals writeImage's, pixel for pixel", () => {
  const src = randomImage(6);
  const old = new Float32Array(P);
  writeImage(src, 0, old, 0, true);
  expectImage(warp(src, { flip: true }), (r, c) => old[r * S + c], 0, 'flip');
  assert.equal(Array.from(affineMatrix({ flip: true })), [-1, -0, 47, 0, 1, 0]);
  // the mirror comes first: mirrored m(r, c) = src(r, 47 - c), then 90 degrees CCW out(r, c) = m(c, 47 - r) = src(c, r),
  // the transpose (mirroring after the rotation would give src(47 - c, 47 - r))
  expectImage(warp(src, { flip: true, angle: 90 }), (r, c) => f32(src[c * S + r]), 1e-6, 'flip, then 90 degrees');
  for (const [dx, dy] of [
    [2, -1],
    [-3, 3],
  ]) {
    writeImage(src, 0, old, 0, true, dx, dy);
    expectImage(warp(src, { flip: true, tx: dx, ty: dy }), (r, c) => old[r * S + c], 0, `flip, dx ${dx}, dy ${dy}`);
    writeImage(src, 0, old, 0, false, dx, dy);
    expectImage(warp(src, { tx: dx, ty: dy }), (r, c) => old[r * S + c], 0, `dx ${dx}, dy ${dy}`);
  }
});

/** The erased rectangle of `img` (a constant 0.5 image erased with another value): bounding box of changed pixels. */
function changedBox(img: Float32Array): { x: number; y: number; w: number; h: number; count: number } | null {
  let x0 = S;
  let y0 = S;
  let x1 = -1;
  let y1 = -1;
  let count = 0;
  for (let r = 0; r < S; r++)
    for (let c = 0; c < S; c++)
      if (img[r * S + c] !== 0.5) {
        count++;
        x0 = Math.min(x0, c);
        x1 = Math.max(x1, c);
        y0 = Math.min(y0, r);
        y1 = Math.max(y1, r);
      }
  return count ? { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1, count } : null;
}

test('random erasing: one full rectangle inside the image, area and height/width within bounds, spread over them', () => {
  const rng = new Rng(9);
  const e = { p: 1, area: [0.1, 0.2] as [number, number], ratio: [0.5, 1.5] as [number, number], value: 0 };
  const img = new Float32Array(P);
  const box = new Int32Array(4);
  const fractions: number[] = [];
  const ratios: number[] = [];
  for (let k = 0; k < 500; k++) {
    img.fill(0.5);
    assert.ok(randomErase(img, 0, rng, e, box), 'p = 1 always erases (these bounds always fit)');
    const b = changedBox(img)!;
    assert.ok(b, 'something was erased');
    assert.equal([b.x, b.y, b.w, b.h], Array.from(box), 'the reported box is the erased one');
    assert.is(b.count, b.w * b.h, 'a full rectangle');
    assert.ok(b.x + b.w <= S && b.y + b.h <= S);
    // area: |h w - A| <= (h + w + 1) / 2 + 1/4 from rounding h = round(sqrt(A r)), w = round(sqrt(A / r))
    const slack = (b.h + b.w + 1) / 2 + 0.25;
    assert.ok(b.count >= 0.1 * P - slack && b.count <= 0.2 * P + slack, `area ${b.count} px`);
    // height / width (asymmetric bounds, so a swapped h and w fails): the unrounded ratio is in [0.5, 1.5], and each
    // side is within 0.5 of its unrounded value
    assert.ok((b.h + 0.5) / (b.w - 0.5) >= 0.5 && (b.h - 0.5) / (b.w + 0.5) <= 1.5, `h ${b.h}, w ${b.w}`);
    fractions.push(b.count / P);
    ratios.push(b.h / b.w);
  }
  assert.ok(Math.min(...fractions) < 0.12 && Math.max(...fractions) > 0.18, 'areas spread over [0.1, 0.2]');
  assert.ok(Math.min(...ratios) < 0.65 && Math.max(...ratios) > 1.3, 'ratios spread over [0.5, 1.5]');
  // 'random' fills with uniform values in [0, 1)
  img.fill(0.5);
  randomErase(img, 0, rng, { ...e, value: 'random' }, box);
  const vals: number[] = [];
  for (let r = box[1]; r < box[1] + box[3]; r++) for (let c = box[0]; c < box[0] + box[2]; c++) vals.push(img[r * S + c]);
  assert.ok(vals.length > 200 && vals.every((v) => v >= 0 && v < 1) && new Set(vals).size > vals.length / 2, 'random values');
});

test('random erasing: p = 0 never erases and draws once; p = 0.5 erases about half; a second image in the buffer only', () => {
  const rng = new Rng(10);
  const twin = new Rng(10);
  const img = new Float32Array(2 * P).fill(0.5);
  const e = { p: 0, area: [0.02, 0.4] as [number, number], ratio: [0.3, 1 / 0.3] as [number, number], value: 0 };
  for (let k = 0; k < 300; k++) {
    assert.not.ok(randomErase(img, P, rng, e));
    twin.uniform();
  }
  assert.ok(
    img.every((v) => v === 0.5),
    'nothing changed',
  );
  assert.equal(rng.getState(), twin.getState(), 'exactly one draw per image');
  let erased = 0;
  for (let k = 0; k < 400; k++) {
    img.fill(0.5);
    if (randomErase(img, P, rng, { ...e, p: 0.5 })) erased++;
    assert.ok(
      img.subarray(0, P).every((v) => v === 0.5),
      'the first image of the buffer is untouched',
    );
  }
  assert.ok(erased > 160 && erased < 240, `${erased} of 400 erased at p = 0.5`);
});

test('random resized crop: inside the image, area and width/height within bounds; no fit -> the largest centred crop after 10 tries', () => {
  const rng = new Rng(11);
  const box: CropBox = { x: 0, y: 0, w: 0, h: 0 };
  const areas: number[] = [];
  const ratios: number[] = [];
  for (let k = 0; k < 500; k++) {
    drawCrop(rng, { scale: [0.5, 0.9], ratio: [0.6, 1.2] }, box); // asymmetric: a swapped w and h fails
    assert.ok(box.x >= 0 && box.y >= 0 && box.w >= 1 && box.h >= 1 && box.x + box.w <= S && box.y + box.h <= S, JSON.stringify(box));
    const slack = (box.h + box.w + 1) / 2 + 0.25;
    assert.ok(box.w * box.h >= 0.5 * P - slack && box.w * box.h <= 0.9 * P + slack, `area ${box.w * box.h}`);
    assert.ok((box.w + 0.5) / (box.h - 0.5) >= 0.6 && (box.w - 0.5) / (box.h + 0.5) <= 1.2, `w ${box.w}, h ${box.h}`);
    areas.push((box.w * box.h) / P);
    ratios.push(box.w / box.h);
  }
  assert.ok(Math.min(...areas) < 0.55 && Math.max(...areas) > 0.85, 'areas spread');
  assert.ok(Math.min(...ratios) < 0.7 && Math.max(...ratios) > 1.1, 'width / height spread');
  // area >= 2 images never fits: 10 tries of 2 draws each, then the whole image
  const a = new Rng(12);
  const b = new Rng(12);
  drawCrop(a, { scale: [2, 3], ratio: [3 / 4, 4 / 3] }, box);
  for (let k = 0; k < 20; k++) b.uniform();
  assert.equal(box, { x: 0, y: 0, w: 48, h: 48 });
  assert.equal(a.getState(), b.getState(), '20 draws');
  // ratio bounds above 1 and no fit: the widest centred crop of ratio 2: 48 x 24 at y 12
  drawCrop(a, { scale: [2, 3], ratio: [2, 3] }, box);
  assert.equal(box, { x: 0, y: 12, w: 48, h: 24 });
  // ratio bounds below 1: the tallest centred crop of ratio 1/2: 24 x 48 at x 12
  drawCrop(a, { scale: [2, 3], ratio: [0.25, 0.5] }, box);
  assert.equal(box, { x: 12, y: 0, w: 24, h: 48 });
});

// ---------------------------------------------------------------------------------------------------------------
// TrainBatches

const N_IMAGES = 9;
const pixels = new Uint8Array(N_IMAGES * P);
for (let img = 0; img < N_IMAGES; img++) pixels.set(randomImage(100 + img), img * P);
const split = {
  index: Int32Array.from([4, 0, 7, 2, 8, 1]),
  label: Uint8Array.from([0, 1, 2, 0, 1, 2]),
  target: Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1]),
};

function batchesOf(augment: Augment, seed: number, epochs: number, batchSize = 2): Float32Array[] {
  const tb = new TrainBatches(pixels, split, 3, { batchSize, augment, loss: 'crossentropy', sampleOneHot: false, rng: new Rng(seed) });
  const out: Float32Array[] = [];
  for (let e = 0; e < epochs; e++) for (const b of tb.epoch()) out.push(b.x.slice(0, b.n * P));
  return out;
}

/**
 * The batches of the code before the new knobs, replayed independently: per epoch one shuffle, then per image a flip
 * draw (flip on), dx and dy (shift > 0), `extra` further uniform draws (a new knob's), then writeImage.
 */
function oldBatches(flip: boolean, shift: number, seed: number, epochs: number, batchSize = 2, extra = 0): Float32Array[] {
  const rng = new Rng(seed);
  const order = Int32Array.from({ length: split.index.length }, (_, i) => i);
  const out: Float32Array[] = [];
  const steps = Math.floor(split.index.length / batchSize);
  for (let e = 0; e < epochs; e++) {
    rng.shuffle(order);
    for (let s = 0; s < steps; s++) {
      const x = new Float32Array(batchSize * P);
      for (let b = 0; b < batchSize; b++) {
        const f = flip && rng.uniform() < 0.5;
        const dx = shift > 0 ? rng.int(2 * shift + 1) - shift : 0;
        const dy = shift > 0 ? rng.int(2 * shift + 1) - shift : 0;
        for (let k = 0; k < extra; k++) rng.uniform();
        writeImage(pixels, split.index[order[s * batchSize + b]], x, b * P, f, dx, dy);
      }
      out.push(x);
    }
  }
  return out;
}

const sameBytes = (a: Float32Array[], b: Float32Array[]) =>
  a.length === b.length &&
  a.every((x, i) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength)));

test('default settings (flip only) and flip + shift: exactly the bytes of the code before the new knobs', () => {
  assert.equal(TRAIN_DEFAULTS.augment, { flip: true, shift: 0 }, 'the resolved default lists no new knob (run records unchanged)');
  assert.ok(sameBytes(batchesOf(TRAIN_DEFAULTS.augment, 42, 3), oldBatches(true, 0, 42, 3)), 'defaults');
  assert.ok(sameBytes(batchesOf(AugmentSchema.parse({ shift: 3 }), 7, 3), oldBatches(true, 3, 7, 3)), 'flip + shift 3');
  assert.ok(sameBytes(batchesOf(AugmentSchema.parse({ flip: false, rotation: 0, crop: null }), 5, 2, 3), oldBatches(false, 0, 5, 2, 3)), 'knobs off');
  // the replay itself is not trivially equal to anything: another seed gives other bytes
  assert.not.ok(sameBytes(oldBatches(true, 3, 7, 3), oldBatches(true, 3, 8, 3)));
});

test('a new knob on: flip and shift are drawn first, as before, then the knob (draw order)', () => {
  // erasing with p = 0: the same pixels as the old path, one extra draw per image
  const erasing = AugmentSchema.parse({ shift: 2, erasing: { p: 0 } });
  assert.ok(sameBytes(batchesOf(erasing, 3, 3), oldBatches(true, 2, 3, 3, 2, 1)), 'erasing p = 0');
  // a zoom of 1 +- 1e-12 through the warp: the flipped / shifted image of writeImage (to float rounding), one extra draw
  const zoom = batchesOf(AugmentSchema.parse({ shift: 2, scale: 1e-12 }), 4, 3);
  const want = oldBatches(true, 2, 4, 3, 2, 1);
  assert.is(zoom.length, want.length);
  zoom.forEach((x, i) =>
    assert.ok(
      x.every((v, k) => Math.abs(v - want[i][k]) < 1e-6),
      `batch ${i}: warp path = flip + shift of writeImage`,
    ),
  );
});

test('seeded: same seed -> same batches, another seed -> other batches, for each preset', () => {
  for (const preset of ['ferplus-paper', 'khaireddin2021'] as const) {
    const a = AugmentSchema.parse({ preset });
    const one = batchesOf(a, 21, 2);
    assert.ok(sameBytes(one, batchesOf(a, 21, 2)), `${preset}: same seed`);
    assert.not.ok(sameBytes(one, batchesOf(a, 22, 2)), `${preset}: another seed`);
    assert.not.ok(sameBytes(one, oldBatches(true, 0, 21, 2)), `${preset}: really augments`);
    assert.ok(
      one.every((x) => x.every((v) => v >= 0 && v <= 1)),
      `${preset}: values in [0, 1]`,
    );
  }
  assert.throws(
    () => batchesOf({ flip: true, shift: 0, preset: 'ferplus-paper' }, 1, 1),
    /preset 'ferplus-paper' is not resolved/,
    'an unresolved preset is an error, not silently no augmentation',
  );
});

// ---------------------------------------------------------------------------------------------------------------
// schema

test('presets resolve to the values of their sources; explicit knobs override; resolving twice changes nothing', () => {
  // microsoft/FERPlus src/ferplus.py: max_shift 0.08, max_scale 1.05, max_angle 20.0, max_skew 0.05, do_flip True
  const ferplus = { flip: true, shift: 0, preset: 'ferplus-paper', rotation: 20, scale: 0.05, translate: 0.08, skew: 0.05, crop: null, erasing: null };
  assert.equal(AugmentSchema.parse({ preset: 'ferplus-paper' }), ferplus);
  // usef-kh/fer data/fer2013.py: RandomResizedCrop(48, scale=(0.8, 1.2)), translate (0.2, 0.2), RandomRotation(10),
  // RandomErasing(p=0.5) with torchvision's defaults scale (0.02, 0.33), ratio (0.3, 3.3), value 0
  const khaireddin = {
    flip: true,
    shift: 0,
    preset: 'khaireddin2021',
    rotation: 10,
    scale: 0,
    translate: 0.2,
    skew: 0,
    crop: { scale: [0.8, 1.2], ratio: [0.75, 4 / 3] },
    erasing: { p: 0.5, area: [0.02, 0.33], ratio: [0.3, 3.3], value: 0 },
  };
  assert.equal(AugmentSchema.parse({ preset: 'khaireddin2021' }), khaireddin);
  assert.equal(AugmentSchema.parse({}), { flip: true, shift: 0 });
  assert.equal(AugmentSchema.parse({ rotation: 0, crop: null, erasing: null }), { flip: true, shift: 0 }, 'knobs off are left out');
  // explicit knobs win over the preset, 0 / null turn a preset knob off
  assert.equal(AugmentSchema.parse({ preset: 'ferplus-paper', rotation: 5, skew: 0, flip: false }), { ...ferplus, rotation: 5, skew: 0, flip: false });
  assert.equal(AugmentSchema.parse({ preset: 'khaireddin2021', erasing: null, scale: 0.1 }), { ...khaireddin, erasing: null, scale: 0.1 });
  // erasing: {} = Zhong et al.'s settings (p 0.5, s_l 0.02, s_h 0.4, r_1 0.3, r_2 1 / r_1, random values)
  assert.equal(AugmentSchema.parse({ erasing: {}, rotation: 7 }), {
    flip: true,
    shift: 0,
    rotation: 7,
    erasing: { p: 0.5, area: [0.02, 0.4], ratio: [0.3, 1 / 0.3], value: 'random' },
  });
  for (const input of [{ preset: 'ferplus-paper', rotation: 0 }, { preset: 'khaireddin2021' }, { translate: 0.1, crop: { scale: [0.5, 1] } }, {}]) {
    const once = AugmentSchema.parse(input);
    assert.equal(AugmentSchema.parse(JSON.parse(JSON.stringify(once))), once, `idempotent: ${JSON.stringify(input)}`);
  }
  // the run record stores the resolved values: a whole-group override from the command line
  const s = applyOverrides(DEFAULT_SETTINGS, ['augment={"preset":"ferplus-paper"}']);
  assert.equal(s.augment, ferplus);
});

test('out-of-range knobs are errors naming the knob', () => {
  const problem = (augment: unknown): string => {
    const r = TrainSettingsSchema.safeParse({ augment });
    assert.not.ok(r.success, JSON.stringify(augment));
    return z.prettifyError(r.error!);
  };
  assert.match(problem({ rotation: -1 }), /augment\.rotation/);
  assert.match(problem({ rotation: 181 }), /augment\.rotation/);
  assert.match(problem({ scale: 1 }), /augment\.scale/);
  assert.match(problem({ translate: 0.6 }), /augment\.translate/);
  assert.match(problem({ skew: -0.1 }), /augment\.skew/);
  assert.match(problem({ erasing: { p: 1.5 } }), /augment\.erasing\.p/);
  assert.match(problem({ erasing: { area: [0.3, 0.2] } }), /augment\.erasing\.area[\s\S]*min <= max|min <= max[\s\S]*augment\.erasing\.area/);
  assert.match(problem({ erasing: { value: 2 } }), /augment\.erasing\.value/);
  assert.match(problem({ crop: { scale: [0.9, 0.8] } }), /min <= max[\s\S]*augment\.crop\.scale/);
  assert.match(problem({ crop: { scale: [0.5, 1], ratio: [0, 1] } }), /augment\.crop\.ratio/);
  assert.match(problem({ crop: {} }), /augment\.crop\.scale/);
  assert.match(problem({ preset: 'imagenet' }), /augment\.preset/);
  assert.match(problem({ rotate: 10 }), /rotate/);
});

test.run();
