/** Readers of run-record files for tests, and the comparison of records "timings aside". */
import { readFileSync } from 'node:fs';

/** Fields that differ between two runs of the same training (wall-clock timings, and the record's own folder). */
export const TIMING = new Set(['trainSeconds', 'valSeconds', 'imagesPerSec', 'wallSeconds', 'dir']);

/** `v` with every {@link TIMING} field removed, at any depth. */
export const dropTimings = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(dropTimings)
    : typeof v === 'object' && v !== null
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([k]) => !TIMING.has(k))
            .map(([k, x]) => [k, dropTimings(x)]),
        )
      : v;

/** A JSON file, parsed. */
export const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

/** A JSON-lines file (epochs.jsonl, journal.jsonl), one parsed value per line. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON lines of several record kinds, indexed freely by the tests
export const readJsonl = (f: string): any[] =>
  readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
