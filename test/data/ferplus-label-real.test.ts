/**
 * The real microsoft/FERPlus label.csv files (../shared/data/fer2013/ferplus-label-csv/) joined to FER2013 rows by
 * image name: the counts of ../shared/data/fer2013/README.md (282 of the 3,573 test images have other votes than
 * fer2013new.csv) and the others below, which were counted independently with Python's csv module (a dict from name
 * to the split's rows, first row for a repeated name), and the majority labels against a re-count written here from
 * the raw text.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ferplusMajorityLabels, matchFerPlusLabels, readFerPlus, readFerPlusImageNames, readFerPlusLabelCsv, differingVotes, type Usage } from '../../src/data';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';

const dir = realDataDir();
const labelDir = dir && join(dir, 'ferplus-label-csv');
if (!dir) skipFile(noRealDataReason());
else if (!existsSync(join(labelDir!, 'FER2013Test-label.csv')))
  skipFile(`microsoft/FERPlus label.csv copies not found in ${labelDir} (FER2013{Train,Valid,Test}-label.csv)`);
else {
  const expected: Array<{
    split: string;
    usage: Usage;
    rows: number;
    repeated: Array<[string, number[]]>;
    blank: number;
    splitRows: number;
    differing: number;
  }> = [
    { split: 'Test', usage: 'PrivateTest', rows: 3573, repeated: [['fer0033120.png', [33200, 34334]]], blank: 15, splitRows: 3589, differing: 282 },
    { split: 'Valid', usage: 'PublicTest', rows: 3579, repeated: [], blank: 10, splitRows: 3589, differing: 246 },
    {
      split: 'Train',
      usage: 'Training',
      rows: 28558,
      repeated: [
        ['fer0006953.png', [5274, 6968]],
        ['fer0008403.png', [8423, 15835]],
        ['fer0011785.png', [5348, 11817]],
      ],
      blank: 148,
      splitRows: 28709,
      differing: 1073,
    },
  ];

  test('every label.csv row joins to a row of its split; repeated and blank names and differing votes as counted', async () => {
    const plusPath = join(dir!, 'fer2013new.csv');
    const names = await readFerPlusImageNames(plusPath);
    const plus = await readFerPlus(plusPath);
    for (const e of expected) {
      const m = matchFerPlusLabels(readFerPlusLabelCsv(join(labelDir!, `FER2013${e.split}-label.csv`)), e.usage, names, plus.usage);
      assert.is(m.rows, e.rows, `${e.split}: rows expected ${e.rows}, got ${m.rows}`);
      assert.is(m.index.length, e.rows, `${e.split}: matched expected ${e.rows}, got ${m.index.length}`);
      assert.equal(m.missing, [], `${e.split}: missing names ${JSON.stringify(m.missing.slice(0, 3))}`);
      assert.equal(
        m.repeated.map((r) => [r.name, r.rows]),
        e.repeated,
        `${e.split}: repeated ${JSON.stringify(m.repeated)}`,
      );
      assert.equal([m.blankNames, m.splitRows], [e.blank, e.splitRows], `${e.split}: blank names / split rows`);
      const d = differingVotes(m, plus.votes).length;
      assert.is(d, e.differing, `${e.split}: images with other votes than fer2013new.csv: expected ${e.differing}, got ${d}`);
    }
  });

  test('majority labels of the test label.csv: 3,137 images, as a re-count from the raw text', () => {
    const path = join(labelDir!, 'FER2013Test-label.csv');
    // re-count without ferlab code: counts of one vote are outliers; a majority is more than half of the rest
    const want: number[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const v = line.split(',').slice(-10).map(Number);
      const r = v.map((x) => (x <= 1 ? 0 : x));
      const s = r.reduce((a, b) => a + b, 0);
      const k = r.indexOf(Math.max(...r));
      if (r[k] > s / 2 && k < 8) want.push(k);
    }
    assert.is(want.length, 3137, `re-count: expected 3137 images with a majority emotion, got ${want.length}`);
    const rows = readFerPlusLabelCsv(path);
    const got = ferplusMajorityLabels(
      Int32Array.from(rows.names, (_, k) => k),
      rows.votes,
    );
    assert.is(got.label.length, 3137, `ferplusMajorityLabels kept ${got.label.length}`);
    assert.equal(Array.from(got.label), want, 'labels differ from the re-count');
    assert.is(got.dropped, 3573 - 3137);
  });
}

test.run();
