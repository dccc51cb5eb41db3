import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { journalLine, JOURNAL_FILE, parseJournalEvent, type HeaderEvent, type JournalEvent, type TrialEvent, type TrialState } from '../records/sweep';
import type { Params } from './space';

/**
 * The journal of a sweep: an append-only JSON-lines file (`journal.jsonl` in the sweep folder) with one event per
 * line, the sweep's only state. A header line first (`{ event: 'header', version, sweep, specHash, time }`), then
 * trial events:
 * - `{ event: 'created', trial, params, attempt, time }`: a trial (attempt 1) or a retry of it (attempt n > 1);
 * - `{ event: 'intermediate', trial, epoch, value, time }`: the objective after an epoch (epochs count from 1);
 * - `{ event: 'state', trial, state, value?, error?, runDir?, time }`: running, complete, pruned or failed.
 *
 * Crash safety: each line is written whole (newline included) at the end of the file, then `fsyncSync`, so a crash
 * leaves at most the last line torn. Replay ignores a torn last line (no trailing newline, or not JSON) and
 * {@link dropTornTail} cuts it off before appending again; a bad line anywhere else is an error naming the file and
 * line. An append that fails part-way (disk full, I/O error) cuts the file back to its length before the append, so
 * the journal still ends with a whole line, and throws {@link JournalWriteError}: the sweep stops there (src/sweep/
 * runner.ts), and `--resume` reads the journal as it was before the failed event. Live state and replayed state come from the same reducer ({@link applyEvent}), so a resumed sweep
 * sees exactly the trials it would have seen had it never stopped.
 *
 * Part of ferlab's own hyper-parameter search engine (src/sweep).
 */

// the journal's file name, format version, trial states and event schemas: src/records/sweep.ts
export {
  CreatedEventSchema,
  HeaderEventSchema,
  IntermediateEventSchema,
  JOURNAL_FILE,
  JOURNAL_VERSION,
  StateEventSchema,
  TRIAL_STATES,
  type CreatedEvent,
  type HeaderEvent,
  type IntermediateEvent,
  type JournalEvent,
  type StateEvent,
  type TrialEvent,
  type TrialState,
} from '../records/sweep';

/** Everything known about one trial, rebuilt from its events. */
export interface TrialRecord {
  /** Trial number: 0, 1, 2, ... in order of creation. */
  trial: number;
  params: Params;
  state: TrialState;
  /** The objective: final value of a complete trial; for a pruned one, the value it was pruned at. */
  value?: number;
  /** Objective after each finished epoch of the current attempt: epoch (from 1) -> value. */
  intermediates: Map<number, number>;
  /** Attempts so far (1 + retries). */
  attempts: number;
  /** Why the trial failed (state failed). */
  error?: string;
  /** Run folder of the current attempt, when the caller gave one. */
  runDir?: string;
  /** Creation time of the trial (first attempt), Unix ms. */
  created: number;
}

/** The path of the journal in a sweep folder. */
export function journalPath(dir: string): string {
  return join(dir, JOURNAL_FILE);
}

/**
 * A journal append that failed (disk full, I/O error): the event is not in the journal. `rolledBack` says whether the
 * file was cut back to its length before the append (then it ends with a whole line and reads as before); when even
 * that failed, no further append to the file is made by this process ({@link appendEvent} refuses), and replay ignores
 * the torn last line.
 */
export class JournalWriteError extends Error {
  constructor(
    readonly file: string,
    readonly rolledBack: boolean,
    cause: Error,
  ) {
    super(
      `cannot write the sweep journal ${file}: ${cause.message}; ${rolledBack ? 'the journal was cut back to its last whole line' : 'the journal could not be cut back either: its torn last line is ignored on --resume'}`,
    );
    this.name = 'JournalWriteError';
  }
}

/** Journals whose torn tail could not be cut off after a failed append: no more appends to them in this process. */
const broken = new Set<string>();

