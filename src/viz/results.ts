import { FERPLUS_CLASSES, FERPLUS_NUM_VOTES, FERPLUS_VOTE_COLUMNS, FER_CLASSES } from '../data/classes';
import { confusedPairs, normalizeRows, type Metrics } from '../eval/metrics';
import { baseLayout, classLabels, COLORS, type Figure } from './figure';
import { captionedGallery, type ImageSource } from './images';

/**
 * Figures of training runs and their evaluation: learning curves, confusion matrices, per-class metrics, most
 * confused pairs, galleries of misclassified images, and side-by-side comparisons of runs.
 */

// The inputs below are the fields the figures read, declared here so that viz depends on no training or experiment
// code: the bigger records (EpochRecord of src/train/loop.ts, RunSummary and TestPredictions of src/exp/run.ts)
// satisfy them structurally and are passed as they are.

/** One epoch of a learning curve (the fields of an EpochRecord that {@link learningCurvesFigure} draws). */
export interface LearningCurvePoint {
  /** 1-based epoch. */
  epoch: number;
  /** Mean training cross-entropy over the epoch. */
  trainLoss: number;
  /** Validation (PublicTest) cross-entropy. */
  valLoss: number;
  /** Training accuracy in [0, 1]. */
  trainAccuracy: number;
  /** Validation (PublicTest) accuracy in [0, 1]. */
  valAccuracy: number;
}

/** One run's history for {@link learningCurvesFigure}. */
export interface NamedHistory {
  name: string;
  history: readonly LearningCurvePoint[];
}

/** A run's test scores: the fields of a RunSummary that {@link runsComparisonFigure} and {@link recallByClassFigure} read. */
export interface RunScores {
  name: string;
  /** Label set the run trained on ('fer' = FER2013 labels and class names; else a FER+ set with FER+ names). */
  labels: string;
  /** PrivateTest metrics against the run's own labels (accuracy and macro-F1 in [0, 1], per-class recall). */
  test: Pick<Metrics, 'accuracy' | 'macroF1'> & { perClass: ReadonlyArray<{ class: string; recall: number }> };
  /** Accuracy against the other label set on the same images; null or absent when not computed. */
  cross?: { metrics: Pick<Metrics, 'accuracy'> } | null;
}

/** Per-image PrivateTest predictions (the fields of a run's predictions.json, TestPredictions). */
export interface ImagePredictions {
  /** Class names; `label` and `pred` index into them. */
  classes: readonly string[];
  /** Dataset row of each image. */
  index: readonly number[];
  /** True class of each image. */
  label: readonly number[];
  /** Predicted class (argmax of `prob`) of each image. */
  pred: readonly number[];
  /** `[n][C]` softmax probabilities. */
  prob: ReadonlyArray<readonly number[]>;
}

/** The FER+ votes of a dataset (a FerDataset satisfies it): `votes` is `[n, 10]` counts in FERPLUS_VOTE_COLUMNS order. */
export interface VoteSource {
  ferplus?: { votes: ArrayLike<number> };
}

/** The four curves of a run: epoch-record field, legend name, subplot (1 = loss, 2 = accuracy), line dash. */
const CURVES: ReadonlyArray<[keyof LearningCurvePoint, string, 1 | 2, 'dash' | 'solid']> = [
  ['trainLoss', 'train loss', 1, 'dash'],
  ['valLoss', 'val loss', 1, 'solid'],
  ['trainAccuracy', 'train acc', 2, 'dash'],
  ['valAccuracy', 'val acc', 2, 'solid'],
];

/**
 * Loss (left) and accuracy (right) per epoch, train (dashed) and validation (solid), for one or several runs.
 */
export function learningCurvesFigure(runs: NamedHistory[], title = 'Learning curves'): Figure {
  const data: Array<Record<string, unknown>> = [];
  runs.forEach((r, i) => {
    const color = COLORS[i % COLORS.length];
    const x = r.history.map((h) => h.epoch);
    for (const [key, name, axis, dash] of CURVES) {
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        x,
        y: r.history.map((h) => h[key]),
        name: `${r.name} ${name}`,
        xaxis: axis === 1 ? 'x' : 'x2',
        yaxis: axis === 1 ? 'y' : 'y2',
        line: { color, dash },
        legendgroup: r.name,
      });
    }
  });
  return {
    data,
    layout: baseLayout(title, {
      grid: { rows: 1, columns: 2, pattern: 'independent' },
      xaxis: { title: { text: 'epoch' }, dtick: 1 },
      xaxis2: { title: { text: 'epoch' }, dtick: 1 },
      yaxis: { title: { text: 'loss (cross-entropy)' } },
      yaxis2: { title: { text: 'accuracy' }, tickformat: '.0%' },
      legend: { orientation: 'h', y: -0.3 },
      height: 420,
    }),
  };
}

/**
 * Confusion matrix heatmap, rows = true class, columns = predicted class; counts in the cells, colour = count or,
 * with `normalize`, the share of the row (recall on the diagonal).
 */
