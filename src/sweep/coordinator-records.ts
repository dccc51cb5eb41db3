/**
 * The records a sweep's coordinator (coordinator.ts) writes in a sweep folder besides the journal, and the text it
 * prints: trial run names and configs (`trial-0007/config.json` comes from {@link trialRunConfig}), pruned trials'
 * run records ({@link finishPrunedRecord}), the leaderboard results.json / results.md ({@link writeResults}). The
 * folder's layout: src/sweep/runner.ts.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, isSafeRunName, RunConfigSchema, SettingsSchema, type RunConfig } from '../exp/config';
import { loadHistory } from '../exp/records';
import { CHECKPOINT_FILE, readRunStatus, writeRunStatus } from '../exp/status';
import { loadCheckpoint, removeCheckpoint } from '../train/checkpoint';
import type { EpochRecord } from '../train/loop';
import { EPOCHS_FILE, METRICS_FILE, readRunConfigFile, readRunSummary, writeEpochs } from '../records/run';
import { writeSweepResult, type BestTrial, type SplitScore, type SweepRecord, type SweepResultRecord, type TrialRow } from '../records/sweep';
import { writeFileAtomic } from '../util/atomic';
import { formatSeconds, pct } from '../util/format';
import type { SweepEngine, Trial } from './engine';
import type { TrialRecord, TrialState } from './journal';
import { sweepLabels, type SweepSlice } from './load';
import { reproduceRun, type Reproduction } from './reproduce';
import type { Params } from './space';
import type { SweepSpec } from './spec';

/**
 * The records of a sweep folder: sweep.json (SweepInfo), the leaderboard results.json (SweepResult) and its trial
 * records (TrialRow, BestTrial, SplitScore). Schemas, file names and readers / writers: src/records/sweep.ts; the
 * sweep.json `spec` and results.json `objective` are this layer's (src/sweep/spec.ts).
 */
export type SweepInfo = Omit<SweepRecord, 'spec'> & { spec: SweepSpec };
export type SweepResult = Omit<SweepResultRecord, 'objective'> & { objective: SweepSpec['objective'] };
export type { BestTrial, SplitScore, TrialRow } from '../records/sweep';
export { SWEEP_FILE } from '../records/sweep';

/** The run record folder name of trial `n`: `trial-0007`. */
export function trialRunName(n: number): string {
  return `trial-${String(n).padStart(4, '0')}`;
}

/** Compact text of params: `lr=0.00123 batchSize=64`. */
export function paramsText(p: Params): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(3)) : v}`)
    .join(' ');
}

/**
 * The resolved run of a trial: the defaults, the spec's base and the trial's params (engine's settings diff), and the
 * slice, validated by the experiment config schema.
 * @throws ConfigError naming the trial and its params when the settings are invalid.
 */
export function trialRunConfig(spec: SweepSpec, slice: SweepSlice, trial: Pick<Trial, 'trial' | 'params' | 'settingsDiff'>): RunConfig {
  const r = SettingsSchema.safeParse({ ...(trial.settingsDiff as Record<string, unknown>), slice });
  if (!r.success)
    throw new ConfigError(
      `sweep '${spec.name}' trial ${trial.trial} (${JSON.stringify(trial.params)}): invalid settings: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return { experiment: spec.name, name: trialRunName(trial.trial), model: spec.model, labels: sweepLabels(spec), ...r.data };
}

/** The budget in words: `budget 4 trials / 30 min`. */
export function budgetText(spec: SweepSpec): string {
  const b = spec.budget;
  return `budget ${[b.trials !== undefined ? `${b.trials} trials` : '', b.minutes !== undefined ? `${b.minutes} min` : ''].filter(Boolean).join(' / ')}`;
}

/** The pruner in words: `ASHA pruning (rungs from epoch 2, x3, below 8)`. */
export function prunerText(spec: SweepSpec): string {
  const p = spec.pruner;
  if (p.name === 'none') return 'no pruning';
  if (p.name === 'median') return `median pruning (after ${p.startupTrials} trials, epochs > ${p.warmupEpochs})`;
  return `ASHA pruning (rungs from epoch ${p.minEpochs}, x${p.reductionFactor}${p.maxEpochs !== undefined ? `, below ${p.maxEpochs}` : ''})`;
}

/** The objective of a set of PublicTest metrics. */
export function objectiveOf(spec: SweepSpec, m: SplitScore): number {
  return spec.objective.metric === 'accuracy' ? m.accuracy : m.macroF1;
}

/** The epoch an unfinished run would select (best PublicTest accuracy, first on ties), or undefined without epochs. */
export function selectedEpoch(history: readonly EpochRecord[]): EpochRecord | undefined {
  let best: EpochRecord | undefined;
  for (const h of history) if (!best || h.valAccuracy > best.valAccuracy) best = h;
  return best;
}

