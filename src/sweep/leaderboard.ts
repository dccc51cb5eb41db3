import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pl from 'nodejs-polars';
import { isFerPlus, LABEL_SETS, type LabelSetName } from '../data/labels';
import { DEFAULT_SETTINGS } from '../exp/config';
import { z } from 'zod';
import { readJsonLines, tryReadRecord } from '../records/io';
import { CONFIG_FILE, EpochRecordSchema, EPOCHS_FILE, METRICS_FILE, runConfigFileSchema, RunStatusSchema, RunSummarySchema, STATUS_FILE } from '../records/run';
import { experimentFilePath, isExperimentFolder, RESULTS_FILE } from '../records/experiment';
import { SplitScoreSchema, SWEEP_FILE, SweepRecordSchema } from '../records/sweep';
import { defaultRunsDir } from '../util/paths';
import { formatSeconds, pct } from '../util/format';

/**
 * The leaderboard of every run record under a runs folder (`npm run ferlab -- runs`): the runs of experiments (`npm run
 * exp`, a folder with experiment.json), of sweeps (`ferlab sweep`, a folder with sweep.json) and of any other folder of run
 * records, one row each, with the settings that differ from the defaults. Read with the readers of src/exp/records.ts
 * (src/records: the fields of results.json, metrics.json, epochs.jsonl, config.json, status.json it shows, each
 * checked where present; a record it cannot read is left out of its row).
 */

/** One run record as a leaderboard row (plain data: numbers unformatted, null when unknown). */
export interface RunRow {
  /** Name of the experiment / sweep folder holding the run ('' for a run record directly in the runs folder). */
  group: string;
  /** What the folder is: an experiment (experiment.json), a sweep (sweep.json), or another folder of run records. */
  kind: 'experiment' | 'sweep' | 'folder';
  /** The experiment (experiments) or sweep spec name (sweeps), from experiment.json / sweep.json / the run's config. */
  experiment: string | null;
  /** Whether the experiment or sweep ran its quick variant. */
  quick: boolean;
  run: string;
  /** Absolute path of the run record. */
  dir: string;
  model: string;
  labels: string;
  /** status.json: running (or interrupted), complete, failed, pruned; `unknown` without status.json. */
  state: string;
  /** The settings that differ from the defaults (DEFAULT_SETTINGS), as dotted paths (a schedule or array whole). */
  settings: Record<string, unknown>;
  /** {@link settings} as a compact `key=value` list (numbers to 3 significant digits). */
  settingsText: string;
  /** PublicTest (val) accuracy and macro-F1 of the selected epoch (the best PublicTest accuracy; for unfinished runs, of epochs.jsonl). */
  publicTest: number | null;
  publicTestMacroF1: number | null;
  /** PrivateTest (test) accuracy and macro-F1 of the selected epoch (finished runs only). */
  privateTest: number | null;
  macroF1: number | null;
  /** Epochs trained and the selected epoch. */
  epochs: number | null;
  bestEpoch: number | null;
  /** Training-step seconds over all epochs. */
  trainSeconds: number | null;
}

/** Sort keys of {@link runsTable}: metrics best first, time shortest first; unknown values last. */
export const RUN_SORT_KEYS = ['publicTest', 'privateTest', 'macroF1', 'time'] as const;
export type RunSortKey = (typeof RUN_SORT_KEYS)[number];

/** Filters and order of {@link runsTable}. */
export interface RunsQuery {
  /** Only runs of this model. */
  model?: string;
  /** Only runs of this label set; `ferplus` = any FER+ label set. */
  labels?: string;
  /** Only runs of sweeps whose spec name or folder name is this (or whose folder name starts with `<name>-`). */
  sweep?: string;
  /** Order (default: publicTest). */
  sort?: RunSortKey;
}

