import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { defaultRunsDir } from '../util/paths';
import { writeReport } from '../viz/render';
import {
  sweepReport,
  type SweepBestTrial,
  type SweepParamImportance,
  type SweepParamInfo,
  type SweepReportData,
  type SweepSplitScores,
  type SweepTrialData,
  type SweepValue,
} from '../viz/sweep-report';
import { journalPath, readJournal, replayEvents, type TrialRecord } from './journal';
import type { Condition, Params, SearchSpace } from './space';
import { toSettingsDiff } from './space';
import { SweepSpecSchema, trialSettingsDiff } from './spec';
import { z } from 'zod';
import { parseRecord, RecordError, tryReadRecord } from '../records/io';
import { CONFIG_FILE, EpochRecordSchema, EPOCHS_FILE, METRICS_FILE, runConfigFileSchema } from '../records/run';
import { parseJournalEvent, ReproductionSchema, SplitScoreSchema, SWEEP_FILE, SWEEP_RESULTS_FILE, SweepRecordSchema } from '../records/sweep';

/**
 * The sweep report: loads a sweep folder into the plain data that src/viz/sweep-report.ts draws, computes the
 * parameter importances, picks the best trial (by the objective on PublicTest only) with the command that reproduces
 * it, and writes `report.html` into the folder (plotly.js inlined: one self-contained file, no network).
 *
 * A sweep folder holds `journal.jsonl` (required: the sweep's state, src/sweep/journal.ts), `sweep.json` (optional:
 * `{ spec, environment?, command? }`, the resolved spec and the command that ran the sweep) and one run record per
 * trial (optional: `trial-0003/` or the `runDir` its journal state events name, with config.json, epochs.jsonl,
 * metrics.json and status.json as src/exp/run.ts writes them). Missing optional files are tolerated and noted.
 */

/** The sweep folder's description (spec, environment, command), written by the sweep runner (src/sweep/runner.ts). */
const SWEEP_JSON = SWEEP_FILE;
/** The sweep runner's leaderboard, with how to reproduce the best trial (optional). */
const RESULTS_JSON = SWEEP_RESULTS_FILE;

/** File name of the report written into the sweep folder. */
export const SWEEP_REPORT_FILE = 'report.html';

/**
 * How {@link paramImportance} computes importances, with its sources; shown in the report beside the importance
 * chart.
 */
export const IMPORTANCE_METHOD =
  'Importance = first-order (main-effect) variance decomposition of the objective: for each parameter x_i, the share ' +
  'of the variance of the objective y over the complete trials that is explained by x_i alone, S_i = Var(E[y | x_i]) / ' +
  'Var(y), the first-order sensitivity index of Sobol (1993, "Sensitivity estimates for nonlinear mathematical models", ' +
  'Mathematical Modeling and Computational Experiment 1(4)), as in the main effects of fANOVA (Hutter, Hoos & ' +
  'Leyton-Brown 2014, "An efficient approach for assessing hyperparameter importance", ICML). It is estimated by ' +
  'binning: a categorical parameter has one bin per value (and one for "unset" where a conditional parameter is ' +
  'absent); a numeric one has one bin per distinct value when it has at most round(sqrt(n)) of them (2 to 10 bins), ' +
  "else that many equal-count bins of its sorted values (so log-scale and linear parameters bin alike). The bins' " +
  'between-group share of the variance is corrected for what k bins explain by chance in n trials (epsilon-squared, ' +
  'Kelley 1935, PNAS 21(9)): (SS_between - (k - 1) SS_within / (n - k)) / SS_total, clipped to [0, 1]; with one trial ' +
  'per bin (n = k) the uncorrected share is used. The indices are normalised to sum 1. Interactions are not ' +
  'attributed, and with few trials the estimates are rough.';

/**
 * The fields of a sweep folder's sweep.json that the report reads (src/records/sweep.ts SweepRecordSchema), every one
 * optional: the spec (checked by the sweep spec schema), the environment, and the command that ran the sweep, as one
 * string or as argv (the runner records an API call as text).
 */
const SweepFileSchema = SweepRecordSchema.pick({ name: true, quick: true, state: true })
  .extend({
    spec: SweepSpecSchema,
    environment: z.record(z.string(), z.unknown()),
    command: z.union([z.string(), z.array(z.string())]),
  })
  .partial();
type SweepFile = z.infer<typeof SweepFileSchema>;

