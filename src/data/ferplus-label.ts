import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import Papa from 'papaparse';
import { FERPLUS_NUM_VOTES, FERPLUS_VOTE_COLUMNS, IMAGE_SIZE, USAGES, type Usage } from './classes';
import { streamCsv } from './csv';
import { DataError } from './errors';

/**
 * microsoft/FERPlus' per-split vote files, `data/FER2013{Train,Valid,Test}/label.csv`: the labels its own trainer
 * (`src/train.py` through `src/ferplus.py` `FERPlusReader.load_folders`) reads, keyed by image name. No header; each
 * line `fer0032220.png,"(0, 0, 48, 48)",<10 vote counts>` (image name, face box x, y, w, h, then the 10 columns of
 * fer2013new.csv: neutral ... contempt, unknown, NF). They are older than the repository's fer2013new.csv and differ
 * from it (in the copy ferlab's development machines use, 282 of the 3,573 test images have other votes), so "accuracy
 * on FER+" depends on the file: the FER+ paper's numbers (Barsoum et al., arXiv 1608.01041) come from these.
 *
 * The names are joined to FER2013 rows through fer2013new.csv's `Image name` column, within the split the file is for
 * (Train = Training, Valid = PublicTest, Test = PrivateTest): microsoft/FERPlus `src/generate_training_data.py` names
 * each image file after that column, row by row.
 */

/** The folder (or file-name prefix) of each split in microsoft/FERPlus `data/`, and the FER2013 Usage it holds. */
export const FERPLUS_LABEL_SPLITS = { FER2013Train: 'Training', FER2013Valid: 'PublicTest', FER2013Test: 'PrivateTest' } as const satisfies Record<
  string,
  Usage
>;

/**
 * Where ferlab looks for the test split's label.csv inside a data directory when none is named, in order: the
 * microsoft/FERPlus layout (`FER2013Test/label.csv`) and the flat copy (`ferplus-label-csv/FER2013Test-label.csv`).
 */
export const FERPLUS_TEST_LABEL_CANDIDATES = ['FER2013Test/label.csv', 'ferplus-label-csv/FER2013Test-label.csv'] as const;

/**
 * The FER2013 Usage a label.csv is for, from its path: the folder `FER2013Test/label.csv` (microsoft/FERPlus layout) or
 * a file name starting `FER2013Test` (e.g. `FER2013Test-label.csv`); likewise Train and Valid.
 * @returns the Usage, or undefined when the path names no split.
 */
export function ferplusLabelUsage(path: string): Usage | undefined {
  for (const part of [basename(path), basename(dirname(path))]) {
    for (const [prefix, usage] of Object.entries(FERPLUS_LABEL_SPLITS))
      if (part === prefix || part.startsWith(`${prefix}-`) || part.startsWith(`${prefix}_`)) return usage;
  }
  return undefined;
}

/** The rows of one label.csv, in file order. */
export interface FerPlusLabelRows {
  /** Path of the file (for messages). */
  path: string;
  /** Number of data rows. */
  n: number;
  /** `[n]` image names, e.g. `fer0032220.png`. */
  names: string[];
  /** `[n]` 1-based line of each row in the file (no header: the first row is line 1). */
  line: Int32Array;
  /** `[n, 10]` uint8 vote counts in FERPLUS_VOTE_COLUMNS order. */
  votes: Uint8Array;
}

const BOX = /^\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const NAME = /^[A-Za-z0-9_.-]+\.png$/;

/**
 * Reads and validates a microsoft/FERPlus label.csv: 12 fields per line (image name `*.png`, face box `(x, y, w, h)`,
 * 10 vote counts); the box must be `(0, 0, 48, 48)` (every row of microsoft/FERPlus' files: the whole image, which is
 * what ferlab scores); each count an integer 0-10, summing to at most 10 (10 taggers per image, arXiv 1608.01041
 * section 2); an image name at most once. A trailing empty line is allowed.
 *
 * @throws DataError naming the file and the 1-based line of the first bad row (what was found and expected): a missing
 *   or empty file, a wrong number of fields, a blank or odd name, a repeated name (both lines), another box, a bad
 *   count or sum, an unterminated quote.
 */
