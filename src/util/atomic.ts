import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a file atomically: the bytes go to a temporary file in the same directory, are fsync'ed, the temporary file
 * is renamed over `path`, and the directory is fsync'ed, so that the rename itself survives a power loss (POSIX
 * rename(2) is atomic but not durable until the directory's entry is on disk; fsync(2) "does not necessarily ensure
 * that the entry in the directory containing the file has also reached disk. For that an explicit fsync() on a file
 * descriptor for the directory is also needed"). Readers see the old file or the whole new one, never a half-written
 * one; on any error before the rename the temporary file is removed and the error rethrown. Platforms that cannot
 * open or fsync a directory (Windows) skip that last step.
 *
 * @param parts file content, written in order (Buffers or typed arrays; strings as UTF-8).
 */
export function writeFileAtomic(path: string, parts: ReadonlyArray<string | ArrayBufferView> | string | ArrayBufferView): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const list = Array.isArray(parts) ? parts : [parts as string | ArrayBufferView];
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    for (const part of list) {
      const buf = typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    crashPointForTests(path);
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}

/**
 * fsyncs a directory (its entries: a rename or a new file in it). Opening a directory read-only and fsyncing it is
 * refused on some platforms (Windows: EISDIR / EPERM): then nothing is done, the file's own fsync still holds its bytes.
 * @throws Error from fsync itself on platforms that support it (an I/O error).
 */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  } finally {
    closeSync(fd);
  }
}

/** {@link writeFileAtomic} for a JSON value (2-space indented, trailing newline). */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

const killCounts = new Map<string, number>();

/**
 * Fault injection for the crash-safety tests: with `FERLAB_TEST_KILL_BEFORE_RENAME=<file name>:<n>`, the process
 * SIGKILLs itself on the n-th atomic write of a file of that name, after the temporary file is written and before the
 * rename: the moment a crash would be worst. Unset (always, outside tests), this does nothing.
 */
function crashPointForTests(path: string): void {
  const spec = process.env.FERLAB_TEST_KILL_BEFORE_RENAME;
  if (!spec) return;
  const [name, nth] = spec.split(':');
  if (basename(path) !== name) return;
  const count = (killCounts.get(name) ?? 0) + 1;
  killCounts.set(name, count);
  if (count === Number(nth)) process.kill(process.pid, 'SIGKILL');
}
