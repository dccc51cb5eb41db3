/**
 * Released models: ferlab's best FER+ and FER2013 models, committed under `models/<name>/` so that predict, the demo,
 * the notebooks and fine-tuning work on a fresh clone with no data and no training.
 *
 * A release is not a blob: it is `npm run ferlab -- export` of a recorded run (exporter.ts) with fixed options, plus
 * `SHA256SUMS` (the format `sha256sum -c` reads) over every file. `npm run ferlab -- release build <name> --from
 * <run record>` rebuilds it from the run record that `npm run exp -- best-cpu` writes (training is deterministic for a
 * given seed and worker layout: docs/results/best-cpu.md) and `--compare` checks the rebuilt files against the committed
 * ones; `npm run ferlab -- release check` verifies the committed checksums (no data needed).
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { BackendChoice } from '../backend/select';
import { writeFileAtomic } from '../util/atomic';
import { PROJECT_ROOT, projectRelative } from '../util/paths';
import { EXPORT_FORMATS, exportModel, type ExportFormat, type ExportResult } from './exporter';
import { ExportError, records } from './select';
import { z } from 'zod';
import { readRecord } from '../records/io';
import { MODEL_META_FILE, readExportedModelMeta } from '../records/model';
import { CONFIG_FILE, METRICS_FILE, readRunConfigFile, RunRefSchema } from '../records/run';
import type { WeightQuantization } from './quantize';
import { pct } from '../util/format';

/** What a released model is built from and how. */
export interface ReleaseSpec {
  /** Folder name under `models/`. */
  name: string;
  /** One line: what it is, for models/README.md and the card. */
  summary: string;
  /** Experiment (experiments/<name>.ts) and run name of the run record it is exported from. */
  experiment: string;
  run: string;
  /** tfjs weight storage: float16 halves the download; the export's check states whether any prediction changed. */
  quantize?: WeightQuantization;
  /** Formats written (every format `export` knows). */
  formats: readonly ExportFormat[];
}

/** The released models. The first is the default model of `predict` and the demo. */
export const RELEASES: readonly ReleaseSpec[] = [
  {
    name: 'ferlab-ferplus',
    summary: "ferlab's best FER+ model: 8 classes (FER+ majority labels), `deep` trained on the FER+ vote distributions (best-cpu `deep-ferplus-ce`)",
    experiment: 'best-cpu',
    run: 'deep-ferplus-ce',
    quantize: 'float16',
    formats: EXPORT_FORMATS,
  },
  {
    name: 'ferlab-fer2013',
    summary: "ferlab's best FER2013 model: 7 classes (FER2013 labels), `deep` on 40x40 centre crops (best-cpu `deep-fer`)",
    experiment: 'best-cpu',
    run: 'deep-fer',
    quantize: 'float16',
    formats: EXPORT_FORMATS,
  },
];

/** The model predict and the demo use when no `--model` is given. */
export const DEFAULT_RELEASE = RELEASES[0].name;

/** The checksum file of a release folder (`sha256sum -c SHA256SUMS` checks it). */
export const CHECKSUM_FILE = 'SHA256SUMS';

/** The backend the releases were trained and exported on (ferlab.json records it); release builds default to it. */
export const RELEASE_BACKEND = 'wasm' satisfies BackendChoice;

/** The command that trains the run records of the releases. */
export const RELEASE_TRAIN_COMMAND = 'npm run exp -- best-cpu';

/**
 * The spec of a release.
 * @throws ExportError naming the known releases when `name` is not one.
 */
export function releaseSpec(name: string): ReleaseSpec {
  const spec = RELEASES.find((r) => r.name === name);
  if (!spec) throw new ExportError(`unknown release '${name}': expected one of ${RELEASES.map((r) => r.name).join(', ')}`);
  return spec;
}

/** The committed folder of a release, `models/<name>` in the project. */
export function releaseDir(name: string): string {
  return join(PROJECT_ROOT, 'models', name);
}