export function confusionFigure(m: Metrics, title: string, normalize = false): Figure {
  const norm = normalizeRows(m.confusion);
  const labels = classLabels(m.classes);
  return {
    data: [
      {
        type: 'heatmap',
        z: normalize ? norm : m.confusion,
        x: labels,
        y: labels,
        text: m.confusion.map((row, r) => row.map((v, c) => (normalize ? `${(100 * norm[r][c]).toFixed(0)}%` : String(v)))),
        texttemplate: '%{text}',
        hovertemplate: 'true %{y}, predicted %{x}: %{text}<extra></extra>',
        colorscale: 'Blues',
        reversescale: true,
        showscale: true,
        ...(normalize ? { zmin: 0, zmax: 1 } : {}),
      },
    ],
    layout: baseLayout(`${title} (${normalize ? 'share of each true class' : 'counts'}; accuracy ${(100 * m.accuracy).toFixed(1)}%, n = ${m.n})`, {
      xaxis: { title: { text: 'predicted class' }, tickangle: -30 },
      yaxis: { title: { text: 'true class' }, autorange: 'reversed' },
      height: 470,
      width: 560,
      margin: { l: 90, r: 20, t: 50, b: 90 },
    }),
  };
}

/** Per-class precision, recall and F1 as grouped bars (macro-F1 in the title). */
export function perClassFigure(m: Metrics, title: string): Figure {
  const x = classLabels(m.classes);
  const bar = (key: 'precision' | 'recall' | 'f1', i: number) => ({
    type: 'bar',
    name: key === 'f1' ? 'F1' : key,
    x,
    y: m.perClass.map((c) => c[key]),
    marker: { color: COLORS[i] },
  });
  return {
    data: [bar('precision', 0), bar('recall', 1), bar('f1', 2)],
    layout: baseLayout(`${title}: per-class precision / recall / F1 (macro-F1 ${m.macroF1.toFixed(3)})`, {
      barmode: 'group',
      yaxis: { range: [0, 1], tickformat: '.0%' },
      legend: { orientation: 'h', y: -0.25 },
    }),
  };
}

/** The most frequent confusions (true -> predicted), as horizontal bars with the share of the true class. */
export function confusedPairsFigure(m: Metrics, title: string, top = 10): Figure {
  const pairs = confusedPairs(m, top).reverse();
  return {
    data: [
      {
        type: 'bar',
        orientation: 'h',
        x: pairs.map((p) => p.count),
        y: pairs.map((p) => `${p.trueClass} -> ${p.predicted}`),
        text: pairs.map((p) => `${(100 * p.rate).toFixed(1)}% of ${p.trueClass}`),
        textposition: 'auto',
        marker: { color: COLORS[5] },
      },
    ],
    layout: baseLayout(`${title}: most confused pairs (true -> predicted)`, {
      xaxis: { title: { text: 'test images' } },
      height: 120 + pairs.length * 28,
      margin: { l: 170, r: 20, t: 50, b: 50 },
    }),
  };
}