/**
 * Appends one event as one line: the JSON and its newline written at the end of the file, then `fsyncSync`; the
 * first write of a new file also fsyncs its folder, so the file itself survives a crash. When the write or the fsync
 * fails part-way, the file is truncated back to its length before the append (and fsynced), so the next append does
 * not glue a line to a fragment.
 * @throws JournalWriteError when the line cannot be written (nothing of it stays in the file when `rolledBack`), or
 *   when an earlier failed append to `file` could not be rolled back.
 */
export function appendEvent(file: string, event: JournalEvent): void {
  if (broken.has(file)) throw new JournalWriteError(file, false, new Error('an earlier append failed and could not be rolled back'));
  const isNew = !existsSync(file);
  const line = Buffer.from(journalLine(event), 'utf8');
  let fd: number;
  try {
    fd = openSync(file, 'a');
  } catch (e) {
    throw new JournalWriteError(file, true, e as Error);
  }
  try {
    const before = fstatSync(fd).size;
    try {
      let off = 0;
      while (off < line.length) off += writeSync(fd, line, off, line.length - off);
      fsyncSync(fd);
    } catch (e) {
      let rolledBack = false;
      try {
        ftruncateSync(fd, before);
        fsyncSync(fd);
        rolledBack = true;
      } catch {
        broken.add(file);
      }
      throw new JournalWriteError(file, rolledBack, e as Error);
    }
  } finally {
    closeSync(fd);
  }
  if (isNew) fsyncDir(dirname(file));
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // not supported for folders on every platform (Windows); the file's own fsync still holds its bytes
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A journal as read from disk. */
export interface JournalContents {
  /** The header, or undefined for an empty journal (or one whose only line is torn). */
  header?: HeaderEvent;
  /** The trial events, in file order. */
  events: TrialEvent[];
  /** 1-based line number of each event of `events`. */
  lines: number[];
  /** Bytes up to the end of the last good line: the journal's length once a torn last line is cut off. */
  goodBytes: number;
  /** The torn last line that was ignored (undefined when the file ends cleanly). */
  torn?: string;
}

/**
 * Reads and checks a journal: every line must be a JSON event of the format above and the first one the header.
 * A torn LAST line (no trailing newline, or not valid JSON) is ignored and reported in `torn`.
 * @throws Error `<file>:<line>: ...` for a corrupt line elsewhere, an event of an unknown shape, or a missing header.
 */
export function readJournal(file: string): JournalContents {
  const text = readFileSync(file, 'utf8');
  const parts = text.split('\n');
  // after the last '\n' comes either '' (clean end) or a line the crash tore
  let torn: string | undefined = parts.pop() || undefined;
  const out: JournalContents = { events: [], lines: [], goodBytes: 0 };
  let bytes = 0;
  for (let i = 0; i < parts.length; i++) {
    const lineNo = i + 1;
    const line = parts[i];
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      if (i === parts.length - 1 && torn === undefined) {
        torn = line;
        break;
      }
      throw new Error(`${file}:${lineNo}: corrupt journal line (not JSON: ${(e as Error).message}): ${line.slice(0, 120)}`);
    }
    const ev = parseJournalEvent(json, file, lineNo);
    if (lineNo === 1 && ev.event !== 'header') throw new Error(`${file}:1: the first line is not a journal header`);
    if (ev.event === 'header') {
      if (lineNo !== 1) throw new Error(`${file}:${lineNo}: a second journal header`);
      out.header = ev;
    } else {
      out.events.push(ev);
      out.lines.push(lineNo);
    }
    bytes += Buffer.byteLength(line, 'utf8') + 1;
  }
  out.goodBytes = bytes;
  if (torn !== undefined) out.torn = torn;
  return out;
}

/**
 * Cuts a torn last line off the journal (to `contents.goodBytes`) so that the next append starts a fresh line, and
 * fsyncs. Does nothing when the journal ends cleanly.
 */
