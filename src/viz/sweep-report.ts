import { baseLayout, COLORS, type Figure } from './figure';
import type { Report, ReportSection } from './render';
import type { ParamValue, SplitScore, TrialState } from '../records/sweep';
import { pct } from '../util/format';

/**
 * Figures and the HTML report of a hyper-parameter sweep, as the Optuna dashboard draws them
 * (https://optuna.readthedocs.io/en/stable/reference/visualization/): optimization history with the best-so-far line,
 * parallel coordinates, one slice plot per parameter, intermediate values (learning curves of the objective, pruned
 * trials dashed), parameter importance, and tables of the trials and the best trial.
 *
 * Drawing only, from plain inputs ({@link SweepReportData}): src/sweep/report.ts loads a sweep folder (journal,
 * sweep.json, run records) into these and computes the importances; viz depends on no sweep code (the record types
 * come from src/records).
 */

/** A parameter value of a trial (the journal's `params` values: src/records/sweep.ts ParamValue). */
export type SweepValue = ParamValue;

/** State of a trial (the journal's states, src/records/sweep.ts; `running` = unfinished or interrupted). */
export type SweepTrialState = TrialState;

/** A searched parameter, as the figures need it. */
export interface SweepParamInfo {
  /** Dotted setting path (`lr`, `optimizer.weightDecay`). */
  name: string;
  /** Kind of the parameter in the spec (`choice` = categorical). */
  kind: 'choice' | 'uniform' | 'loguniform' | 'int';
  /** Drawn on a log axis (loguniform, or int with log). */
  log: boolean;
  /** Categorical parameters: the values in spec order (axes and ticks follow it). */
  values?: SweepValue[];
  /** Conditional parameter: the condition, as text (`when optimizer.name = sgd`). */
  when?: string;
}

/** PublicTest (val) or PrivateTest (test) scores of a trial's run record (src/records/sweep.ts SplitScore). */
export type SweepSplitScores = SplitScore;

/** One trial, as drawn. */
export interface SweepTrialData {
  /** Trial number (0, 1, ... in order of creation). */
  trial: number;
  state: SweepTrialState;
  params: Record<string, SweepValue>;
  /** The objective (a PublicTest metric): final value of a complete trial, value at pruning of a pruned one. */
  value?: number;
  /** The objective after each epoch (journal intermediate values), epochs ascending. */
  curve: Array<{ epoch: number; value: number }>;
  /** Best-epoch PublicTest scores from the run record's metrics.json (`val`), when present. */
  publicTest?: SweepSplitScores;
  /** PrivateTest scores from the run record's metrics.json (`test`): reported, never used to select. */
  privateTest?: SweepSplitScores;
  /** Epochs trained (run record), when known. */
  epochs?: number;
  /** Attempts (1 + retries). */
  attempts: number;
  /** Why a failed trial failed. */
  error?: string;
  /** The trial's run record folder, when found. */
  runDir?: string;
}

/** What the sweep maximises. */
export interface SweepObjectiveInfo {
  /** Metric name (`accuracy`, `macroF1`). */
  metric: string;
  /** Always PublicTest: PrivateTest never selects. */
  split: 'PublicTest';
  direction: 'maximize';
}

/** Importance of one parameter. */
export interface SweepParamImportance {
  param: string;
  /** Normalised importance: the importances of a sweep sum to 1 (all 0 when none explains anything). */
  importance: number;
  /** The estimated first-order index itself, in [0, 1], before normalisation. */
  firstOrder: number;
  /** Bins the parameter's values were grouped into. */
  bins: number;
}

/** The best trial: chosen by the objective on PublicTest only. */
export interface SweepBestTrial {
  trial: number;
  /** Its objective value (PublicTest). */
  value: number;
  params: Record<string, SweepValue>;
  /** The settings diff it trained with (the spec's base deep-merged with its params). */
  settings: Record<string, unknown>;
  /** The resolved run config of its run record (config.json `run`), when present. */
  config?: Record<string, unknown>;
  /** The command that reproduces it. */
  command: string;
  /** An experiment file that trains it (name and TypeScript source), when the sweep runner wrote one. */
  snippet?: { name: string; text: string };
  /** The command that ran the sweep. */
  sweepCommand: string;
  publicTest?: SweepSplitScores;
  privateTest?: SweepSplitScores;
}

