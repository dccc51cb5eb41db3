/** The sweep journal: events written and replayed into the expected records; torn last lines; corrupt lines. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEvent, dropTornTail, journalPath, readJournal, replayJournal, type JournalEvent, type TrialRecord } from '../../src/sweep/journal';
import { tempDir } from '../helpers/fixtures';

const header: JournalEvent = { event: 'header', version: 1, sweep: 's', specHash: 'abc', time: 1000 };

/** A journal with three trials: 0 complete, 1 pruned at epoch 2, 2 failed once then retried and running. */
const events: JournalEvent[] = [
  header,
  { event: 'created', trial: 0, params: { lr: 0.001, 'augment.flip': true }, attempt: 1, time: 1001 },
  { event: 'state', trial: 0, state: 'running', runDir: 'runs/t0', time: 1001 },
  { event: 'intermediate', trial: 0, epoch: 1, value: 0.4, time: 1002 },
  { event: 'created', trial: 1, params: { lr: 0.01, 'augment.flip': false }, attempt: 1, time: 1003 },
  { event: 'state', trial: 1, state: 'running', time: 1003 },
  { event: 'intermediate', trial: 0, epoch: 2, value: 0.5, time: 1004 },
  { event: 'state', trial: 0, state: 'complete', value: 0.55, time: 1005 },
  { event: 'intermediate', trial: 1, epoch: 1, value: 0.2, time: 1006 },
  { event: 'intermediate', trial: 1, epoch: 2, value: 0.25, time: 1007 },
  { event: 'state', trial: 1, state: 'pruned', time: 1008 },
  { event: 'created', trial: 2, params: { lr: 0.003, 'augment.flip': true }, attempt: 1, time: 1009 },
  { event: 'state', trial: 2, state: 'running', time: 1009 },
  { event: 'intermediate', trial: 2, epoch: 1, value: 0.3, time: 1010 },
  { event: 'state', trial: 2, state: 'failed', error: 'out of memory', time: 1011 },
  { event: 'created', trial: 2, params: { lr: 0.003, 'augment.flip': true }, attempt: 2, time: 1012 },
  { event: 'state', trial: 2, state: 'running', time: 1012 },
];

/** The records of `events`, written out by hand. */
const expected: TrialRecord[] = [
  {
    trial: 0,
    params: { lr: 0.001, 'augment.flip': true },
    state: 'complete',
    value: 0.55,
    intermediates: new Map([
      [1, 0.4],
      [2, 0.5],
    ]),
    attempts: 1,
    runDir: 'runs/t0',
    created: 1001,
  },
  {
    trial: 1,
    params: { lr: 0.01, 'augment.flip': false },
    state: 'pruned',
    value: 0.25, // its last intermediate value
    intermediates: new Map([
      [1, 0.2],
      [2, 0.25],
    ]),
    attempts: 1,
    created: 1003,
  },
  { trial: 2, params: { lr: 0.003, 'augment.flip': true }, state: 'running', intermediates: new Map(), attempts: 2, created: 1009 },
];

function writeJournal(evs: JournalEvent[]): string {
  const file = journalPath(tempDir('ferlab-sweep-journal-'));
  for (const e of evs) appendEvent(file, e);
  return file;
}

test('events are appended one JSON line each and replay into the hand-written records', () => {
  const file = writeJournal(events);
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.is(lines.length, events.length + 1, 'one line per event and a final newline');
  assert.is(lines[lines.length - 1], '');
  assert.equal(JSON.parse(lines[3]), events[3]);
  assert.equal(replayJournal(file), expected);
  const j = readJournal(file);
  assert.equal(j.header, header);
  assert.is(j.torn, undefined);
  assert.is(j.goodBytes, readFileSync(file).length);
});

test('a torn last line (no newline, or not JSON) is ignored, and dropTornTail cuts it off', () => {
  for (const tail of ['{"event":"intermediate","trial":2,"ep', '{"event":"state","trial":2,"state":"failed","error":"x","time":5}', '\u0000\u0000\u0000\n']) {
    const file = writeJournal(events);
    const clean = readFileSync(file, 'utf8');
    appendFileSync(file, tail);
    assert.equal(replayJournal(file), expected, JSON.stringify(tail));
    const j = readJournal(file);
    assert.is(j.torn, tail.replace(/\n$/, ''));
    dropTornTail(file, j);
    assert.is(readFileSync(file, 'utf8'), clean);
    appendEvent(file, { event: 'intermediate', trial: 2, epoch: 1, value: 0.35, time: 2000 });
    assert.equal(replayJournal(file)[2].intermediates, new Map([[1, 0.35]]));
  }
});

test('a corrupt line before the last one is an error naming the file and line number', () => {
  const file = writeJournal(events);
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[4] = lines[4].slice(0, 20); // line 5
  writeFileSync(file, lines.join('\n'));
  assert.throws(
    () => replayJournal(file),
    (e: Error) => e.message.startsWith(`${file}:5: corrupt journal line`),
  );

  const unknown = writeJournal(events);
  const l2 = readFileSync(unknown, 'utf8').split('\n');
  l2[2] = JSON.stringify({ event: 'oops', trial: 0 });
  writeFileSync(unknown, l2.join('\n'));
  assert.throws(
    () => replayJournal(unknown),
    (e: Error) => e.message.startsWith(`${unknown}:3: not a journal event`),
  );
});

test('impossible events are errors naming the line: unknown trial, event after the end, retry with other params', () => {
  const bad = (extra: JournalEvent, line: number, re: RegExp) => {
    const file = writeJournal([...events, extra]);
    assert.throws(
      () => replayJournal(file),
      (e: Error) => e.message.startsWith(`${file}:${line}: `) && re.test(e.message),
    );
  };
  bad({ event: 'intermediate', trial: 7, epoch: 1, value: 0.1, time: 0 }, 18, /unknown trial 7/);
  bad({ event: 'intermediate', trial: 0, epoch: 3, value: 0.1, time: 0 }, 18, /trial 0 is complete/);
  bad({ event: 'created', trial: 5, params: {}, attempt: 1, time: 0 }, 18, /out of order/);
  bad({ event: 'created', trial: 2, params: { lr: 1 }, attempt: 3, time: 0 }, 18, /retry must keep the params/);
  bad({ event: 'state', trial: 2, state: 'complete', time: 0 }, 18, /without a finite value/);
  const noHeader = join(tempDir('ferlab-sweep-journal-'), 'journal.jsonl');
  appendEvent(noHeader, events[1]);
  appendEvent(noHeader, events[2]);
  assert.throws(() => replayJournal(noHeader), /:1: the first line is not a journal header/);
});

test.run();
