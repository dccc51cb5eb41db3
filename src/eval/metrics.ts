/**
 * Precision, recall, F1 and support of one class, and the classification metrics of one model on one labelled image
 * set: record types (metrics.json), declared by their schemas in src/records/metrics.ts.
 */
import type { Metrics } from '../records/metrics';
export type { ClassMetrics, Metrics } from '../records/metrics';

/**
 * Confusion matrix (rows = true class, columns = predicted class), accuracy, per-class precision / recall / F1 and
 * macro-F1 (the mean F1 over classes that occur in `labels`, as scikit-learn's f1_score(average='macro') restricted
 * to present labels).
 *
 * @param labels `[n]` true class indices. @param preds `[n]` predicted class indices, both in [0, classes.length).
 * @throws Error when lengths differ or an index is out of range.
 */
export function computeMetrics(labels: ArrayLike<number>, preds: ArrayLike<number>, classes: readonly string[]): Metrics {
  if (labels.length !== preds.length) throw new Error(`labels (${labels.length}) and predictions (${preds.length}) differ in length`);
  const C = classes.length;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = preds[i];
    if (!(t >= 0 && t < C && p >= 0 && p < C)) throw new Error(`class index out of range at ${i}: label ${t}, prediction ${p} (expected 0-${C - 1})`);
    confusion[t][p] += 1;
    if (t === p) correct += 1;
  }
  const perClass = classes.map((name, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { class: name, precision, recall, f1, support };
  });
  const present = perClass.filter((m) => m.support > 0);
  return {
    classes: [...classes],
    n: labels.length,
    accuracy: labels.length ? correct / labels.length : 0,
    macroF1: present.length ? present.reduce((a, m) => a + m.f1, 0) / present.length : 0,
    perClass,
    confusion,
  };
}

/** Row-normalised confusion matrix (each row sums to 1; rows without images stay 0). */
export function normalizeRows(confusion: number[][]): number[][] {
  return confusion.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (s ? v / s : 0));
  });
}

/** The off-diagonal cells of a confusion matrix, largest first: which true class is mistaken for which. */
export function confusedPairs(m: Metrics, top = 10): Array<{ trueClass: string; predicted: string; count: number; rate: number }> {
  const pairs: Array<{ trueClass: string; predicted: string; count: number; rate: number }> = [];
  m.confusion.forEach((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => {
      if (t !== p && count > 0) pairs.push({ trueClass: m.classes[t], predicted: m.classes[p], count, rate: count / support });
    });
  });
  return pairs.sort((a, b) => b.count - a.count).slice(0, top);
}

export { argmaxRows } from '../util/argmax';
