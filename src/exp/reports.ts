import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mcnemarTest } from '../eval/stats';
import { isFerPlus } from '../data/labels';
import type { ImageSource } from '../viz/images';
import { writeReport, type Report, type ReportSection } from '../viz/render';
import {
  confusedPairsFigure,
  confusionFigure,
  learningCurvesFigure,
  misclassifiedGalleryFigure,
  perClassFigure,
  recallByClassFigure,
  runsComparisonFigure,
  type ImagePredictions,
  type LearningCurvePoint,
  type VoteSource,
  reliabilityFigure,
} from '../viz/results';
import type { RunConfig } from './config';
import type { RunSummary } from './run';
import { PREDICTIONS_FILE, readPredictions, type TestPredictions } from '../records/run';
import type { ExperimentResult } from './experiment';
import { resultRows, seedGroupRows } from './results';
import { pct } from '../util/format';

/** The numbers of one run as table rows (val, test, cross-evaluation). */
function metricRows(s: RunSummary): Array<Record<string, string | number>> {
  const rows: Array<Record<string, string | number>> = [
    { set: `PublicTest (val, epoch ${s.bestEpoch})`, images: s.val.n, accuracy: pct(s.val.accuracy), 'macro-F1': s.val.macroF1.toFixed(3) },
    { set: 'PrivateTest (test)', images: s.test.n, accuracy: pct(s.test.accuracy), 'macro-F1': s.test.macroF1.toFixed(3) },
  ];
  if (s.testInterval) rows[1]['95% interval'] = `${pct(s.testInterval.lower)}-${pct(s.testInterval.upper)}`;
  if (s.tta) {
    rows.push({
      set: `PublicTest with ${s.tta.tta} TTA (${s.tta.views} views)`,
      images: s.tta.val.n,
      accuracy: pct(s.tta.val.accuracy),
      'macro-F1': s.tta.val.macroF1.toFixed(3),
    });
    rows.push({
      set: `PrivateTest with ${s.tta.tta} TTA (${s.tta.views} views)`,
      images: s.tta.test.n,
      accuracy: pct(s.tta.test.accuracy),
      'macro-F1': s.tta.test.macroF1.toFixed(3),
      '95% interval': `${pct(s.tta.testInterval.lower)}-${pct(s.tta.testInterval.upper)}`,
    });
  }
  if (s.cross)
    rows.push({
      set: `PrivateTest vs ${s.cross.to === 'fer' ? 'FER2013' : 'FER+ majority'} labels (${s.cross.excluded} contempt images excluded)`,
      images: s.cross.metrics.n,
      accuracy: pct(s.cross.metrics.accuracy),
      'macro-F1': s.cross.metrics.macroF1.toFixed(3),
    });
  return rows;
}

/**
 * report.html of one run: its numbers, learning curves, confusion matrices (counts and row-normalised), per-class
 * metrics, most-confused pairs, and the most confident mistakes with their FER+ votes.
 * @param history the run's epoch records (EpochRecord[] of src/train/loop.ts; only the learning-curve fields are read).
 * @param preds its PrivateTest predictions (TestPredictions, predictions.json).
 * @param ds the dataset the run used (its images and FER+ votes, for the gallery).
 * @param plotlyDir folder holding the shared plotly.min.js (the experiment folder).
 * @returns the path of the report written (`<dir>/report.html`).
 */
