import { bootstrapAccuracy } from '../../eval/stats';
import { defineEvaluator } from './evaluator';

/** 1 where `preds[i] === label[i]`, else 0 (`[m]` numbers), the per-image correctness a bootstrap resamples. */
export function correctFlags(preds: ArrayLike<number>, label: ArrayLike<number>): number[] {
  return Array.from(label, (l, i) => (preds[i] === l ? 1 : 0));
}

/**
 * `bootstrap`: the 95% percentile-bootstrap interval of the plain PrivateTest accuracy, metrics.json `testInterval`
 * (src/eval/stats.ts bootstrapAccuracy: 10000 resamples, fixed seed).
 */
export const bootstrapEvaluator = defineEvaluator({
  name: 'bootstrap',
  needs: ['test', 'labels'],
  writes: ['testInterval'],
  evaluate: (ctx) => ({ testInterval: bootstrapAccuracy(correctFlags(ctx.test().preds, ctx.labels.test.label)) }),
});
