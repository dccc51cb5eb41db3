import type { StudyResult } from './study';
import { formatSeconds } from '../util/format';

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/**
 * One row per run of the results table: the numbers `npm run exp` prints and README quotes. Failed runs (study
 * results with `failed`) come last, marked FAILED with their epoch and error.
 */
export function resultRows(r: Pick<StudyResult, 'runs'> & { failed?: StudyResult['failed'] }): Array<Record<string, string | number>> {
  const ok = r.runs.map((s) => ({
    run: s.name,
    model: s.model,
    labels: s.labels,
    'test acc': pct(s.test.accuracy),
    'macro-F1': s.test.macroF1.toFixed(3),
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
      'cross acc': msg.length > 80 ? `${msg.slice(0, 77)}...` : msg,
      epochs: '-',
      'train time': '-',
      'img/s': '-',
    };
  });
  return [...ok, ...failed];
}

/** The results table as Markdown, with the command and environment that produced it. */
export function resultsMarkdown(r: StudyResult): string {
  const rows = resultRows(r);
  if (!rows.length) return `# ${r.experiment}\n\nno run finished\n`;
  const failed = r.failed ?? [];
  const cols = Object.keys(rows[0]);
  const lines = [
    `# ${r.experiment}${r.quick ? ' (quick)' : ''}`,
    '',
    `Command: \`npm run exp -- ${r.experiment}${r.quick ? ' --quick' : ''}\` · ${r.runs.length} runs finished${failed.length ? `, ${failed.length} FAILED (${failed.map((f) => f.name).join(', ')})` : ''} on ${r.workers} workers · wall time ${formatSeconds(r.wallSeconds)}`,
    `Backend: ${r.environment.backend} · ${r.environment.cpu} (${r.environment.cores} cores) · Node ${r.environment.node} · ferlab ${r.environment.commit ?? r.environment.ferlab}`,
    '',
    "test acc / macro-F1: PrivateTest of the run's label set (FER+ sets: majority labels) with the best-PublicTest-accuracy epoch; cross acc: the same model scored against the other label set on the same PrivateTest images (7 shared classes); epochs: best/trained.",
    '',
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${cols.map((c) => String(row[c]).replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
    ...failed.flatMap((f) => [`**${f.name} failed**${f.epoch !== null ? ` in epoch ${f.epoch}` : ''} (record: ${f.dir}):`, '', '```', f.error, '```', '']),
  ];
  return lines.join('\n');
}
