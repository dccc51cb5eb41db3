/**
 * src/util/atomic.ts writeFileAtomic: after the rename, the directory is fsynced (the rename is durable only once the
 * directory's entry is on disk; fsync(2)). Observed by wrapping node:fs's openSync / fsyncSync / renameSync and
 * recording the order of the calls.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs, { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/util/atomic';
import { tempDir } from '../helpers/fixtures';

test('writeFileAtomic: temp file fsynced, renamed, then the directory fsynced', () => {
  const dir = tempDir('ferlab-atomic-');
  const file = join(dir, 'record.json');
  const mfs = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const orig = { openSync: mfs.openSync, fsyncSync: mfs.fsyncSync, renameSync: mfs.renameSync };
  const fdPath = new Map<unknown, string>();
  const calls: string[] = [];
  mfs.openSync = (p: unknown, ...rest: unknown[]) => {
    const fd = orig.openSync(p, ...rest);
    fdPath.set(fd, String(p));
    return fd;
  };
  mfs.fsyncSync = (fd: unknown) => {
    const p = fdPath.get(fd) ?? '?';
    calls.push(`fsync ${p === dir ? '<dir>' : p.startsWith(`${file}.tmp-`) ? '<tmp>' : p}`);
    return orig.fsyncSync(fd);
  };
  mfs.renameSync = (a: unknown, b: unknown) => {
    calls.push(`rename ${String(a).startsWith(`${file}.tmp-`) ? '<tmp>' : a} -> ${b === file ? '<file>' : b}`);
    return orig.renameSync(a, b);
  };
  try {
    writeFileAtomic(file, '{"a":1}\n');
  } finally {
    Object.assign(mfs, orig);
  }
  assert.equal(calls, ['fsync <tmp>', 'rename <tmp> -> <file>', 'fsync <dir>']);
  assert.is(readFileSync(file, 'utf8'), '{"a":1}\n');
});

test.run();
