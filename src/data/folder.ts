/**
 * Image-folder datasets: one folder per class, as the Kaggle copy of FER2013 ("msambare/fer2013": `train/<class>/*.jpg`,
 * `test/<class>/*.jpg`), RAF-DB, CK+, JAFFE and AffectNet exports ship. A folder dataset becomes a {@link FerDataset}
 * (pixels, `emotion` in FER_CLASSES order, `usage` 0/1/2 from the splits, no FER+ votes), so every experiment,
 * evaluation and report works on it unchanged with label set `fer`.
 *
 * Layouts (folder names case-insensitive):
 * - splits: `train/` (or `training/`), `test/` (or `testing/`), optional `val/` (or `valid/`, `validation/`), each
 *   holding class folders; a missing `val/` (or `test/`) is carved from `train/`, stratified per class and seeded.
 * - flat: class folders directly in the dataset folder (CK+, JAFFE style); test and validation are both carved.
 * Images may sit at any depth inside a class folder. Files that are not images (by extension) are ignored and counted.
 *
 * Symbolic links inside the dataset folder: a link to a folder is never followed (so a `loop -> .` link cannot count
 * images twice or make the scan endless, and a link to another folder cannot bring in images from outside); a link to
 * a file is read only when its real path (all links resolved) lies inside the dataset folder's real path. Links that
 * are not followed are ignored and counted with the non-image files (their examples say why). The dataset folder
 * itself may be a link.
 *
 * The Kaggle copy keeps FER2013's `Usage` in its file names: `train/angry/Training_3908.jpg`,
 * `test/angry/PublicTest_5543497.jpg`, `test/fear/PrivateTest_902573.jpg` (names as they appear in public code that
 * reads the copy, e.g. found with ferlab's search tools; the number after the prefix is not a row of fer2013.csv). Its
 * per-class counts (train / test: angry 3,995 / 958, disgust 436 / 111, fear 4,097 / 1,024, happy 7,215 / 1,774,
 * neutral 4,965 / 1,233, sad 4,830 / 1,247, surprise 3,171 / 831; 28,709 / 7,178) are exactly fer2013.csv's
 * Training rows and PublicTest + PrivateTest rows (torchvision's FER2013 "test" split is the same union). So when every
 * image of `test/` is named `PublicTest_*` or `PrivateTest_*`, ferlab restores the standard protocol from the names:
 * PublicTest -> val, PrivateTest -> test, and nothing is carved.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync, type Dirent } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { FER_CLASSES, IMAGE_PIXELS, IMAGE_SIZE, USAGES } from './classes';
import { cacheFileName, readCache, writeCache } from './cache';
import type { FerDataset } from './dataset';
import { DataError } from './errors';
import { IMAGE_CONVERSION, toFerPixels } from './image';
import { Rng } from '../util/rng';

/** Name of the optional dataset settings file inside a dataset folder (see {@link DatasetSpecSchema}). */
export const DATASET_SPEC_FILE = 'ferlab-dataset.json';

/** File extensions read as images (case-insensitive); anything else is ignored and counted. Decoding is sharp's. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.jpe', '.jfif', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp'] as const;

/**
 * Built-in class-folder names (lower case) -> FER2013 class. `contempt` (CK+, AffectNet, FER+) is recognised but is
 * not a FER2013 class: a `contempt` folder is an error unless the `classes` mapping drops it (`null`) or maps it.
 */
export const CLASS_ALIASES: Readonly<Record<string, (typeof FER_CLASSES)[number] | 'contempt'>> = {
  angry: 'angry',
  anger: 'angry',
  disgust: 'disgust',
  disgusted: 'disgust',
  fear: 'fear',
  fearful: 'fear',
  happy: 'happy',
  happiness: 'happy',
  sad: 'sad',
  sadness: 'sad',
  surprise: 'surprise',
  surprised: 'surprise',
  neutral: 'neutral',
  contempt: 'contempt',
};

/** Split folder names (lower case) -> ferlab split. */
const SPLIT_FOLDERS: Readonly<Record<string, 'train' | 'val' | 'test'>> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  test: 'test',
  testing: 'test',
};

/** Kaggle FER2013 file-name prefixes -> USAGES index. */
const KAGGLE_PREFIX: ReadonlyArray<[RegExp, number]> = [
  [/^Training_/, 0],
  [/^PublicTest_/, 1],
  [/^PrivateTest_/, 2],
];

