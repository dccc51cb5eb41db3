/**
 * FER2013 / FER+ loading on generated fixtures: parsing (plain and gzip), the position join, label sets, the binary
 * cache, and the clear error for every kind of bad input.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset, buildLabelSet, DataError, cacheFileName, ferplusTarget, FERPLUS_MODES } from '../../src/data';
import { makeRows, replaceLine, tempDir, writeFixture, VOTE_PATTERNS } from '../helpers/fixtures';

const rows = makeRows({ train: 40, val: 20, test: 20 });

async function expectDataError(p: Promise<unknown>, file: string, line: number | undefined | 'any', pattern: RegExp): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DataError, `expected a DataError, got ${e}`);
    const d = e as DataError;
    assert.ok(d.file.endsWith(file), `error should name ${file}, names ${d.file}`);
    if (line !== 'any') assert.is(d.line, line, `error line: expected ${line}, got ${d.line} (${d.message})`);
    assert.match(d.message, pattern, `message '${d.message}' should match ${pattern}`);
    return d;
  }
  assert.unreachable(`expected a DataError for ${file}`);
  throw new Error('unreachable');
}

const noCacheWritten = (cacheDir: string) => {
  const left = existsSync(cacheDir) ? readdirSync(cacheDir) : [];
  assert.equal(left, [], `no cache file (nor temporary file) may be left behind, found ${left}`);
};

test('parses fixture CSV and gzip identically, in file order', async () => {
  const plain = await loadDataset({ dataDir: writeFixture(rows), cacheDir: false });
  const gz = await loadDataset({ dataDir: writeFixture(rows, { gzip: true }), cacheDir: false });
  for (const ds of [plain, gz]) {
    assert.is(ds.n, 80);
    assert.equal(
      Array.from(ds.emotion),
      rows.map((r) => r.emotion),
    );
    assert.equal(Array.from(ds.usage.slice(38, 42)), [0, 0, 1, 1]);
    assert.equal(Array.from(ds.pixels.subarray(2304 * 7, 2304 * 7 + 5)), rows[7].pixels.slice(0, 5));
    assert.equal(Array.from(ds.ferplus!.votes.subarray(10 * 3, 10 * 4)), rows[3].votes);
    assert.is(ds.source.loadedFrom, 'csv');
  }
  assert.is(plain.source.fer2013Md5, gz.source.fer2013Md5, 'MD5 is of the uncompressed CSV, so both match');
});

test('label sets: fer keeps every row; FER+ modes follow the vote rules; val/test use majority', async () => {
  const ds = await loadDataset({ dataDir: writeFixture(rows), cacheDir: false });
  const fer = buildLabelSet(ds, 'fer');
  assert.equal([fer.train.index.length, fer.val.index.length, fer.test.index.length], [40, 20, 20]);
  assert.is(fer.numClasses, 7);
  assert.equal(
    Array.from(fer.train.target.subarray(0, 7)),
    [0, 1, 2, 3, 4, 5, 6].map((c) => (c === rows[0].emotion ? 1 : 0)),
  );
  for (const mode of FERPLUS_MODES) {
    const ls = buildLabelSet(ds, mode);
    assert.is(ls.numClasses, 8);
    // expected train rows: named and not dropped by the rule of this mode
    const want = rows.flatMap((r, i) => (r.usage === 'Training' && r.named && ferplusTarget(r.votes, mode) ? [i] : []));
    assert.equal(Array.from(ls.train.index), want, `${mode} train rows`);
    const wantTest = rows.flatMap((r, i) => (r.usage === 'PrivateTest' && r.named && ferplusTarget(r.votes, 'majority') ? [i] : []));
    assert.equal(Array.from(ls.test.index), wantTest, `${mode} test rows use majority`);
    assert.is(ls.loss, mode === 'multi_target' ? 'multi_target' : 'crossentropy');
    assert.is(ls.sampleOneHot, mode === 'probability');
  }
  // the blank-named NF rows are excluded by name; named NF rows by the vote rule
  const blank = rows.findIndex((r) => !r.named);
  assert.ok(blank >= 0 && !Array.from(buildLabelSet(ds, 'crossentropy').train.index).includes(blank));
  assert.ok(VOTE_PATTERNS.length >= 8);
});

test('cache: second load reads the cache; touched source and corrupt cache are rebuilt', async () => {
  const dataDir = writeFixture(rows, { gzip: true });
  const cacheDir = tempDir();
  const first = await loadDataset({ dataDir, cacheDir });
  assert.is(first.source.loadedFrom, 'csv');
  assert.ok(existsSync(join(cacheDir, cacheFileName(dataDir))));
  const second = await loadDataset({ dataDir, cacheDir });
  assert.is(second.source.loadedFrom, 'cache');
  assert.equal(Array.from(second.pixels), Array.from(first.pixels));
  assert.equal(Array.from(second.ferplus!.votes), Array.from(first.ferplus!.votes));
  assert.equal(readdirSync(cacheDir), [cacheFileName(dataDir)], 'only the cache file, no temporaries');

  // stale: the source changed (mtime)
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(dataDir, 'fer2013new.csv'), later, later);
  const messages: string[] = [];
  const third = await loadDataset({ dataDir, cacheDir, log: (m) => messages.push(m) });
  assert.is(third.source.loadedFrom, 'csv');
  assert.ok(
    messages.some((m) => /stale/.test(m)),
    `log should say the cache is stale: ${messages}`,
  );

  // corrupt: one payload byte flipped
  const cachePath = join(cacheDir, cacheFileName(dataDir));
  const bytes = readFileSync(cachePath);
  bytes[bytes.length - 100] ^= 0xff;
  writeFileSync(cachePath, bytes);
  messages.length = 0;
  const fourth = await loadDataset({ dataDir, cacheDir, log: (m) => messages.push(m) });
  assert.is(fourth.source.loadedFrom, 'csv');
  assert.ok(
    messages.some((m) => /corrupt/.test(m)),
    `log should say the cache is corrupt: ${messages}`,
  );
  assert.equal(Array.from(fourth.pixels), Array.from(first.pixels));
  assert.is((await loadDataset({ dataDir, cacheDir })).source.loadedFrom, 'cache', 'the rebuilt cache is used');

  // truncated cache file
  writeFileSync(cachePath, readFileSync(cachePath).subarray(0, 5000));
  assert.is((await loadDataset({ dataDir, cacheDir })).source.loadedFrom, 'csv');
});

test('missing data dir and missing files say where to download and the layout', async () => {
  const cacheDir = tempDir();
  const nowhere = join(tempDir(), 'no-such-dir');
  const e = await expectDataError(loadDataset({ dataDir: nowhere, cacheDir }), 'no-such-dir', undefined, /data directory not found/);
  assert.match(e.message, /kaggle\.com/);
  assert.match(e.message, /fer2013new\.csv/);
  const empty = tempDir();
  await expectDataError(loadDataset({ dataDir: empty, cacheDir }), 'fer2013.csv', undefined, /neither fer2013\.csv nor fer2013\.csv\.gz/);
  noCacheWritten(cacheDir);
  // FER+ label set without fer2013new.csv
  const ds = await loadDataset({ dataDir: writeFixture(rows, { noFerPlus: true }), cacheDir: false });
  assert.is(ds.ferplus, undefined);
  assert.throws(() => buildLabelSet(ds, 'majority'), /needs the FER\+ votes/);
});

test('truncated gzip: clear error, no cache left half-written', async () => {
  const cacheDir = tempDir();
  const dataDir = writeFixture(rows, { gzip: true, editGz: (gz) => gz.subarray(0, Math.floor(gz.length * 0.6)) });
  const e = await expectDataError(loadDataset({ dataDir, cacheDir }), 'fer2013.csv.gz', 'any', /gzip stream is truncated or corrupt after \d+ data rows/);
  assert.match(e.message, /re-download/);
  noCacheWritten(cacheDir);
});

test('a row with 2,303 pixels names the line and the count', async () => {
  const cacheDir = tempDir();
  const dataDir = writeFixture(rows, { editFer: (t) => replaceLine(t, 6, (l) => l.replace(/ \d+,(Training)$/, ',$1')) });
  await expectDataError(loadDataset({ dataDir, cacheDir }), 'fer2013.csv', 6, /expected 2304 pixel values, found 2303/);
  noCacheWritten(cacheDir);
});

test('a non-numeric pixel names the line, the pixel and the value', async () => {
  const cacheDir = tempDir();
  const dataDir = writeFixture(rows, { editFer: (t) => replaceLine(t, 10, (l) => l.replace(/,(\d+) (\d+) (\d+) /, ',$1 $2 x7 ')) });
  await expectDataError(loadDataset({ dataDir, cacheDir }), 'fer2013.csv', 10, /pixel 3 is 'x7' \(not an integer/);
  noCacheWritten(cacheDir);
  const dataDir2 = writeFixture(rows, { editFer: (t) => replaceLine(t, 4, (l) => l.replace(/,(\d+) /, ',256 ')) });
  await expectDataError(loadDataset({ dataDir: dataDir2, cacheDir }), 'fer2013.csv', 4, /pixel 1 is '256' \(out of range/);
});

test('an unknown Usage and a bad emotion name the line and the allowed values', async () => {
  const cacheDir = tempDir();
  const dataDir = writeFixture(rows, { editFer: (t) => replaceLine(t, 45, (l) => l.replace(/PublicTest$/, 'Validation')) });
  await expectDataError(loadDataset({ dataDir, cacheDir }), 'fer2013.csv', 45, /Usage is 'Validation' \(expected one of Training, PublicTest, PrivateTest\)/);
  const dataDir2 = writeFixture(rows, { editFer: (t) => replaceLine(t, 3, (l) => l.replace(/^\d,/, '7,')) });
  await expectDataError(loadDataset({ dataDir: dataDir2, cacheDir }), 'fer2013.csv', 3, /emotion is '7' \(expected an integer 0-6/);
  const dataDir3 = writeFixture(rows, { editFer: (t) => t.replace(/^emotion,pixels,Usage/, 'label,pixels,Usage') });
  await expectDataError(loadDataset({ dataDir: dataDir3, cacheDir }), 'fer2013.csv', 1, /expected the header 'emotion,pixels,Usage'/);
  noCacheWritten(cacheDir);
});

test('a FER+ file with a missing row is rejected by the row count; a shifted Usage by line', async () => {
  const cacheDir = tempDir();
  const dataDir = writeFixture(rows, {
    editPlus: (t) =>
      t
        .split('\n')
        .filter((_, i) => i !== 30)
        .join('\n'),
  });
  await expectDataError(
    loadDataset({ dataDir, cacheDir }),
    'fer2013new.csv',
    undefined,
    /has 79 data rows but .*fer2013\.csv has 80.*joined .* by row position/,
  );
  noCacheWritten(cacheDir);
  const dataDir2 = writeFixture(rows, { editPlus: (t) => replaceLine(t, 41, (l) => l.replace(/^Training/, 'PublicTest')) });
  await expectDataError(loadDataset({ dataDir: dataDir2, cacheDir }), 'fer2013new.csv', 41, /Usage is 'PublicTest' but .* line 41 says 'Training'/);
  const dataDir3 = writeFixture(rows, { editPlus: (t) => replaceLine(t, 7, (l) => l.replace(/,(\d+)$/, ',x')) });
  await expectDataError(loadDataset({ dataDir: dataDir3, cacheDir }), 'fer2013new.csv', 7, /vote count for 'NF' is 'x'/);
  noCacheWritten(cacheDir);
});

test.run();