/** The fields of the runner's results.json that the report reads: how to reproduce the best trial. */
const ResultsFileSchema = z.object({
  best: z.object({ trial: z.number().optional(), reproduce: ReproductionSchema.partial().optional() }).nullable().optional(),
});

/** The fields of a run record's metrics.json that the report reads (src/records/run.ts RunSummarySchema). */
const MetricsFileSchema = z.object({ val: SplitScoreSchema.partial(), test: SplitScoreSchema.partial(), epochs: z.number() }).partial();
type MetricsFile = z.infer<typeof MetricsFileSchema>;

/** config.json's `run` (the resolved run config), which the report shows for the best trial. */
const ConfigFileSchema = runConfigFileSchema(z.record(z.string(), z.unknown())).partial();

/** The fields of an epochs.jsonl line the report reads, each optional (src/records/run.ts EpochRecordSchema). */
const EpochLineSchema = EpochRecordSchema.partial();

/**
 * A record that may be absent (undefined) or unreadable (undefined, with a note naming the file and the fields).
 */
function readOptional<S extends z.ZodType>(schema: S, file: string, notes: string[]): z.infer<S> | undefined {
  return tryReadRecord(schema, file, (e) => notes.push(`${e.message.replace(/\n\s*/g, ' ')}: left out.`));
}

/** Quotes a word for a POSIX shell when it holds anything but plain characters. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_.,:/+=@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `--set key=value` arguments that fix the given params (values as ferlab's override parser reads them back:
 * numbers and booleans plainly, a string that would parse as JSON as a JSON string), shell-quoted.
 */
function setArgs(params: Params): string[] {
  return Object.entries(params).map(([k, v]) => {
    let text = String(v);
    if (typeof v === 'string') {
      try {
        JSON.parse(v);
        text = JSON.stringify(v);
      } catch {
        // not JSON: read back as the string itself
      }
    }
    return `--set ${shellQuote(`${k}=${text}`)}`;
  });
}

/** A sweep command with a trial's params fixed by `--set key=value`. */
function trialCommand(sweepCommand: string, params: Params): string {
  return [sweepCommand, ...setArgs(params)].join(' ');
}

/**
 * The command that ran the sweep: sweep.json `command` when it is a shell command (as argv: quoted and joined), else
 * (absent, or the runner's text of an API call such as `runSweep('x')`) `npm run ferlab -- sweep <name> [--quick]`.
 */
function sweepCommandOf(file: SweepFile, name: string): string {
  if (Array.isArray(file.command) && file.command.length) return file.command.map(shellQuote).join(' ');
  if (typeof file.command === 'string' && /^(npm|npx|node|tsx|ferlab)\s/.test(file.command.trim())) return file.command.trim();
  return `npm run ferlab -- sweep ${shellQuote(name)}${file.quick ? ' --quick' : ''}`;
}

/** Text of a parameter's condition: `when optimizer.name = sgd`. */
function conditionText(c: Condition | undefined): string | undefined {
  if (!c) return undefined;
  return 'in' in c ? `when ${c.param} in ${c.in.map(String).join(', ')}` : `when ${c.param} = ${String(c.equals)}`;
}

/** Parameter infos: those of the spec's space in order, then any others the trials hold, inferred from their values. */
function paramInfos(space: SearchSpace | undefined, trials: readonly TrialRecord[]): { params: SweepParamInfo[]; inferred: string[] } {
  const params: SweepParamInfo[] = Object.entries(space ?? {}).map(([name, p]) => ({
    name,
    kind: p.kind,
    log: p.kind === 'loguniform' || (p.kind === 'int' && p.log === true),
    ...(p.kind === 'choice' ? { values: [...p.values] } : {}),
    ...(p.when ? { when: conditionText(p.when) } : {}),
  }));
  const inferred: string[] = [];
  const seen = new Set(params.map((p) => p.name));
  for (const t of trials)
    for (const name of Object.keys(t.params))
      if (!seen.has(name)) {
        seen.add(name);
        inferred.push(name);
        const vals = trials.map((r) => r.params[name]).filter((v) => v !== undefined);
        if (vals.every((v) => typeof v === 'number')) {
          const nums = vals as number[];
          const lo = Math.min(...nums);
          const hi = Math.max(...nums);
          const ints = nums.every(Number.isInteger);
          // without a spec, a positive float spanning two decades or more is drawn on a log axis (a guess)
          params.push({ name, kind: ints ? 'int' : 'uniform', log: !ints && lo > 0 && hi / lo >= 100 });
        } else {
          const values: SweepValue[] = [];
          for (const v of vals) if (!values.some((u) => typeof u === typeof v && u === v)) values.push(v);
          params.push({ name, kind: 'choice', log: false, values });
        }
      }
  return { params, inferred };
}

