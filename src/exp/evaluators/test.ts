import { defineEvaluator } from './evaluator';

/**
 * `test`: the plain (single-view) PrivateTest metrics of the best-epoch model, metrics.json `test` (accuracy, macro-F1,
 * per-class metrics, confusion matrix; src/eval/metrics.ts). Always on: the experiment tables and the saved model's
 * `testAccuracy` read it.
 */
export const testEvaluator = defineEvaluator({
  name: 'test',
  needs: ['test'],
  writes: ['test'],
  evaluate: (ctx) => ({ test: ctx.test().metrics }),
});
