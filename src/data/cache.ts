import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { IMAGE_PIXELS, FERPLUS_NUM_VOTES } from './classes';
import type { FolderCacheKey } from './folder';
import { writeFileAtomic } from '../util/atomic';

/** Identity of a source file for cache keys: name, size in bytes and modification time in ms. */
export interface SourceStamp {
  name: string;
  size: number;
  mtimeMs: number;
}

/** Size + mtime of a file (the cache key); the name is the base name only, so moving the folder is fine. */
export function stampOf(path: string): SourceStamp {
  const st = statSync(path);
  return { name: basename(path), size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}

/** The arrays a cache file holds (all uint8, see FerDataset), and JSON metadata of the source. */
export interface CachedArrays {
  n: number;
  pixels: Uint8Array;
  emotion: Uint8Array;
  usage: Uint8Array;
  /** Present when fer2013new.csv was present when the cache was built. */
  votes?: Uint8Array;
  named?: Uint8Array;
  fer2013Md5: string;
  /** Anything JSON the source needs back (a folder dataset's provenance and file list), stored in the header. */
  meta?: unknown;
}

/** Sources a CSV cache was built from; a cache is valid only for exactly these stamps. */
export interface CsvCacheKey {
  fer2013: SourceStamp;
  ferplus: SourceStamp | null;
}

/**
 * What a cache was built from: the CSV files' stamps, or a folder dataset's image list, options and conversion
 * (FolderCacheKey of folder.ts). A cache is used only when its key equals the current one exactly.
 */
export type CacheKey = CsvCacheKey | FolderCacheKey;

const MAGIC = 'FERLABC1';
const VERSION = 1;

/**
 * Cache file name for a data directory: one file per data directory (a hash of its absolute path), so caches of
 * several data directories (the real data, test fixtures) live side by side in one cache directory.
 * @param kind file name prefix (`fer2013-ferplus` for the CSV files, `folder` for image-folder datasets).
 * @param salt hashed with the path (a folder dataset's options: each set of options keeps its own cache file).
 */
export function cacheFileName(dataDir: string, kind = 'fer2013-ferplus', salt = ''): string {
  const h = createHash('sha1').update(resolve(dataDir));
  if (salt) h.update(`\0${salt}`);
  return `${kind}.v${VERSION}.${h.digest('hex').slice(0, 10)}.bin`;
}

interface Header {
  version: number;
  key: CacheKey;
  n: number;
  hasFerPlus: boolean;
  fer2013Md5: string;
  meta?: unknown;
  payloadBytes: number;
  payloadSha1: string;
}

function sections(n: number, hasFerPlus: boolean): Array<[keyof CachedArrays, number]> {
  const s: Array<[keyof CachedArrays, number]> = [
    ['pixels', n * IMAGE_PIXELS],
    ['emotion', n],
    ['usage', n],
  ];
  if (hasFerPlus) s.push(['votes', n * FERPLUS_NUM_VOTES], ['named', n]);
  return s;
}

/**
 * Writes the dataset cache atomically (temporary file + fsync + rename): 8-byte magic, uint32 header length,
 * JSON header (sources' size+mtime, row count, SHA-1 of the payload), then the raw uint8 arrays.
 */
export function writeCache(cacheDir: string, dataDir: string, key: CacheKey, a: CachedArrays, fileName = cacheFileName(dataDir)): string {
  const hasFerPlus = a.votes !== undefined;
  const parts = sections(a.n, hasFerPlus).map(([name]) => a[name] as Uint8Array);
  const sha = createHash('sha1');
  let bytes = 0;
  for (const p of parts) {
    sha.update(p);
    bytes += p.byteLength;
  }
  const header: Header = {
    version: VERSION,
    key,
    n: a.n,
    hasFerPlus,
    fer2013Md5: a.fer2013Md5,
    ...(a.meta === undefined ? {} : { meta: a.meta }),
    payloadBytes: bytes,
    payloadSha1: sha.digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const path = join(cacheDir, fileName);
  writeFileAtomic(path, [MAGIC, len, json, ...parts]);
  return path;
}

/** Outcome of {@link readCache}: the arrays, or why the cache cannot be used (missing, stale, corrupt). */
export type CacheRead = { ok: true; arrays: CachedArrays; path: string } | { ok: false; reason: string; path: string };

/**
 * Reads the dataset cache if it exists, was built from exactly the sources in `key` (size + mtime) and its payload
 * SHA-1 matches. Never throws for a bad cache: returns `{ok: false, reason}` so the caller rebuilds it.
 */
export function readCache(cacheDir: string, dataDir: string, key: CacheKey, fileName = cacheFileName(dataDir)): CacheRead {
  const path = join(cacheDir, fileName);
  if (!existsSync(path)) return { ok: false, reason: 'no cache yet', path };
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    return { ok: false, reason: `unreadable (${(e as Error).message})`, path };
  }
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) return { ok: false, reason: 'corrupt (bad magic)', path };
  const hlen = buf.readUInt32LE(8);
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + hlen));
  } catch {
    return { ok: false, reason: 'corrupt (bad header)', path };
  }
  if (header.version !== VERSION) return { ok: false, reason: `old format v${header.version}`, path };
  if (JSON.stringify(header.key) !== JSON.stringify(key)) return { ok: false, reason: 'stale (source files changed)', path };
  const start = 12 + hlen;
  if (buf.length - start !== header.payloadBytes)
    return { ok: false, reason: `corrupt (payload is ${buf.length - start} bytes, expected ${header.payloadBytes})`, path };
  const payload = buf.subarray(start);
  if (createHash('sha1').update(payload).digest('hex') !== header.payloadSha1) return { ok: false, reason: 'corrupt (checksum mismatch)', path };
  const arrays: Partial<CachedArrays> = { n: header.n, fer2013Md5: header.fer2013Md5, ...(header.meta === undefined ? {} : { meta: header.meta }) };
  let off = 0;
  for (const [name, len] of sections(header.n, header.hasFerPlus)) {
    (arrays as Record<string, unknown>)[name] = new Uint8Array(payload.buffer, payload.byteOffset + off, len);
    off += len;
  }
  return { ok: true, arrays: arrays as CachedArrays, path };
}