export function readFerPlusLabelCsv(path: string): FerPlusLabelRows {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(path, undefined, `cannot read (${(e as Error).message})`);
  }
  const parsed = Papa.parse<string[]>(text, { delimiter: ',', newline: '\n', skipEmptyLines: false });
  const bad = parsed.errors.find((e) => e.type === 'Quotes' || e.code === 'MissingQuotes');
  if (bad) throw new DataError(path, (bad.row ?? 0) + 1, `CSV quoting: ${bad.message}`);
  const records = parsed.data;
  // one record per line: quoted fields hold no line break (the box is the only quoted field)
  while (records.length && records[records.length - 1].length === 1 && records[records.length - 1][0].trim() === '') records.pop();
  if (!records.length) throw new DataError(path, undefined, 'file is empty (expected lines `<image name>,"(0, 0, 48, 48)",<10 vote counts>`)');
  const names: string[] = [];
  const lines: number[] = [];
  const votes = new Uint8Array(records.length * FERPLUS_NUM_VOTES);
  const seen = new Map<string, number>();
  records.forEach((fields, r) => {
    const line = r + 1;
    if (fields.length === 1 && fields[0].trim() === '') throw new DataError(path, line, 'empty line in the middle of the file (expected one image per line)');
    if (fields.length !== 2 + FERPLUS_NUM_VOTES)
      throw new DataError(
        path,
        line,
        `expected ${2 + FERPLUS_NUM_VOTES} fields (image name, face box, ${FERPLUS_NUM_VOTES} vote counts), found ${fields.length}`,
      );
    const name = fields[0].trim();
    if (!name) throw new DataError(path, line, 'image name is blank (expected a name such as fer0032220.png)');
    if (!NAME.test(name)) throw new DataError(path, line, `image name is '${name.slice(0, 40)}' (expected a file name such as fer0032220.png)`);
    const first = seen.get(name);
    if (first !== undefined) throw new DataError(path, line, `image name ${name} repeats line ${first} (a label file lists each image once)`);
    seen.set(name, line);
    const box = BOX.exec(fields[1].trim());
    if (!box) throw new DataError(path, line, `face box is '${fields[1].slice(0, 40)}' (expected "(x, y, w, h)", e.g. "(0, 0, 48, 48)")`);
    const [x, y, w, h] = box.slice(1).map(Number);
    if (x !== 0 || y !== 0 || w !== IMAGE_SIZE || h !== IMAGE_SIZE)
      throw new DataError(
        path,
        line,
        `face box is (${x}, ${y}, ${w}, ${h}); ferlab scores whole ${IMAGE_SIZE}x${IMAGE_SIZE} images, so only (0, 0, 48, 48) is accepted`,
      );
    let sum = 0;
    for (let k = 0; k < FERPLUS_NUM_VOTES; k++) {
      const t = fields[2 + k].trim();
      if (!/^(?:[0-9]|10)$/.test(t))
        throw new DataError(path, line, `vote count for '${FERPLUS_VOTE_COLUMNS[k]}' is '${t.slice(0, 20)}' (expected an integer 0-10)`);
      votes[r * FERPLUS_NUM_VOTES + k] = Number(t);
      sum += Number(t);
    }
    if (sum > 10) throw new DataError(path, line, `votes sum to ${sum} (expected at most 10: ten taggers per image)`);
    names.push(name);
    lines.push(line);
  });
  return { path, n: names.length, names, line: Int32Array.from(lines), votes };
}

/** fer2013new.csv's Usage and `Image name` columns, one entry per data row (the join key of label.csv files). */
export interface FerPlusImageNames {
  /** Path of fer2013new.csv (for messages). */
  path: string;
  /** `[n]` index into USAGES. */
  usage: Uint8Array;
  /** `[n]` image names, trimmed; '' where the column is blank. */
  names: string[];
}