/** Everything the sweep report draws (src/sweep/report.ts `loadSweepReport` builds it from a sweep folder). */
export interface SweepReportData {
  /** Sweep name (spec name, or the journal header's). */
  name: string;
  /** The sweep folder. */
  dir: string;
  question?: string;
  model?: string;
  labels?: string;
  /** Sampler and pruner names, when the spec is known. */
  sampler?: string;
  pruner?: string;
  objective: SweepObjectiveInfo;
  /** Parameters in spec order. */
  params: SweepParamInfo[];
  /** Trials in trial order. */
  trials: SweepTrialData[];
  best?: SweepBestTrial;
  /** Importance of each parameter (same order as `params`). */
  importance: SweepParamImportance[];
  /** How the importances were computed, with its sources (shown in the page). */
  importanceMethod: string;
  /** Notes about missing optional files (no sweep.json, trials without run records, ...). */
  notes?: string[];
}

/** Display name of the objective: `PublicTest accuracy`. */
export function objectiveLabel(o: SweepObjectiveInfo): string {
  return `${o.split} ${o.metric}`;
}

/** An objective value as text: accuracy in percent (2 decimals), other metrics with 4 decimals. */
export function formatObjective(metric: string, v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return metric === 'accuracy' ? `${(100 * v).toFixed(2)}%` : v.toFixed(4);
}