/** Records pruned trials as such: status.json `pruned`, checkpoint removed (fixes a record a SIGKILL left `running`). */
export function finishPrunedRecord(rdir: string, history?: readonly EpochRecord[]): void {
  if (!existsSync(rdir)) return;
  if (history?.length) writeEpochs(rdir, history);
  const epoch = history?.length ?? (existsSync(join(rdir, EPOCHS_FILE)) ? loadHistory(rdir).length : null);
  writeRunStatus(rdir, { state: 'pruned', epoch });
  removeCheckpoint(join(rdir, CHECKPOINT_FILE));
}

/** Pruned trials whose run record does not say so yet (the coordinator died between the journal and the worker). */
export function fixPrunedRecords(dir: string, engine: SweepEngine): void {
  for (const t of engine.trials()) {
    if (t.state !== 'pruned') continue;
    // records are written here only in a run folder the runner names (a journal edited to name '../x' writes nothing)
    const rdir = join(dir, isSafeRunName(t.runDir) ? t.runDir : trialRunName(t.trial));
    const status = readRunStatus(rdir);
    if (status && status.state !== 'pruned' && status.state !== 'complete') {
      let history: EpochRecord[] | undefined;
      try {
        history = loadCheckpoint<unknown, EpochRecord>(join(rdir, CHECKPOINT_FILE))?.history;
      } catch {
        history = undefined;
      }
      finishPrunedRecord(rdir, history);
    }
  }
}

const STATE_RANK: Record<TrialState, number> = { complete: 0, pruned: 1, running: 2, failed: 3 };

/**
 * The leaderboard of a sweep's trials from its journal records and run records, best first (see SweepResult.trials).
 * @param dir the sweep folder.
 */
export function trialRows(dir: string, trials: readonly TrialRecord[]): TrialRow[] {
  const rows = trials.map((t): TrialRow => {
    const run = t.runDir ?? trialRunName(t.trial);
    const rdir = resolve(dir, run);
    const s = t.state === 'complete' && existsSync(join(rdir, METRICS_FILE)) ? readRunSummary(rdir) : undefined;
    let history: EpochRecord[] = [];
    try {
      if (existsSync(join(rdir, EPOCHS_FILE))) history = loadHistory(rdir);
    } catch {
      history = [];
    }
    const sel = selectedEpoch(history);
    return {
      trial: t.trial,
      run,
      dir: rdir,
      params: t.params,
      state: t.state,
      attempts: t.attempts,
      objective: t.value ?? null,
      publicTest: s ? { accuracy: s.val.accuracy, macroF1: s.val.macroF1 } : sel ? { accuracy: sel.valAccuracy, macroF1: sel.valMacroF1 } : null,
      privateTest: s ? { accuracy: s.test.accuracy, macroF1: s.test.macroF1 } : null,
      epochs: s?.epochs ?? history.length,
      bestEpoch: s?.bestEpoch ?? sel?.epoch ?? null,
      trainSeconds: s?.trainSeconds ?? (history.length ? history.reduce((a, h) => a + h.trainSeconds, 0) : null),
      wallSeconds: s?.wallSeconds ?? null,
      ...(t.error ? { error: t.error } : {}),
    };
  });
  return rows.sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || (b.objective ?? -Infinity) - (a.objective ?? -Infinity) || a.trial - b.trial);
}

/**
 * Writes the leaderboard of a sweep folder from its journal and run records: results.json ({@link SweepResult},
 * src/records/sweep.ts) and results.md ({@link sweepMarkdown}), with how to reproduce the best trial.
 * @param workers the worker count recorded; wallSeconds: the coordinator's time so far.
 * @returns what results.json holds.
 */
export function writeResults(dir: string, info: SweepInfo, engine: SweepEngine, workers: number, wallSeconds: number, log: (l: string) => void): SweepResult {
  const trials = engine.trials();
  const rows = trialRows(dir, trials);
  const counts: Record<TrialState, number> = { running: 0, complete: 0, pruned: 0, failed: 0 };
  for (const t of trials) counts[t.state]++;
  const bestRecord = engine.best();
  let best: BestTrial | null = null;
  if (bestRecord) {
    const row = rows.find((r) => r.trial === bestRecord.trial)!;
    let reproduce: Reproduction;
    try {
      const { run } = readRunConfigFile(row.dir, RunConfigSchema);
      reproduce = reproduceRun(
        run,
        `${info.name}-${row.run}`,
        `trial ${row.trial} of sweep '${info.name}'${info.quick ? ' (quick)' : ''}: ${paramsText(row.params)}`,
      );
    } catch (e) {
      log(`ferlab: cannot write how to reproduce ${row.run}: ${(e as Error).message}`);
      reproduce = { command: null, experiment: null, run: null, overrides: [], snippet: '', snippetName: '' };
    }
    best = { ...row, reproduce };
  }
  const result: SweepResult = {
    name: info.name,
    quick: info.quick,
    dir,
    state: info.state,
    stopReason: info.stopReason ?? null,
    objective: info.spec.objective,
    trials: rows,
    counts,
    best,
    wallSeconds,
    workers,
    environment: info.environment,
    command: info.command,
  };
  writeSweepResult(dir, result);
  writeFileAtomic(join(dir, 'results.md'), sweepMarkdown(result, info));
  return result;
}

