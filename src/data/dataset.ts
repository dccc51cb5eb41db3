import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCache, stampOf, writeCache, type CacheKey, type CsvCacheKey } from './cache';
import { DataError } from './errors';
import { FER2013_MD5, locateFer2013, readFer2013 } from './fer2013';
import { checkFerPlusAlignment, readFerPlus } from './ferplus';
import {
  DATASET_SPEC_FILE,
  DatasetSpecSchema,
  detectFolderLayout,
  FOLDER_LAYOUT_HELP,
  loadFolderDataset,
  readDatasetSpec,
  type DatasetSpec,
  type FolderOptions,
  type FolderSource,
} from './folder';
import { defaultCacheDir, defaultDataDir } from '../util/paths';

/**
 * FER2013 joined with the FER+ votes by row position: everything ferlab needs from the two CSV files, as compact
 * uint8 arrays (about 83 MB for the full dataset). Images stay uint8; batches are converted to float on the fly.
 * An image-folder dataset (folder.ts) has the same shape: its images converted to 48x48 grayscale, its class folders
 * mapped to FER2013 labels, its splits as usage 0/1/2, no FER+ votes, and the image file of every row in `files`.
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
  /** Folder datasets: `[n]` image file of each row, relative to `source.folder.root` (`/`-separated). */
  files?: string[];
  /**
   * Provenance: source files (size, mtime), MD5 of fer2013.csv, and whether this load parsed CSV, decoded images or
   * read the cache; for folder datasets the folder's layout, class mapping, splits, ignored and skipped files.
   */
  source: {
    /** `csv`: fer2013.csv(.gz) (+ fer2013new.csv); `folder`: an image-folder dataset. */
    kind: 'csv' | 'folder';
    dataDir: string;
    key: CacheKey;
    /** MD5 of the uncompressed fer2013.csv; '' for folder datasets. */
    fer2013Md5: string;
    /** True when the MD5 equals the official FER2013_MD5 (always false for folder datasets). */
    fer2013Official: boolean;
    loadedFrom: 'csv' | 'images' | 'cache';
    cachePath?: string;
    /** Folder datasets: layout, class mapping, split origins, ignored / skipped files (FolderSource of folder.ts). */
    folder?: FolderSource;
  };
}

/** Options of {@link loadDataset}. */
export interface LoadOptions {
  /**
   * Folder with fer2013.csv(.gz) and fer2013new.csv, or an image-folder dataset (class folders, optionally inside
   * train/ test/ val/), or a dataset settings `.json` file (DatasetSpecSchema); default FERLAB_DATA_DIR or `data/`.
   */
  dataDir?: string;
  /** An explicit dataset setting (overrides `ferlab-dataset.json` and detection); its `path` defaults to `dataDir`. */
  dataset?: DatasetSpec;
  /** Skip unreadable images of a folder dataset (counted in the provenance); default: env FERLAB_SKIP_BAD=1, else the setting. */
  skipBad?: boolean;
  /** Folder for the binary cache; default FERLAB_CACHE_DIR or `.cache/`. `false` disables the cache. */
  cacheDir?: string | false;
  /** Progress messages (default: none). */
  log?: (msg: string) => void;
}

/** Which dataset a data directory holds: the FER2013 CSV files or an image-folder dataset (with its options). */
export type DataSource =
  { kind: 'csv'; dir: string; specFile: string | null } | { kind: 'folder'; dir: string; specFile: string | null; options: Partial<FolderOptions> };

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Decides what `dataDir` holds: an explicit `dataset` setting wins; else a `.json` file is a dataset settings file;
 * else a folder with `ferlab-dataset.json` follows it; else a folder with fer2013.csv(.gz) is the CSV source; else a
 * folder holding sub-folders (train/test/val or class folders) is an image-folder dataset; anything else is treated
 * as the CSV source (whose loader explains what is missing).
 * @throws DataError for an invalid settings file or setting.
 */
