/** FER+ vote analysis (src/data/agreement.ts) on hand-worked votes: majority outcomes, entropies, agreement counts. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FERPLUS_OUTCOMES, ferplusMajorityOutcome, ferVsFerplusAgreement, voteEntropy, voteEntropyByAgreement, type VotedImages } from '../../src/data';

test('FER+ majority outcome follows the microsoft/FERPlus majority rule', () => {
  assert.is(ferplusMajorityOutcome([0, 7, 2, 0, 0, 0, 0, 0, 1, 0]), 1, 'happiness: 7 of 9 votes after dropping the single vote');
  assert.is(ferplusMajorityOutcome([4, 0, 0, 3, 3, 0, 0, 0, 0, 0]), 8, '4 of 10 is no majority -> unknown');
  assert.is(ferplusMajorityOutcome([0, 0, 0, 0, 0, 0, 0, 0, 0, 10]), 9, 'not a face');
  assert.is(ferplusMajorityOutcome([5, 0, 0, 0, 0, 0, 0, 0, 4, 1]), 0, '5 of 9 after the single NF vote is dropped: neutral');
  assert.equal([FERPLUS_OUTCOMES[1], FERPLUS_OUTCOMES[8], FERPLUS_OUTCOMES[9]], ['happiness', 'unknown', 'not a face']);
});

test('vote entropy in bits on hand-worked votes', () => {
  assert.is(voteEntropy([10, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 0);
  assert.ok(Math.abs(voteEntropy([5, 5, 0, 0, 0, 0, 0, 0, 0, 0]) - 1) < 1e-12);
  // -(0.3 log2 0.3) * 3 - 0.1 log2 0.1 = 1.8954618442383218 (Python math.log2)
  assert.ok(Math.abs(voteEntropy([3, 0, 3, 0, 0, 0, 3, 0, 1, 0]) - 1.8954618442383218) < 1e-12);
  assert.is(voteEntropy(new Array(10).fill(0)), 0, 'no votes');
});

/**
 * Five images: happy with a happiness majority (agree), angry with a neutral majority, an unnamed row (skipped),
 * neutral voted not-a-face, fear with no majority (unknown).
 */
const votes = [
  [0, 8, 2, 0, 0, 0, 0, 0, 0, 0],
  [6, 0, 0, 0, 4, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
  [3, 0, 3, 0, 0, 0, 3, 0, 1, 0],
];
const ds: VotedImages = {
  n: 5,
  emotion: Uint8Array.from([3, 0, 4, 6, 2]),
  ferplus: { votes: Uint8Array.from(votes.flat()), named: Uint8Array.from([1, 1, 0, 1, 1]) },
};

test('FER2013 label vs FER+ majority: counts, agreement and total over named rows', () => {
  const a = ferVsFerplusAgreement(ds);
  assert.is(a.total, 4, 'the unnamed row is skipped');
  assert.is(a.agree, 1, 'only happy -> happiness agrees');
  assert.is(a.counts.length, 7);
  const nonzero = a.counts.flatMap((row, r) => row.map((v, c) => [r, c, v]).filter(([, , v]) => v > 0));
  // rows FER_CLASSES (angry 0, fear 2, happy 3, neutral 6), columns FERPLUS_OUTCOMES (neutral 0, happiness 1, unknown 8, NF 9)
  assert.equal(nonzero, [
    [0, 0, 1],
    [2, 8, 1],
    [3, 1, 1],
    [6, 9, 1],
  ]);
});

test('vote entropies split by agreement', () => {
  const e = voteEntropyByAgreement(ds);
  assert.is(e.agree.length, 1);
  assert.ok(Math.abs(e.agree[0] - 0.7219280948873623) < 1e-12, `8/2 votes: ${e.agree[0]}`);
  const expected = [0.9709505944546686, 0, 1.8954618442383218]; // 6/4, 10 NF, 3/3/3/1 (Python math.log2)
  assert.is(e.disagree.length, 3);
  e.disagree.forEach((h, i) => assert.ok(Math.abs(h - expected[i]) < 1e-12, `disagree[${i}] = ${h}, expected ${expected[i]}`));
});

test('without FER+ votes the analysis names the missing file', () => {
  const plain: VotedImages = { n: 1, emotion: Uint8Array.from([0]) };
  assert.throws(() => ferVsFerplusAgreement(plain), /ferVsFerplusAgreement needs the FER\+ votes: fer2013new\.csv/);
  assert.throws(() => voteEntropyByAgreement(plain), /voteEntropyByAgreement needs the FER\+ votes/);
});

test.run();