export function writeRunReport(
  dir: string,
  run: RunConfig,
  s: RunSummary,
  history: readonly LearningCurvePoint[],
  preds: ImagePredictions,
  ds: ImageSource & VoteSource,
  plotlyDir: string,
): string {
  const title = `${run.name}: ${run.model} on ${run.labels} labels`;
  const report: Report = {
    title,
    subtitle: `experiment ${run.experiment} · ${s.epochs} epochs (best ${s.bestEpoch}) · ${s.sizes.train} train / ${s.sizes.val} val / ${s.sizes.test} test images · ${Math.round(s.imagesPerSec)} images/s`,
    sections: [
      { title: 'Results', table: metricRows(s) },
      { title: 'Learning curves', figures: [learningCurvesFigure([{ name: run.name, history }])] },
      {
        title: 'Confusion matrix (PrivateTest; rows = true class, columns = predicted)',
        figures: [confusionFigure(s.test, run.name), confusionFigure(s.test, run.name, true)],
        grid: true,
      },
      { title: 'Per-class metrics', figures: [perClassFigure(s.test, run.name), confusedPairsFigure(s.test, run.name)] },
      ...(s.cross
        ? [
            {
              title: `Cross-evaluation against ${s.cross.to === 'fer' ? 'FER2013' : 'FER+ majority'} labels`,
              figures: [confusionFigure(s.cross.metrics, `${run.name} vs ${s.cross.to === 'fer' ? 'FER2013' : 'FER+'} labels`, true)],
            },
          ]
        : []),
      ...(s.calibration
        ? [
            {
              title: 'Calibration',
              text:
                `Temperature scaling (Guo et al. 2017): T = ${s.calibration.temperature.toFixed(3)} fitted on PublicTest (NLL ${s.calibration.valNllBefore.toFixed(4)} -> ${s.calibration.valNllAfter.toFixed(4)}); ` +
                `PrivateTest expected calibration error ${(100 * s.calibration.test.ece).toFixed(2)}% -> ${(100 * s.calibration.testScaled.ece).toFixed(2)}% (${s.calibration.test.numBins} equal-width bins). ` +
                'The saved model carries T (ferlab.json); predict reports softmax(logits / T).',
              figures: [
                reliabilityFigure([
                  { name: 'softmax(logits)', ece: s.calibration.test.ece, bins: s.calibration.test.bins },
                  { name: `softmax(logits / ${s.calibration.temperature.toFixed(2)})`, ece: s.calibration.testScaled.ece, bins: s.calibration.testScaled.bins },
                ]),
              ],
            },
          ]
        : []),
      {
        title: 'Misclassified test images',
        text: 'Captions: true label, prediction and its softmax confidence, and the FER+ crowd votes of the image.',
        figures: [misclassifiedGalleryFigure(ds, preds, run.name, { limit: 24 })],
      },
      { title: 'Configuration', text: JSON.stringify(run, null, 1) },
    ],
  };
  return writeReport(join(dir, 'report.html'), report, { plotlyDir });
}

/**
 * McNemar's test for every pair of runs scored on the same PrivateTest images (same label set and image list, from
 * their predictions.json): b = images only the first gets right, c = only the second; exact binomial p for b + c <= 25,
 * else chi-square with continuity correction (src/eval/stats.ts mcnemarFromCounts; McNemar 1947, Fagerland et al.
 * 2013). A p-value above 0.05 means the two runs' accuracies are not distinguishable on these images.
 */
function mcnemarSection(runs: readonly RunSummary[]): ReportSection[] {
  const preds = new Map<string, TestPredictions>();
  for (const r of runs) if (existsSync(join(r.dir, PREDICTIONS_FILE))) preds.set(r.name, readPredictions(r.dir));
  const rows: Array<Record<string, string | number>> = [];
  for (let i = 0; i < runs.length; i++)
    for (let j = i + 1; j < runs.length; j++) {
      const [a, b] = [preds.get(runs[i].name), preds.get(runs[j].name)];
      if (!a || !b || runs[i].labels !== runs[j].labels || a.index.length !== b.index.length || a.index.some((v, k) => v !== b.index[k])) continue;
      const m = mcnemarTest(
        a.pred.map((p, k) => p === a.label[k]),
        b.pred.map((p, k) => p === b.label[k]),
      );
      rows.push({
        'run A': runs[i].name,
        'run B': runs[j].name,
        'A acc': pct(runs[i].test.accuracy),
        'B acc': pct(runs[j].test.accuracy),
        'only A right (b)': m.b,
        'only B right (c)': m.c,
        test: m.method,
        p: m.pValue < 1e-4 ? m.pValue.toExponential(1) : m.pValue.toFixed(4),
      });
    }
  return rows.length
    ? [
        {
          title: "Paired comparisons (McNemar's test on the same PrivateTest images)",
          text: 'b: images only run A classifies correctly; c: only run B. Exact binomial test for b + c <= 25, else chi-square with continuity correction (McNemar 1947; Fagerland et al. 2013). p > 0.05: the difference is within noise.',
          table: rows,
        },
      ]
    : [];
}

