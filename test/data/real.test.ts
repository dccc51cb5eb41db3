/**
 * The real FER2013 + FER+ files (../shared/data/fer2013): row and label counts, and the size of every split of every
 * FER+ mode, cross-checked against an independent re-count written here from the raw CSV text.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildLabelSet, FER2013_MD5, loadDataset, FERPLUS_MODES, type FerPlusMode } from '../../src/data';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';

const dir = realDataDir();
if (!dir) skipFile(noRealDataReason());

/**
 * Independent re-count of one row's fate under a FER+ mode, written from the rules in microsoft/FERPlus
 * src/ferplus.py in a different shape (groups of tied counts) and without any ferlab code.
 * Returns the kept class (0-7) or -1 when the image is dropped.
 */
function recount(votes: number[], mode: FerPlusMode): number {
  const r = votes.map((v) => (v <= 1 ? 0 : v));
  const s = r.reduce((a, b) => a + b, 0);
  const firstMax = (idx: number[]) => idx.reduce((best, i) => (r[i] > r[best] ? i : best), idx[0]);
  if (mode === 'majority') {
    const m = Math.max(...r);
    if (!(m > s / 2)) return -1;
    const k = r.indexOf(m);
    return k < 8 ? k : -1;
  }
  if (mode === 'multi_target') {
    const kept = r.map((v, i) => (v >= 0.3 * s ? i : -1)).filter((i) => i >= 0);
    const covered = kept.reduce((a, i) => a + r[i], 0);
    if (covered <= s / 2 || kept.length === 0) return -1;
    const k = firstMax(kept);
    return k < 8 ? k : -1;
  }
  // probability / crossentropy: take groups of equal counts, largest first
  const values = [...new Set(r)].sort((a, b) => b - a);
  const taken: number[] = [];
  let covered = 0;
  for (const v of values) {
    if (!(covered < 0.75 * s && taken.length < 3)) break;
    let stop = false;
    for (let i = 0; i < 10; i++) {
      if (r[i] !== v) continue;
      if (i >= 8) {
        if (taken.length === 0) taken.push(i); // only an unknown/NF peak: kept, then dropped below
        stop = true;
        break;
      }
      taken.push(i);
      covered += v;
    }
    if (stop) break;
  }
  const total = taken.reduce((a, i) => a + r[i], 0);
  if (total <= s / 2 || taken.length > 3) return -1;
  const k = firstMax(taken);
  return k < 8 ? k : -1;
}

if (dir) {
  test('FER2013: 35,887 rows, Usage 28,709 / 3,589 / 3,589, label counts, official MD5', async () => {
    const cacheDir = tempDir();
    const ds = await loadDataset({ dataDir: dir, cacheDir });
    assert.is(ds.n, 35887);
    assert.is(ds.source.fer2013Md5, FER2013_MD5);
    const usage = [0, 0, 0];
    ds.usage.forEach((u) => usage[u]++);
    assert.equal(usage, [28709, 3589, 3589]);
    const labels = new Array(7).fill(0);
    ds.emotion.forEach((e) => labels[e]++);
    assert.equal(labels, [4953, 547, 5121, 8989, 6077, 4002, 6198]);
    const again = await loadDataset({ dataDir: dir, cacheDir });
    assert.is(again.source.loadedFrom, 'cache', 'second load skips CSV parsing');
    assert.equal(Array.from(again.pixels.subarray(0, 4096)), Array.from(ds.pixels.subarray(0, 4096)));
    // first image of fer2013.csv starts "70 80 82 72 58", read straight from the text
    assert.equal(Array.from(ds.pixels.subarray(0, 5)), [70, 80, 82, 72, 58]);
  });

  test('FER+ split sizes of every mode equal an independent re-count from the raw votes', async () => {
    const ds = await loadDataset({ dataDir: dir });
    const lines = readFileSync(join(dir, 'fer2013new.csv'), 'utf8').trim().split('\n').slice(1);
    assert.is(lines.length, 35887);
    const parsed = lines.map((l) => {
      const f = l.split(',');
      return { usage: f[0], named: f[1].trim() !== '', votes: f.slice(2).map(Number) };
    });
    const blank = parsed.filter((p) => !p.named);
    assert.is(blank.length, 173, 'blank image names');
    assert.ok(
      blank.every((p) => p.votes[9] === 10),
      'every blank-named row is 10 votes NF',
    );
    const usageOf = { train: 'Training', val: 'PublicTest', test: 'PrivateTest' } as const;
    const sizes: Record<string, number[]> = {};
    for (const mode of FERPLUS_MODES) {
      const ls = buildLabelSet(ds, mode);
      const count = (split: keyof typeof usageOf, m: FerPlusMode) => {
        const perClass = new Array(8).fill(0);
        let n = 0;
        parsed.forEach((p) => {
          if (p.usage !== usageOf[split] || !p.named) return;
          const k = recount(p.votes, m);
          if (k >= 0) {
            n++;
            perClass[k]++;
          }
        });
        return { n, perClass };
      };
      const tr = count('train', mode);
      const va = count('val', 'majority');
      const te = count('test', 'majority');
      assert.is(ls.train.index.length, tr.n, `${mode} train: ferlab ${ls.train.index.length} vs re-count ${tr.n}`);
      assert.is(ls.val.index.length, va.n, `${mode} val`);
      assert.is(ls.test.index.length, te.n, `${mode} test`);
      const hard = new Array(8).fill(0);
      ls.train.label.forEach((c) => hard[c]++);
      assert.equal(hard, tr.perClass, `${mode} train class counts (argmax of targets) vs re-count`);
      sizes[mode] = [tr.n, va.n, te.n];
    }
    // the same numbers from a Python transcription of ferplus.py run on these files during development
    assert.equal(sizes, {
      majority: [25060, 3199, 3153],
      probability: [27956, 3199, 3153],
      crossentropy: [27956, 3199, 3153],
      multi_target: [27671, 3199, 3153],
    });
  });
}

test.run();