const int = (min = 0) => z.number().int().min(min);

/** Options of a folder dataset, with their defaults (all optional in `ferlab-dataset.json`). */
export const FolderOptionsSchema = z.strictObject({
  classes: z
    .record(z.string(), z.string().nullable())
    .default({})
    .describe(
      'class-folder name (case-insensitive) -> FER class (angry, disgust, fear, happy, sad, surprise, neutral, or an alias), or null to leave the folder out; beside the built-in names',
    ),
  valFraction: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.1)
    .describe('when there is no val/ folder: fraction of each class of the training images held out for validation'),
  testFraction: z.number().gt(0).lt(1).default(0.2).describe('when there is no test/ folder (flat layout): fraction of each class held out as the test split'),
  seed: int(0).default(42).describe('seed of the carved splits (same seed, same files = same split)'),
  skipBad: z.boolean().default(false).describe('skip unreadable or truncated images (counted in the run record) instead of stopping with an error'),
  usageFromNames: z.boolean().default(true).describe('Kaggle FER2013 copy: restore PublicTest (val) and PrivateTest (test) from the file names of test/'),
});
/** Resolved folder options. */
export type FolderOptions = z.infer<typeof FolderOptionsSchema>;

/**
 * An explicit dataset setting: `{"kind": "csv"}` (fer2013.csv(.gz) + optional fer2013new.csv) or `{"kind": "folder",
 * ...folder options}`, with an optional `path` (relative to the JSON file's folder; default that folder). Given as
 * `ferlab-dataset.json` inside the dataset folder, or as a `.json` file passed to `--data-dir`.
 */
export const DatasetSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('csv'), path: z.string().min(1).optional() }),
  FolderOptionsSchema.extend({ kind: z.literal('folder'), path: z.string().min(1).optional() }),
]);
/** A dataset setting as written (defaults not yet filled in). */
export type DatasetSpec = z.input<typeof DatasetSpecSchema>;

/** Where a split's images came from, in words (provenance). */
export type SplitOrigin = string;

/** One class folder name and what it was mapped to. */
export interface ClassFolderMapping {
  /** Folder name as on disk (in every split where it occurs). */
  folder: string;
  /** FER class it feeds, or null when the `classes` mapping leaves it out. */
  class: string | null;
  /** How: the built-in names or the `classes` mapping. */
  by: 'built-in' | 'classes';
  /** Images found in folders of this name (all splits), before decoding. */
  images: number;
}

/** Provenance of a folder dataset (`FerDataset.source.folder`, saved in run records and the cache). */
export interface FolderSource {
  /** Absolute path of the dataset folder. */
  root: string;
  /** The settings file used, or null (defaults). */
  specFile: string | null;
  layout: 'splits' | 'flat';
  /** True when PublicTest / PrivateTest were restored from Kaggle FER2013 file names. */
  usageFromNames: boolean;
  /** Where train, val and test came from. */
  splits: { train: SplitOrigin; val: SplitOrigin; test: SplitOrigin };
  options: FolderOptions;
  classMap: ClassFolderMapping[];
  /** Images in the dataset (after skipping bad ones) and per split. */
  images: number;
  perSplit: { train: number; val: number; test: number };
  /** Files that are not images (by extension), or not inside a class folder: count and the first few paths. */
  ignored: { count: number; examples: string[] };
  /** Images in class folders the mapping leaves out (null). */
  dropped: number;
  /** Unreadable images skipped with `skipBad` (relative path, error). */
  skipped: Array<{ file: string; error: string }>;
  /** SHA-1 of the sorted image list with sizes and mtimes (the cache key). */
  listSha1: string;
  /** The image conversion (image.ts IMAGE_CONVERSION) and libvips version used. */
  conversion: string;
}

/** Cache key of a folder dataset: the file list (sizes, mtimes), the options and the conversion. */
export interface FolderCacheKey {
  kind: 'folder';
  files: number;
  listSha1: string;
  options: FolderOptions;
  conversion: string;
}

/** An image found while scanning, before decoding. */
interface Entry {
  /** Path relative to the root, `/`-separated. */
  rel: string;
  split: 'train' | 'val' | 'test' | 'all';
  /** Class folder name as on disk. */
  folder: string;
  /** FER class index. */
  cls: number;
  size: number;
  mtimeMs: number;
}