/** Per-run data an experiment report needs besides the summaries. */
export interface ExperimentRunData {
  summary: RunSummary;
  /** The run's epoch records (EpochRecord[]; only the learning-curve fields are read). */
  history: readonly LearningCurvePoint[];
}

/**
 * A run of an experiment that did not finish, as {@link writeExperimentReport} reads it (FailedRun of src/exp/status.ts satisfies
 * it): its name, the error message (shown verbatim) and the 1-based epoch it failed in, null when it failed before or
 * after training. Declared inline, not exported, so that the barrel keeps one `FailedRun`.
 */
type FailedRunRow = { name: string; state: 'failed'; error: string; epoch: number | null };

/** The "failed runs" section: one row per run with the epoch it failed in and its error message. */
function failedSection(failed: readonly FailedRunRow[]): ReportSection {
  return {
    title: `Failed runs (${failed.length})`,
    text: 'These runs stopped with an error and are missing from the results, tables and figures above. epoch: the epoch the error happened in (- when it happened before or after training).',
    table: failed.map((f) => ({ run: f.name, epoch: f.epoch === null ? '-' : f.epoch, error: f.error })),
    textColumns: ['error'],
  };
}

/**
 * report.html of an experiment: the results table, runs compared (accuracy, macro-F1, cross-evaluation), every run's
 * confusion matrix side by side (FER vs FER+ for the same model next to each other), learning curves, and
 * per-class recall on the shared classes; then the runs that failed, with their epoch and error message. When no run
 * finished the report holds the failures only (no figures).
 * @param runs the finished runs (summary and history).
 * @param failed the runs that stopped with an error (default none): name, state 'failed', error message, and the
 *   1-based epoch it happened in or null (FailedRun of src/exp/status.ts passes as it is).
 * @returns the path of the report written (`<experiment.dir>/report.html`).
 */
export function writeExperimentReport(
  experiment: ExperimentResult,
  runs: ExperimentRunData[],
  failed: ReadonlyArray<{ name: string; state: 'failed'; error: string; epoch: number | null }> = [],
): string {
  const sorted = [...runs].sort(
    (a, b) => a.summary.model.localeCompare(b.summary.model) || Number(isFerPlus(a.summary.labels)) - Number(isFerPlus(b.summary.labels)),
  );
  const finished: ReportSection[] = sorted.length
    ? [
        {
          title: 'Results',
          text: "test acc / macro-F1: PrivateTest of the run's label set (FER+ sets: majority labels), best-PublicTest epoch. cross acc: the same model scored against the other label set on the same PrivateTest images (7 shared classes).",
          table: resultRows(experiment),
        },
        { title: 'Runs compared', figures: [runsComparisonFigure(sorted.map((r) => r.summary)), recallByClassFigure(sorted.map((r) => r.summary))] },
        {
          title: 'Confusion matrices, FER vs FER+ (row-normalised; rows = true class)',
          figures: sorted.map((r) => confusionFigure(r.summary.test, r.summary.name, true)),
          grid: true,
        },
        { title: 'Learning curves', figures: [learningCurvesFigure(sorted.map((r) => ({ name: r.summary.name, history: r.history })))] },
        ...(seedGroupRows(sorted.map((r) => r.summary)).length
          ? [
              {
                title: 'Over seeds',
                text: 'Mean +- sample standard deviation (n - 1) over the seeds of each run.',
                table: seedGroupRows(sorted.map((r) => r.summary)),
              },
            ]
          : []),
        ...mcnemarSection(sorted.map((r) => r.summary)),
      ]
    : [{ title: 'Results', text: failed.length ? `No run finished: all ${failed.length} runs failed (see below).` : 'No run finished.' }];
  const report: Report = {
    title: `${experiment.experiment}${experiment.quick ? ' (quick)' : ''}: ${runs.length} runs${failed.length ? `, ${failed.length} failed` : ''}`,
    subtitle: `${experiment.environment.backend} · ${experiment.workers} workers · wall time ${(experiment.wallSeconds / 60).toFixed(1)} min · ferlab ${experiment.environment.commit ?? experiment.environment.ferlab}`,
    sections: [...finished, ...(failed.length ? [failedSection(failed)] : [])],
  };
  return writeReport(join(experiment.dir, 'report.html'), report);
}
