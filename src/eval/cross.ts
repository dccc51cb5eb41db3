import { FER_CLASSES, FER_TO_FERPLUS, FERPLUS_CLASSES, FERPLUS_TO_FER } from '../data/classes';
import { argmaxRows, computeMetrics } from './metrics';

/** FER+ class indices that have a FER2013 counterpart (all but contempt), in FER+ order. */
const SHARED_FERPLUS = FERPLUS_CLASSES.map((_, j) => j).filter((j) => FERPLUS_TO_FER[j] >= 0);

/**
 * Cross-evaluation between the FER2013 and FER+ label sets on the same PrivateTest images, with the class sets
 * mapped explicitly (FER_TO_FERPLUS: angry->anger, disgust->disgust, fear->fear, happy->happiness, sad->sadness,
 * surprise->surprise, neutral->neutral). FER+ `contempt` has no FER2013 counterpart, so:
 * - a FER-trained model (7 outputs) is scored against FER+ majority labels on the FER+ test images whose label is
 *   not contempt; its prediction is mapped into FER+ classes;
 * - a FER+-trained model (8 outputs) is scored against the FER2013 labels of all PrivateTest images; it predicts the
 *   argmax over its 7 outputs that have a FER2013 counterpart (contempt masked), mapped into FER2013 classes.
 * Metrics are over the 7 shared classes, in the target label set's class order and names.
 */
export type { CrossEvaluation } from '../records/metrics';
import type { CrossEvaluation } from '../records/metrics';

/**
 * @param logits `[m, Cmodel]` outputs on the target images (in the order of `labels`).
 * @param labels `[m]` target labels in the target label set (FER: 0-6; FER+: 0-7).
 * @param from the label set the model was trained on ('fer' = 7 outputs; 'ferplus' = 8 outputs).
 */
export function crossEvaluate(logits: Float32Array, labels: Uint8Array, from: 'fer' | 'ferplus'): CrossEvaluation {
  if (from === 'fer') {
    // target: FER+ labels; keep the 7 FER+ classes that exist in FER2013, in FER+ order
    const Cm = FER_CLASSES.length;
    const t: number[] = [];
    const p: number[] = [];
    const preds = argmaxRows(logits, Cm);
    let excluded = 0;
    for (let i = 0; i < labels.length; i++) {
      if (FERPLUS_TO_FER[labels[i]] < 0) {
        excluded++;
        continue;
      }
      t.push(SHARED_FERPLUS.indexOf(labels[i]));
      p.push(SHARED_FERPLUS.indexOf(FER_TO_FERPLUS[preds[i]]));
    }
    return {
      from,
      to: 'ferplus',
      excluded,
      metrics: computeMetrics(
        t,
        p,
        SHARED_FERPLUS.map((j) => FERPLUS_CLASSES[j]),
      ),
    };
  }
  // target: FER labels; the model's 8 outputs are restricted to those with a FER counterpart
  const Cm = FERPLUS_CLASSES.length;
  const preds = argmaxRows(logits, Cm, SHARED_FERPLUS).map((j) => FERPLUS_TO_FER[j]);
  return { from, to: 'fer', excluded: 0, metrics: computeMetrics(labels, preds, FER_CLASSES) };
}
