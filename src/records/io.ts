import { existsSync, readFileSync } from 'node:fs';
import type { z } from 'zod';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';

/**
 * Reading and writing of ferlab's on-disk records (src/records): every reader parses the JSON, checks it against the
 * record's zod schema and throws a {@link RecordError} naming the file and the field path of each problem; every
 * writer serialises the way ferlab always has (2-space indented JSON with a trailing newline, or one compact JSON
 * value per line), atomically (src/util/atomic.ts).
 *
 * A reader returns the parsed JSON itself once it passes the schema, not the schema's output: fields the schema does
 * not name (written by newer code, or by older code that recorded more) are kept, in their key order, so a record read
 * and written back is unchanged.
 */

/** A record file that is missing, not JSON, or not of its record's shape; `file` is its path, `issues` the problems. */
export class RecordError extends Error {
  constructor(
    readonly file: string,
    readonly issues: string[],
  ) {
    super(`${file}: ${issues.length === 1 ? issues[0] : `\n  ${issues.join('\n  ')}`}`);
    this.name = 'RecordError';
  }
}

/** `a.b[2].c` of a zod issue path ('(root)' for the whole record). */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  if (!path.length) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/**
 * Checks an already-parsed value against a record schema.
 * @param file the record's path (or `path:line` for a JSON-lines record), for the error.
 * @returns `value` itself (unknown fields kept), typed as the schema's output.
 * @throws RecordError with one line per zod issue: `field <path>: <message>`.
 */
export function parseRecord<S extends z.ZodType>(schema: S, value: unknown, file: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new RecordError(
      file,
      r.error.issues.map((i) => `field ${fieldPath(i.path)}: ${i.message}`),
    );
  return value as z.infer<S>;
}

/** The JSON text of a record file, parsed. @throws RecordError when the file is missing or is not JSON. */
function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RecordError(file, [`cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RecordError(file, [`not valid JSON (${(e as Error).message})`]);
  }
}

/**
 * Reads a JSON record file and checks it (see {@link parseRecord}).
 * @throws RecordError naming the file when it is missing, not JSON, or not of the schema's shape (with field paths).
 */
export function readRecord<S extends z.ZodType>(schema: S, file: string): z.infer<S> {
  return parseRecord(schema, readJsonFile(file), file);
}

/** {@link readRecord}, or undefined when the file does not exist. */
export function readRecordIfExists<S extends z.ZodType>(schema: S, file: string): z.infer<S> | undefined {
  return existsSync(file) ? readRecord(schema, file) : undefined;
}

/**
 * {@link readRecord} for readers that skip what they cannot use (listings, reports): undefined when the file is
 * missing, and, when it is not JSON or not of the schema's shape, undefined after `onError` got the RecordError (it
 * names the file and fields).
 */
export function tryReadRecord<S extends z.ZodType>(schema: S, file: string, onError?: (e: RecordError) => void): z.infer<S> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return readRecord(schema, file);
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    onError?.(e);
    return undefined;
  }
}

/** Writes a JSON record atomically: `JSON.stringify(value, null, 2)` and a newline (the format of every ferlab record). */
export function writeRecord(file: string, value: unknown): void {
  writeJsonAtomic(file, value);
}

/** Writes a JSON-lines record atomically: one compact `JSON.stringify` per value, each line ending in a newline. */
export function writeJsonLines(file: string, values: readonly unknown[]): void {
  writeFileAtomic(file, values.map((v) => JSON.stringify(v)).join('\n') + '\n');
}

/**
 * Reads a JSON-lines record (blank lines ignored) and checks each line against `schema`.
 * @throws RecordError naming `file:line` and the field path for a line that is not JSON or not of the schema's shape,
 *   or naming the file when it cannot be read.
 */
export function readJsonLines<S extends z.ZodType>(schema: S, file: string): Array<z.infer<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RecordError(file, [`cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  const out: Array<z.infer<S>> = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new RecordError(`${file}:${i + 1}`, [`not valid JSON (${(e as Error).message})`]);
    }
    out.push(parseRecord(schema, v, `${file}:${i + 1}`));
  });
  return out;
}