const plain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** config.json `run` as the leaderboard reads it: identity fields when present, every setting kept. */
const LooseRunSchema = z.looseObject({
  name: z.string().optional(),
  model: z.string().optional(),
  labels: z.string().optional(),
  experiment: z.string().optional(),
});
/** The fields of experiment.json and sweep.json the leaderboard reads (src/records/experiment.ts, sweep.ts), each optional. */
const ExperimentNameSchema = z.object({ experiment: z.object({ name: z.string() }).optional(), quick: z.boolean().optional() });
const SweepNameSchema = SweepRecordSchema.pick({ kind: true, name: true, quick: true }).partial();
/** The fields of a RunSummary (metrics.json, results.json `runs`) the leaderboard reads, each optional. */
const RowSummarySchema = RunSummarySchema.pick({ name: true, model: true, labels: true, epochs: true, bestEpoch: true, trainSeconds: true })
  .partial()
  .extend({ val: SplitScoreSchema.partial().optional(), test: SplitScoreSchema.partial().optional() });
type RowSummary = z.infer<typeof RowSummarySchema>;
/** An experiment's results.json as the leaderboard reads it: the finished runs' summaries. */
const ExperimentRunsSchema = z.object({ runs: z.array(RowSummarySchema.extend({ name: z.string() })) });
/** The fields of an epochs.jsonl line the leaderboard reads (src/records/run.ts EpochRecordSchema). */
const RowEpochSchema = EpochRecordSchema.pick({ epoch: true, valAccuracy: true, valMacroF1: true, trainSeconds: true });
type RowEpoch = z.infer<typeof RowEpochSchema>;

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** Whether a folder is a run record (runOne writes config.json with the resolved `run` first). */
function isRunRecord(dir: string): boolean {
  return existsSync(join(dir, CONFIG_FILE)) && !isExperimentFolder(dir) && !existsSync(join(dir, SWEEP_FILE));
}

/**
 * The settings of a resolved run config that differ from `defaults`, flattened to dotted paths: groups key by key, a
 * schedule (an object with a name) or an array whole. Keys absent from the run (records older than a setting) count
 * as default.
 */
export function changedSettings(
  run: Record<string, unknown>,
  defaults: Record<string, unknown> = DEFAULT_SETTINGS as unknown as Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const walk = (v: Record<string, unknown>, d: Record<string, unknown> | undefined, path: string[]) => {
    for (const [k, x] of Object.entries(v)) {
      if (path.length === 0 && ['experiment', 'name', 'model', 'labels'].includes(k)) continue;
      const dv = d?.[k];
      if (x === undefined || same(x, dv)) continue;
      if (plain(x) && !('name' in x) && (dv === undefined || plain(dv))) walk(x, dv as Record<string, unknown> | undefined, [...path, k]);
      else out[[...path, k].join('.')] = x;
    }
  };
  walk(run, defaults, []);
  return out;
}

