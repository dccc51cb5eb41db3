import type { ExperimentResult } from './experiment';
import type { RunSummary } from './run';
import { formatMeanStd } from '../eval/stats';
import { formatSeconds, pct } from '../util/format';

/**
 * One row per run of the results table: the numbers `npm run exp` prints and README quotes. When a run of the experiment
 * used test-time augmentation (setting `tta`), two columns follow macro-F1: its PrivateTest accuracy with TTA (and the
 * kind) and the TTA macro-F1 ('-' for runs without). Failed runs (experiment results with `failed`) come last, marked
 * FAILED with their epoch and error.
 */
export function resultRows(r: Pick<ExperimentResult, 'runs'> & { failed?: ExperimentResult['failed'] }): Array<Record<string, string | number>> {
  const anyTta = r.runs.some((s) => s.tta);
  const ttaCols = (s?: RunSummary): Record<string, string> =>
    anyTta ? { 'TTA test acc': s?.tta ? `${pct(s.tta.test.accuracy)} (${s.tta.tta})` : '-', 'TTA macro-F1': s?.tta ? s.tta.test.macroF1.toFixed(3) : '-' } : {};
  const ok = r.runs.map((s) => ({
    run: s.name,
    model: s.model,
    labels: s.labels,
    'test acc': pct(s.test.accuracy),
    'macro-F1': s.test.macroF1.toFixed(3),
    ...ttaCols(s),
    'cross acc': s.cross ? `${pct(s.cross.metrics.accuracy)} (${s.cross.to === 'fer' ? 'FER' : 'FER+'})` : '-',
    epochs: `${s.bestEpoch}/${s.epochs}`,
    'train time': formatSeconds(s.trainSeconds),
    'img/s': Math.round(s.imagesPerSec),
  }));
  const failed = (r.failed ?? []).map((f) => {
    const msg = f.error.split('\n')[0];
    return {
      run: f.name,
      model: f.model,
      labels: f.labels,
      'test acc': `FAILED${f.epoch !== null ? ` (epoch ${f.epoch})` : ''}`,
      'macro-F1': '-',
      ...ttaCols(),
      'cross acc': msg.length > 80 ? `${msg.slice(0, 77)}...` : msg,
      epochs: '-',
      'train time': '-',
      'img/s': '-',
    };
  });
  return [...ok, ...failed];
}

/**
 * One row per multi-seed run group (experiments' `seeds`): the number of seeds and the mean +- sample standard
 * deviation (n - 1) of the PrivateTest accuracy (in %), macro-F1 and, where the runs used test-time augmentation, the
 * TTA accuracy. Empty when no run has a group.
 */
export function seedGroupRows(runs: readonly RunSummary[]): Array<Record<string, string | number>> {
  const groups = new Map<string, RunSummary[]>();
  for (const r of runs) if (r.group) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  return [...groups].map(([group, rs]) => ({
    runs: group,
    model: rs[0].model,
    labels: rs[0].labels,
    seeds: rs.length,
    'test acc (%)': formatMeanStd(rs.map((r) => 100 * r.test.accuracy)),
    'macro-F1': formatMeanStd(
      rs.map((r) => r.test.macroF1),
      3,
    ),
    ...(rs.every((r) => r.tta) ? { 'TTA test acc (%)': formatMeanStd(rs.map((r) => 100 * r.tta!.test.accuracy)) } : {}),
  }));
}

/** The results table as Markdown, with the command and environment that produced it. */
export function resultsMarkdown(r: ExperimentResult): string {
  const rows = resultRows(r);
  if (!rows.length) return `# ${r.experiment}\n\nno run finished\n`;
  const failed = r.failed ?? [];
  const cols = Object.keys(rows[0]);
  const lines = [
    `# ${r.experiment}${r.quick ? ' (quick)' : ''}`,
    '',
    `Command: \`npm run exp -- ${r.experiment}${r.quick ? ' --quick' : ''}\` · ${r.runs.length} runs finished${failed.length ? `, ${failed.length} FAILED (${failed.map((f) => f.name).join(', ')})` : ''} on ${r.workers} workers · wall time ${formatSeconds(r.wallSeconds)}${r.resumed ? ' (since the last --resume; earlier sessions not counted)' : ''}`,
    `Backend: ${r.environment.backend} · ${r.environment.cpu} (${r.environment.cores} cores) · Node ${r.environment.node} · ferlab ${r.environment.commit ?? r.environment.ferlab}`,
    '',
    `test acc / macro-F1: PrivateTest of the run's label set (FER+ sets: majority labels) with the best-PublicTest-accuracy epoch;${cols.includes('TTA test acc') ? ' TTA test acc / TTA macro-F1: the same model and epoch with test-time augmentation (flip: the image and its mirror; tencrop: 4 corner and centre crops and their mirrors; softmax averaged);' : ''} cross acc: the same model scored against the other label set on the same PrivateTest images (7 shared classes); epochs: best/trained.`,
    '',
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${cols.map((c) => String(row[c]).replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
    ...markdownTable('Over seeds (mean +- std, n - 1)', seedGroupRows(r.runs)),
    ...failed.flatMap((f) => [`**${f.name} failed**${f.epoch !== null ? ` in epoch ${f.epoch}` : ''} (record: ${f.dir}):`, '', '```', f.error, '```', '']),
  ];
  return lines.join('\n');
}

/** A titled Markdown table, or nothing for no rows. */
function markdownTable(title: string, rows: Array<Record<string, string | number>>): string[] {
  if (!rows.length) return [];
  const cols = Object.keys(rows[0]);
  return [
    `**${title}**`,
    '',
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${cols.map((c) => String(row[c] ?? '-')).join(' | ')} |`),
    '',
  ];
}