export function dropTornTail(file: string, contents: JournalContents): void {
  if (contents.torn === undefined) return;
  truncateSync(file, contents.goodBytes);
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The reducer of trial events: applies one event to the trial records (in place). Trials are numbered in order of
 * creation; a `created` event with attempt n > 1 restarts a running or failed trial with the same params (its
 * intermediates, value and error cleared); intermediate values and state changes need a running trial; a complete
 * trial needs a value; a pruned one without a value takes its last intermediate value.
 * @throws Error describing the impossible event (replay prefixes it with file and line).
 */
export function applyEvent(records: TrialRecord[], ev: TrialEvent): void {
  if (ev.event === 'created') {
    if (ev.trial === records.length) {
      if (ev.attempt !== 1) throw new Error(`trial ${ev.trial} created with attempt ${ev.attempt} (a new trial starts at attempt 1)`);
      records.push({ trial: ev.trial, params: { ...ev.params }, state: 'running', intermediates: new Map(), attempts: 1, created: ev.time });
      return;
    }
    const r = records[ev.trial];
    if (!r) throw new Error(`trial ${ev.trial} created out of order (next trial number is ${records.length})`);
    if (ev.attempt !== r.attempts + 1) throw new Error(`trial ${ev.trial}: attempt ${ev.attempt} follows attempt ${r.attempts}`);
    if (r.state !== 'running' && r.state !== 'failed') throw new Error(`trial ${ev.trial} is ${r.state} and cannot be retried`);
    if (JSON.stringify(ev.params) !== JSON.stringify(r.params)) throw new Error(`trial ${ev.trial}: a retry must keep the params of the trial`);
    Object.assign(r, { state: 'running', attempts: ev.attempt, intermediates: new Map() });
    delete r.value;
    delete r.error;
    delete r.runDir;
    return;
  }
  const r = records[ev.trial];
  if (!r) throw new Error(`event for unknown trial ${ev.trial}`);
  if (r.state !== 'running')
    throw new Error(`trial ${ev.trial} is ${r.state}: no ${ev.event === 'state' ? `'${ev.state}' state` : 'intermediate value'} can follow`);
  if (ev.event === 'intermediate') {
    r.intermediates.set(ev.epoch, ev.value);
    return;
  }
  if (ev.runDir !== undefined) r.runDir = ev.runDir;
  switch (ev.state) {
    case 'running':
      return;
    case 'complete':
      if (ev.value === undefined || !Number.isFinite(ev.value)) throw new Error(`trial ${ev.trial} complete without a finite value`);
      r.state = 'complete';
      r.value = ev.value;
      return;
    case 'pruned': {
      r.state = 'pruned';
      const last = lastIntermediate(r);
      const value = ev.value ?? last?.value;
      if (value !== undefined) r.value = value;
      return;
    }
    case 'failed':
      r.state = 'failed';
      r.error = ev.error ?? 'unknown error';
      return;
  }
}

/** The intermediate value of the highest epoch of a trial, or undefined when it reported none. */
export function lastIntermediate(r: TrialRecord): { epoch: number; value: number } | undefined {
  let best: { epoch: number; value: number } | undefined;
  for (const [epoch, value] of r.intermediates) if (!best || epoch > best.epoch) best = { epoch, value };
  return best;
}

/**
 * Rebuilds trial records from events with {@link applyEvent}.
 * @param where names the source of each event in errors (e.g. `journal.jsonl:12`).
 * @throws Error `<where>: <problem>` for an impossible event.
 */
export function replayEvents(events: readonly TrialEvent[], where: (index: number) => string = (i) => `event ${i + 1}`): TrialRecord[] {
  const records: TrialRecord[] = [];
  events.forEach((ev, i) => {
    try {
      applyEvent(records, ev);
    } catch (e) {
      throw new Error(`${where(i)}: ${(e as Error).message}`);
    }
  });
  return records;
}

/**
 * Rebuilds the trial records of a journal file (readJournal, then replayEvents). A trial in state `running` means the
 * coordinator died while it ran: the caller decides whether to run it again.
 * @throws Error naming the file and line of a corrupt line or impossible event.
 */
export function replayJournal(file: string): TrialRecord[] {
  const j = readJournal(file);
  return replayEvents(j.events, (i) => `${file}:${j.lines[i]}`);
}
