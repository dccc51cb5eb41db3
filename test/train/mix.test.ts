/**
 * mixup and CutMix (settings `mixup` / `cutmix`, src/train/mix.ts, as timm's Mixup in batch mode): pixels and targets
 * of tiny batches mixed with the reversed batch, checked against values worked by hand; timm's rand_bbox box and the
 * lambda corrected to its area; the draw order (switch, prob, Beta, box); the Beta sampler's mean and variance; and in
 * TrainBatches: a mixed batch is the unmixed batch of the same seed mixed with the recorded lambda, reproducibly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyMix, betaDraw, cutmixBox, drawMix, type MixDraw } from '../../src/train/mix';
import { TrainBatches, type Batch } from '../../src/train/batches';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { Rng } from '../../src/util/rng';

function close(actual: ArrayLike<number>, expected: number[], what: string, tol = 1e-6): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) < tol, `${what}[${i}]: expected ${expected[i]}, got ${actual[i]} (all: ${Array.from(actual).join(', ')})`);
}

/** A generator that returns the given uniforms in order (int(n) = floor(u n), as Rng.int). */
function scripted(uniforms: number[]): Rng {
  let k = 0;
  const next = () => {
    if (k >= uniforms.length) throw new Error('scripted rng: out of values');
    return uniforms[k++];
  };
  return { uniform: next, int: (n: number) => Math.floor(next() * n) } as unknown as Rng;
}

test('mixup, lambda 0.7, 3 images of 2x2: x_i = 0.7 x_i + 0.3 x_{2-i}, the middle image unchanged; targets likewise', () => {
  const x = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const y = Float32Array.from([1, 0, 0, 1, 0.25, 0.75]);
  applyMix({ kind: 'mixup', lambda: 0.7 }, x, y, 3, 2, 2);
  // image 0: 0.7 [0 1 2 3] + 0.3 [8 9 10 11] = [2.4 3.4 4.4 5.4]; image 2: 0.7 [8 9 10 11] + 0.3 [0 1 2 3] = [5.6 6.6 7.6 8.6]
  close(x, [2.4, 3.4, 4.4, 5.4, 4, 5, 6, 7, 5.6, 6.6, 7.6, 8.6], 'pixels');
  // target 0: 0.7 [1 0] + 0.3 [0.25 0.75] = [0.775 0.225]; target 2: 0.7 [0.25 0.75] + 0.3 [1 0] = [0.475 0.525]
  close(y, [0.775, 0.225, 0, 1, 0.475, 0.525], 'targets');
});

test('CutMix, 2 images of 4x4, box rows 1-2 x columns 0-1 (lambda 0.75): the box swapped, targets 0.75 / 0.25', () => {
  const x = Float32Array.from({ length: 32 }, (_, i) => (i < 16 ? 0 : 1));
  const y = Float32Array.from([1, 0, 0, 1]);
  const d: MixDraw = { kind: 'cutmix', lambda: 0.75, box: { y0: 1, y1: 3, x0: 0, x1: 2 } };
  applyMix(d, x, y, 2, 4, 2);
  // image 0 (zeros) gets ones at (1,0) (1,1) (2,0) (2,1) = indices 4 5 8 9; image 1 gets zeros there
  const img0 = [0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0];
  close(x.subarray(0, 16), img0, 'image 0');
  close(
    x.subarray(16),
    img0.map((v) => 1 - v),
    'image 1',
  );
  close(y, [0.75, 0.25, 0.25, 0.75], 'targets');
});

test('cutmixBox: timm rand_bbox (lambda 0.75 on 48: cut 24, centre (5, 40) -> rows 0-16, columns 28-47)', () => {
  // cy = int(0.11 * 48) = 5, cx = int(0.84 * 48) = 40; half = 12: rows [5 - 12, 5 + 12) clipped = [0, 17), columns [28, 52) clipped = [28, 48)
  const box = cutmixBox(scripted([0.11, 0.84]), 0.75, 48);
  assert.equal(box, { y0: 0, y1: 17, x0: 28, x1: 48 });
});