/** The default model folder (`models/ferlab-ferplus`) when it is there (a checkout with the released models), else undefined. */
export function defaultModelDir(): string | undefined {
  const dir = releaseDir(DEFAULT_RELEASE);
  return existsSync(join(dir, 'model.json')) ? dir : undefined;
}

/**
 * The default model folder for commands given no model (predict, the demo).
 * @throws Error saying what to pass when the checkout has no released model.
 */
export function defaultModelOrThrow(): string {
  const dir = defaultModelDir();
  if (!dir) throw new Error(`no model given and the released model models/${DEFAULT_RELEASE} is not in this checkout: pass a model folder or a run folder`);
  return dir;
}

/** SHA-256 of a file, lowercase hex. */
export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The plain files of a release folder other than the checksum file, sorted by name. */
function releaseFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f !== CHECKSUM_FILE && lstatSync(join(dir, f)).isFile())
    .sort();
}

/**
 * Writes `<dir>/SHA256SUMS`: one `<sha256 hex>  <file>` line per file of the folder (sorted), as `sha256sum` prints.
 * @returns file name -> checksum.
 */
export function writeChecksums(dir: string): Record<string, string> {
  const sums = Object.fromEntries(releaseFiles(dir).map((f) => [f, sha256File(join(dir, f))]));
  writeFileAtomic(
    join(dir, CHECKSUM_FILE),
    Object.entries(sums)
      .map(([f, h]) => `${h}  ${f}\n`)
      .join(''),
  );
  return sums;
}

/** The problems {@link verifyChecksums} finds; empty when the folder matches its SHA256SUMS. */
export interface ChecksumReport {
  dir: string;
  /** Files listed and matching. */
  ok: string[];
  /** One line per problem: a listed file missing or different, a file not listed, a malformed line. */
  problems: string[];
}

/**
 * Checks a release folder against its SHA256SUMS: every listed file present with that checksum, and no unlisted file
 * (a file added to a release must be checksummed too).
 * @throws ExportError when the folder or its SHA256SUMS is missing.
 */
export function verifyChecksums(dir: string): ChecksumReport {
  const file = join(dir, CHECKSUM_FILE);
  if (!existsSync(file)) throw new ExportError(`${file} is missing: not a release folder (expected SHA256SUMS beside the model files)`);
  const listed = new Map<string, string>();
  const problems: string[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line) return;
      const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (!m || m[2].includes('/')) problems.push(`${file}:${i + 1}: not a '<sha256>  <file>' line: ${JSON.stringify(line)}`);
      else listed.set(m[2], m[1]);
    });
  const ok: string[] = [];
  for (const [f, h] of listed) {
    const p = join(dir, f);
    if (!existsSync(p)) problems.push(`${f}: listed in ${CHECKSUM_FILE} but missing`);
    else if (!lstatSync(p).isFile()) problems.push(`${f}: not a plain file`);
    else {
      const actual = sha256File(p);
      if (actual !== h) problems.push(`${f}: SHA-256 ${actual}, ${CHECKSUM_FILE} says ${h}`);
      else ok.push(f);
    }
  }
  for (const f of releaseFiles(dir)) if (!listed.has(f)) problems.push(`${f}: not listed in ${CHECKSUM_FILE}`);
  return { dir, ok, problems };
}

/**
 * The run record a release is built from: `from` itself when it is a run record of the release's experiment and run,
 * or `<from>/<run>` when `from` is the experiment's experiment folder.
 * @throws ExportError when neither is that run's finished record, or when it is a --quick (sliced) run.
 */
export function releaseRunDir(spec: ReleaseSpec, from: string): string {
  const candidates = [resolve(from), join(resolve(from), spec.run)];
  for (const dir of candidates) {
    const file = join(dir, CONFIG_FILE);
    if (!existsSync(file)) continue;
    const { run } = records(() => readRunConfigFile(dir, RunRefSchema));
    if (run.experiment !== spec.experiment || run.name !== spec.run) continue;
    if (run.slice && Object.values(run.slice).some((v) => v !== null))
      throw new ExportError(
        `${file}: a --quick (sliced) run of ${spec.experiment}/${spec.run}; release ${spec.name} needs the full run (${RELEASE_TRAIN_COMMAND})`,
      );
    if (!existsSync(join(dir, METRICS_FILE))) throw new ExportError(`${dir}: run ${spec.run} has not finished (no metrics.json); resume it first`);
    return dir;
  }
  throw new ExportError(
    `${from}: neither it nor ${join(from, spec.run)} is a run record of ${spec.experiment}/${spec.run} (release ${spec.name}); train it with ${RELEASE_TRAIN_COMMAND}`,
  );
}