/** A setting value as compact text: numbers to 3 significant digits (1.23e-4 below 1e-3), JSON otherwise. */
export function compactValue(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const p = Number(v.toPrecision(3));
    return Math.abs(p) < 1e-3 && p !== 0 ? p.toExponential() : String(p);
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The best-PublicTest-accuracy epoch of a history (first on ties), as train() selects it. */
function selected(history: readonly RowEpoch[]): RowEpoch | undefined {
  let best: RowEpoch | undefined;
  for (const h of history) if (!best || h.valAccuracy > best.valAccuracy) best = h;
  return best;
}

/** The row of one run record. `summary`: its RunSummary when the caller has it (an experiment's results.json). */
function runRow(dir: string, group: string, kind: RunRow['kind'], experiment: string | null, quick: boolean, summary?: RowSummary): RunRow | undefined {
  const config = tryReadRecord(runConfigFileSchema(LooseRunSchema), join(dir, CONFIG_FILE));
  if (!config) return undefined;
  const status = tryReadRecord(RunStatusSchema, join(dir, STATUS_FILE));
  const state = status?.state ?? (existsSync(join(dir, METRICS_FILE)) ? 'complete' : 'unknown');
  const s = summary ?? (state === 'complete' ? tryReadRecord(RowSummarySchema, join(dir, METRICS_FILE)) : undefined);
  let history: RowEpoch[] = [];
  if (existsSync(join(dir, EPOCHS_FILE)))
    try {
      history = readJsonLines(RowEpochSchema, join(dir, EPOCHS_FILE));
    } catch {
      history = [];
    }
  const sel = selected(history);
  const settings = changedSettings(config.run);
  return {
    group,
    kind,
    experiment: experiment ?? config.run.experiment ?? null,
    quick,
    run: config.run.name ?? dir.split(/[\\/]/).pop()!,
    dir,
    model: String(config.run.model ?? s?.model ?? '?'),
    labels: String(config.run.labels ?? s?.labels ?? '?'),
    state,
    settings,
    settingsText: Object.entries(settings)
      .map(([k, v]) => `${k}=${compactValue(v)}`)
      .join(' '),
    publicTest: s?.val?.accuracy ?? sel?.valAccuracy ?? null,
    publicTestMacroF1: s?.val?.macroF1 ?? sel?.valMacroF1 ?? null,
    privateTest: s?.test?.accuracy ?? null,
    macroF1: s?.test?.macroF1 ?? null,
    epochs: s?.epochs ?? (history.length || null),
    bestEpoch: s?.bestEpoch ?? sel?.epoch ?? null,
    trainSeconds: s?.trainSeconds ?? (history.length ? history.reduce((a, h) => a + h.trainSeconds, 0) : null),
  };
}

/** Rows of every run record in one experiment / sweep / other folder. */
function folderRows(dir: string, name: string): RunRow[] {
  const experimentRecord = tryReadRecord(ExperimentNameSchema, experimentFilePath(dir));
  const sweep = tryReadRecord(SweepNameSchema, join(dir, SWEEP_FILE));
  const kind: RunRow['kind'] = existsSync(join(dir, SWEEP_FILE)) ? 'sweep' : isExperimentFolder(dir) ? 'experiment' : 'folder';
  const experiment = sweep?.name ?? experimentRecord?.experiment?.name ?? null;
  const quick = !!(sweep?.quick ?? experimentRecord?.quick);
  // a finished experiment's results.json has every finished run's summary; the others are read from metrics.json
  const results = kind === 'experiment' ? tryReadRecord(ExperimentRunsSchema, join(dir, RESULTS_FILE)) : undefined;
  const summaries = new Map<string, RowSummary>((results?.runs ?? []).map((r) => [r.name, r]));
  const rows: RunRow[] = [];
  for (const sub of readdirSync(dir).sort()) {
    const rdir = join(dir, sub);
    if (!isDir(rdir) || !isRunRecord(rdir)) continue;
    const row = runRow(rdir, name, kind, experiment, quick, summaries.get(sub));
    if (row) rows.push(row);
  }
  return rows;
}

/**
 * Every run record under `dir` (default FERLAB_RUNS_DIR or runs/): run records directly in it and in its subfolders
 * (experiments, sweeps, other folders of run records), filtered and sorted by `q`.
 *
 * @param q.sort publicTest, privateTest, macroF1 (best first) or time (train time, shortest first); unknown values
 *   last; ties keep folder order.
 * @returns plain rows (see RunRow); an empty list when `dir` does not exist.
 * @throws Error for a `labels` filter that is no label set (nor `ferplus`), or an unknown sort key.
 */
export function runsTable(dir: string = defaultRunsDir(), q: RunsQuery = {}): RunRow[] {
  if (q.labels !== undefined && q.labels !== 'ferplus' && !(LABEL_SETS as readonly string[]).includes(q.labels))
    throw new Error(`--labels '${q.labels}' is not a label set: expected ferplus or one of ${LABEL_SETS.join(', ')}`);
  const sort = q.sort ?? 'publicTest';
  if (!(RUN_SORT_KEYS as readonly string[]).includes(sort)) throw new Error(`--sort '${sort}': expected one of ${RUN_SORT_KEYS.join(', ')}`);
  const root = resolve(dir);
  if (!isDir(root)) return [];
  let rows: RunRow[] = [];
  for (const sub of readdirSync(root).sort()) {
    const p = join(root, sub);
    if (!isDir(p)) continue;
    if (isRunRecord(p)) {
      const row = runRow(p, '', 'folder', null, false);
      if (row) rows.push(row);
    } else rows.push(...folderRows(p, sub));
  }
  if (q.model !== undefined) rows = rows.filter((r) => r.model === q.model);
  if (q.labels !== undefined)
    rows = rows.filter((r) =>
      q.labels === 'ferplus' ? (LABEL_SETS as readonly string[]).includes(r.labels) && isFerPlus(r.labels as LabelSetName) : r.labels === q.labels,
    );
  if (q.sweep !== undefined)
    rows = rows.filter((r) => r.kind === 'sweep' && (r.experiment === q.sweep || r.group === q.sweep || r.group.startsWith(`${q.sweep}-`)));
  const key = (r: RunRow): number | null =>
    sort === 'time' ? r.trainSeconds : sort === 'privateTest' ? r.privateTest : sort === 'macroF1' ? r.macroF1 : r.publicTest;
  const dirn = sort === 'time' ? 1 : -1;
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const ka = key(a.r);
      const kb = key(b.r);
      if (ka === null || kb === null) return ka === kb ? a.i - b.i : ka === null ? 1 : -1;
      return dirn * (ka - kb) || a.i - b.i;
    })
    .map((x) => x.r);
}