/**
 * Importance of each parameter for the objective over the given trials (use the complete ones), by the binned
 * first-order variance decomposition described in {@link IMPORTANCE_METHOD}, normalised to sum 1 (all 0 when the
 * objective does not vary or no parameter explains any of it). Same order as `params`.
 */
export function paramImportance(
  params: readonly SweepParamInfo[],
  trials: ReadonlyArray<{ params: Record<string, SweepValue>; value?: number }>,
): SweepParamImportance[] {
  const rows = trials.filter((t): t is { params: Record<string, SweepValue>; value: number } => t.value !== undefined && Number.isFinite(t.value));
  const n = rows.length;
  const y = rows.map((t) => t.value);
  const mean = n ? y.reduce((a, b) => a + b, 0) / n : 0;
  const ssTotal = y.reduce((a, v) => a + (v - mean) ** 2, 0);
  const raw = params.map((p) => {
    const bins = binOf(p, rows);
    const k = new Set(bins).size;
    if (n < 2 || !(ssTotal > 1e-15 * Math.max(1, mean * mean))) return { param: p.name, firstOrder: 0, bins: k };
    const sum = new Map<number, number>();
    const count = new Map<number, number>();
    bins.forEach((b, i) => {
      sum.set(b, (sum.get(b) ?? 0) + y[i]);
      count.set(b, (count.get(b) ?? 0) + 1);
    });
    let ssBetween = 0;
    for (const [b, s] of sum) ssBetween += count.get(b)! * (s / count.get(b)! - mean) ** 2;
    const ssWithin = Math.max(0, ssTotal - ssBetween);
    const s = n > k ? (ssBetween - ((k - 1) * ssWithin) / (n - k)) / ssTotal : ssBetween / ssTotal;
    return { param: p.name, firstOrder: Math.min(1, Math.max(0, s)), bins: k };
  });
  const total = raw.reduce((a, r) => a + r.firstOrder, 0);
  return raw.map((r) => ({ ...r, importance: total > 0 ? r.firstOrder / total : 0 }));
}

/** The bin of each trial's value of parameter `p` (see IMPORTANCE_METHOD); absent values get their own bin. */
function binOf(p: SweepParamInfo, rows: ReadonlyArray<{ params: Record<string, SweepValue> }>): number[] {
  const UNSET = -1;
  const vals = rows.map((t) => t.params[p.name]);
  const numeric = p.kind !== 'choice' && vals.every((v) => v === undefined || typeof v === 'number');
  if (!numeric) {
    const keys: string[] = [];
    return vals.map((v) => {
      if (v === undefined) return UNSET;
      const key = `${typeof v}:${String(v)}`;
      if (!keys.includes(key)) keys.push(key);
      return keys.indexOf(key);
    });
  }
  const present = (vals.filter((v) => v !== undefined) as number[]).sort((a, b) => a - b);
  const distinct = [...new Set(present)];
  const maxBins = Math.min(10, Math.max(2, Math.round(Math.sqrt(present.length))));
  return vals.map((v) => {
    if (v === undefined) return UNSET;
    const x = v as number;
    if (distinct.length <= maxBins) return distinct.indexOf(x);
    // equal-count bins by rank; equal values share the bin of their first occurrence
    return Math.floor((maxBins * present.indexOf(x)) / present.length);
  });
}

/** The run record folder of a trial: its journaled runDir (absolute, or relative to the sweep folder), else `trial-<n>`. */
function trialRunDir(dir: string, r: TrialRecord, folders: readonly string[]): string | undefined {
  if (r.runDir) {
    const p = isAbsolute(r.runDir) ? r.runDir : join(dir, r.runDir);
    if (existsSync(p)) return p;
  }
  const name = folders.find((f) => {
    const m = /^trial-0*(\d+)$/.exec(f);
    return m !== null && Number(m[1]) === r.trial;
  });
  return name ? join(dir, name) : undefined;
}

const scores = (m: Partial<SweepSplitScores> | undefined): SweepSplitScores | undefined =>
  m && typeof m.accuracy === 'number' ? { accuracy: m.accuracy, macroF1: typeof m.macroF1 === 'number' ? m.macroF1 : NaN } : undefined;