/** Options of {@link buildRelease}. */
export interface BuildReleaseOptions {
  /** Output folder (default `models/<name>`, the committed release). */
  out?: string;
  dataDir?: string;
  cacheDir?: string | false;
  /**
   * Backend of the export's checks (default `wasm`, not `auto`: the releases were trained and checked on wasm, and
   * ferlab.json records the backend, so a rebuild on native would differ from the committed files).
   */
  backend?: BackendChoice;
  log?: (line: string) => void;
}

/**
 * Builds a release: exports the run with the release's formats and quantization (exporter.ts, with its per-format
 * checks on PrivateTest) into `opts.out` (default `models/<name>`), then writes SHA256SUMS.
 * @param name a release name ({@link RELEASES}).
 * @param from the run record or its experiment folder (`runs/best-cpu-<time>`).
 * @throws ExportError (see {@link releaseRunDir}, exporter.ts exportModel), DataError for missing data.
 */
export async function buildRelease(name: string, from: string, opts: BuildReleaseOptions = {}): Promise<ExportResult & { checksums: Record<string, string> }> {
  const spec = releaseSpec(name);
  const runDir = releaseRunDir(spec, from);
  const out = resolve(opts.out ?? releaseDir(name));
  const buildCommand = `npm run ferlab -- release build ${name} --from runs/<${spec.experiment} experiment> --compare`;
  const r = await exportModel(runDir, {
    out,
    formats: [...spec.formats],
    quantize: spec.quantize,
    dataDir: opts.dataDir,
    cacheDir: opts.cacheDir,
    backend: opts.backend ?? RELEASE_BACKEND,
    log: opts.log,
    command: `npm run ferlab -- release build ${name} --from ${projectRelative(dirname(runDir))}`,
    release: { name, summary: spec.summary, trainCommand: `${RELEASE_TRAIN_COMMAND} --data-dir data`, buildCommand },
  });
  const checksums = writeChecksums(r.dir);
  return { ...r, checksums };
}

/** The fields of ferlab.json that depend on when and where a release was built, not on what it contains. */
const VOLATILE_KEYS = [
  ['export', 'date'],
  ['export', 'environment'],
  ['export', 'source', 'folder'],
  ['export', 'source', 'runDir'],
] as const;

/** ferlab.json without {@link VOLATILE_KEYS}, and the strings those keys held (to blank them in the card). */
function stableMeta(file: string): { json: string; volatile: string[] } {
  // compared as plain JSON: any object (the release's own schema is checked where it is read, releaseRows)
  const meta = records(() => readRecord(z.record(z.string(), z.unknown()), file));
  const volatile: string[] = [];
  for (const path of VOLATILE_KEYS) {
    let o = meta as Record<string, unknown> | undefined;
    for (const k of path.slice(0, -1)) o = o?.[k] as Record<string, unknown> | undefined;
    const last = path[path.length - 1];
    if (o && last in o) {
      const v = o[last];
      if (typeof v === 'string') volatile.push(v, v.slice(0, 10));
      else if (v && typeof v === 'object')
        volatile.push(...Object.values(v as Record<string, unknown>).filter((x): x is string => typeof x === 'string' && x.length > 3));
      delete o[last];
    }
  }
  return { json: JSON.stringify(meta), volatile };
}

/** One file of {@link compareReleases}. */
export interface FileComparison {
  file: string;
  /** identical bytes; `same content`: ferlab.json / model-card.md equal once build date, machine and paths are left out. */
  verdict: 'identical' | 'same content' | 'differs' | 'missing in rebuild' | 'only in rebuild';
}

