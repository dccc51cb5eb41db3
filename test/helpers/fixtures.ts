/**
 * Small FER2013 / FER+ fixtures written in the exact file formats (`emotion,pixels,Usage` and
 * `Usage,Image name,neutral,...,NF`), so the data layer is tested on real files without the real data.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface FixtureRow {
  emotion: number;
  usage: 'Training' | 'PublicTest' | 'PrivateTest';
  pixels: number[];
  /** 10 FER+ vote counts; blank image name when `named` is false. */
  votes: number[];
  named: boolean;
}

/** Deterministic pseudo-random generator (mulberry32) for fixture content. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Vote patterns that exercise every FER+ rule (see test/data/votes.test.ts for the expected outcomes). */
export const VOTE_PATTERNS: number[][] = [
  [10, 0, 0, 0, 0, 0, 0, 0, 0, 0], // clear neutral
  [0, 7, 2, 0, 0, 0, 0, 0, 1, 0], // happiness majority
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], // not a face
  [4, 0, 0, 3, 3, 0, 0, 0, 0, 0], // no majority; 3 classes reach 100%
  [0, 0, 5, 0, 0, 0, 5, 0, 0, 0], // tie surprise/fear
  [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], // all single votes: outliers
  [3, 0, 0, 0, 0, 0, 0, 4, 3, 0], // contempt peak with unknown
  [0, 0, 0, 6, 0, 0, 0, 0, 4, 0], // sadness + unknown
  [4, 2, 2, 2, 0, 0, 0, 0, 0, 0], // probability: 4 emotions tie into the top-3 -> discarded
  [5, 3, 2, 0, 0, 0, 0, 0, 0, 0], // probability: 75% reached after 2 emotions
];

/** Builds `n` deterministic rows: usages in blocks (Training, then PublicTest, then PrivateTest), like the real file. */
export function makeRows(counts: { train: number; val: number; test: number }, seed = 1): FixtureRow[] {
  const r = rng(seed);
  const rows: FixtureRow[] = [];
  const blocks: Array<[FixtureRow['usage'], number]> = [
    ['Training', counts.train],
    ['PublicTest', counts.val],
    ['PrivateTest', counts.test],
  ];
  for (const [usage, count] of blocks) {
    for (let i = 0; i < count; i++) {
      const k = rows.length;
      const pattern = VOTE_PATTERNS[k % VOTE_PATTERNS.length];
      const blank = pattern[9] === 10 && k % 20 === 2; // some NF rows blank-named, as in fer2013new.csv
      rows.push({
        emotion: Math.floor(r() * 7),
        usage,
        pixels: Array.from({ length: 2304 }, () => Math.floor(r() * 256)),
        votes: pattern.slice(),
        named: !blank,
      });
    }
  }
  return rows;
}

/** Text of fer2013.csv for these rows (header + one line per row, trailing newline). */
export function fer2013Text(rows: FixtureRow[]): string {
  return ['emotion,pixels,Usage', ...rows.map((r) => `${r.emotion},${r.pixels.join(' ')},${r.usage}`)].join('\n') + '\n';
}

/** Text of fer2013new.csv for these rows; image names follow the official `fer%07d.png` numbering of named rows. */
export function ferplusText(rows: FixtureRow[]): string {
  let k = 0;
  const lines = rows.map((r) => {
    const name = r.named ? `fer${String(k++).padStart(7, '0')}.png` : '';
    return `${r.usage},${name},${r.votes.join(',')}`;
  });
  return ['Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF', ...lines].join('\n') + '\n';
}

/** Options of {@link writeFixture}. */
export interface FixtureFiles {
  /** Write fer2013.csv.gz instead of fer2013.csv. */
  gzip?: boolean;
  /** Skip fer2013new.csv. */
  noFerPlus?: boolean;
  /** Edit the fer2013.csv text before writing (to inject a bad row). */
  editFer?: (text: string) => string;
  /** Edit the fer2013new.csv text before writing. */
  editPlus?: (text: string) => string;
  /** Edit the gzip bytes (to truncate them). */
  editGz?: (gz: Buffer) => Buffer;
}

/** Writes a fixture data directory in a fresh temporary folder and returns its path. */
export function writeFixture(rows: FixtureRow[], opts: FixtureFiles = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferlab-fixture-'));
  let fer = fer2013Text(rows);
  if (opts.editFer) fer = opts.editFer(fer);
  if (opts.gzip) {
    let gz: Buffer = gzipSync(Buffer.from(fer));
    if (opts.editGz) gz = opts.editGz(gz);
    writeFileSync(join(dir, 'fer2013.csv.gz'), gz);
  } else {
    writeFileSync(join(dir, 'fer2013.csv'), fer);
  }
  if (!opts.noFerPlus) {
    let plus = ferplusText(rows);
    if (opts.editPlus) plus = opts.editPlus(plus);
    writeFileSync(join(dir, 'fer2013new.csv'), plus);
  }
  return dir;
}

/** A fresh empty temporary directory (for caches and run records). */
export function tempDir(prefix = 'ferlab-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Replaces line `lineNo` (1-based, header = 1) of a CSV text. */
export function replaceLine(text: string, lineNo: number, edit: (line: string) => string): string {
  const lines = text.split('\n');
  lines[lineNo - 1] = edit(lines[lineNo - 1]);
  return lines.join('\n');
}