/**
 * The epochs.jsonl records of a run folder ([] when absent; a torn last line is ignored; the lines before one that is
 * not an epoch record, which a note names with its field).
 */
function readEpochLines(runDir: string, notes: string[]): Array<z.infer<typeof EpochLineSchema>> {
  const file = join(runDir, EPOCHS_FILE);
  if (!existsSync(file)) return [];
  const out: Array<z.infer<typeof EpochLineSchema>> = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch {
      break;
    }
    try {
      out.push(parseRecord(EpochLineSchema, value, `${file}:${i + 1}`));
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      notes.push(`${e.message}: the epochs from there on are left out.`);
      break;
    }
  }
  return out;
}

/**
 * Loads a sweep folder into the data of the sweep report: the trials (params, state, objective, per-epoch objective
 * from the journal's intermediate values, or from the run record's epochs.jsonl when the journal has none, and the
 * run record's PublicTest / PrivateTest scores), the objective, the parameters, the best trial (highest objective,
 * i.e. PublicTest only, ties to the lower trial number; never PrivateTest) with its settings diff, run config and
 * reproducing command, and the parameter importances over the complete trials.
 *
 * @param dir the sweep folder (with journal.jsonl; sweep.json and the run records are optional).
 * @throws Error when the folder has no journal, or the journal is corrupt (naming file and line).
 */
export function loadSweepReport(dir: string): SweepReportData {
  const jfile = journalPath(dir);
  if (!existsSync(jfile)) throw new Error(`${dir} is not a sweep folder: no ${jfile}`);
  const journal = readJournal(jfile);
  const records = replayEvents(journal.events, (i) => `${jfile}:${journal.lines[i]}`);
  const notes: string[] = [];
  const file: SweepFile = readOptional(SweepFileSchema, join(dir, SWEEP_JSON), notes) ?? {};
  if (!existsSync(join(dir, SWEEP_JSON))) notes.push(`No ${SWEEP_JSON}: the spec is unknown; parameter kinds are inferred from the trials' values.`);
  const spec = file.spec;
  const name = spec?.name ?? file.name ?? journal.header?.sweep ?? 'sweep';
  const metric = spec?.objective?.metric ?? 'accuracy';
  if (!spec?.objective) notes.push(`Objective metric unknown (no spec): assumed PublicTest ${metric}.`);
  const { params, inferred } = paramInfos(spec?.space, records);
  if (spec && inferred.length) notes.push(`Parameters not in the spec's space (kinds inferred): ${inferred.join(', ')}.`);

  const folders = existsSync(dir) ? readdirSync(dir).filter((f) => statSync(join(dir, f)).isDirectory()) : [];
  const epochField = metric === 'macroF1' ? 'valMacroF1' : 'valAccuracy';
  const missingRecords: number[] = [];
  const trials: SweepTrialData[] = records.map((r) => {
    const runDir = trialRunDir(dir, r, folders);
    let metrics: MetricsFile | undefined;
    let epochs: Array<z.infer<typeof EpochLineSchema>> = [];
    if (runDir) {
      metrics = readOptional(MetricsFileSchema, join(runDir, METRICS_FILE), notes);
      epochs = readEpochLines(runDir, notes);
    } else if (r.state !== 'failed') missingRecords.push(r.trial);
    let curve = [...r.intermediates].sort((a, b) => a[0] - b[0]).map(([epoch, value]) => ({ epoch, value }));
    if (!curve.length)
      curve = epochs.flatMap((e) => {
        const value = e[epochField];
        return typeof value === 'number' && typeof e.epoch === 'number' ? [{ epoch: e.epoch, value }] : [];
      });
    const t: SweepTrialData = { trial: r.trial, state: r.state, params: { ...r.params }, curve, attempts: r.attempts };
    if (r.value !== undefined) t.value = r.value;
    if (r.error !== undefined) t.error = r.error;
    if (runDir) t.runDir = runDir;
    const pub = scores(metrics?.val);
    const priv = scores(metrics?.test);
    if (pub) t.publicTest = pub;
    if (priv) t.privateTest = priv;
    const nEpochs = metrics?.epochs ?? (epochs.length || undefined);
    if (nEpochs !== undefined) t.epochs = nEpochs;
    return t;
  });
  if (missingRecords.length) notes.push(`No run record found for trial(s) ${missingRecords.join(', ')}.`);

  const complete = trials.filter((t) => t.state === 'complete' && t.value !== undefined && Number.isFinite(t.value));
  // the objective is a PublicTest metric (the spec's split): PrivateTest never enters the choice
  const bestTrial = complete.reduce<SweepTrialData | undefined>((b, t) => (b === undefined || t.value! > b.value! ? t : b), undefined);
  const sweepCommand = sweepCommandOf(file, name);
  let best: SweepBestTrial | undefined;
  if (bestTrial) {
    const p = bestTrial.params as Params;
    // the runner's results.json says how to train the best trial again with `npm run exp` (src/sweep/reproduce.ts):
    // exact, so it wins over the sweep command with the params fixed by --set
    const results = readOptional(ResultsFileSchema, join(dir, RESULTS_JSON), notes);
    const rep = results?.best?.trial === bestTrial.trial ? results.best.reproduce : undefined;
    best = {
      trial: bestTrial.trial,
      value: bestTrial.value!,
      params: { ...p },
      settings: spec ? (trialSettingsDiff(spec, p) as Record<string, unknown>) : toSettingsDiff(p),
      command: rep?.command || trialCommand(sweepCommand, p),
      sweepCommand,
    };
    if (rep?.snippet && rep.snippetName) best.snippet = { name: rep.snippetName, text: rep.snippet };
    if (bestTrial.publicTest) best.publicTest = bestTrial.publicTest;
    if (bestTrial.privateTest) best.privateTest = bestTrial.privateTest;
    const config = bestTrial.runDir ? readOptional(ConfigFileSchema, join(bestTrial.runDir, CONFIG_FILE), notes) : undefined;
    if (config?.run) best.config = config.run;
  }

  const env = file.environment;
  if (env)
    notes.push(
      `Ran on: ${['backend', 'cpu', 'cores', 'node']
        .filter((k) => env[k] !== undefined)
        .map((k) => `${k} ${String(env[k])}`)
        .join(', ')}.`,
    );

  const data: SweepReportData = {
    name,
    dir,
    objective: { metric, split: 'PublicTest', direction: 'maximize' },
    params,
    trials,
    importance: paramImportance(params, complete),
    importanceMethod: IMPORTANCE_METHOD,
  };
  if (spec?.question) data.question = spec.question;
  if (spec?.model) data.model = spec.model;
  if (spec?.labels) data.labels = spec.labels;
  if (spec?.sampler?.name) data.sampler = spec.sampler.name;
  if (spec?.pruner?.name) data.pruner = spec.pruner.name;
  if (best) data.best = best;
  if (notes.length) data.notes = notes;
  return data;
}

