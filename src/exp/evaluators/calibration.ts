import { calibrationFromLogits, fitTemperature } from '../../eval/calibration';
import { defineEvaluator } from './evaluator';

/**
 * `calibration`: temperature scaling (Guo et al. 2017), metrics.json `calibration`: T fitted on the PublicTest logits
 * (the selection split, never PrivateTest), the PublicTest NLL before and after, and the PrivateTest reliability (ECE,
 * MCE, bins) of softmax(logits) and softmax(logits / T). The saved model carries T (ferlab.json `temperature`).
 */
export const calibrationEvaluator = defineEvaluator({
  name: 'calibration',
  needs: ['test', 'val', 'labels'],
  writes: ['calibration'],
  evaluate: (ctx) => {
    const { labels } = ctx;
    const C = labels.numClasses;
    const test = ctx.test();
    const fit = fitTemperature(ctx.val().logits, C, labels.val.label);
    return {
      calibration: {
        temperature: fit.temperature,
        fittedOn: 'PublicTest' as const,
        valNllBefore: fit.nllBefore,
        valNllAfter: fit.nllAfter,
        test: calibrationFromLogits(test.logits, C, labels.test.label),
        testScaled: calibrationFromLogits(test.logits, C, labels.test.label, { temperature: fit.temperature }),
      },
    };
  },
});