/**
 * Numeric-aware string order ("img2" < "img10"; equal numbers with more leading zeros last), by UTF-16 code units
 * otherwise. Own code rather than Intl.Collator({numeric: true}): that order depends on the ICU data and locale of the
 * machine, and row order must be the same everywhere (it decides slices and training batches).
 */
export function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    const dx = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57;
    const dy = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57;
    if (dx && dy) {
      const sx = x.replace(/^0+(?=\d)/, '');
      const sy = y.replace(/^0+(?=\d)/, '');
      if (sx.length !== sy.length) return sx.length - sy.length;
      if (sx !== sy) return sx < sy ? -1 : 1;
      if (x.length !== y.length) return x.length - y.length;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return ta.length - tb.length;
}

const isHidden = (name: string) => name.startsWith('.') || name === '__MACOSX' || name === 'Thumbs.db' || name === 'desktop.ini';
const isImage = (name: string) => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());

function listDir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).sort((a, b) => naturalCompare(a.name, b.name));
  } catch (e) {
    throw new DataError(dir, undefined, `cannot list the folder (${(e as Error).message})`);
  }
}

/** True when `dir` is a directory (following symbolic links: used for the dataset folder itself). */
function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether a symbolic link inside a dataset is followed (see the file comment): only when it leads to a regular file
 * whose real path lies inside `realRoot` (the dataset folder's real path). Links to folders never are.
 */
function followLink(abs: string, realRoot: string): boolean {
  try {
    const real = realpathSync(abs);
    const rel = relative(realRoot, real);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel) && statSync(real).isFile();
  } catch {
    return false; // a dangling link or a link loop
  }
}

/**
 * The layout of a dataset folder: `splits` when it holds a train/test/val folder, `flat` when it holds other
 * (class) folders, null when it holds no folder at all (then it is not a folder dataset). Symbolic links to folders
 * are not folders here (they are not followed).
 */
export function detectFolderLayout(dir: string): 'splits' | 'flat' | null {
  if (!isDir(dir)) return null;
  const subdirs = listDir(dir).filter((d) => !isHidden(d.name) && d.isDirectory());
  if (subdirs.length === 0) return null;
  return subdirs.some((d) => d.name.toLowerCase() in SPLIT_FOLDERS) ? 'splits' : 'flat';
}

/**
 * Reads and validates a dataset settings file (`ferlab-dataset.json` or any `.json` passed as the data directory).
 * @returns the parsed setting (defaults filled in) and the absolute dataset path (`path` resolved against the file's folder).
 * @throws DataError naming the file for unreadable JSON or an invalid / unknown setting.
 */
export function readDatasetSpec(file: string): { spec: z.infer<typeof DatasetSpecSchema>; path: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DataError(
      file,
      undefined,
      `cannot read the dataset settings (${(e as Error).message}); expected JSON such as {"kind": "folder", "classes": {"1": "surprise"}}`,
    );
  }
  const r = DatasetSpecSchema.safeParse(raw);
  if (!r.success) throw new DataError(file, undefined, `invalid dataset settings:\n${z.prettifyError(r.error)}`);
  const base = dirname(resolve(file));
  return { spec: r.data, path: r.data.path ? resolve(base, r.data.path) : base };
}

/** The FER class index a folder name maps to: -1 for null (left out), undefined when unknown; or 'contempt'. */
function classOf(folder: string, mapping: Map<string, string | null>): { cls: number | null | 'contempt' | undefined; by: 'built-in' | 'classes' } {
  const key = folder.toLowerCase();
  if (mapping.has(key)) {
    const v = mapping.get(key)!;
    return { cls: v === null ? null : FER_CLASSES.indexOf(v as (typeof FER_CLASSES)[number]), by: 'classes' };
  }
  const alias = CLASS_ALIASES[key];
  if (alias === undefined) return { cls: undefined, by: 'built-in' };
  if (alias === 'contempt') return { cls: 'contempt', by: 'built-in' };
  return { cls: FER_CLASSES.indexOf(alias), by: 'built-in' };
}

/** Validates the `classes` mapping: keys lower-cased, values normalised through the aliases. */
function normaliseMapping(classes: Record<string, string | null>, where: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const [k, v] of Object.entries(classes)) {
    if (v === null) {
      out.set(k.toLowerCase(), null);
      continue;
    }
    const c = CLASS_ALIASES[v.toLowerCase()];
    if (c === undefined || c === 'contempt')
      throw new DataError(
        where,
        undefined,
        `classes mapping '${k}': '${v}' is not a FER2013 class (expected one of ${FER_CLASSES.join(', ')}, an alias such as happiness or anger, or null to leave the folder out${c === 'contempt' ? '; FER2013 has no contempt class' : ''})`,
      );
    out.set(k.toLowerCase(), c);
  }
  return out;
}