/**
 * Writes `report.html` into a sweep folder (atomically; plotly.js inlined, so the one file works offline): the
 * figures of src/viz/sweep-report.ts from {@link loadSweepReport}. Call it at the end of a sweep (and after each
 * trial, for a live view); it only reads the folder.
 * @param data the loaded report data, when the caller has it already.
 * @returns the report path.
 * @throws Error from loadSweepReport (no journal, corrupt journal).
 */
export function writeSweepReport(dir: string, data: SweepReportData = loadSweepReport(dir)): string {
  return writeReport(join(dir, SWEEP_REPORT_FILE), sweepReport(data), { inline: true });
}

/**
 * The newest sweep folder under `runsDir` (default FERLAB_RUNS_DIR or runs/): a folder holding a journal.jsonl whose
 * name starts with `prefix` (default: any name; the runner names sweep folders `<spec name>[-quick]-<timestamp>`),
 * newest by the journal header's time (the journal's modification time when the header is unreadable); undefined when
 * there is none.
 */
export function latestSweepDir(runsDir = defaultRunsDir(), prefix = ''): string | undefined {
  if (!existsSync(runsDir)) return undefined;
  const found = readdirSync(runsDir)
    .filter((d) => d.startsWith(prefix) && existsSync(journalPath(join(runsDir, d))))
    .map((d) => {
      const file = journalPath(join(runsDir, d));
      let time = statSync(file).mtimeMs;
      try {
        const h = parseJournalEvent(JSON.parse(readFileSync(file, 'utf8').split('\n', 1)[0]), file, 1);
        if (h.event === 'header') time = h.time;
      } catch {
        // keep the modification time
      }
      return { dir: join(runsDir, d), time };
    })
    .sort((a, b) => a.time - b.time || a.dir.localeCompare(b.dir));
  return found.length ? found[found.length - 1].dir : undefined;
}
