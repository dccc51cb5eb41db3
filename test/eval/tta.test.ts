/**
 * src/eval/tta.ts: the view batches checked pixel by pixel with index arithmetic, and TTA probabilities of tiny
 * Flatten -> Dense models whose weights are set by hand, against softmax averages computed here (cpu backend).
 */
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildTtaBatch, ensembleShift, predictProbabilitiesTTA, ttaRecord, ttaViews, ttaWindows } from '../../src/eval/tta';

const S = 48;

/** Three 48x48 uint8 images with distinct, position-dependent pixels. */
function images(): Uint8Array {
  const px = new Uint8Array(3 * S * S);
  for (let r = 0; r < S; r++)
    for (let c = 0; c < S; c++) {
      px[r * S + c] = (r * 48 + c) % 251;
      px[S * S + r * S + c] = (r * 5 + c * 3 + 17) % 256;
      px[2 * S * S + r * S + c] = (r * r + 7 * c) % 256;
    }
  return px;
}

/** Pixel (r, c) of image `i` as the model sees it (uint8 / 255, float32). */
const at = (px: Uint8Array, i: number, r: number, c: number) => Math.fround(px[i * S * S + r * S + c] / 255);

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** A Flatten -> Dense(C) model on `[side, side, 1]` inputs with the given kernel (`[side*side, C]`) and bias. */
function linearModel(side: number, kernel: Float32Array, bias: number[]): tf.LayersModel {
  const C = bias.length;
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [side, side, 1] }), tf.layers.dense({ units: C })] });
  model.layers[1].setWeights([tf.tensor2d(kernel, [side * side, C]), tf.tensor1d(bias)]);
  return model;
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('windows: modes, view counts, centre offsets with half-to-even rounding', () => {
  assert.equal([ttaViews('none'), ttaViews('flip'), ttaViews('tencrop')], [1, 2, 10]);
  assert.equal(ttaWindows('flip', 48), [
    { top: 0, left: 0, mirrored: false },
    { top: 0, left: 0, mirrored: true },
  ]);
  assert.equal(
    ttaWindows('tencrop', 40).map((w) => [w.top, w.left, w.mirrored ? 1 : 0]),
    [
      [0, 0, 0],
      [0, 8, 0],
      [8, 0, 0],
      [8, 8, 0],
      [4, 4, 0],
      [0, 0, 1],
      [0, 8, 1],
      [8, 0, 1],
      [8, 8, 1],
      [4, 4, 1],
    ],
  );
  // torchvision: int(round((48 - crop) / 2)) with Python's round: 1.5 -> 2, 2.5 -> 2, 0.5 -> 0
  assert.is(ttaWindows('none', 45)[0].top, 2);
  assert.is(ttaWindows('none', 43)[0].top, 2);
  assert.is(ttaWindows('none', 47)[0].left, 0);
  assert.equal(ttaRecord('flip'), { tta: 'flip', views: 2, crop: 48, average: 'probabilities' });
  assert.equal(ttaRecord('tencrop'), { tta: 'tencrop', views: 10, crop: 40, average: 'probabilities' });
  assert.throws(() => ttaWindows('tencrop', 48), /five identical windows/);
  assert.throws(() => ttaWindows('none', 49), /crop must be an integer in \[1, 48\]/);
  assert.throws(() => ttaWindows('rotate' as never, 40), /unknown mode 'rotate'/);
});

test('flip batch: view 0 is the image, view 1 its mirror, image-major, rows selected', () => {
  const px = images();
  const x = buildTtaBatch(px, [2, 0], 'flip');
  assert.is(x.length, 2 * 2 * S * S);
  for (const [j, img] of [
    [0, 2],
    [1, 0],
  ])
    for (let r = 0; r < S; r++)
      for (let c = 0; c < S; c++) {
        assert.is(x[((j * 2 + 0) * S + r) * S + c], at(px, img, r, c));
        assert.is(x[((j * 2 + 1) * S + r) * S + c], at(px, img, r, S - 1 - c));
      }
  // 'none' = the plain image; start / count pick a slice of rows
  const one = buildTtaBatch(px, [0, 1, 2], 'none', { start: 1, count: 1 });
  assert.is(one.length, S * S);
  assert.is(one[5 * S + 7], at(px, 1, 5, 7));
  assert.throws(() => buildTtaBatch(px, [3], 'none'), /row 0 is 3; expected an image index in \[0, 3\)/);
});

