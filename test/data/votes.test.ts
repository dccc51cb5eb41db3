/**
 * FER+ vote rules (microsoft/FERPlus src/ferplus.py `_process_data` / `load_folders`), checked on hand-worked
 * examples. Each expectation below was derived by hand from the rules, step by step, in the comments.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ferplusTarget, multiTargetMask, processVotes, type FerPlusMode } from '../../src/data/votes';
import { FERPLUS_CLASSES } from '../../src/data/classes';

const C = FERPLUS_CLASSES;
const onehot = (name: string) => C.map((c) => (c === name ? 1 : 0));
const close = (got: Float32Array | null, want: number[] | null, msg: string) => {
  if (want === null) {
    assert.is(got, null, `${msg}: expected the image to be dropped, got ${got && Array.from(got)}`);
    return;
  }
  assert.ok(got, `${msg}: expected a target ${want}, got null (dropped)`);
  for (let i = 0; i < 8; i++) {
    assert.ok(Math.abs(got![i] - want[i]) < 1e-6, `${msg}: class ${C[i]} expected ${want[i]}, got ${got![i]} (full: ${Array.from(got!)})`);
  }
};
const all = (votes: number[], want: Record<FerPlusMode, number[] | null>) => {
  for (const mode of Object.keys(want) as FerPlusMode[]) close(ferplusTarget(votes, mode), want[mode], `${votes} ${mode}`);
};
const dist = (pairs: Record<string, number>) => C.map((c) => pairs[c] ?? 0);

test('clear majority: every mode gives the one-hot', () => {
  all([10, 0, 0, 0, 0, 0, 0, 0, 0, 0], {
    majority: onehot('neutral'),
    probability: onehot('neutral'),
    crossentropy: onehot('neutral'),
    multi_target: onehot('neutral'),
  });
});

test('single votes are outliers and removed before any rule', () => {
  // [0,7,2,...,unknown 1]: the unknown vote is removed, sum 9; 7 > 4.5 majority; probability stops after 7 >= 6.75;
  // multi_target threshold 2.7 keeps only 7.
  all([0, 7, 2, 0, 0, 0, 0, 0, 1, 0], {
    majority: onehot('happiness'),
    probability: onehot('happiness'),
    crossentropy: onehot('happiness'),
    multi_target: onehot('happiness'),
  });
  // all ten single votes -> nothing left -> unknown -> dropped in every mode
  all([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], { majority: null, probability: null, crossentropy: null, multi_target: null });
});

test('not-a-face peak is dropped in every mode', () => {
  all([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], { majority: null, probability: null, crossentropy: null, multi_target: null });
});

test('no majority: majority drops it, soft modes keep up to three emotions', () => {
  // 4/3/3 of 10: majority needs > 5; probability takes 4 then both 3s (tie) = 10 >= 7.5 with count 3.
  const soft = dist({ neutral: 0.4, sadness: 0.3, anger: 0.3 });
  all([4, 0, 0, 3, 3, 0, 0, 0, 0, 0], { majority: null, probability: soft, crossentropy: soft, multi_target: soft });
  // 5/5 tie: 5 > 5 is false, so no majority; the soft target is 50/50 and its argmax is the first class
  const tie = dist({ surprise: 0.5, fear: 0.5 });
  all([0, 0, 5, 0, 0, 0, 5, 0, 0, 0], { majority: null, probability: tie, crossentropy: tie, multi_target: tie });
});

test('probability/crossentropy: four emotions tied into the top three are discarded; 75% stops early', () => {
  // 4 then three 2s in one pass -> count 4 > 3 -> unknown. multi_target: only 4 >= 3, 4 <= 5 -> unknown.
  all([4, 2, 2, 2, 0, 0, 0, 0, 0, 0], { majority: null, probability: null, crossentropy: null, multi_target: null });
  // 5 then 3 = 8 >= 7.5: the 2 votes for surprise are not integrated; multi_target threshold 3 keeps 5 and 3 too
  const t = dist({ neutral: 5 / 8, happiness: 3 / 8 });
  all([5, 3, 2, 0, 0, 0, 0, 0, 0, 0], { majority: null, probability: t, crossentropy: t, multi_target: t });
});

test('unknown sharing a peak with an emotion is dropped after earlier emotions', () => {
  // contempt 4, then neutral 3 and unknown 3 tie: unknown ends the loop and is removed (sum 7 > 3)
  const t = dist({ neutral: 3 / 7, contempt: 4 / 7 });
  all([3, 0, 0, 0, 0, 0, 0, 4, 3, 0], { majority: null, probability: t, crossentropy: t, multi_target: t });
  // sadness 6 (majority), unknown 4: probability removes unknown; multi_target keeps it (>= 3), argmax is sadness, and
  // dropping unknown/NF then renormalising leaves sadness alone
  all([0, 0, 0, 6, 0, 0, 0, 0, 4, 0], {
    majority: onehot('sadness'),
    probability: onehot('sadness'),
    crossentropy: onehot('sadness'),
    multi_target: onehot('sadness'),
  });
});

test('processVotes returns the 10-class distribution with unknown as index 8', () => {
  const u = processVotes([4, 0, 0, 3, 3, 0, 0, 0, 0, 0], 'majority');
  assert.equal(Array.from(u), [0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  const m = processVotes([0, 0, 0, 6, 0, 0, 0, 0, 4, 0], 'multi_target');
  assert.equal(
    Array.from(m).map((v) => +v.toFixed(6)),
    [0, 0, 0, 0.6, 0, 0, 0, 0, 0.4, 0],
  );
});

test('multi_target mask: 1 for every accepted class, smoothed by 0.001', () => {
  const m = multiTargetMask([0.4, 0, 0, 0.3, 0.3, 0, 0, 0]);
  const want = [1, 0, 0, 1, 1, 0, 0, 0].map((v) => 0.999 * v + 0.001);
  want.forEach((w, i) => assert.ok(Math.abs(m[i] - w) < 1e-7, `class ${i}: expected ${w}, got ${m[i]}`));
});

test('votes are not mutated', () => {
  const v = [3, 0, 0, 0, 0, 0, 0, 4, 3, 0];
  ferplusTarget(v, 'probability');
  assert.equal(v, [3, 0, 0, 0, 0, 0, 0, 4, 3, 0]);
});

test.run();
