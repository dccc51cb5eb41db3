/**
 * sweep-recipe: a hyper-parameter search over the training recipe of the `deep` CNN on FER+ majority labels (a sweep
 * spec for `ferlab sweep`, src/sweep; not an experiment for `npm run exp`).
 *
 * Question: which learning rate, weight decay, label smoothing, batch size and shift augmentation give the best
 * PublicTest accuracy for `deep` on FER+ majority labels in 8 epochs, and how much better than the default recipe
 * (one-cycle Adam, peak lr 3e-3, batch 64, no weight decay / smoothing / shift: PublicTest 81.06% in 5 epochs, README)
 * is it? Selection is on PublicTest (the objective); PrivateTest is reported for every complete trial.
 *
 * Command:  npm run ferlab -- sweep sweep-recipe          (quick: npm run ferlab -- sweep sweep-recipe --quick)
 *           after an interruption: npm run ferlab -- sweep --resume runs/sweep-recipe-<timestamp>
 * Runtime:  a 90-minute budget (no new trial after 90 min) plus the trials still running then (up to one 8-epoch
 *           trial, about 20 min): about 1 h 50 min on 2 cores (estimated from the default study's deep-ferplus speed:
 *           about 2.6 min per epoch with two trainings side by side, batch 64; not run yet). Quick: 4 trials of 2 epochs
 *           on the 1,280/320/320-image slice, about 1-2 min on 2 cores.
 * Expected: not run yet. The quick variant's numbers mean nothing (it checks the pipeline).
 *
 * Search: TPE (Bergstra et al. 2011, Optuna's defaults but 6 random start-up trials instead of 10, since a 90-minute
 * budget gives only about 12-20 trials) with ASHA pruning (Li et al. 2020; rungs at epochs 2 and 6, the top third
 * continue; a trial that reaches epoch 8 completes). Each trial trains with seed 42 (the training seed is a setting;
 * the sampler has its own seed).
 *
 * Not searched: there is no dropout setting (the models fix their dropout rates, src/models). A conditional weight
 * decay (0 or log-uniform) needs a discrete parent setting to hang the condition on: that will be `optimizer.name`.
 * TODO: search augment.rotation, augment.scale and augment.erasing, and optimizer.name (adam / sgd) with
 * optimizer.momentum conditional on sgd (and the weight decay conditional on the optimizer). These settings were being
 * added to src/train/settings.ts while this spec was written; adding them changes the spec (and its hash: a new sweep).
 */
import { defineQuickSweep } from '../src/sweep/load';
import { defineSweep } from '../src/sweep/spec';

export default defineSweep({
  name: 'sweep-recipe',
  question: 'best lr, weight decay, label smoothing, batch size and augmentation for deep on FER+ majority in 8 epochs',
  model: 'deep',
  labels: 'majority',
  base: { epochs: 8, seed: 42 },
  space: {
    lr: { kind: 'loguniform', low: 1e-3, high: 1e-2 },
    'optimizer.weightDecay': { kind: 'loguniform', low: 1e-4, high: 5e-2 },
    labelSmoothing: { kind: 'uniform', low: 0, high: 0.15 },
    batchSize: { kind: 'choice', values: [64, 128] },
    'augment.shift': { kind: 'int', low: 0, high: 4 },
    'augment.rotation': { kind: 'choice', values: [0, 10] },
  },
  objective: { metric: 'accuracy' },
  sampler: { name: 'tpe', startupTrials: 5 },
  pruner: { name: 'asha', minEpochs: 2, reductionFactor: 3, maxEpochs: 8 },
  budget: { minutes: 68 },
  seed: 2024,
});

/** The same code on the quick slice: 4 trials of 2 epochs (random start-up trials of TPE), ASHA with a rung at epoch 1. */
export const quick = defineQuickSweep({
  base: { epochs: 2 },
  slice: { train: 1280, val: 320, test: 320 },
  budget: { trials: 4 },
  pruner: { name: 'asha', minEpochs: 1, reductionFactor: 3, maxEpochs: 2 },
});