/** A parameter value as text: numbers with 4 significant digits (exponent notation when tiny or huge). */
export function formatParamValue(v: SweepValue | undefined): string {
  if (v === undefined) return '-';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

const STATE_STYLE: Record<SweepTrialState, { dash: string; symbol: string; color?: string }> = {
  complete: { dash: 'solid', symbol: 'circle' },
  pruned: { dash: 'dash', symbol: 'x', color: '#999999' },
  failed: { dash: 'dot', symbol: 'triangle-down', color: COLORS[5] },
  running: { dash: 'dot', symbol: 'circle-open' },
};

const finished = (t: SweepTrialData): t is SweepTrialData & { value: number } => t.state === 'complete' && t.value !== undefined && Number.isFinite(t.value);

/**
 * The best-so-far objective after each complete trial, in trial order: `values[i]` is the maximum of the complete
 * trials' values up to the i-th complete trial (Optuna's "Best Value" line).
 */
export function bestSoFar(trials: readonly SweepTrialData[]): Array<{ trial: number; value: number }> {
  let best = -Infinity;
  return trials.filter(finished).map((t) => {
    best = Math.max(best, t.value);
    return { trial: t.trial, value: best };
  });
}

/**
 * Optimization history: the objective of every complete trial in trial order (markers), pruned trials at the value
 * they were pruned at (grey crosses), and the best value so far (step line over the complete trials).
 */
export function optimizationHistoryFigure(data: Pick<SweepReportData, 'trials' | 'objective'>): Figure {
  const done = data.trials.filter(finished);
  const pruned = data.trials.filter((t) => t.state === 'pruned' && t.value !== undefined);
  const best = bestSoFar(data.trials);
  const label = objectiveLabel(data.objective);
  return {
    data: [
      {
        type: 'scatter',
        mode: 'markers',
        name: `${label} (complete trials)`,
        x: done.map((t) => t.trial),
        y: done.map((t) => t.value),
        marker: { color: COLORS[0], size: 8 },
        hovertemplate: 'trial %{x}: %{y}<extra></extra>',
      },
      {
        type: 'scatter',
        mode: 'markers',
        name: 'pruned (value when pruned)',
        x: pruned.map((t) => t.trial),
        y: pruned.map((t) => t.value),
        marker: { color: STATE_STYLE.pruned.color, symbol: 'x', size: 8 },
        hovertemplate: 'trial %{x} pruned at %{y}<extra></extra>',
      },
      {
        type: 'scatter',
        mode: 'lines',
        name: 'best so far',
        x: best.map((b) => b.trial),
        y: best.map((b) => b.value),
        line: { color: COLORS[5], shape: 'hv' },
      },
    ],
    layout: baseLayout('Optimization history', {
      xaxis: { title: { text: 'trial' }, dtick: data.trials.length <= 30 ? 1 : undefined },
      yaxis: { title: { text: `${label} (objective, maximised)` }, ...(data.objective.metric === 'accuracy' ? { tickformat: '.1%' } : {}) },
      legend: { orientation: 'h', y: -0.2 },
    }),
  };
}

/** Mapping of a categorical parameter's values to parallel-coordinates ticks: value i of `values` at tick i. */
export function categoricalTicks(
  p: Pick<SweepParamInfo, 'values'>,
  present: readonly SweepValue[],
): { index: (v: SweepValue | undefined) => number; tickvals: number[]; ticktext: string[] } {
  const keys: string[] = [];
  const text: string[] = [];
  const add = (v: SweepValue) => {
    const k = `${typeof v}:${String(v)}`;
    if (!keys.includes(k)) {
      keys.push(k);
      text.push(String(v));
    }
  };
  for (const v of p.values ?? []) add(v);
  for (const v of present) add(v);
  const unset = keys.length;
  return {
    index: (v) => (v === undefined ? unset : keys.indexOf(`${typeof v}:${String(v)}`)),
    tickvals: keys.map((_, i) => i),
    ticktext: text,
  };
}

const isCategorical = (p: SweepParamInfo) => p.kind === 'choice';

/** Ticks of a log axis drawn as log10 values: the powers of ten in range (or the ends when none), labelled plainly. */
function logTicks(lo: number, hi: number): { tickvals: number[]; ticktext: string[] } {
  const vals: number[] = [];
  for (let e = Math.ceil(lo - 1e-9); e <= Math.floor(hi + 1e-9); e++) vals.push(e);
  if (vals.length < 2) vals.splice(0, vals.length, lo, hi);
  return { tickvals: vals, ticktext: vals.map((e) => formatParamValue(Number((10 ** e).toPrecision(3)))) };
}

/**
 * Parallel coordinates of the complete trials: one axis per parameter and a last axis for the objective, each
 * trial a line coloured by its objective. Categorical parameters become ticks 0, 1, ... in the spec's value order
 * (plus `(unset)` for trials where a conditional parameter is absent); log-scale parameters are drawn as log10 with
 * ticks labelled by value. Trials lacking a numeric parameter (conditional) are left out, and the title says how many.
 */
export function parallelCoordinatesFigure(data: Pick<SweepReportData, 'trials' | 'params' | 'objective'>): Figure {
  const done = data.trials.filter(finished);
  const numeric = data.params.filter((p) => !isCategorical(p));
  const rows = done.filter((t) => numeric.every((p) => typeof t.params[p.name] === 'number'));
  const left = done.length - rows.length;
  const dimensions: Array<Record<string, unknown>> = data.params.map((p) => {
    const vals = rows.map((t) => t.params[p.name]);
    if (isCategorical(p)) {
      const ticks = categoricalTicks(
        p,
        vals.filter((v): v is SweepValue => v !== undefined),
      );
      const hasUnset = vals.some((v) => v === undefined);
      const tickvals = hasUnset ? [...ticks.tickvals, ticks.tickvals.length] : ticks.tickvals;
      const ticktext = hasUnset ? [...ticks.ticktext, '(unset)'] : ticks.ticktext;
      return { label: p.name, values: vals.map(ticks.index), tickvals, ticktext, range: [0, Math.max(1, tickvals.length - 1)] };
    }
    const nums = vals as number[];
    if (p.log) {
      const logs = nums.map((v) => Math.log10(v));
      const lo = Math.min(...logs);
      const hi = Math.max(...logs);
      return { label: `${p.name} (log)`, values: logs, ...(logs.length ? logTicks(lo, hi) : {}) };
    }
    return { label: p.name, values: nums };
  });
  const y = rows.map((t) => t.value);
  const label = objectiveLabel(data.objective);
  dimensions.push({ label, values: y });
  return {
    data: [
      {
        type: 'parcoords',
        dimensions,
        line: { color: y, colorscale: 'Viridis', showscale: true, colorbar: { title: { text: data.objective.metric } } },
      },
    ],
    layout: baseLayout(`Parallel coordinates${left ? ` (${left} complete trial(s) without every numeric parameter left out)` : ''}`, {
      margin: { l: 80, r: 80, t: 80, b: 40 },
      height: 440,
    }),
  };
}

/**
 * Slice plot of one parameter: the objective of each complete trial against the parameter's value, coloured by
 * trial number; a log x axis for loguniform (and log int) parameters, a category axis in spec order for choices.
 */
export function sliceFigure(data: Pick<SweepReportData, 'trials' | 'objective'>, p: SweepParamInfo): Figure {
  const done = data.trials.filter(finished).filter((t) => t.params[p.name] !== undefined);
  const cat = isCategorical(p);
  const x = done.map((t) => (cat ? String(t.params[p.name]) : t.params[p.name]));
  const xaxis: Record<string, unknown> = { title: { text: p.name } };
  if (cat) Object.assign(xaxis, { type: 'category', categoryorder: 'array', categoryarray: categoricalTicks(p, []).ticktext });
  else if (p.log) xaxis.type = 'log';
  return {
    data: [
      {
        type: 'scatter',
        mode: 'markers',
        name: p.name,
        x,
        y: done.map((t) => t.value),
        text: done.map((t) => `trial ${t.trial}`),
        marker: {
          size: 9,
          color: done.map((t) => t.trial),
          // later trials darker, as Optuna's slice plot
          colorscale: 'Blues',
          reversescale: true,
          showscale: true,
          colorbar: { title: { text: 'trial' }, thickness: 10 },
          line: { width: 0.5, color: '#333' },
        },
        hovertemplate: '%{text}: %{x} -> %{y}<extra></extra>',
      },
    ],
    layout: baseLayout(`Slice plot: ${p.name}${p.when ? ` (${p.when})` : ''}`, {
      xaxis,
      yaxis: { title: { text: objectiveLabel(data.objective) }, ...(data.objective.metric === 'accuracy' ? { tickformat: '.1%' } : {}) },
      showlegend: false,
      height: 360,
    }),
  };
}

/** One slice plot per parameter, in spec order. */
export function sliceFigures(data: Pick<SweepReportData, 'trials' | 'objective' | 'params'>): Figure[] {
  return data.params.map((p) => sliceFigure(data, p));
}

/**
 * Intermediate values: the objective after each epoch of every trial (Optuna's intermediate-values plot). Complete
 * trials are solid lines, pruned trials dashed and grey with a cross at the epoch they were pruned at, failed and
 * unfinished trials dotted. Each trace's `name` says the state (`trial 3 (pruned)`).
 */
export function intermediateValuesFigure(data: Pick<SweepReportData, 'trials' | 'objective'>): Figure {
  const traces = data.trials
    .filter((t) => t.curve.length > 0)
    .map((t, i) => {
      const s = STATE_STYLE[t.state];
      const color = s.color ?? COLORS[i % COLORS.length];
      const last = t.curve.length - 1;
      return {
        type: 'scatter',
        mode: 'lines+markers',
        name: `trial ${t.trial}${t.state === 'complete' ? '' : ` (${t.state})`}`,
        x: t.curve.map((c) => c.epoch),
        y: t.curve.map((c) => c.value),
        line: { color, dash: s.dash, width: t.state === 'complete' ? 2 : 1.5 },
        marker: {
          color,
          // the last point carries the state's symbol (a cross where a pruned trial stopped)
          symbol: t.curve.map((_, k) => (k === last ? s.symbol : 'circle')),
          size: t.curve.map((_, k) => (k === last && t.state !== 'complete' ? 10 : 5)),
        },
        meta: { trial: t.trial, state: t.state },
      };
    });
  return {
    data: traces,
    layout: baseLayout('Intermediate values', {
      xaxis: { title: { text: 'epoch' }, dtick: 1 },
      yaxis: { title: { text: `${objectiveLabel(data.objective)} after the epoch` }, ...(data.objective.metric === 'accuracy' ? { tickformat: '.1%' } : {}) },
      legend: { orientation: 'v' },
      height: 420,
    }),
  };
}

/** Parameter importance as horizontal bars, most important on top, with the share in percent. */
export function paramImportanceFigure(importance: readonly SweepParamImportance[], method = 'first-order variance decomposition'): Figure {
  const sorted = [...importance].sort((a, b) => a.importance - b.importance);
  return {
    data: [
      {
        type: 'bar',
        orientation: 'h',
        x: sorted.map((i) => i.importance),
        y: sorted.map((i) => i.param),
        text: sorted.map((i) => `${(100 * i.importance).toFixed(1)}%`),
        textposition: 'auto',
        marker: { color: COLORS[0] },
        hovertemplate: '%{y}: %{x:.3f}<extra></extra>',
      },
    ],
    layout: baseLayout('Hyperparameter importance', {
      xaxis: { title: { text: `importance (${method}, normalised to sum 1)` }, range: [0, 1], tickformat: '.0%' },
      yaxis: { automargin: true },
      height: 140 + sorted.length * 34,
      margin: { l: 160, r: 20, t: 50, b: 60 },
    }),
  };
}

/** Options of {@link sweepTrialRows}. */
export interface SweepRowsOptions {
  /** `rank` (default): complete trials by objective, best first, then pruned, running and failed ones; `trial`: trial order. */
  order?: 'rank' | 'trial';
}

const STATE_RANK: Record<SweepTrialState, number> = { complete: 0, pruned: 1, running: 2, failed: 3 };

/**
 * The trials as table rows (the leaderboard): trial, state, objective, each parameter, PublicTest and PrivateTest
 * accuracy of the run record, epochs and a note (error or retries). The rank order sorts by the objective only
 * (PublicTest); PrivateTest is shown, never used to order.
 */
export function sweepTrialRows(
  data: Pick<SweepReportData, 'trials' | 'params' | 'objective' | 'best'>,
  opts: SweepRowsOptions = {},
): Array<Record<string, string | number>> {
  const trials = [...data.trials];
  if ((opts.order ?? 'rank') === 'rank')
    trials.sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || (b.value ?? -Infinity) - (a.value ?? -Infinity) || a.trial - b.trial);
  return trials.map((t) => {
    const row: Record<string, string | number> = {
      trial: `${t.trial}${data.best?.trial === t.trial ? ' (best)' : ''}`,
      state: t.state,
      [`objective (${objectiveLabel(data.objective)})`]: formatObjective(data.objective.metric, t.value),
    };
    for (const p of data.params) row[p.name] = formatParamValue(t.params[p.name]);
    row['PublicTest acc'] = pct(t.publicTest?.accuracy);
    row['PrivateTest acc'] = pct(t.privateTest?.accuracy);
    row.epochs = t.epochs ?? (t.curve.length ? t.curve[t.curve.length - 1].epoch : '-');
    row.note = t.error ? t.error.split('\n')[0].slice(0, 160) : t.attempts > 1 ? `${t.attempts} attempts` : '';
    return row;
  });
}