/** Rows of a sweep's leaderboard for printing (strings; see src/cli/table.ts printTable). */
export function sweepTableRows(r: Pick<SweepResult, 'trials'>): Array<Record<string, string | number>> {
  return r.trials.map((t, i) => ({
    rank: t.state === 'complete' ? i + 1 : '-',
    trial: t.run,
    state: t.state,
    objective: t.objective === null ? '-' : t.objective.toFixed(4),
    'PublicTest acc': pct(t.publicTest?.accuracy),
    'PublicTest F1': t.publicTest ? t.publicTest.macroF1.toFixed(3) : '-',
    'PrivateTest acc': pct(t.privateTest?.accuracy),
    'PrivateTest F1': t.privateTest ? t.privateTest.macroF1.toFixed(3) : '-',
    epochs: t.bestEpoch !== null ? `${t.bestEpoch}/${t.epochs}` : String(t.epochs),
    'train time': t.trainSeconds === null ? '-' : formatSeconds(t.trainSeconds),
    params: paramsText(t.params),
  }));
}

/** results.md of a sweep: the leaderboard, the best trial and how to reproduce it, failed trials' errors. */
export function sweepMarkdown(r: SweepResult, info: Pick<SweepInfo, 'question' | 'spec' | 'slice'>): string {
  const rows = sweepTableRows(r);
  const cols = rows.length ? Object.keys(rows[0]) : [];
  const spec = info.spec;
  const slice = Object.values(info.slice).some((v) => v !== null) ? ` · slice ${JSON.stringify(info.slice)}` : '';
  const state = r.state === 'complete' ? `complete (stopped by ${r.stopReason === 'sampler' ? 'the sampler' : `the ${r.stopReason} budget`})` : r.state;
  const lines = [
    `# sweep ${r.name}${r.quick ? ' (quick)' : ''}`,
    '',
    ...(info.question ? [`Question: ${info.question}`, ''] : []),
    `Command: \`${r.command}\` · state **${state}** · ${r.trials.length} trials: ${r.counts.complete} complete, ${r.counts.pruned} pruned, ${r.counts.failed} failed${r.counts.running ? `, ${r.counts.running} running` : ''} · ${r.workers} workers · wall time ${formatSeconds(r.wallSeconds)}`,
    `Model ${spec.model} on label set ${spec.labels} · objective: PublicTest ${spec.objective.metric} (maximised; PrivateTest is reported, never used to select) · ${spec.sampler.name} sampler, seed ${spec.seed} · ${prunerText(spec)} · ${budgetText(spec)}${slice}`,
    `Backend: ${r.environment.backend} · ${r.environment.cpu} (${r.environment.cores} cores) · Node ${r.environment.node} · ferlab ${r.environment.commit ?? r.environment.ferlab}`,
    '',
    "objective: the run's selected epoch (best PublicTest accuracy) for complete trials, the value at the pruning epoch for pruned ones; PublicTest / PrivateTest: accuracy and macro-F1 of the selected epoch; epochs: selected/trained.",
    '',
  ];
  if (rows.length)
    lines.push(
      `| ${cols.join(' | ')} |`,
      `| ${cols.map(() => '---').join(' | ')} |`,
      ...rows.map((row) => `| ${cols.map((c) => String(row[c]).replace(/\|/g, '\\|')).join(' | ')} |`),
      '',
    );
  else lines.push('no trial yet', '');
  if (r.best) {
    const b = r.best;
    lines.push(
      '## Best trial',
      '',
      `**${b.run}** (trial ${b.trial}): objective ${b.objective?.toFixed(4)}, PublicTest acc ${pct(b.publicTest?.accuracy)}, PrivateTest acc ${pct(b.privateTest?.accuracy)} (macro-F1 ${b.privateTest?.macroF1.toFixed(3)}), epoch ${b.bestEpoch}/${b.epochs}; record: ${b.dir}`,
      '',
      `Params: \`${JSON.stringify(b.params)}\``,
      '',
    );
    if (b.reproduce.command)
      lines.push('Reproduce (the same settings, seed and data; same backend = same numbers):', '', '```sh', b.reproduce.command, '```', '');
    if (b.reproduce.snippet)
      lines.push(
        `Or as an experiment file \`experiments/${b.reproduce.snippetName}.ts\` (\`npm run exp -- ${b.reproduce.snippetName}\`):`,
        '',
        '```ts',
        b.reproduce.snippet.trimEnd(),
        '```',
        '',
      );
  } else lines.push('## Best trial', '', 'none: no trial is complete', '');
  const failed = r.trials.filter((t) => t.state === 'failed');
  for (const f of failed) lines.push(`**${f.run} failed** after ${f.attempts} attempt(s) (record: ${f.dir}):`, '', '```', f.error ?? '', '```', '');
  return lines.join('\n');
}
