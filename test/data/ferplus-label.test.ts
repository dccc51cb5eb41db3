/**
 * microsoft/FERPlus label.csv files (src/data/ferplus-label.ts) on generated fixtures: a tiny fer2013new.csv with a
 * blank name, names that drift after it and a repeated name, and a label.csv keyed by those names, joined by hand;
 * malformed lines named by file and line; the FER+ majority rule (src/data/labels.ts ferplusMajorityLabels) on
 * hand-worked votes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataError,
  describeFerPlusMatch,
  differingVotes,
  ferplusLabelUsage,
  ferplusMajorityLabels,
  matchFerPlusLabels,
  readFerPlusImageNames,
  readFerPlusLabelCsv,
  USAGES,
} from '../../src/data';
import { tempDir } from '../helpers/fixtures';

const HEADER = 'Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF';
const NF = [0, 0, 0, 0, 0, 0, 0, 0, 0, 10];
const V = {
  happy: [0, 7, 2, 0, 0, 0, 0, 0, 1, 0],
  noMajority: [4, 0, 0, 3, 3, 0, 0, 0, 0, 0],
  neutral: [6, 0, 0, 0, 0, 0, 0, 0, 4, 0],
  contempt: [1, 1, 1, 1, 1, 0, 0, 3, 2, 0],
  other: [0, 0, 9, 1, 0, 0, 0, 0, 0, 0],
};

/**
 * fer2013new.csv rows (0-based row = FER2013 row): row 3 is blank-named, so from row 4 on the names lag the rows
 * (row 4 is fer0000003.png), as in the real file; fer0000005.png names rows 7 and 9, both PrivateTest.
 */
const PLUS_ROWS: Array<[string, string, number[]]> = [
  ['Training', 'fer0000000.png', V.happy],
  ['Training', 'fer0000001.png', V.neutral],
  ['PublicTest', 'fer0000002.png', V.happy],
  ['PublicTest', '', NF],
  ['PublicTest', 'fer0000003.png', V.neutral],
  ['PrivateTest', 'fer0000004.png', V.other], // row 5: label.csv has other votes
  ['PrivateTest', '', NF], // row 6
  ['PrivateTest', 'fer0000005.png', V.neutral], // row 7
  ['PrivateTest', 'fer0000006.png', V.happy], // row 8
  ['PrivateTest', 'fer0000005.png', NF], // row 9: the name again
  ['PrivateTest', 'fer0000008.png', V.happy], // row 10: label.csv has other votes
];

/** label.csv lines (1-based line = index + 1) and the FER2013 row each must join to (null: not in PrivateTest). */
const LABEL_ROWS: Array<[string, number[], number | null]> = [
  ['fer0000006.png', V.happy, 8],
  ['fer0000004.png', V.noMajority, 5],
  ['fer0000005.png', V.neutral, 7], // repeated in fer2013new.csv: the first row
  ['fer0000003.png', V.happy, null], // a PublicTest name
  ['fer0000099.png', V.happy, null], // nowhere
  ['fer0000008.png', V.contempt, 10],
];

function writePair(): { dir: string; plus: string; label: string } {
  const dir = tempDir();
  const plus = join(dir, 'fer2013new.csv');
  writeFileSync(plus, [HEADER, ...PLUS_ROWS.map(([u, n, v]) => [u, n, ...v].join(','))].join('\n') + '\n');
  const label = join(dir, 'FER2013Test-label.csv');
  writeFileSync(label, LABEL_ROWS.map(([n, v]) => `${n},"(0, 0, 48, 48)",${v.join(',')}`).join('\n') + '\n');
  return { dir, plus, label };
}