export function resolveDataSource(dataDir: string, dataset?: DatasetSpec): DataSource {
  let spec: ReturnType<typeof readDatasetSpec>['spec'] | undefined;
  let dir = dataDir;
  let specFile: string | null = null;
  if (dataset) {
    const r = DatasetSpecSchema.safeParse(dataset);
    if (!r.success)
      throw new DataError(dataDir, undefined, `invalid dataset setting: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    spec = r.data;
    if (spec.path) dir = resolve(dataDir, spec.path);
  } else if (dataDir.endsWith('.json') && isFile(dataDir)) {
    specFile = resolve(dataDir);
    ({ spec, path: dir } = readDatasetSpec(specFile));
  } else if (isFile(join(dataDir, DATASET_SPEC_FILE))) {
    specFile = resolve(dataDir, DATASET_SPEC_FILE);
    ({ spec, path: dir } = readDatasetSpec(specFile));
  }
  if (spec) {
    if (spec.kind === 'csv') return { kind: 'csv', dir, specFile };
    const { kind: _k, path: _p, ...options } = spec;
    return { kind: 'folder', dir, specFile, options };
  }
  if (existsSync(join(dataDir, 'fer2013.csv')) || existsSync(join(dataDir, 'fer2013.csv.gz'))) return { kind: 'csv', dir, specFile };
  if (detectFolderLayout(dataDir)) return { kind: 'folder', dir, specFile, options: {} };
  return { kind: 'csv', dir, specFile };
}

/**
 * Loads the dataset of a data directory (see {@link resolveDataSource}): FER2013 and, when present, the FER+ votes
 * from the CSV files, or an image-folder dataset (folder.ts loadFolderDataset: Kaggle FER2013 copy, RAF-DB, CK+, ...).
 *
 * CSV: the first load parses and validates the CSV files (about 10 s for the full data) and writes a binary cache
 * atomically; later loads read the cache (well under a second) as long as the sources' size and mtime match and the
 * cache's checksum is right. A stale or corrupt cache is rebuilt, never trusted. Folder datasets are cached the same
 * way, keyed by their image list with sizes and mtimes.
 *
 * @throws DataError for a missing data directory or file (with download instructions), a bad row (file, line,
 *   what was expected), a truncated gzip stream, or FER+ rows that do not line up with FER2013 rows; for folder
 *   datasets an unreadable image (unless skipBad), unknown or empty class folders, no images at all. Nothing is
 *   written to the cache unless every row was valid.
 */
export async function loadDataset(opts: LoadOptions = {}): Promise<FerDataset> {
  const source = resolveDataSource(opts.dataDir ?? defaultDataDir(), opts.dataset);
  const cacheDir = opts.cacheDir === false ? undefined : (opts.cacheDir ?? defaultCacheDir());
  if (source.kind === 'folder') {
    const envSkip = process.env.FERLAB_SKIP_BAD === '1' || process.env.FERLAB_SKIP_BAD === 'true';
    const skipBad = opts.skipBad ?? (envSkip || (source.options.skipBad ?? false));
    return loadFolderDataset(source.dir, { ...source.options, skipBad }, { cacheDir, specFile: source.specFile, log: opts.log });
  }
  const dataDir = source.dir;
  const log = opts.log ?? (() => {});
  let ferPath: string;
  try {
    ferPath = locateFer2013(dataDir);
  } catch (e) {
    if (e instanceof DataError && existsSync(dataDir))
      throw new DataError(e.file, e.line, `${e.message.slice(e.file.length + 2)}\nOr point ferlab at an image-folder dataset instead. ${FOLDER_LAYOUT_HELP}`);
    throw e;
  }
  const plusPath = join(dataDir, 'fer2013new.csv');
  const hasPlus = existsSync(plusPath);
  const key: CsvCacheKey = { fer2013: stampOf(ferPath), ferplus: hasPlus ? stampOf(plusPath) : null };

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
        source: {
          kind: 'csv',
          dataDir,
          key,
          fer2013Md5: a.fer2013Md5,
          fer2013Official: a.fer2013Md5 === FER2013_MD5,
          loadedFrom: 'cache',
          cachePath: cached.path,
        },
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
    source: { kind: 'csv', dataDir, key, fer2013Md5: fer.md5, fer2013Official: fer.md5 === FER2013_MD5, loadedFrom: 'csv', cachePath },
  };
}
