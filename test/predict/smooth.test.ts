/**
 * src/predict/smooth.ts on synthetic sequences, every expected value worked out by hand (fractions in the comments):
 * the EMA rule, a one-frame flip held, a lasting change followed within followFrames(alpha) frames, tracks kept by
 * box overlap when faces swap places in the detector's order or are missed for a frame, and the option parsing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { alphaFromSpan, boxIou, FaceSmoother, followFrames, holdsOneFrameFlip, parseSmooth, smoothSequence, type SmoothInput } from '../../src/predict/smooth';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
const closeAll = (a: number[], b: number[], what: string) => {
  assert.is(a.length, b.length, `${what}: length`);
  a.forEach((v, i) => close(v, b[i], `${what}[${i}]`));
};

const BOX = { left: 100, top: 100, width: 80, height: 100 };
const A = [1, 0];
const B = [0, 1];
const face = (p: number[], box = BOX): SmoothInput => ({ box, probabilities: p });

test('span and alpha: alpha = 2 / (N + 1); --smooth takes frames or alpha', () => {
  close(alphaFromSpan(5), 1 / 3, 'span 5');
  close(alphaFromSpan(1), 1, 'span 1 = no smoothing');
  close(alphaFromSpan(9), 0.2, 'span 9');
  close(parseSmooth('5'), 1 / 3, "'5' frames");
  close(parseSmooth('0.25'), 0.25, "'0.25' is alpha");
  close(parseSmooth(3), 0.5, '3 frames');
  for (const bad of ['0', '-2', 'abc', '', 'NaN', 'Infinity']) assert.throws(() => parseSmooth(bad), /frames .*or an EMA weight/, `'${bad}'`);
  assert.throws(() => alphaFromSpan(0.5), /span must be/);
});

test('followFrames: the smallest k with (1 - alpha)^k < 1/2, worked by hand', () => {
  assert.is(followFrames(1 / 3), 2); // (2/3)^1 = 0.667, (2/3)^2 = 0.444
  assert.is(followFrames(0.2), 4); // 0.8^3 = 0.512, 0.8^4 = 0.4096
  assert.is(followFrames(0.5), 2); // 0.5 is not < 0.5; 0.25 is
  assert.is(followFrames(1), 1); // no smoothing: the new label at once
  assert.is(holdsOneFrameFlip(1 / 3), true); // (2/3) * 1 > 1/3
  assert.is(holdsOneFrameFlip(0.5), false); // 0.5 * 1 > 0.5 is false: a tie is not held
  assert.is(holdsOneFrameFlip(1 / 3, 0.4), false); // (2/3) * 0.4 = 0.267 < 1/3
  assert.throws(() => followFrames(0), /alpha must be in/);
});

test('a label that flips for one frame is held; a lasting change is followed after followFrames(alpha) = 2 frames (alpha 1/3)', () => {
  // raw labels: A A A A A | B | A A A | B B B B
  const raw = [A, A, A, A, A, B, A, A, A, B, B, B, B];
  const out = smoothSequence(
    raw.map((p) => [face(p)]),
    { alpha: 1 / 3 },
  );
  const s = out.map((f) => f[0].probabilities);
  // by hand: s = [1, 0] for frames 0-4; frame 5 (B): [2/3, 1/3]; frame 6 (A): [2/3 * 2/3 + 1/3, 1/3 * 2/3] = [7/9, 2/9];
  // frame 7: [23/27, 4/27]; frame 8: [73/81, 8/81]; frame 9 (B): [146/243, 97/243]; frame 10 (B): [292/729, 437/729]
  for (let t = 0; t < 5; t++) closeAll(s[t], [1, 0], `frame ${t}`);
  closeAll(s[5], [2 / 3, 1 / 3], 'frame 5, the one-frame flip');
  closeAll(s[6], [7 / 9, 2 / 9], 'frame 6');
  closeAll(s[7], [23 / 27, 4 / 27], 'frame 7');
  closeAll(s[8], [73 / 81, 8 / 81], 'frame 8');
  closeAll(s[9], [146 / 243, 97 / 243], 'frame 9, first frame of the lasting change');
  closeAll(s[10], [292 / 729, 437 / 729], 'frame 10');
  assert.equal(
    out.map((f) => f[0].label),
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    'smoothed labels: the flip at frame 5 held, the change at frame 9 followed at frame 10 (2 frames)',
  );
  const firstB = out.findIndex((f, t) => t >= 9 && f[0].label === 1);
  assert.is(firstB - 9 + 1, followFrames(1 / 3), 'frames of the change until it is followed');
  assert.ok(out.every((f) => f[0].track === 1));
  assert.equal(
    out.map((f) => f[0].seen),
    raw.map((_, t) => t + 1),
  );
});

test('three classes, not one-hot: one EMA step by hand', () => {
  const out = smoothSequence([[face([0.7, 0.2, 0.1])], [face([0.1, 0.8, 0.1])]], { alpha: 1 / 3 });
  // [0.7 * 2/3 + 0.1/3, 0.2 * 2/3 + 0.8/3, 0.1 * 2/3 + 0.1/3] = [1.5/3, 1.2/3, 0.3/3]
  closeAll(out[1][0].probabilities, [0.5, 0.4, 0.1], 'step 2');
  assert.is(out[1][0].label, 0, 'held');
});

test('alpha 1 (span 1) passes the probabilities through', () => {
  const raw = [A, B, A, B];
  const out = smoothSequence(
    raw.map((p) => [face(p)]),
    { alpha: alphaFromSpan(1) },
  );
  out.forEach((f, t) => closeAll(f[0].probabilities, raw[t], `frame ${t}`));
});

test('tracks follow boxes: two faces that swap order in the input keep their own averages', () => {
  const left = { left: 0, top: 0, width: 100, height: 100 };
  const right = { left: 300, top: 0, width: 100, height: 100 };
  const leftMoved = { left: 10, top: 5, width: 100, height: 100 }; // IoU with left = 90*95 / (2*10000 - 8550) = 0.746
  close(boxIou(left, leftMoved), 8550 / 11450, 'IoU by hand');
  close(boxIou(left, right), 0, 'no overlap');
  const sm = new FaceSmoother({ alpha: 0.5 });
  const f0 = sm.push([face(A, left), face(B, right)]);
  assert.equal(
    f0.map((s) => s.track),
    [1, 2],
  );
  // frame 1: the detector lists the right face first; the left face (moved) now says B
  const f1 = sm.push([face(B, right), face(B, leftMoved)]);
  assert.equal(
    f1.map((s) => s.track),
    [2, 1],
    'each face keeps its track',
  );
  closeAll(f1[0].probabilities, [0, 1], 'right face: B and B');
  closeAll(f1[1].probabilities, [0.5, 0.5], 'left face: 0.5 * B + 0.5 * A');
  assert.is(f1[1].label, 0, 'a tie keeps the first class');
});

test('a face missed for up to maxMissed frames keeps its track; longer, it starts a new one from its own probabilities', () => {
  const sm = new FaceSmoother({ alpha: 0.5, maxMissed: 2 });
  sm.push([face(A)]);
  sm.push([]);
  sm.push([]); // missed 2 frames: still alive
  const back = sm.push([face(B)]);
  assert.is(back[0].track, 1);
  closeAll(back[0].probabilities, [0.5, 0.5], 'continues the average: 0.5 * B + 0.5 * A');
  sm.push([]);
  sm.push([]);
  sm.push([]); // missed 3 frames: ended
  const again = sm.push([face(B)]);
  assert.is(again[0].track, 2, 'a new track');
  closeAll(again[0].probabilities, B, 'its own probabilities');
  assert.is(again[0].seen, 1);
});

test('a far-away face is a new track; boxes below minIou do not match', () => {
  const sm = new FaceSmoother({ alpha: 0.5, minIou: 0.5 });
  sm.push([face(A, { left: 0, top: 0, width: 100, height: 100 })]);
  // IoU = 50*100 / (20000 - 5000) = 1/3 < 0.5
  const r = sm.push([face(B, { left: 50, top: 0, width: 100, height: 100 })]);
  assert.is(r[0].track, 2);
  closeAll(r[0].probabilities, B, 'not averaged with the other face');
  assert.throws(() => new FaceSmoother({ alpha: 0 }), /alpha must be in/);
  assert.throws(() => new FaceSmoother({ alpha: 0.5, maxMissed: 1.5 }), /maxMissed/);
});

test.run();