test('drawMix: the draw order (switch, prob, Beta, box) and the corrected lambda', () => {
  const rng = new Rng(3);
  const both = { mixup: { alpha: 0.2, prob: 1 }, cutmix: { alpha: 1, prob: 1 } };
  // same seed: the same draws by hand (uniform for the switch, uniform for prob, the Beta, then cy and cx)
  const ref = new Rng(3);
  const u = ref.uniform();
  ref.uniform();
  const kind = u < 0.5 ? 'cutmix' : 'mixup';
  const lam = betaDraw(ref, kind === 'cutmix' ? 1 : 0.2, kind === 'cutmix' ? 1 : 0.2);
  const d = drawMix(rng, both, 8)!;
  assert.is(d.kind, kind);
  if (kind === 'mixup') assert.is(d.lambda, lam);
  else {
    const box = cutmixBox(ref, lam, 8);
    assert.equal(d.box, box);
    assert.is(d.lambda, 1 - ((box.y1 - box.y0) * (box.x1 - box.x0)) / 64, `lambda corrected to the box area: ${d.lambda}`);
  }
  // prob: a uniform >= prob leaves the batch as it is
  assert.is(drawMix(scripted([0.6]), { mixup: { alpha: 0.2, prob: 0.5 } }, 8), null);
  assert.is(drawMix(scripted([]), {}, 8), null, 'both off: nothing drawn');
});

test('betaDraw: mean and variance of Beta(0.2, 0.2), Beta(1, 1), Beta(2, 5) within 3% / 5% of a / (a + b) and ab / ((a + b)^2 (a + b + 1))', () => {
  const rng = new Rng(1);
  for (const [a, b] of [
    [0.2, 0.2],
    [1, 1],
    [2, 5],
  ]) {
    const n = 40000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = betaDraw(rng, a, b);
      assert.ok(v >= 0 && v <= 1, `Beta draw ${v} outside [0, 1]`);
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    const m0 = a / (a + b);
    const v0 = (a * b) / ((a + b) ** 2 * (a + b + 1));
    assert.ok(Math.abs(mean - m0) < 0.03 * m0 + 0.005, `Beta(${a}, ${b}) mean: expected ${m0}, got ${mean}`);
    assert.ok(Math.abs(variance - v0) < 0.05 * v0, `Beta(${a}, ${b}) variance: expected ${v0}, got ${variance}`);
  }
});

test('TrainBatches: the first mixed batch = the unmixed batch of the same seed mixed with its lambda, by hand; same seed = same batches', () => {
  const N = 8;
  const C = 3;
  const rng = new Rng(9);
  const pixels = Uint8Array.from({ length: N * 2304 }, () => rng.int(256));
  const label = Uint8Array.from({ length: N }, (_, i) => i % C);
  const target = new Float32Array(N * C);
  label.forEach((l, i) => (target[i * C + l] = 1));
  const split = { index: Int32Array.from({ length: N }, (_, i) => i), label, target };
  const make = (mix?: object) =>
    new TrainBatches(pixels, split, C, {
      batchSize: 4,
      augment: TRAIN_DEFAULTS.augment,
      loss: 'crossentropy',
      sampleOneHot: false,
      rng: new Rng(21),
      ...(mix ? { mix } : {}),
    });
  const copy = (b: Batch) => ({ x: b.x.slice(), y: b.y.slice(), pos: Array.from(b.pos!), mix: b.mix });
  const plain = copy(make().epoch().next().value as Batch);
  const mixed = copy(
    make({ mixup: { alpha: 1, prob: 1 } })
      .epoch()
      .next().value as Batch,
  );
  const again = copy(
    make({ mixup: { alpha: 1, prob: 1 } })
      .epoch()
      .next().value as Batch,
  );
  assert.equal(mixed.pos, plain.pos, 'same images');
  assert.ok(mixed.mix && mixed.mix.kind === 'mixup', 'the batch records its mixing');
  const lam = mixed.mix!.lambda;
  const P = 2304;
  const ex: number[] = [];
  for (let i = 0; i < 4; i++) for (let p = 0; p < P; p++) ex.push(lam * plain.x[i * P + p] + (1 - lam) * plain.x[(3 - i) * P + p]);
  close(mixed.x, ex, 'mixed pixels', 1e-5);
  const ey: number[] = [];
  for (let i = 0; i < 4; i++) for (let c = 0; c < C; c++) ey.push(lam * plain.y[i * C + c] + (1 - lam) * plain.y[(3 - i) * C + c]);
  close(mixed.y, ey, 'mixed targets');
  assert.equal(Array.from(again.x), Array.from(mixed.x), 'same seed, same mixed batch');
});

test('TrainBatches refuses mixing with multi_target targets', () => {
  assert.throws(
    () =>
      new TrainBatches(new Uint8Array(4 * 2304), { index: Int32Array.from([0, 1, 2, 3]), label: new Uint8Array(4), target: new Float32Array(8) }, 2, {
        batchSize: 2,
        augment: TRAIN_DEFAULTS.augment,
        loss: 'multi_target',
        sampleOneHot: false,
        rng: new Rng(1),
        mix: { cutmix: { alpha: 1, prob: 1 } },
      }),
    /multi_target/,
  );
});

test.run();