test('ten-crop batch (crop 40): corners, centre and mirrored windows by index arithmetic', () => {
  const px = images();
  const K = 40;
  const x = buildTtaBatch(px, [1], 'tencrop', { crop: K });
  assert.is(x.length, 10 * K * K);
  const v = (view: number, y: number, xx: number) => x[(view * K + y) * K + xx];
  // the first five: plain crops at (top, left)
  const origins = [
    [0, 0],
    [0, 8],
    [8, 0],
    [8, 8],
    [4, 4],
  ];
  origins.forEach(([t, l], view) => {
    for (let y = 0; y < K; y++) for (let xx = 0; xx < K; xx++) assert.is(v(view, y, xx), at(px, 1, t + y, l + xx), `view ${view} (${y}, ${xx})`);
  });
  // the last five: crops of the mirrored image, pixel (y, x) = image[t + y][47 - l - x]
  origins.forEach(([t, l], i) => {
    for (let y = 0; y < K; y++) for (let xx = 0; xx < K; xx++) assert.is(v(5 + i, y, xx), at(px, 1, t + y, 47 - l - xx), `view ${5 + i} (${y}, ${xx})`);
  });
  // so the mirrored top-left window is the mirror of the top-right crop, and so on
  const mirrorOf = [1, 0, 3, 2, 4];
  mirrorOf.forEach((src, i) => {
    for (let y = 0; y < K; y++) for (let xx = 0; xx < K; xx++) assert.is(v(5 + i, y, xx), v(src, y, K - 1 - xx));
  });
  // spot values: corners of the image land where they should
  assert.is(v(0, 0, 0), at(px, 1, 0, 0));
  assert.is(v(3, 39, 39), at(px, 1, 47, 47));
  assert.is(v(5, 0, 0), at(px, 1, 0, 47));
});

test('shifted ten-crop batch (shift 40): whole images translated by 4 pixels, edges repeated, mirrored views', () => {
  const px = images();
  const x = buildTtaBatch(px, [2], 'tencrop', { shift: 40 });
  assert.is(x.length, 10 * S * S);
  const view = (v: number, r: number, c: number) => x[v * S * S + r * S + c];
  // view 0 (top-left window): translated down-right by 4; its centre window (4..43) is the image's 0..39
  assert.is(view(0, 4, 4), at(px, 2, 0, 0));
  assert.is(view(0, 43, 43), at(px, 2, 39, 39));
  assert.is(view(0, 0, 0), at(px, 2, 0, 0)); // outside: the edge pixel repeated
  assert.is(view(0, 2, 10), at(px, 2, 0, 6));
  assert.is(view(0, 47, 47), at(px, 2, 43, 43));
  // view 3 (bottom-right window): translated up-left by 4
  assert.is(view(3, 4, 4), at(px, 2, 8, 8));
  assert.is(view(3, 47, 47), at(px, 2, 47, 47)); // clamped
  assert.is(view(3, 45, 0), at(px, 2, 47, 4));
  // view 4 (centre) is the image itself, view 9 its mirror
  for (let r = 0; r < S; r += 5)
    for (let c = 0; c < S; c += 3) {
      assert.is(view(4, r, c), at(px, 2, r, c));
      assert.is(view(9, r, c), at(px, 2, r, 47 - c));
    }
  // view 5 (mirrored top-left): its centre window starts at the mirrored image's (0, 0) = image (0, 47)
  assert.is(view(5, 4, 4), at(px, 2, 0, 47));
  assert.is(view(5, 4, 43), at(px, 2, 0, 8));
  assert.is(view(5, 0, 0), at(px, 2, 0, 47));
  // flip with a shift is the plain flip (both windows centred)
  assert.equal(Array.from(buildTtaBatch(px, [0, 1], 'flip', { shift: 40 })), Array.from(buildTtaBatch(px, [0, 1], 'flip')));
  assert.throws(() => buildTtaBatch(px, [0], 'tencrop', { shift: 40, crop: 40 }), /crop and input must not be given with it/);
  assert.throws(() => buildTtaBatch(px, [0], 'tencrop', { shift: 48 }), /tencrop with crop 48/);
});