test('label.csv rows join to the FER2013 rows of their names within PrivateTest (blank name, drift, repeat, missing)', async () => {
  const { plus, label } = writePair();
  const rows = readFerPlusLabelCsv(label);
  assert.is(rows.n, 6, `rows: expected 6, got ${rows.n}`);
  assert.equal(
    rows.names,
    LABEL_ROWS.map((r) => r[0]),
  );
  assert.equal(Array.from(rows.votes.subarray(50, 60)), V.contempt, 'votes of line 6');
  const names = await readFerPlusImageNames(plus);
  assert.equal(names.names[3], '', 'blank name read as empty');
  const m = matchFerPlusLabels(
    rows,
    'PrivateTest',
    names,
    Uint8Array.from(PLUS_ROWS, (r) => USAGES.indexOf(r[0] as never)),
  );
  assert.equal(Array.from(m.index), [8, 5, 7, 10], `rows: expected [8, 5, 7, 10], got [${Array.from(m.index)}]`);
  assert.equal(Array.from(m.line), [1, 2, 3, 6], `lines: got [${Array.from(m.line)}]`);
  assert.equal(m.missing, [
    { name: 'fer0000003.png', line: 4, elsewhere: 'PublicTest' },
    { name: 'fer0000099.png', line: 5 },
  ]);
  assert.equal(m.repeated, [{ name: 'fer0000005.png', line: 3, rows: [7, 9] }]);
  assert.is(m.splitRows, 6, `PrivateTest rows: expected 6, got ${m.splitRows}`);
  assert.is(m.blankNames, 1, `blank names: expected 1, got ${m.blankNames}`);
  assert.equal(Array.from(m.votes.subarray(10, 20)), V.noMajority, 'second match carries line 2 votes');
  // votes of fer2013new.csv by row; matched positions 1 (row 5) and 3 (row 10) differ
  const plusVotes = Uint8Array.from(PLUS_ROWS.flatMap((r) => r[2]));
  assert.equal(differingVotes(m, plusVotes), [1, 3]);
  const line = describeFerPlusMatch(m);
  for (const part of [
    '4 of 6 rows matched',
    '2 not found in PrivateTest',
    'fer0000003.png line 4, in PublicTest',
    'fer0000005.png: rows 7, 9',
    '1 of the split',
  ]) {
    assert.ok(line.includes(part), `description lacks '${part}': ${line}`);
  }
  // PublicTest: only fer0000003.png (row 4) and fer0000002.png (row 2) are there
  const pub = matchFerPlusLabels(rows, 'PublicTest', names);
  assert.equal(Array.from(pub.index), [4], `PublicTest rows: got [${Array.from(pub.index)}]`);
});

test('fer2013new.csv that does not line up with the dataset is refused', async () => {
  const { plus, label } = writePair();
  const names = await readFerPlusImageNames(plus);
  const usage = Uint8Array.from(PLUS_ROWS, (r) => USAGES.indexOf(r[0] as never));
  usage[6] = 1;
  assert.throws(
    () => matchFerPlusLabels(readFerPlusLabelCsv(label), 'PrivateTest', names, usage),
    (e: Error) => e instanceof DataError && e.message.includes(':8:'),
  );
  assert.throws(
    () => matchFerPlusLabels(readFerPlusLabelCsv(label), 'PrivateTest', names, usage.subarray(1)),
    (e: Error) => /11 data rows/.test(e.message),
  );
});

