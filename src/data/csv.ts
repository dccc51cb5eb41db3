import { createReadStream, type ReadStream } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Papa from 'papaparse';
import { DataError } from './errors';

/** One parsed CSV record: its fields and its 1-based line number in the file (header = line 1). */
export interface CsvRow {
  fields: string[];
  line: number;
}

/** Options of {@link streamCsv}. */
export interface StreamCsvOptions {
  /** Exact header fields the file must start with; a different header is a {@link DataError} on line 1. */
  header: readonly string[];
  /** Called for every data record, in file order. Throw a {@link DataError} to reject the file. */
  onRow: (row: CsvRow) => void;
  /** When set, an MD5 of the (decompressed) CSV bytes is computed while streaming and returned. */
  md5?: boolean;
}

/**
 * Streams a CSV file (plain, or gzip when the name ends in `.gz`) through papaparse, one record at a time, so a
 * 300 MB file never sits in memory as text. Records are assumed to be one per line (true of fer2013.csv and
 * fer2013new.csv), which gives exact line numbers for error messages.
 *
 * @returns the number of data records and, with `md5: true`, the hex MD5 of the decompressed bytes.
 * @throws DataError when the header differs, an empty line is followed by more data, the gzip stream is
 *   truncated or corrupt, or `onRow` throws; a missing file gives a DataError too.
 */
export async function streamCsv(path: string, opts: StreamCsvOptions): Promise<{ rows: number; md5?: string }> {
  const hash: Hash | undefined = opts.md5 ? createHash('md5') : undefined;
  let line = 0;
  let rows = 0;
  let emptyLineAt = 0;
  let failure: unknown;

  const parser = Papa.parse(Papa.NODE_STREAM_INPUT, { delimiter: ',', newline: '\n', skipEmptyLines: false });
  const sink = new Writable({
    objectMode: true,
    write(record: string[], _enc, done) {
      line += 1;
      try {
        if (line === 1) {
          const got = record.map((f) => f.trim());
          if (got.length !== opts.header.length || got.some((f, i) => f !== opts.header[i])) {
            throw new DataError(path, 1, `expected the header '${opts.header.join(',')}', found '${record.join(',').slice(0, 200)}'`);
          }
        } else if (record.length === 1 && record[0].trim() === '') {
          emptyLineAt = emptyLineAt || line;
        } else {
          if (emptyLineAt) throw new DataError(path, emptyLineAt, 'empty line in the middle of the file (expected one record per line)');
          rows += 1;
          opts.onRow({ fields: record, line });
        }
        done();
      } catch (e) {
        failure = e;
        done(e as Error);
      }
    },
  });

  const tap = new PassThrough({
    transform(chunk: Buffer, _enc, done) {
      hash?.update(chunk);
      done(null, chunk);
    },
  });

  let input: ReadStream;
  try {
    input = createReadStream(path);
    await new Promise<void>((resolve, reject) => {
      input.once('open', () => resolve());
      input.once('error', reject);
    });
  } catch (e) {
    throw new DataError(path, undefined, `cannot open (${(e as Error).message})`);
  }
  const stages = path.endsWith('.gz') ? [input, createGunzip(), tap, parser, sink] : [input, tap, parser, sink];
  try {
    await (pipeline as (...s: unknown[]) => Promise<void>)(...stages);
  } catch (e) {
    if (failure) throw failure;
    const err = e as NodeJS.ErrnoException;
    if (path.endsWith('.gz') && (err.code?.startsWith('Z_') || /unexpected end of file|incorrect header|invalid/.test(err.message))) {
      throw new DataError(
        path,
        line || undefined,
        `gzip stream is truncated or corrupt after ${rows.toLocaleString('en-US')} data rows (zlib: ${err.message}); re-download the file`,
      );
    }
    throw new DataError(path, line || undefined, `read failed: ${err.message}`);
  }
  if (line === 0) throw new DataError(path, undefined, `file is empty (expected the header '${opts.header.join(',')}')`);
  return { rows, md5: hash?.digest('hex') };
}