test("ensembleShift: the smallest inner crop among an ensemble's members, none without crops", () => {
  const crop = (size: number) => ({ size, resize: 'crop' as const, normalize: 'unit' as const });
  const whole = { size: 48, resize: 'none' as const, normalize: 'unit' as const };
  assert.is(ensembleShift([crop(40), whole, crop(44)]), 40);
  assert.is(ensembleShift([whole, crop(48)]), undefined);
  assert.is(ensembleShift([{ size: 40, resize: 'scale', normalize: 'unit' }]), undefined, 'a scaled member sees the whole image');
});

test('flip TTA of a hand-weighted linear model = the average of the two softmaxes computed by hand', () => {
  // logit 0 = a * mean of the left half, logit 1 = a * mean of the right half, logit 2 = 0.5 (bias), a = 2
  const a = 2;
  const kernel = new Float32Array(S * S * 3);
  for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) kernel[(r * S + c) * 3 + (c < 24 ? 0 : 1)] = a / (S * 24);
  const model = linearModel(S, kernel, [0, 0, 0.5]);
  // image 0: left half white, right half black -> logits [2, 0, 0.5]; its mirror -> [0, 2, 0.5]
  const px = new Uint8Array(S * S);
  for (let r = 0; r < S; r++) for (let c = 0; c < 24; c++) px[r * S + c] = 255;
  const D = Math.exp(2) + 1 + Math.exp(0.5);
  const before = tf.memory().numTensors;
  const flip = predictProbabilitiesTTA(model, px, [0], 'flip');
  assert.equal(flip.record, { tta: 'flip', views: 2, crop: 48, average: 'probabilities' });
  const want = [(Math.exp(2) + 1) / (2 * D), (Math.exp(2) + 1) / (2 * D), Math.exp(0.5) / D];
  want.forEach((w, c) => assert.ok(Math.abs(flip.probabilities[c] - w) < 1e-6, `p${c} ${flip.probabilities[c]} vs ${w}`));
  // 'none': softmax([2, 0, 0.5]) only
  const none = predictProbabilitiesTTA(model, px, [0], 'none');
  [Math.exp(2) / D, 1 / D, Math.exp(0.5) / D].forEach((w, c) => assert.ok(Math.abs(none.probabilities[c] - w) < 1e-6));
  // averaging logits instead (usef-kh/fer): softmax([1, 1, 0.5])
  const viaLogits = predictProbabilitiesTTA(model, px, [0], 'flip', { average: 'logits' });
  softmax([1, 1, 0.5]).forEach((w, c) => assert.ok(Math.abs(viaLogits.probabilities[c] - w) < 1e-6));
  assert.is(viaLogits.record.average, 'logits');
  assert.is(tf.memory().numTensors, before, 'no tensor leaks');
  model.dispose();
});

test('flip TTA with general weights on several images, in small batches: hand dot products', () => {
  const C = 4;
  const kernel = new Float32Array(S * S * C);
  for (let i = 0; i < kernel.length; i++) kernel[i] = Math.sin(i * 12.9898) * 0.01;
  const bias = [0.1, -0.2, 0.3, 0];
  const model = linearModel(S, kernel, bias);
  const px = images();
  const rows = [2, 0, 1];
  const logitsOf = (img: number, mirrored: boolean) =>
    bias.map((b, k) => {
      let s = b;
      for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) s += at(px, img, r, mirrored ? S - 1 - c : c) * kernel[(r * S + c) * C + k];
      return s;
    });
  for (const batchSize of [1, 3, 256]) {
    const { probabilities } = predictProbabilitiesTTA(model, px, Int32Array.from(rows), 'flip', { batchSize });
    assert.is(probabilities.length, rows.length * C);
    rows.forEach((img, j) => {
      const p0 = softmax(logitsOf(img, false));
      const p1 = softmax(logitsOf(img, true));
      for (let k = 0; k < C; k++) {
        const want = (p0[k] + p1[k]) / 2;
        assert.ok(Math.abs(probabilities[j * C + k] - want) < 1e-5, `batch ${batchSize} image ${img} class ${k}: ${probabilities[j * C + k]} vs ${want}`);
      }
    });
  }
  model.dispose();
});