test('malformed label.csv lines: DataError naming the file and the line', () => {
  const dir = tempDir();
  const good = (name: string) => `${name},"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,10`;
  const cases: Array<[string, string[], number, RegExp]> = [
    ['fields', [good('fer0000001.png'), 'fer0000002.png,"(0, 0, 48, 48)",1,2,3'], 2, /expected 12 fields .* found 5/],
    ['blank name', [good('fer0000001.png'), good('fer0000002.png'), good(' ')], 3, /image name is blank/],
    ['odd name', ['fer 1.jpg,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,10'], 1, /image name is 'fer 1.jpg'/],
    ['repeat', [good('fer0000001.png'), good('fer0000002.png'), good('fer0000001.png')], 3, /repeats line 1/],
    ['box', [good('fer0000001.png'), 'fer0000002.png,"(1, 0, 47, 48)",0,0,0,0,0,0,0,0,0,10'], 2, /face box is \(1, 0, 47, 48\)/],
    ['box text', ['fer0000002.png,0 0 48 48,0,0,0,0,0,0,0,0,0,10'], 1, /face box is '0 0 48 48'/],
    ['count', [good('fer0000001.png'), 'fer0000002.png,"(0, 0, 48, 48)",0,0,11,0,0,0,0,0,0,0'], 2, /'surprise' is '11'/],
    ['negative', ['fer0000002.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,-1,10'], 1, /'unknown' is '-1'/],
    ['sum', [good('fer0000001.png'), good('fer0000003.png'), 'fer0000002.png,"(0, 0, 48, 48)",5,6,0,0,0,0,0,0,0,0'], 3, /votes sum to 11/],
    ['empty line', [good('fer0000001.png'), '', good('fer0000002.png')], 2, /empty line/],
  ];
  for (const [what, lines, line, re] of cases) {
    const p = join(dir, `${what.replace(/ /g, '-')}.csv`);
    writeFileSync(p, lines.join('\n') + '\n');
    let err: unknown;
    try {
      readFerPlusLabelCsv(p);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof DataError, `${what}: expected a DataError, got ${String(err)}`);
    const e = err as DataError;
    assert.is(e.file, p, `${what}: file`);
    assert.is(e.line, line, `${what}: expected line ${line}, got ${e.line} (${e.message})`);
    assert.ok(e.message.startsWith(`${p}:${line}: `) && re.test(e.message), `${what}: message '${e.message}' should match ${re}`);
  }
  const empty = join(dir, 'empty.csv');
  writeFileSync(empty, '\n');
  assert.throws(
    () => readFerPlusLabelCsv(empty),
    (e: Error) => e instanceof DataError && /file is empty/.test(e.message),
  );
  assert.throws(
    () => readFerPlusLabelCsv(join(dir, 'absent.csv')),
    (e: Error) => e instanceof DataError && /cannot read/.test(e.message),
  );
  // CRLF line ends and no final newline are read like the original
  const crlf = join(dir, 'crlf.csv');
  writeFileSync(crlf, [good('fer0000001.png'), good('fer0000002.png')].join('\r\n'));
  const r = readFerPlusLabelCsv(crlf);
  assert.equal([r.n, r.votes[19]], [2, 10], `CRLF file: ${r.n} rows, NF ${r.votes[19]}`);
});

test('the split of a label.csv from its path', () => {
  const cases: Array<[string, string | undefined]> = [
    ['data/FER2013Test/label.csv', 'PrivateTest'],
    ['data/FER2013Valid/label.csv', 'PublicTest'],
    ['x/FER2013Train/label.csv', 'Training'],
    ['ferplus-label-csv/FER2013Test-label.csv', 'PrivateTest'],
    ['ferplus-label-csv/FER2013Valid-label.csv', 'PublicTest'],
    ['somewhere/label.csv', undefined],
    ['FER2013TestX/label.csv', undefined],
  ];
  for (const [p, want] of cases) assert.is(ferplusLabelUsage(p), want, `${p}: expected ${want}, got ${ferplusLabelUsage(p)}`);
});

test('FER+ majority labels of hand-made votes (microsoft/FERPlus majority rule, worked by hand)', () => {
  const votes = [
    V.happy, // outlier unknown 1 removed: 7 of 9 > 4.5 -> happiness (1)
    V.noMajority, // 4 of 10 -> dropped
    V.neutral, // 6 of 10 > 5 -> neutral (0)
    V.contempt, // five single votes removed: contempt 3 of 5 > 2.5 -> contempt (7)
    [0, 0, 5, 0, 0, 0, 5, 0, 0, 0], // 5 of 10 is not more than half -> dropped
    [0, 0, 0, 0, 0, 0, 0, 0, 6, 4], // unknown majority -> dropped
    [2, 0, 0, 0, 0, 0, 0, 0, 0, 0], // 2 of 2 -> neutral
    [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], // the only vote is an outlier: nothing left -> dropped
    [0, 0, 0, 0, 0, 0, 2, 0, 0, 8], // NF majority -> dropped
    [0, 0, 0, 3, 0, 0, 0, 0, 0, 2], // sadness 3 of 5 -> sadness (3)
  ];
  const index = Int32Array.from(votes, (_, k) => 100 + k);
  const r = ferplusMajorityLabels(index, Uint8Array.from(votes.flat()));
  assert.equal(Array.from(r.index), [100, 102, 103, 106, 109], `kept rows: ${Array.from(r.index)}`);
  assert.equal(Array.from(r.label), [1, 0, 7, 0, 3], `labels: ${Array.from(r.label)}`);
  assert.is(r.dropped, 5, `dropped: expected 5, got ${r.dropped}`);
  assert.throws(() => ferplusMajorityLabels(index, new Uint8Array(9)), /9 vote counts for 10 images/);
});

test.run();