/**
 * Reads the Usage and `Image name` columns of fer2013new.csv (microsoft/FERPlus), checking its header and each row's
 * field count and Usage (src/data/ferplus.ts readFerPlus validates the votes).
 * @throws DataError naming the file and line of the first bad row.
 */
export async function readFerPlusImageNames(path: string): Promise<FerPlusImageNames> {
  const usageIndex = new Map<string, number>(USAGES.map((u, i) => [u, i]));
  const usage: number[] = [];
  const names: string[] = [];
  await streamCsv(path, {
    header: ['Usage', 'Image name', ...FERPLUS_VOTE_COLUMNS],
    onRow: ({ fields, line }) => {
      if (fields.length !== 2 + FERPLUS_NUM_VOTES) throw new DataError(path, line, `expected ${2 + FERPLUS_NUM_VOTES} fields, found ${fields.length}`);
      const u = usageIndex.get(fields[0].trim());
      if (u === undefined) throw new DataError(path, line, `Usage is '${fields[0].trim().slice(0, 40)}' (expected one of ${USAGES.join(', ')})`);
      usage.push(u);
      names.push(fields[1].trim());
    },
  });
  return { path, usage: Uint8Array.from(usage), names };
}

/** A label.csv joined to FER2013 rows by image name: what matched and what did not. */
export interface FerPlusLabelMatch {
  /** The label.csv and the Usage (split) it was matched in. */
  file: string;
  usage: Usage;
  /** Data rows of the label.csv. */
  rows: number;
  /** `[m]` int32 FER2013 row (0-based dataset index) of each matched label.csv row, in label.csv order. */
  index: Int32Array;
  /** `[m]` label.csv line of each matched row. */
  line: Int32Array;
  /** `[m, 10]` uint8 label.csv votes of each matched row. */
  votes: Uint8Array;
  /** label.csv names with no row of that name in the split (`elsewhere`: the Usage where fer2013new.csv has it). */
  missing: Array<{ name: string; line: number; elsewhere?: Usage }>;
  /**
   * label.csv names that fer2013new.csv gives to several rows of the split (in the official file: fer0033120.png, rows
   * 33200 and 34334): matched to the first of `rows` (0-based), the row whose fer2013new.csv votes equal label.csv's in
   * the official files (the later one is a near-blank image voted 10x NF), and the choice that reproduces the 282
   * differing test images of ../shared/data/fer2013/README.md.
   */
  repeated: Array<{ name: string; line: number; rows: number[] }>;
  /** Rows of the split in fer2013new.csv, and how many of them have a blank name (never matchable). */
  splitRows: number;
  blankNames: number;
}

/**
 * Joins a label.csv to FER2013 rows through fer2013new.csv's `Image name` column, looking only at the rows of `usage`
 * (a name is looked up within the split, so a name elsewhere counts as missing, with where it was found).
 *
 * @param labels a read label.csv. @param usage the split it is for (see {@link ferplusLabelUsage}).
 * @param names fer2013new.csv's names ({@link readFerPlusImageNames}); rows in FER2013 order (joined by position).
 * @param datasetUsage optional `[n]` FER2013 Usage of the dataset the rows index (FerDataset.usage): checked against
 *   fer2013new.csv's, row by row.
 * @throws DataError naming fer2013new.csv when its row count or a row's Usage differs from the dataset's.
 */
