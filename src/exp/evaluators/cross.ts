import { buildLabelSet, isFerPlus, sliceSplit } from '../../data/labels';
import { crossEvaluate } from '../../eval/cross';
import { evaluateSplit } from '../../eval/evaluate';
import { defineEvaluator } from './evaluator';

/**
 * `cross`: the same PrivateTest images (the run's slice) scored against the other label set (FER2013 <-> FER+
 * majority; src/eval/cross.ts), metrics.json `cross`; null when the dataset has no FER+ votes.
 */
export const crossEvaluator = defineEvaluator({
  name: 'cross',
  needs: ['model', 'ds', 'labels', 'run', 'input'],
  writes: ['cross'],
  evaluate: ({ model, ds, labels, run, input }) => {
    if (!ds.ferplus) return { cross: null };
    const other = buildLabelSet(ds, isFerPlus(run.labels) ? 'fer' : 'majority');
    const target = sliceSplit(other.test, run.slice.test, other.numClasses);
    const unlabelled = { index: target.index, label: new Uint8Array(target.index.length) };
    const logits = evaluateSplit(model, ds, unlabelled, labels.classes, run.evalBatchSize, input).logits;
    return { cross: crossEvaluate(logits, target.label, isFerPlus(run.labels) ? 'ferplus' : 'fer') };
  },
});