/** Dotted `path -> value` rows of a nested settings object (`{ optimizer: { weightDecay } }` -> `optimizer.weightDecay`). */
export function flattenSettings(obj: Record<string, unknown>, prefix = ''): Array<{ setting: string; value: string }> {
  return Object.entries(obj).flatMap(([k, v]) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length
      ? flattenSettings(v as Record<string, unknown>, `${prefix}${k}.`)
      : [{ setting: `${prefix}${k}`, value: typeof v === 'number' ? formatParamValue(v) : (JSON.stringify(v) ?? String(v)) }],
  );
}

/** Every figure of the sweep report, in page order (history, intermediate values, parallel coordinates, slices, importance). */
export function sweepFigures(data: SweepReportData): Figure[] {
  return [
    optimizationHistoryFigure(data),
    intermediateValuesFigure(data),
    parallelCoordinatesFigure(data),
    ...sliceFigures(data),
    paramImportanceFigure(data.importance),
  ];
}

/**
 * The sweep report page: summary, best trial (settings and reproducing command; PrivateTest shown, never selecting),
 * the figures, the importance method with its sources, and the table of all trials. Render with reportHtml /
 * writeReport (src/viz/render.ts).
 */
export function sweepReport(data: SweepReportData): Report {
  const counts = (['complete', 'pruned', 'failed', 'running'] as const)
    .map((s) => [s, data.trials.filter((t) => t.state === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const label = objectiveLabel(data.objective);
  const sections: ReportSection[] = [];
  const about = [
    data.question ? `Question: ${data.question}` : '',
    `Objective: ${label}, maximised. The best trial is selected on PublicTest only; PrivateTest accuracy is reported for every trial and never used to select.`,
    [
      data.model && `model ${data.model}`,
      data.labels && `labels ${data.labels}`,
      data.sampler && `sampler ${data.sampler}`,
      data.pruner && `pruner ${data.pruner}`,
    ]
      .filter(Boolean)
      .join(', '),
    ...(data.notes ?? []),
  ].filter(Boolean);
  sections.push({ title: 'Sweep', text: about.join('\n\n') });
  const b = data.best;
  if (b) {
    sections.push({
      title: `Best trial: ${b.trial}`,
      text: [
        `Trial ${b.trial}: ${label} ${formatObjective(data.objective.metric, b.value)} (the objective, selects); run record PublicTest accuracy ${pct(b.publicTest?.accuracy, 2, 'not recorded')}, PrivateTest accuracy ${pct(b.privateTest?.accuracy, 2, 'not recorded')} (reported only).`,
        'Its settings (diff from the training defaults: the spec base with the trial params) and the command that reproduces it:',
      ].join('\n\n'),
      table: [
        ...flattenSettings(b.settings).map((r) => ({ setting: r.setting, value: r.value })),
        { setting: 'command', value: b.command },
        ...(b.sweepCommand !== b.command ? [{ setting: 'sweep command', value: b.sweepCommand }] : []),
        ...(b.snippet ? [{ setting: `experiment file experiments/${b.snippet.name}.ts`, value: b.snippet.text.trimEnd() }] : []),
        ...(b.config ? [{ setting: 'resolved run config (config.json)', value: JSON.stringify(b.config, null, 2) }] : []),
      ],
      textColumns: ['value'],
    });
  } else {
    sections.push({ title: 'Best trial', text: 'No trial is complete yet: there is no best trial.' });
  }
  sections.push({ title: 'Optimization history', figures: [optimizationHistoryFigure(data)] });
  sections.push({
    title: 'Intermediate values',
    text: `${label} after each epoch of each trial (the values the pruner saw). Dashed grey lines ending in a cross: pruned trials; dotted: failed or unfinished ones.`,
    figures: [intermediateValuesFigure(data)],
  });
  sections.push({ title: 'Parallel coordinates', figures: [parallelCoordinatesFigure(data)] });
  sections.push({ title: 'Slice plots', figures: sliceFigures(data), grid: true });
  sections.push({ title: 'Hyperparameter importance', text: data.importanceMethod, figures: [paramImportanceFigure(data.importance)] });
  sections.push({ title: `Trials (${data.trials.length})`, table: sweepTrialRows(data), textColumns: ['note'] });
  return {
    title: `Sweep ${data.name}: ${data.trials.length} trials (${counts.join(', ') || 'none yet'})`,
    subtitle: `${data.dir}; objective ${label} (maximised)${b ? `; best trial ${b.trial} at ${formatObjective(data.objective.metric, b.value)}` : ''}`,
    sections,
  };
}
