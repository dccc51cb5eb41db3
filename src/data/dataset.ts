import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readCache, stampOf, writeCache, type CacheKey } from './cache';
import { FER2013_MD5, locateFer2013, readFer2013 } from './fer2013';
import { checkFerPlusAlignment, readFerPlus } from './ferplus';
import { defaultCacheDir, defaultDataDir } from '../util/paths';

/**
 * FER2013 joined with the FER+ votes by row position: everything ferlab needs from the two CSV files, as compact
 * uint8 arrays (about 83 MB for the full dataset). Images stay uint8; batches are converted to float on the fly.
 */
export interface FerDataset {
  /** Number of images (35,887 for the official file). */
  n: number;
  /** `[n, 48, 48]` uint8 grayscale 0-255. */
  pixels: Uint8Array;
  /** `[n]` FER2013 label 0-6 (FER_CLASSES). */
  emotion: Uint8Array;
  /** `[n]` USAGES index: 0 Training, 1 PublicTest, 2 PrivateTest. */
  usage: Uint8Array;
  /** FER+ votes joined by row position, or undefined when fer2013new.csv is not in the data directory. */
  ferplus?: {
    /** `[n, 10]` vote counts (FERPLUS_VOTE_COLUMNS). */
    votes: Uint8Array;
    /** `[n]` 1 when the FER+ image name is non-blank (see FerPlusTable.named). */
    named: Uint8Array;
  };
  /** Provenance: source files (size, mtime), MD5 of fer2013.csv, and whether this load parsed CSV or read the cache. */
  source: {
    dataDir: string;
    key: CacheKey;
    fer2013Md5: string;
    /** True when the MD5 equals the official FER2013_MD5. */
    fer2013Official: boolean;
    loadedFrom: 'csv' | 'cache';
    cachePath?: string;
  };
}

/** Options of {@link loadDataset}. */
export interface LoadOptions {
  /** Folder with fer2013.csv(.gz) and fer2013new.csv; default FERLAB_DATA_DIR or `data/`. */
  dataDir?: string;
  /** Folder for the binary cache; default FERLAB_CACHE_DIR or `.cache/`. `false` disables the cache. */
  cacheDir?: string | false;
  /** Progress messages (default: none). */
  log?: (msg: string) => void;
}

/**
 * Loads FER2013 and, when present, the FER+ votes. The first load parses and validates the CSV files (about 10 s
 * for the full data) and writes a binary cache atomically; later loads read the cache (well under a second) as long
 * as the sources' size and mtime match and the cache's checksum is right. A stale or corrupt cache is rebuilt,
 * never trusted.
 *
 * @throws DataError for a missing data directory or file (with download instructions), a bad row (file, line,
 *   what was expected), a truncated gzip stream, or FER+ rows that do not line up with FER2013 rows. Nothing is
 *   written to the cache unless every row was valid.
 */
export async function loadDataset(opts: LoadOptions = {}): Promise<FerDataset> {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const log = opts.log ?? (() => {});
  const ferPath = locateFer2013(dataDir);
  const plusPath = join(dataDir, 'fer2013new.csv');
  const hasPlus = existsSync(plusPath);
  const key: CacheKey = { fer2013: stampOf(ferPath), ferplus: hasPlus ? stampOf(plusPath) : null };
  const cacheDir = opts.cacheDir === false ? undefined : (opts.cacheDir ?? defaultCacheDir());

  if (cacheDir) {
    const cached = readCache(cacheDir, dataDir, key);
    if (cached.ok) {
      const a = cached.arrays;
      log(`data: ${a.n} images from cache ${cached.path}`);
      return {
        n: a.n,
        pixels: a.pixels,
        emotion: a.emotion,
        usage: a.usage,
        ferplus: a.votes && a.named ? { votes: a.votes, named: a.named } : undefined,
        source: { dataDir, key, fer2013Md5: a.fer2013Md5, fer2013Official: a.fer2013Md5 === FER2013_MD5, loadedFrom: 'cache', cachePath: cached.path },
      };
    }
    log(`data: cache ${cached.path}: ${cached.reason}; parsing CSV`);
  }

  const t0 = Date.now();
  const fer = await readFer2013(ferPath);
  let ferplus: FerDataset['ferplus'];
  if (hasPlus) {
    const plus = await readFerPlus(plusPath);
    checkFerPlusAlignment(fer.usage, ferPath, plus, plusPath);
    ferplus = { votes: plus.votes, named: plus.named };
  }
  log(`data: parsed ${fer.n} images${hasPlus ? ' + FER+ votes' : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (fer.md5 !== FER2013_MD5) {
    log(`data: warning: ${ferPath} MD5 is ${fer.md5}, not the official ${FER2013_MD5}; results will not be comparable to published ones`);
  }
  let cachePath: string | undefined;
  if (cacheDir) {
    cachePath = writeCache(cacheDir, dataDir, key, {
      n: fer.n,
      pixels: fer.pixels,
      emotion: fer.emotion,
      usage: fer.usage,
      votes: ferplus?.votes,
      named: ferplus?.named,
      fer2013Md5: fer.md5,
    });
    log(`data: wrote cache ${cachePath}`);
  }
  return {
    n: fer.n,
    pixels: fer.pixels,
    emotion: fer.emotion,
    usage: fer.usage,
    ferplus,
    source: { dataDir, key, fer2013Md5: fer.md5, fer2013Official: fer.md5 === FER2013_MD5, loadedFrom: 'csv', cachePath },
  };
}