export function matchFerPlusLabels(labels: FerPlusLabelRows, usage: Usage, names: FerPlusImageNames, datasetUsage?: Uint8Array): FerPlusLabelMatch {
  if (datasetUsage) {
    if (datasetUsage.length !== names.usage.length)
      throw new DataError(names.path, undefined, `has ${names.usage.length} data rows but the dataset has ${datasetUsage.length}; rows are joined by position`);
    const i = names.usage.findIndex((u, r) => u !== datasetUsage[r]);
    if (i >= 0) throw new DataError(names.path, i + 2, `Usage is '${USAGES[names.usage[i]]}' but the dataset's row ${i} is '${USAGES[datasetUsage[i]]}'`);
  }
  const u = USAGES.indexOf(usage);
  const inSplit = new Map<string, number[]>();
  const elsewhere = new Map<string, Usage>();
  let splitRows = 0;
  let blankNames = 0;
  names.names.forEach((name, r) => {
    if (names.usage[r] !== u) {
      if (name) elsewhere.set(name, USAGES[names.usage[r]]);
      return;
    }
    splitRows++;
    if (!name) blankNames++;
    else inSplit.set(name, [...(inSplit.get(name) ?? []), r]);
  });
  const index: number[] = [];
  const line: number[] = [];
  const kept: number[] = [];
  const missing: FerPlusLabelMatch['missing'] = [];
  const repeated: FerPlusLabelMatch['repeated'] = [];
  labels.names.forEach((name, j) => {
    const rows = inSplit.get(name);
    if (!rows) {
      const other = elsewhere.get(name);
      missing.push({ name, line: labels.line[j], ...(other ? { elsewhere: other } : {}) });
      return;
    }
    if (rows.length > 1) repeated.push({ name, line: labels.line[j], rows });
    index.push(rows[0]);
    line.push(labels.line[j]);
    kept.push(j);
  });
  const votes = new Uint8Array(kept.length * FERPLUS_NUM_VOTES);
  kept.forEach((j, m) => votes.set(labels.votes.subarray(j * FERPLUS_NUM_VOTES, (j + 1) * FERPLUS_NUM_VOTES), m * FERPLUS_NUM_VOTES));
  return {
    file: labels.path,
    usage,
    rows: labels.n,
    index: Int32Array.from(index),
    line: Int32Array.from(line),
    votes,
    missing,
    repeated,
    splitRows,
    blankNames,
  };
}

/**
 * Matched label.csv rows whose 10 votes differ from fer2013new.csv's votes of the same FER2013 row.
 * @param ferplusVotes `[N, 10]` fer2013new.csv votes by FER2013 row (FerDataset.ferplus.votes).
 * @returns positions into the match (`match.index[k]` is the row), in label.csv order.
 */
export function differingVotes(match: FerPlusLabelMatch, ferplusVotes: Uint8Array): number[] {
  const out: number[] = [];
  for (let k = 0; k < match.index.length; k++) {
    const r = match.index[k];
    for (let c = 0; c < FERPLUS_NUM_VOTES; c++) {
      if (match.votes[k * FERPLUS_NUM_VOTES + c] !== ferplusVotes[r * FERPLUS_NUM_VOTES + c]) {
        out.push(k);
        break;
      }
    }
  }
  return out;
}

/** A one-line account of a match: rows matched, missing and repeated names, blank names in the split. */
export function describeFerPlusMatch(m: FerPlusLabelMatch): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const parts = [`${fmt(m.index.length)} of ${fmt(m.rows)} rows matched by image name to ${m.usage} rows of fer2013new.csv`];
  if (m.missing.length)
    parts.push(
      `${m.missing.length} not found in ${m.usage} (${m.missing
        .slice(0, 5)
        .map((x) => `${x.name} line ${x.line}${x.elsewhere ? `, in ${x.elsewhere}` : ''}`)
        .join('; ')}${m.missing.length > 5 ? '; ...' : ''})`,
    );
  if (m.repeated.length)
    parts.push(
      `${m.repeated.length} name(s) repeated in fer2013new.csv, first row taken (${m.repeated.map((x) => `${x.name}: rows ${x.rows.join(', ')}`).join('; ')})`,
    );
  parts.push(`${fmt(m.blankNames)} of the split's ${fmt(m.splitRows)} rows have a blank name in fer2013new.csv`);
  return parts.join('; ');
}
