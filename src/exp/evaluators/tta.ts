import { isDefaultInput } from '../../data/input';
import type { SplitLabels } from '../../data/labels';
import { computeMetrics } from '../../eval/metrics';
import { bootstrapAccuracy } from '../../eval/stats';
import { predictProbabilitiesTTA } from '../../eval/tta';
import { argmaxRows } from '../../util/argmax';
import { correctFlags } from './bootstrap';
import { defineEvaluator } from './evaluator';

/**
 * `tta`: test-time augmentation (the run's `tta` setting, src/eval/tta.ts), metrics.json `tta`: the PublicTest and
 * PrivateTest metrics of the TTA-averaged probabilities of the best-epoch model and the bootstrap interval of the
 * PrivateTest accuracy. Writes nothing when the run's `tta` is absent or 'none'.
 */
export const ttaEvaluator = defineEvaluator({
  name: 'tta',
  needs: ['model', 'ds', 'labels', 'run', 'input'],
  writes: ['tta'],
  evaluate: ({ model, ds, labels, run, input }) => {
    const mode = run.tta;
    if (!mode || mode === 'none') return {};
    const scored = (split: SplitLabels) => {
      const r = predictProbabilitiesTTA(model, ds.pixels, split.index, mode, { batchSize: run.evalBatchSize, ...(isDefaultInput(input) ? {} : { input }) });
      const preds = argmaxRows(r.probabilities, labels.numClasses);
      return { record: r.record, preds, metrics: computeMetrics(split.label, preds, labels.classes) };
    };
    const v = scored(labels.val);
    const t = scored(labels.test);
    return { tta: { ...t.record, val: v.metrics, test: t.metrics, testInterval: bootstrapAccuracy(correctFlags(t.preds, labels.test.label)) } };
  },
});