const COLUMNS = [
  'group',
  'kind',
  'experiment',
  'quick',
  'run',
  'model',
  'labels',
  'state',
  'settingsText',
  'publicTest',
  'publicTestMacroF1',
  'privateTest',
  'macroF1',
  'epochs',
  'bestEpoch',
  'trainSeconds',
  'dir',
] as const;

/**
 * {@link runsTable} as a nodejs-polars DataFrame (for notebooks): one row per run, the columns of RunRow with the
 * settings as `settingsText`; metrics as Float64 (null when unknown), epochs as Float64, `quick` as Boolean.
 */
export function runsDataFrame(dir: string = defaultRunsDir(), q: RunsQuery = {}): pl.DataFrame {
  const rows = runsTable(dir, q);
  return pl.DataFrame(
    Object.fromEntries(
      COLUMNS.map((c) => {
        const values = rows.map((r) => r[c]);
        if (c === 'quick') return [c, pl.Series(c, values as boolean[], pl.Bool)];
        const numeric = ['publicTest', 'publicTestMacroF1', 'privateTest', 'macroF1', 'epochs', 'bestEpoch', 'trainSeconds'].includes(c);
        return [c, pl.Series(c, values as Array<string | number | null>, numeric ? pl.Float64 : pl.Utf8)];
      }),
    ),
  );
}

/** Rows of {@link runsTable} formatted for printing (src/cli/table.ts printTable). */
export function runsTableRows(rows: readonly RunRow[]): Array<Record<string, string>> {
  return rows.map((r) => ({
    'experiment/sweep': r.group ? `${r.group}${r.kind === 'sweep' ? ' (sweep)' : ''}` : '-',
    run: r.run,
    model: r.model,
    labels: r.labels,
    state: r.state,
    settings: r.settingsText || '(defaults)',
    'PublicTest acc': pct(r.publicTest),
    'PrivateTest acc': pct(r.privateTest),
    'macro-F1': r.macroF1 === null ? '-' : r.macroF1.toFixed(3),
    epochs: r.epochs === null ? '-' : r.bestEpoch !== null ? `${r.bestEpoch}/${r.epochs}` : String(r.epochs),
    'train time': r.trainSeconds === null ? '-' : formatSeconds(r.trainSeconds),
  }));
}
