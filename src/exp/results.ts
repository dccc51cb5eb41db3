import type { StudyResult } from './study';
import { formatSeconds } from './progress';

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/** One row per run of the results table: the numbers `npm run exp` prints and README quotes. */
export function resultRows(r: StudyResult): Array<Record<string, string | number>> {
  return r.runs.map((s) => ({
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
}

/** The results table as Markdown, with the command and environment that produced it. */
export function resultsMarkdown(r: StudyResult): string {
  const rows = resultRows(r);
  if (!rows.length) return `# ${r.experiment}\n\nno run finished\n`;
  const cols = Object.keys(rows[0]);
  const lines = [
    `# ${r.experiment}${r.quick ? ' (quick)' : ''}`,
    '',
    `Command: \`npm run exp -- ${r.experiment}${r.quick ? ' --quick' : ''}\` · ${r.runs.length} runs on ${r.workers} workers · wall time ${formatSeconds(r.wallSeconds)}`,
    `Backend: ${r.environment.backend} · ${r.environment.cpu} (${r.environment.cores} cores) · Node ${r.environment.node} · ferlab ${r.environment.commit ?? r.environment.ferlab}`,
    '',
    "test acc / macro-F1: PrivateTest of the run's label set (FER+ sets: majority labels) with the best-PublicTest-accuracy epoch; cross acc: the same model scored against the other label set on the same PrivateTest images (7 shared classes); epochs: best/trained.",
    '',
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${cols.map((c) => row[c]).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}
