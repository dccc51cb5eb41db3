import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FER_CLASSES, IMAGE_PIXELS, USAGES } from './classes';
import { streamCsv } from './csv';
import { DataError, DOWNLOAD_HELP } from './errors';

/** MD5 of the canonical uncompressed fer2013.csv (the checksum torchvision publishes for it). */
export const FER2013_MD5 = 'f8428a1edbd21e88f42c73edd2a14f95';
/** Rows of the canonical fer2013.csv (Training 28,709 + PublicTest 3,589 + PrivateTest 3,589). */
export const FER2013_ROWS = 35_887;

/** FER2013 as parsed from `fer2013.csv`: one entry per CSV data row, in file order. */
export interface Fer2013Table {
  /** Number of images (data rows). */
  n: number;
  /** `[n, 48, 48]` uint8 grayscale, row-major, 0-255 exactly as in the CSV. */
  pixels: Uint8Array;
  /** `[n]` FER2013 label 0-6 (see FER_CLASSES). */
  emotion: Uint8Array;
  /** `[n]` index into USAGES (0 Training, 1 PublicTest, 2 PrivateTest). */
  usage: Uint8Array;
  /** MD5 of the uncompressed CSV bytes; compare with FER2013_MD5. */
  md5: string;
}

/**
 * Finds FER2013 in a data directory: `fer2013.csv` if present, else `fer2013.csv.gz`.
 * @throws DataError (with download instructions) when the directory or both files are missing.
 */
export function locateFer2013(dataDir: string): string {
  if (!existsSync(dataDir)) throw new DataError(dataDir, undefined, `data directory not found.\n${DOWNLOAD_HELP}`);
  for (const name of ['fer2013.csv', 'fer2013.csv.gz']) {
    const p = join(dataDir, name);
    if (existsSync(p)) return p;
  }
  throw new DataError(join(dataDir, 'fer2013.csv'), undefined, `neither fer2013.csv nor fer2013.csv.gz found.\n${DOWNLOAD_HELP}`);
}

/**
 * Parses the 2,304 space-separated pixel values of one row into `out` at `offset`.
 * @throws DataError naming the file, line and the first bad value (non-numeric, > 255, wrong count).
 */
export function parsePixels(text: string, out: Uint8Array, offset: number, file: string, line: number): void {
  let value = -1;
  let count = 0;
  let start = 0;
  const end = text.length;
  const bad = (i: number, why: string): never => {
    let j = i;
    while (j < end && text.charCodeAt(j) !== 32) j++;
    const token = text.slice(start, Math.max(j, start + 1)).slice(0, 20);
    throw new DataError(file, line, `pixel ${count + 1} is '${token}' (${why}; expected ${IMAGE_PIXELS} integers 0-255 separated by single spaces)`);
  };
  for (let i = 0; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 32;
    if (c >= 48 && c <= 57) {
      if (value < 0) {
        value = c - 48;
        start = i;
      } else {
        value = value * 10 + (c - 48);
        if (value > 255) bad(i, 'out of range');
      }
    } else if (c === 32 || c === 13) {
      if (value < 0) {
        if (i === end) break; // trailing space: the count check below decides
        start = i;
        bad(i, 'empty value');
      }
      if (count === IMAGE_PIXELS) {
        throw new DataError(file, line, `expected ${IMAGE_PIXELS} pixel values, found more`);
      }
      out[offset + count] = value;
      count += 1;
      value = -1;
      if (c === 13) break;
    } else {
      if (value < 0) start = i;
      bad(i, 'not an integer');
    }
  }
  if (count !== IMAGE_PIXELS) {
    throw new DataError(file, line, `expected ${IMAGE_PIXELS} pixel values, found ${count}`);
  }
}

/**
 * Reads and validates FER2013 (`emotion,pixels,Usage`), streaming the file (papaparse; gzip when `.gz`).
 * Every row is checked: emotion an integer 0-6, exactly 2,304 integers 0-255, Usage one of
 * Training/PublicTest/PrivateTest.
 *
 * @param path `fer2013.csv` or `fer2013.csv.gz` (see {@link locateFer2013}).
 * @throws DataError naming the file, line and what was expected on the first bad row, on a truncated or
 *   corrupt gzip stream, or when the file has no data rows.
 */
export async function readFer2013(path: string): Promise<Fer2013Table> {
  let capacity = 1024;
  let pixels = new Uint8Array(capacity * IMAGE_PIXELS);
  let emotion = new Uint8Array(capacity);
  let usage = new Uint8Array(capacity);
  let n = 0;
  const usageIndex = new Map<string, number>(USAGES.map((u, i) => [u, i]));

  const { md5 } = await streamCsv(path, {
    header: ['emotion', 'pixels', 'Usage'],
    md5: true,
    onRow: ({ fields, line }) => {
      if (fields.length !== 3) {
        throw new DataError(path, line, `expected 3 fields (emotion,pixels,Usage), found ${fields.length}`);
      }
      if (n === capacity) {
        capacity *= 2;
        const p = new Uint8Array(capacity * IMAGE_PIXELS);
        p.set(pixels);
        pixels = p;
        const e = new Uint8Array(capacity);
        e.set(emotion);
        emotion = e;
        const u = new Uint8Array(capacity);
        u.set(usage);
        usage = u;
      }
      const em = fields[0].trim();
      if (!/^[0-6]$/.test(em)) {
        throw new DataError(path, line, `emotion is '${em.slice(0, 20)}' (expected an integer 0-6: ${FER_CLASSES.join(', ')})`);
      }
      const us = usageIndex.get(fields[2].trim());
      if (us === undefined) {
        throw new DataError(path, line, `Usage is '${fields[2].trim().slice(0, 40)}' (expected one of ${USAGES.join(', ')})`);
      }
      parsePixels(fields[1], pixels, n * IMAGE_PIXELS, path, line);
      emotion[n] = Number(em);
      usage[n] = us;
      n += 1;
    },
  });
  if (n === 0) throw new DataError(path, undefined, 'no data rows after the header');
  return {
    n,
    pixels: pixels.slice(0, n * IMAGE_PIXELS),
    emotion: emotion.slice(0, n),
    usage: usage.slice(0, n),
    md5: md5!,
  };
}
