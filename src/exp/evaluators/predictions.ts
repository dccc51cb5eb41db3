import { PREDICTIONS_FILE, writePredictions } from '../../records/run';
import { defineEvaluator } from './evaluator';

/**
 * `predictions`: writes predictions.json, the per-image PrivateTest predictions (dataset row, label, argmax, softmax
 * probabilities rounded to 4 decimals; src/records/run.ts TestPredictions). No metrics.json field.
 */
export const predictionsEvaluator = defineEvaluator({
  name: 'predictions',
  needs: ['predictions', 'dir'],
  writes: [],
  files: [PREDICTIONS_FILE],
  evaluate: (ctx) => {
    writePredictions(ctx.dir, ctx.predictions());
    return {};
  },
});
