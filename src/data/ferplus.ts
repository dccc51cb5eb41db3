import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FERPLUS_NUM_VOTES, FERPLUS_VOTE_COLUMNS, USAGES } from './classes';
import { streamCsv } from './csv';
import { DataError, DOWNLOAD_HELP } from './errors';

/** FER+ crowd votes as parsed from `fer2013new.csv`, one entry per data row, in file order. */
export interface FerPlusTable {
  /** Number of data rows. */
  n: number;
  /** `[n]` index into USAGES. */
  usage: Uint8Array;
  /** `[n, 10]` uint8 vote counts in FERPLUS_VOTE_COLUMNS order (8 emotions, unknown, NF). */
  votes: Uint8Array;
  /**
   * `[n]` 1 when the `Image name` column is non-blank. microsoft/FERPlus `src/generate_training_data.py` writes an
   * image only for named rows, so blank-named rows (173 in the official file, all 10 votes NF) never reach training
   * or evaluation. The name itself is never used to join: it drifts after the first blank.
   */
  named: Uint8Array;
}

/** Path of `fer2013new.csv` in a data directory. @throws DataError with download help when it is missing. */
export function locateFerPlus(dataDir: string): string {
  const p = join(dataDir, 'fer2013new.csv');
  if (!existsSync(p)) {
    throw new DataError(p, undefined, `FER+ votes not found (needed for the FER+ label sets).\n${DOWNLOAD_HELP}`);
  }
  return p;
}

/**
 * Reads and validates `fer2013new.csv` (microsoft/FERPlus): header
 * `Usage,Image name,neutral,...,contempt,unknown,NF`; each row a Usage, an image name (may be blank) and 10 vote
 * counts, each an integer 0-10, summing to at most 10 (10 taggers per image, arXiv 1608.01041 section 2).
 *
 * @throws DataError naming the file, line and what was expected on the first bad row.
 */
export async function readFerPlus(path: string): Promise<FerPlusTable> {
  const usages: number[] = [];
  const votes: number[] = [];
  const named: number[] = [];
  const usageIndex = new Map<string, number>(USAGES.map((u, i) => [u, i]));
  await streamCsv(path, {
    header: ['Usage', 'Image name', ...FERPLUS_VOTE_COLUMNS],
    onRow: ({ fields, line }) => {
      if (fields.length !== 2 + FERPLUS_NUM_VOTES) {
        throw new DataError(
          path,
          line,
          `expected ${2 + FERPLUS_NUM_VOTES} fields (Usage, Image name, ${FERPLUS_NUM_VOTES} vote counts), found ${fields.length}`,
        );
      }
      const us = usageIndex.get(fields[0].trim());
      if (us === undefined) {
        throw new DataError(path, line, `Usage is '${fields[0].trim().slice(0, 40)}' (expected one of ${USAGES.join(', ')})`);
      }
      let sum = 0;
      for (let k = 0; k < FERPLUS_NUM_VOTES; k++) {
        const text = fields[2 + k].trim();
        if (!/^(?:[0-9]|10)$/.test(text)) {
          throw new DataError(path, line, `vote count for '${FERPLUS_VOTE_COLUMNS[k]}' is '${text.slice(0, 20)}' (expected an integer 0-10)`);
        }
        const v = Number(text);
        votes.push(v);
        sum += v;
      }
      if (sum > 10) throw new DataError(path, line, `votes sum to ${sum} (expected at most 10: ten taggers per image)`);
      usages.push(us);
      named.push(fields[1].trim() === '' ? 0 : 1);
    },
  });
  return { n: usages.length, usage: Uint8Array.from(usages), votes: Uint8Array.from(votes), named: Uint8Array.from(named) };
}

/**
 * Checks that FER+ rows line up with FER2013 rows: the same number of rows, and the same Usage on every row.
 * Rows are joined by position, never by the `Image name` column (173 names are blank and the numbering drifts).
 *
 * @param ferUsage `[n]` FER2013 usage indices. @param ferPath path of the FER2013 file (for messages).
 * @throws DataError naming fer2013new.csv and the first mismatching line.
 */
export function checkFerPlusAlignment(ferUsage: Uint8Array, ferPath: string, plus: FerPlusTable, plusPath: string): void {
  if (plus.n !== ferUsage.length) {
    throw new DataError(
      plusPath,
      undefined,
      `has ${plus.n.toLocaleString('en-US')} data rows but ${ferPath} has ${ferUsage.length.toLocaleString('en-US')}; FER+ votes are joined to FER2013 images by row position, so both files must list the same images in the same order (is a row missing?)`,
    );
  }
  for (let i = 0; i < plus.n; i++) {
    if (plus.usage[i] !== ferUsage[i]) {
      throw new DataError(
        plusPath,
        i + 2,
        `Usage is '${USAGES[plus.usage[i]]}' but ${ferPath} line ${i + 2} says '${USAGES[ferUsage[i]]}'; rows are joined by position, so the files are out of order or a row is missing`,
      );
    }
  }
}