/**
 * Compares a rebuilt release with the committed one, file by file: the model files must be byte-identical (every
 * format ferlab writes is deterministic for the same weights), ferlab.json and model-card.md equal once the build
 * date, the exporting machine and the run folder's path are left out.
 * @returns one entry per file of either folder; `ok` when every verdict is `identical` or `same content`.
 */
export function compareReleases(committed: string, rebuilt: string): { ok: boolean; files: FileComparison[] } {
  const a = new Set(releaseFiles(committed));
  const b = new Set(releaseFiles(rebuilt));
  const files: FileComparison[] = [];
  const ma = existsSync(join(committed, MODEL_META_FILE)) ? stableMeta(join(committed, MODEL_META_FILE)) : undefined;
  const mb = existsSync(join(rebuilt, MODEL_META_FILE)) ? stableMeta(join(rebuilt, MODEL_META_FILE)) : undefined;
  const blank = (text: string, volatile: string[]) => volatile.filter(Boolean).reduce((t, v) => t.split(v).join('<volatile>'), text);
  for (const f of [...new Set([...a, ...b])].sort()) {
    if (!b.has(f)) files.push({ file: f, verdict: 'missing in rebuild' });
    else if (!a.has(f)) files.push({ file: f, verdict: 'only in rebuild' });
    else if (sha256File(join(committed, f)) === sha256File(join(rebuilt, f))) files.push({ file: f, verdict: 'identical' });
    else if (f === MODEL_META_FILE && ma && mb) files.push({ file: f, verdict: ma.json === mb.json ? 'same content' : 'differs' });
    else if (f === 'model-card.md' && ma && mb) {
      const same = blank(readFileSync(join(committed, f), 'utf8'), ma.volatile) === blank(readFileSync(join(rebuilt, f), 'utf8'), mb.volatile);
      files.push({ file: f, verdict: same ? 'same content' : 'differs' });
    } else files.push({ file: f, verdict: 'differs' });
  }
  // SHA256SUMS lists ferlab.json and the card, whose volatile fields differ: it is compared through the files it lists
  return { ok: files.every((x) => x.verdict === 'identical' || x.verdict === 'same content'), files };
}

/** Removes a scratch folder of a rebuild (never a committed release). */
export function removeScratch(dir: string): void {
  if (basename(dirname(resolve(dir))) === 'models' && RELEASES.some((r) => r.name === basename(dir))) return;
  rmSync(dir, { recursive: true, force: true });
}

/**
 * One row per release for models/README.md and `ferlab release list`: classes, PrivateTest accuracy with its 95%
 * bootstrap interval, plain and with the run's recorded TTA, and the size of every file together.
 */
export function releaseRows(): Array<Record<string, string>> {
  return RELEASES.map((spec) => {
    const dir = releaseDir(spec.name);
    const file = join(dir, MODEL_META_FILE);
    if (!existsSync(file)) return { release: spec.name, classes: '-', PrivateTest: 'not built', 'with TTA': '-', size: '-' };
    const meta = records(() => readExportedModelMeta(dir));
    const p = meta.evaluation.privateTest.interval;
    const t = meta.evaluation.tta;
    const bytes = releaseFiles(dir).reduce((a, f) => a + lstatSync(join(dir, f)).size, 0);
    return {
      release: spec.name,
      classes: String(meta.classes.length),
      PrivateTest: `${pct(p.accuracy)} (${pct(p.lower)}-${pct(p.upper)}), ${p.n} images`,
      'with TTA': t ? `${pct(t.privateTest.interval.accuracy)} (${pct(t.privateTest.interval.lower)}-${pct(t.privateTest.interval.upper)}), ${t.mode}` : '-',
      size: `${(bytes / 1024 / 1024).toFixed(1)} MiB (${Object.entries(meta.export.formats)
        .map(([f, x]) => `${f} ${(x.bytes / 1024 / 1024).toFixed(1)}`)
        .join(', ')})`,
    };
  });
}