interface Scan {
  layout: 'splits' | 'flat';
  entries: Entry[];
  hasVal: boolean;
  hasTest: boolean;
  ignored: { count: number; examples: string[] };
  dropped: number;
  classMap: ClassFolderMapping[];
}

/**
 * Finds every image of a dataset folder and its class, checking the class names. Symbolic links to folders are not
 * followed, links to files only when they resolve inside the dataset folder (see the file comment), so the scan ends
 * and counts every image once whatever links the folder holds.
 * @throws DataError for unknown class folders (listing them and the `classes` mapping that fixes it), a class folder
 *   without images, or a dataset without any image.
 */
function scanFolder(root: string, options: FolderOptions, where: string): Scan {
  const layout = detectFolderLayout(root);
  if (!layout) throw new DataError(root, undefined, `no class folders found: ${FOLDER_LAYOUT_HELP}`);
  const realRoot = realpathSync(root);
  const mapping = normaliseMapping(options.classes, where);
  const entries: Entry[] = [];
  const ignored = { count: 0, examples: [] as string[] };
  const ignore = (rel: string) => {
    ignored.count += 1;
    if (ignored.examples.length < 10) ignored.examples.push(rel);
  };
  const unknown: string[] = [];
  const contempt: string[] = [];
  const empty: string[] = [];
  const classMap = new Map<string, ClassFolderMapping>();
  let dropped = 0;
  const splitDirs: Array<{ rel: string; split: Entry['split'] }> = [];
  let hasVal = false;
  let hasTest = false;

  if (layout === 'splits') {
    const seen = new Map<string, string>();
    for (const d of listDir(root)) {
      if (isHidden(d.name)) continue;
      const split = SPLIT_FOLDERS[d.name.toLowerCase()];
      if (!d.isDirectory()) {
        ignore(d.isSymbolicLink() ? `${d.name} (symbolic link: not followed)` : d.name);
        continue;
      }
      if (!split) {
        ignore(`${d.name}/`);
        continue;
      }
      if (seen.has(split))
        throw new DataError(root, undefined, `both ${seen.get(split)}/ and ${d.name}/ are a ${split} split folder; keep one (or merge them)`);
      seen.set(split, d.name);
      splitDirs.push({ rel: d.name, split });
      hasVal ||= split === 'val';
      hasTest ||= split === 'test';
    }
  } else {
    splitDirs.push({ rel: '', split: 'all' });
  }

  for (const { rel: splitRel, split } of splitDirs) {
    const splitAbs = join(root, splitRel);
    for (const d of listDir(splitAbs)) {
      const rel = splitRel ? `${splitRel}/${d.name}` : d.name;
      if (isHidden(d.name)) {
        if (d.isFile()) ignore(rel);
        continue;
      }
      if (!d.isDirectory()) {
        ignore(d.isSymbolicLink() ? `${rel} (symbolic link: not followed)` : rel); // a file beside the class folders: no class
        continue;
      }
      const { cls, by } = classOf(d.name, mapping);
      const images: Array<{ rel: string; size: number; mtimeMs: number }> = [];
      const walk = (abs: string, relDir: string) => {
        for (const f of listDir(abs)) {
          const fAbs = join(abs, f.name);
          const fRel = `${relDir}/${f.name}`;
          if (f.isDirectory()) {
            if (!isHidden(f.name)) walk(fAbs, fRel);
            continue;
          }
          if (f.isSymbolicLink() && !followLink(fAbs, realRoot)) {
            ignore(`${fRel} (symbolic link to a folder or out of the dataset: not followed)`);
            continue;
          }
          if (!f.isFile() && !f.isSymbolicLink()) {
            ignore(fRel); // a socket, FIFO or device
            continue;
          }
          if (isHidden(f.name) || !isImage(f.name)) {
            ignore(fRel);
            continue;
          }
          const st = statSync(fAbs);
          images.push({ rel: fRel, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
        }
      };
      walk(join(splitAbs, d.name), rel);
      const m = classMap.get(d.name) ?? {
        folder: d.name,
        class: typeof cls === 'number' && cls >= 0 ? FER_CLASSES[cls] : null,
        by,
        images: 0,
      };
      m.images += images.length;
      classMap.set(d.name, m);
      if (cls === undefined) {
        unknown.push(rel);
        continue;
      }
      if (cls === 'contempt') {
        contempt.push(rel);
        continue;
      }
      if (cls === null) {
        dropped += images.length;
        continue;
      }
      if (images.length === 0) {
        empty.push(rel);
        continue;
      }
      for (const im of images) entries.push({ ...im, split, folder: d.name, cls });
    }
  }

  if (unknown.length || contempt.length) {
    const names = [...new Set([...unknown, ...contempt].map((r) => r.split('/').pop()!))];
    const suggestion: Record<string, string | null> = {};
    const rafdb = ['surprise', 'fear', 'disgust', 'happy', 'sad', 'angry', 'neutral'];
    const allDigits = names.every((n) => /^[1-7]$/.test(n));
    for (const n of names) suggestion[n] = CLASS_ALIASES[n.toLowerCase()] === 'contempt' ? null : allDigits ? rafdb[Number(n) - 1] : '<class or null>';
    const lines = [
      `class folder name(s) not recognised: ${[...unknown, ...contempt].join(', ')}.`,
      `Known names (case-insensitive): ${Object.keys(CLASS_ALIASES).join(', ')}.`,
      ...(contempt.length ? ['contempt is not a FER2013 class: leave it out (null) or map it to one of the 7 classes.'] : []),
      ...(allDigits
        ? [
            "Numbered folders look like RAF-DB's labels (its README: 1 surprise, 2 fear, 3 disgust, 4 happiness, 5 sadness, 6 anger, 7 neutral); check your copy.",
          ]
        : []),
      `Fix: a "classes" mapping in ${join(root, DATASET_SPEC_FILE)} (values: ${FER_CLASSES.join(', ')}, or null to leave the folder out):`,
      `  ${JSON.stringify({ kind: 'folder', classes: suggestion })}`,
    ];
    throw new DataError(root, undefined, lines.join('\n'));
  }
  if (empty.length)
    throw new DataError(
      join(root, empty[0]),
      undefined,
      `class folder has no images (expected ${IMAGE_EXTENSIONS.join(' ')} files)${empty.length > 1 ? `; also empty: ${empty.slice(1).join(', ')}` : ''}. Add images, remove the folder, or leave it out with "classes": {"${empty[0].split('/').pop()}": null}`,
    );
  if (entries.length === 0)
    throw new DataError(
      root,
      undefined,
      `no images found (${ignored.count} other files ignored${dropped ? `, ${dropped} images in folders left out by the classes mapping` : ''}). ${FOLDER_LAYOUT_HELP}`,
    );
  return { layout, entries, hasVal, hasTest, ignored, dropped, classMap: [...classMap.values()] };
}

/** How a folder dataset must be laid out (appended to layout errors). */
export const FOLDER_LAYOUT_HELP = [
  'A folder dataset holds one folder per class, either inside split folders (train/<class>/*.jpg, test/<class>/*.jpg, optional',
  'val/<class>/*.jpg: the Kaggle FER2013 layout) or directly (<class>/*.png: CK+, JAFFE style). Class names: angry, disgust, fear,',
  `happy, sad, surprise, neutral and aliases (case-insensitive); other names need a "classes" mapping in ${DATASET_SPEC_FILE}.`,
  'Symbolic links to folders are not followed (copy or move the folders in); links to files only when they resolve inside the dataset.',
].join('\n');

/**
 * Stratified, seeded selection: for every class (FER order), `round(fraction * n)` of its rows, at most n - 1 (a class
 * keeps at least one image where it has two or more), chosen by a Fisher-Yates shuffle of the class's rows.
 * @param rows candidate row positions, in row order. @param cls class of each row position.
 * @returns the selected row positions.
 */
export function stratifiedPick(rows: readonly number[], cls: ArrayLike<number>, fraction: number, rng: Rng): Set<number> {
  const picked = new Set<number>();
  for (let c = 0; c < FER_CLASSES.length; c++) {
    const of = Int32Array.from(rows.filter((r) => cls[r] === c));
    const k = Math.min(Math.max(0, of.length - 1), Math.round(fraction * of.length));
    rng.shuffle(of);
    for (let i = 0; i < k; i++) picked.add(of[i]);
  }
  return picked;
}

async function mapLimit<T>(n: number, limit: number, f: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await f(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}

/** Options of {@link loadFolderDataset}. */
export interface FolderLoadOptions {
  /** Folder for the binary cache; `undefined` = no cache. */
  cacheDir?: string;
  /** The settings file the options came from (provenance and error messages). */
  specFile?: string | null;
  log?: (msg: string) => void;
}

/**
 * Loads an image-folder dataset as a {@link FerDataset}: scans the folder (layout, class names, image files),
 * decodes every image with {@link toFerPixels} (48x48 grayscale, the conversion `predict` uses), assigns splits
 * (folders; Kaggle FER2013 file names; or stratified seeded carving from train/) and caches the arrays in ferlab's
 * binary cache, keyed by the image list with sizes and mtimes, the options and the conversion (a changed, added or
 * removed image rebuilds it). Symbolic links: a link to a folder is not followed, a link to a file only when it
 * resolves inside `root` (file comment).
 *
 * Rows: the training split, then val, then test (as fer2013.csv: Training, PublicTest, PrivateTest), each ordered by
 * file name (numeric-aware: Training_9 before Training_10), then class folder; not grouped by class, so a `slice` of a
 * split mixes classes.
 *
 * @param root the dataset folder. @param options folder options (defaults: FolderOptionsSchema).
 * @throws DataError naming the file or folder: an unreadable or truncated image (unless `skipBad`), unknown class
 *   folders (with the `classes` mapping that fixes them), an empty class folder, no images at all, or a dataset whose
 *   training images are all bad.
 */
export async function loadFolderDataset(root: string, options: Partial<FolderOptions> = {}, opts: FolderLoadOptions = {}): Promise<FerDataset> {
  const abs = resolve(root);
  const where = opts.specFile ?? abs;
  const parsed = FolderOptionsSchema.safeParse(options);
  if (!parsed.success) throw new DataError(where, undefined, `invalid folder dataset options:\n${z.prettifyError(parsed.error)}`);
  const o = parsed.data;
  const log = opts.log ?? (() => {});
  const scan = scanFolder(abs, o, where);
  const rank = { train: 0, all: 0, val: 1, test: 2 } as const;
  const entries = scan.entries.sort(
    (a, b) =>
      rank[a.split] - rank[b.split] ||
      naturalCompare(a.rel.split('/').pop()!, b.rel.split('/').pop()!) ||
      naturalCompare(a.folder, b.folder) ||
      naturalCompare(a.rel, b.rel),
  );
  const list = createHash('sha1');
  for (const e of entries) list.update(`${e.rel}\t${e.cls}\t${e.split}\t${e.size}\t${e.mtimeMs}\n`);
  const listSha1 = list.digest('hex');
  const conversion = `${IMAGE_CONVERSION}; libvips ${sharp.versions.vips}`;
  const key: FolderCacheKey = { kind: 'folder', files: entries.length, listSha1, options: o, conversion };
  const cacheName = cacheFileName(abs, 'folder', JSON.stringify(o));

  if (opts.cacheDir) {
    const cached = readCache(opts.cacheDir, abs, key, cacheName);
    if (cached.ok) {
      const meta = cached.arrays.meta as { folder: FolderSource; files: string[] };
      const a = cached.arrays;
      log(`data: ${a.n} images of folder dataset ${abs} from cache ${cached.path}`);
      return folderDataset(
        a.n,
        a.pixels,
        a.emotion,
        a.usage,
        meta.files,
        { ...meta.folder, root: abs, specFile: opts.specFile ?? null },
        key,
        'cache',
        cached.path,
      );
    }
    log(`data: cache ${cached.path}: ${cached.reason}; decoding ${entries.length} images of ${abs}`);
  }

  // decode
  const t0 = Date.now();
  const pixels = new Uint8Array(entries.length * IMAGE_PIXELS);
  const ok = new Uint8Array(entries.length);
  const skipped: FolderSource['skipped'] = [];
  let done = 0;
  await mapLimit(entries.length, Math.max(4, 2 * availableParallelism()), async (i) => {
    const file = join(abs, entries[i].rel);
    try {
      const p = await toFerPixels(file);
      pixels.set(p.pixels, i * IMAGE_PIXELS);
      ok[i] = 1;
    } catch (e) {
      const msg = (e as Error).message;
      const reason = msg.startsWith(`${file}: `) ? msg.slice(file.length + 2) : msg;
      if (!o.skipBad)
        throw new DataError(
          file,
          undefined,
          `${reason}; fix or remove the file, or skip unreadable images with --skip-bad ("skipBad": true in ${DATASET_SPEC_FILE})`,
        );
      skipped.push({ file: entries[i].rel, error: reason });
    }
    if (++done % 5000 === 0) log(`data: decoded ${done} / ${entries.length} images`);
  });
  skipped.sort((a, b) => naturalCompare(a.file, b.file));
  const keep = entries.map((_, i) => i).filter((i) => ok[i]);
  const n = keep.length;
  const good = keep.map((i) => entries[i]);
  const px = new Uint8Array(n * IMAGE_PIXELS);
  keep.forEach((i, j) => px.set(pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS), j * IMAGE_PIXELS));
  const emotion = Uint8Array.from(good, (e) => e.cls);

  // splits
  const usage = new Uint8Array(n);
  const splits = { train: '', val: '', test: '' };
  const names = (e: Entry) => e.rel.split('/').pop()!;
  const testRows = good.map((e, j) => (e.split === 'test' ? j : -1)).filter((j) => j >= 0);
  const kaggle =
    o.usageFromNames &&
    scan.layout === 'splits' &&
    !scan.hasVal &&
    testRows.length > 0 &&
    testRows.every((j) => /^(PublicTest|PrivateTest)_/.test(names(good[j]))) &&
    testRows.some((j) => names(good[j]).startsWith('PublicTest_')) &&
    testRows.some((j) => names(good[j]).startsWith('PrivateTest_'));
  const rng = new Rng(o.seed);
  const testRng = rng.fork();
  const valRng = rng.fork();
  if (kaggle) {
    good.forEach((e, j) => (usage[j] = e.split === 'test' ? KAGGLE_PREFIX.find(([re]) => re.test(names(e)))![1] : 0));
    splits.train = 'train/';
    splits.val = 'test/PublicTest_* (Kaggle FER2013 file names: FER2013 PublicTest)';
    splits.test = 'test/PrivateTest_* (Kaggle FER2013 file names: FER2013 PrivateTest)';
  } else {
    good.forEach((e, j) => (usage[j] = e.split === 'val' ? 1 : e.split === 'test' ? 2 : 0));
    const trainName = scan.layout === 'flat' ? 'the class folders' : 'train/';
    splits.train = trainName;
    if (scan.hasTest) splits.test = 'test/';
    else {
      const pool = good.map((_, j) => j).filter((j) => usage[j] === 0);
      for (const j of stratifiedPick(pool, emotion, o.testFraction, testRng)) usage[j] = 2;
      splits.test = `carved from ${trainName}: ${o.testFraction * 100}% of each class, seed ${o.seed}`;
    }
    if (scan.hasVal) splits.val = 'val/';
    else {
      const pool = good.map((_, j) => j).filter((j) => usage[j] === 0);
      for (const j of stratifiedPick(pool, emotion, o.valFraction, valRng)) usage[j] = 1;
      splits.val = `carved from ${trainName}: ${o.valFraction * 100}% of each class's training images, seed ${o.seed}`;
    }
  }
  // rows by split (Training, PublicTest/val, PrivateTest/test, as in fer2013.csv), file-name order within a split
  const order = Array.from(usage.keys()).sort((a, b) => usage[a] - usage[b] || a - b);
  const sortedPixels = new Uint8Array(n * IMAGE_PIXELS);
  order.forEach((j, k) => sortedPixels.set(px.subarray(j * IMAGE_PIXELS, (j + 1) * IMAGE_PIXELS), k * IMAGE_PIXELS));
  const sortedEmotion = Uint8Array.from(order, (j) => emotion[j]);
  const sortedUsage = Uint8Array.from(order, (j) => usage[j]);
  const perSplit = { train: 0, val: 0, test: 0 };
  sortedUsage.forEach((u) => (perSplit[(['train', 'val', 'test'] as const)[u]] += 1));
  const folder: FolderSource = {
    root: abs,
    specFile: opts.specFile ?? null,
    layout: scan.layout,
    usageFromNames: kaggle,
    splits,
    options: o,
    classMap: scan.classMap,
    images: n,
    perSplit,
    ignored: scan.ignored,
    dropped: scan.dropped,
    skipped,
    listSha1,
    conversion,
  };
  const files = order.map((j) => good[j].rel);
  log(
    `data: decoded ${n} images of ${abs} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${perSplit.train} train / ${perSplit.val} val / ${perSplit.test} test` +
      `${kaggle ? ' (Kaggle FER2013 file names: PublicTest -> val, PrivateTest -> test)' : ''}` +
      `${scan.ignored.count ? `; ${scan.ignored.count} non-image files and unfollowed symbolic links ignored` : ''}${skipped.length ? `; ${skipped.length} unreadable images SKIPPED` : ''}` +
      `${scan.dropped ? `; ${scan.dropped} images left out by the classes mapping` : ''}`,
  );
  let cachePath: string | undefined;
  if (opts.cacheDir) {
    cachePath = writeCache(
      opts.cacheDir,
      abs,
      key,
      { n, pixels: sortedPixels, emotion: sortedEmotion, usage: sortedUsage, fer2013Md5: '', meta: { folder, files } },
      cacheName,
    );
    log(`data: wrote cache ${cachePath}`);
  }
  return folderDataset(n, sortedPixels, sortedEmotion, sortedUsage, files, folder, key, 'images', cachePath);
}

function folderDataset(
  n: number,
  pixels: Uint8Array,
  emotion: Uint8Array,
  usage: Uint8Array,
  files: string[],
  folder: FolderSource,
  key: FolderCacheKey,
  loadedFrom: 'images' | 'cache',
  cachePath: string | undefined,
): FerDataset {
  return {
    n,
    pixels,
    emotion,
    usage,
    files,
    source: { kind: 'folder', dataDir: folder.root, key, fer2013Md5: '', fer2013Official: false, loadedFrom, cachePath, folder },
  };
}

/** Options of {@link writeFolderCopy}. */
export interface FolderCopyOptions {
  /** Image format (default png: lossless, so the copy reads back pixel-exact; jpeg: as the Kaggle copy ships). */
  format?: 'png' | 'jpeg';
  /** JPEG quality 1-100 (default 90). */
  quality?: number;
  /** Dataset rows to write (default all). */
  rows?: ArrayLike<number>;
  /** Class folder of a row (default FER_CLASSES[emotion]). */
  folderOf?: (row: number) => string;
  log?: (msg: string) => void;
}

/**
 * Writes a dataset (e.g. FER2013 from the CSV) as an image-folder dataset in the Kaggle FER2013 layout: Training rows to
 * `train/<class>/Training_<row>.<ext>`, PublicTest and PrivateTest rows to `test/<class>/PublicTest_<row>.<ext>` and
 * `test/<class>/PrivateTest_<row>.<ext>` (`<row>` = row of the dataset, e.g. of fer2013.csv), 48x48 8-bit grayscale.
 * Loading the PNG copy gives back the same pixels, labels and splits, in the same row order.
 *
 * @returns number of images written.
 * @throws DataError when `outDir` exists and is not empty (nothing is overwritten).
 */
export async function writeFolderCopy(
  ds: Pick<FerDataset, 'n' | 'pixels' | 'emotion' | 'usage'>,
  outDir: string,
  opts: FolderCopyOptions = {},
): Promise<number> {
  if (existsSync(outDir) && readdirSync(outDir).length) throw new DataError(outDir, undefined, 'folder exists and is not empty; choose a new folder');
  const format = opts.format ?? 'png';
  const rows = opts.rows ? Array.from(opts.rows) : Array.from({ length: ds.n }, (_, i) => i);
  const folderOf = opts.folderOf ?? ((r: number) => FER_CLASSES[ds.emotion[r]]);
  const made = new Set<string>();
  let done = 0;
  await mapLimit(rows.length, Math.max(4, 2 * availableParallelism()), async (k) => {
    const r = rows[k];
    const usage = USAGES[ds.usage[r]];
    const dir = join(outDir, usage === 'Training' ? 'train' : 'test', folderOf(r));
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    const img = sharp(Buffer.from(ds.pixels.buffer, ds.pixels.byteOffset + r * IMAGE_PIXELS, IMAGE_PIXELS), {
      raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 },
    });
    const bytes = format === 'png' ? await img.png().toBuffer() : await img.jpeg({ quality: opts.quality ?? 90 }).toBuffer();
    writeFileSync(join(dir, `${usage}_${r}.${format === 'png' ? 'png' : 'jpg'}`), bytes);
    if (++done % 5000 === 0) opts.log?.(`folder copy: ${done} / ${rows.length} images`);
  });
  return rows.length;
}