/** Short vote summary of an image ("neutral 6, sadness 3, unknown 1"); '' without FER+ votes. */
export function votesText(ds: VoteSource, row: number): string {
  if (!ds.ferplus) return '';
  const votes = ds.ferplus.votes;
  return FERPLUS_VOTE_COLUMNS.map((c, k) => [c, votes[row * FERPLUS_NUM_VOTES + k]] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
}

/** Options of {@link misclassifiedGalleryFigure}. */
export interface GalleryOptions {
  /** Images shown (most confident mistakes first). Default 24. */
  limit?: number;
  /** Images per row. Default 6. */
  perRow?: number;
  /** Only mistakes whose true class is this one. */
  trueClass?: string;
}

/**
 * Gallery of misclassified PrivateTest images, most confident mistakes first: each tile is captioned with the true
 * label, the prediction and its softmax confidence, and the image's FER+ votes.
 */
export function misclassifiedGalleryFigure(ds: ImageSource & VoteSource, p: ImagePredictions, title: string, opts: GalleryOptions = {}): Figure {
  const limit = opts.limit ?? 24;
  const perRow = opts.perRow ?? 6;
  const wrong = p.index
    .map((row, i) => ({ row, i, conf: p.prob[i][p.pred[i]] }))
    .filter((e) => p.pred[e.i] !== p.label[e.i] && (!opts.trueClass || p.classes[p.label[e.i]] === opts.trueClass))
    .sort((a, b) => b.conf - a.conf)
    .slice(0, limit);
  const items = wrong.map((e) => {
    const votes = votesText(ds, e.row);
    return {
      row: e.row,
      caption: `true ${p.classes[p.label[e.i]]}<br>pred ${p.classes[p.pred[e.i]]} ${(100 * e.conf).toFixed(0)}%${votes ? `<br><span style="font-size:8px">${votes}</span>` : ''}`,
      hover: `row ${e.row}: ${votes}`,
    };
  });
  return captionedGallery(ds, items, `${title}: ${wrong.length} most confident mistakes${opts.trueClass ? ` on ${opts.trueClass}` : ''}`, perRow);
}

/** Test accuracy and macro-F1 of each run, plus its cross-evaluated accuracy, as grouped bars. */
export function runsComparisonFigure(runs: readonly RunScores[], title = 'Runs compared on PrivateTest'): Figure {
  const x = runs.map((r) => r.name);
  return {
    data: [
      {
        type: 'bar',
        name: 'test accuracy (own labels)',
        x,
        y: runs.map((r) => r.test.accuracy),
        marker: { color: COLORS[0] },
        text: runs.map((r) => `${(100 * r.test.accuracy).toFixed(1)}%`),
        textposition: 'outside',
      },
      { type: 'bar', name: 'macro-F1', x, y: runs.map((r) => r.test.macroF1), marker: { color: COLORS[2] } },
      { type: 'bar', name: 'cross-evaluated accuracy (other labels)', x, y: runs.map((r) => r.cross?.metrics.accuracy ?? null), marker: { color: COLORS[1] } },
    ],
    layout: baseLayout(title, { barmode: 'group', yaxis: { range: [0, 1], tickformat: '.0%' }, legend: { orientation: 'h', y: -0.2 } }),
  };
}

/**
 * Per-class recall of runs trained on FER vs FER+ labels, on the classes they share (FER+ names): where the cleaner
 * labels help and where they do not. Each run contributes its own test recall.
 */
export function recallByClassFigure(runs: readonly RunScores[], title = 'Per-class recall on PrivateTest'): Figure {
  const names = FERPLUS_CLASSES.filter((c) => c !== 'contempt');
  const ferName = (c: string) => ({ anger: 'angry', happiness: 'happy', sadness: 'sad' })[c] ?? c;
  return {
    data: runs.map((r, i) => ({
      type: 'bar',
      name: r.name,
      x: classLabels(names),
      y: names.map((c) => r.test.perClass.find((pc) => pc.class === (r.labels === 'fer' ? ferName(c) : c))?.recall ?? null),
      marker: { color: COLORS[i % COLORS.length] },
    })),
    layout: baseLayout(title, {
      barmode: 'group',
      yaxis: { range: [0, 1], tickformat: '.0%', title: { text: 'recall' } },
      legend: { orientation: 'h', y: -0.25 },
      xaxis: { title: { text: `class (${FER_CLASSES.length} shared classes, FER+ names)` } },
    }),
  };
}

/**
 * Test images with the model's top-3 classes and probabilities under each (from a run's predictions.json or from
 * softmaxRows of fresh logits).
 * @param rows dataset rows of the images; @param prob `[rows.length][C]` probabilities; @param labels true class of
 *   each image (same class list), shown in the caption.
 */
export function predictionsFigure(
  ds: ImageSource,
  rows: number[],
  prob: number[][],
  classes: readonly string[],
  labels: number[],
  title = 'Predictions',
): Figure {
  const items = rows.map((row, k) => {
    const top = prob[k]
      .map((p, j) => [j, p] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3);
    const line = ([j, p]: readonly [number, number]) =>
      j === labels[k] ? `<b>${classes[j]} ${(100 * p).toFixed(0)}%</b>` : `${classes[j]} ${(100 * p).toFixed(0)}%`;
    return { row, caption: `true ${classes[labels[k]]}<br>${top.map(line).join('<br>')}` };
  });
  return captionedGallery(ds, items, title);
}

/** One bin of a reliability diagram (CalibrationReport.bins of src/eval/calibration.ts). */
export interface ReliabilityBinData {
  lower: number;
  upper: number;
  count: number;
  meanConfidence: number;
  accuracy: number;
}

/**
 * Reliability diagram (Guo et al. 2017, fig. 1): per confidence bin, the accuracy of the predictions in it (bars) against
 * the diagonal of perfect calibration, for one or more sets of bins (e.g. before and after temperature scaling).
 * @param sets named bin lists with their expected calibration error (in [0, 1]).
 */
export function reliabilityFigure(
  sets: ReadonlyArray<{ name: string; ece: number; bins: readonly ReliabilityBinData[] }>,
  title = 'Reliability diagram (PrivateTest)',
): Figure {
  const data: Array<Record<string, unknown>> = sets.map((s) => ({
    type: 'bar',
    name: `${s.name} (ECE ${(100 * s.ece).toFixed(2)}%)`,
    x: s.bins.map((b) => (b.lower + b.upper) / 2),
    y: s.bins.map((b) => (b.count ? b.accuracy : null)),
    width: s.bins.map((b) => (b.upper - b.lower) * (0.9 / sets.length)),
    customdata: s.bins.map((b) => [b.count, b.meanConfidence]),
    hovertemplate: 'confidence %{x:.2f}: accuracy %{y:.1%} of %{customdata[0]} images (mean confidence %{customdata[1]:.1%})<extra></extra>',
    opacity: 0.75,
  }));
  data.push({ type: 'scatter', mode: 'lines', name: 'perfect calibration', x: [0, 1], y: [0, 1], line: { dash: 'dash', color: '#555' } });
  return {
    data,
    layout: baseLayout(title, {
      barmode: 'group',
      xaxis: { title: { text: 'confidence (top-1 softmax probability)' }, range: [0, 1] },
      yaxis: { title: { text: 'accuracy in the bin' }, range: [0, 1], tickformat: '.0%' },
    }),
  };
}