test('ten-crop TTA on a 40x40 model reading two pixels: 10 views averaged, by hand', () => {
  const K = 40;
  // logit 0 = 4 * view pixel (0, 0); logit 1 = 4 * view pixel (0, 39)
  const kernel = new Float32Array(K * K * 2);
  kernel[0 * 2 + 0] = 4;
  kernel[39 * 2 + 1] = 4;
  const model = linearModel(K, kernel, [0, 0]);
  const px = images();
  // (row, col) of the image pixels under view pixels (0, 0) and (0, 39), views in torchvision order
  const taps: Array<[[number, number], [number, number]]> = [
    [
      [0, 0],
      [0, 39],
    ], // top-left
    [
      [0, 8],
      [0, 47],
    ], // top-right
    [
      [8, 0],
      [8, 39],
    ], // bottom-left
    [
      [8, 8],
      [8, 47],
    ], // bottom-right
    [
      [4, 4],
      [4, 43],
    ], // centre
    [
      [0, 47],
      [0, 8],
    ], // mirrored top-left
    [
      [0, 39],
      [0, 0],
    ], // mirrored top-right
    [
      [8, 47],
      [8, 8],
    ], // mirrored bottom-left
    [
      [8, 39],
      [8, 0],
    ], // mirrored bottom-right
    [
      [4, 43],
      [4, 4],
    ], // mirrored centre
  ];
  /** The expected probabilities of image `img`: the softmax of the two taps of each view, averaged by hand. */
  const want = (img: number) => {
    const w = [0, 0];
    for (const [p, q] of taps) {
      const s = softmax([4 * at(px, img, p[0], p[1]), 4 * at(px, img, q[0], q[1])]);
      w[0] += s[0] / 10;
      w[1] += s[1] / 10;
    }
    return w;
  };
  const before = tf.memory().numTensors;
  // the same 40x40 model behind a centre Cropping2D(4) takes whole images (an ensemble of crop members does this):
  // its shifted ten-crop must read the very same image pixels (the taps above)
  const whole = tf.sequential({ layers: [tf.layers.cropping2D({ cropping: 4, inputShape: [S, S, 1] }), ...model.layers] });
  for (const batchSize of [7, 256]) {
    const r = predictProbabilitiesTTA(whole, px, [0, 1, 2], 'tencrop', { batchSize, shift: K });
    assert.equal(r.record, { tta: 'tencrop', views: 10, crop: 48, average: 'probabilities', shift: 40 });
    for (let img = 0; img < 3; img++) {
      const w = want(img);
      for (let k = 0; k < 2; k++)
        assert.ok(Math.abs(r.probabilities[img * 2 + k] - w[k]) < 1e-6, `shifted: batch ${batchSize} image ${img} class ${k}: ${r.probabilities[img * 2 + k]} vs ${w[k]}`);
    }
  }
  assert.throws(() => predictProbabilitiesTTA(model, px, [0], 'tencrop', { shift: K }), /shift 40 feeds whole \[48, 48, 1\] images; the model's input is \[40,40,1\]/);
  for (const batchSize of [7, 25, 256]) {
    const r = predictProbabilitiesTTA(model, px, [0, 1, 2], 'tencrop', { batchSize });
    assert.equal(r.record, { tta: 'tencrop', views: 10, crop: 40, average: 'probabilities' });
    for (let img = 0; img < 3; img++) {
      const w = want(img);
      for (let k = 0; k < 2; k++) assert.ok(Math.abs(r.probabilities[img * 2 + k] - w[k]) < 1e-6, `batch ${batchSize} image ${img} class ${k}: ${r.probabilities[img * 2 + k]} vs ${w[k]}`);
    }
  }
  assert.is(tf.memory().numTensors, before, 'no tensor leaks');
  // a 40x40 model cannot take whole 48x48 images, nor a 48x48 model ten 40x40 crops
  assert.throws(() => predictProbabilitiesTTA(model, px, [0], 'flip', { crop: 48 }), /crop 48 does not fit the model's input \[40,40,1\]/);
  model.dispose();
});

test.run();
