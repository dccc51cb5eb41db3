/**
 * A journal append that fails part-way (disk full) must leave the journal readable: the failed line is cut back to
 * the journal's previous length (so the next append does not glue a line to a fragment) and `sweep --resume` reads the
 * journal. The failure is simulated by replacing node:fs's write functions with ones that write half of the bytes and
 * then throw ENOSPC, once; both the write path of today's code (appendFileSync) and a plain writeSync are covered.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs, { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SweepEngine } from '../../src/sweep/engine';
import { appendEvent, JournalWriteError, readJournal } from '../../src/sweep/journal';
import { resolveSweep } from '../../src/sweep/load';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/fixtures';

const SPEC = {
  name: 'journal-failure',
  model: 'baseline',
  labels: 'majority' as const,
  base: { epochs: 3 },
  space: { lr: { kind: 'choice' as const, values: [0.001, 0.004] } },
  objective: { metric: 'accuracy' as const },
  sampler: { name: 'grid' as const },
  budget: { trials: 2 },
  seed: 1,
};

/** Makes the next write of node:fs (appendFileSync or writeSync) write half of its bytes and throw ENOSPC; returns undo. */
function failNextWritePartWay(): () => void {
  const mfs = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const orig = { appendFileSync: mfs.appendFileSync, writeSync: mfs.writeSync };
  let armed = true;
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  const restore = () => Object.assign(mfs, orig);
  mfs.appendFileSync = (fd: unknown, data: unknown, ...rest: unknown[]) => {
    if (!armed) return orig.appendFileSync(fd, data, ...rest);
    armed = false;
    const buf = Buffer.from(String(data));
    orig.writeSync(fd, buf, 0, buf.length >> 1);
    throw enospc();
  };
  mfs.writeSync = (fd: unknown, buf: unknown, off?: unknown, len?: unknown, ...rest: unknown[]) => {
    if (!armed) return orig.writeSync(fd, buf, off, len, ...rest);
    armed = false;
    const b = buf as Buffer;
    const o = typeof off === 'number' ? off : 0;
    const l = typeof len === 'number' ? len : b.length - o;
    orig.writeSync(fd, b, o, l >> 1);
    throw enospc();
  };
  return restore;
}

test('an append that fails part-way leaves the journal byte-identical to before, and says so', () => {
  const dir = tempDir('ferlab-journal-fail-');
  const file = join(dir, 'journal.jsonl');
  appendEvent(file, { event: 'header', version: 1, sweep: 's', specHash: 'h', time: 1 });
  const before = readFileSync(file);
  const restore = failNextWritePartWay();
  let err: unknown;
  try {
    appendEvent(file, { event: 'created', trial: 0, params: { lr: 0.001 }, attempt: 1, time: 2 });
  } catch (e) {
    err = e;
  } finally {
    restore();
  }
  assert.ok(err instanceof JournalWriteError, `a JournalWriteError, got ${String(err)}`);
  assert.match((err as Error).message, /cannot write the sweep journal .*journal\.jsonl: ENOSPC.*cut back to its last whole line/);
  assert.ok((err as JournalWriteError).rolledBack);
  assert.equal(readFileSync(file), before, 'no fragment of the failed line is left');
  appendEvent(file, { event: 'created', trial: 0, params: { lr: 0.001 }, attempt: 1, time: 3 });
  assert.equal(
    readJournal(file).events.map((e) => e.time),
    [3],
  );
});

test('a failed append mid-sweep, then more events: sweep --resume reads the journal (with the events that were written)', () => {
  const resolved = resolveSweep({ spec: SPEC });
  const dir = tempDir('ferlab-journal-resume-');
  writeFileSync(
    join(dir, 'sweep.json'),
    JSON.stringify({
      kind: 'sweep',
      name: SPEC.name,
      quick: false,
      spec: resolved.spec,
      slice: resolved.slice,
      source: null,
      command: 'test',
      workers: 1,
      environment: {},
      started: new Date().toISOString(),
      state: 'running',
    }),
  );
  const engine = SweepEngine.create(dir, resolved.spec);
  const t = engine.ask()!;
  assert.is(engine.report(t.trial, 1, 0.5), 'continue');
  const restore = failNextWritePartWay();
  try {
    assert.throws(() => engine.report(t.trial, 2, 0.6), /ENOSPC/);
  } finally {
    restore();
  }
  // the sweep would stop here; the events below stand for anything written after the failure (e.g. by a resume)
  assert.is(engine.report(t.trial, 2, 0.6), 'continue');
  engine.tell(t.trial, { state: 'complete', value: 0.6 });

  const { engine: again } = SweepEngine.resume(dir, resolved.spec);
  const rec = again.trials()[0];
  assert.is(rec.state, 'complete');
  assert.equal(
    [...rec.intermediates.entries()],
    [
      [1, 0.5],
      [2, 0.6],
    ],
  );
  // the command line: --resume reads the journal, then stops only at the (unreachable) queue
  const r = runCli(['sweep', '--resume', dir, '--queue', 'redis://127.0.0.1:1']);
  assert.is(r.status, 1, r.out);
  assert.not.match(r.out, /corrupt journal line/);
  assert.match(r.out, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
});

test.run();
