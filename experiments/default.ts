/**
 * default: FER vs FER+ (majority) x baseline vs deep.
 *
 * Question: how much do FER+'s crowd-sourced majority labels change what the same CNNs learn and how well they score
 * on the same PrivateTest images, for a small (baseline, 3 blocks) and a deeper (deep, 5 blocks) network?
 *
 * Command:  npm run exp                 (quick check of the same code on a slice: npm run exp -- --quick)
 * Runtime:  24 min on the 2-core development machine (wasm backend, 2 trainings side by side); quick: under a minute.
 * Expected: PrivateTest accuracy baseline-fer 54.8%, deep-fer 62.8%, baseline-ferplus 74.2%, deep-ferplus 79.2%
 *           (measured: runs/default-20261121-082234, the README's results table; the same seed and backend give the
 *           same numbers).
 */
import { defineExperiment } from '../src/exp/config';

export default defineExperiment({
  name: 'default',
  description:
    'FER vs FER+ (majority) x baseline vs deep: 4 trainings, selected on PublicTest, reported on PrivateTest, cross-evaluated against the other label set',
  defaults: {
    epochs: 5,
    batchSize: 64,
    lr: 3e-3,
    schedule: { name: 'onecycle', pctStart: 0.25, divFactor: 25, finalDivFactor: 1e4 },
    optimizer: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    augment: { flip: true, shift: 0 },
    labelSmoothing: 0,
    patience: 0,
    seed: 42,
    evalBatchSize: 256,
    slice: { train: null, val: null, test: null },
  },
  runs: [
    { name: 'baseline-fer', model: 'baseline', labels: 'fer' },
    { name: 'deep-fer', model: 'deep', labels: 'fer' },
    { name: 'baseline-ferplus', model: 'baseline', labels: 'majority' },
    { name: 'deep-ferplus', model: 'deep', labels: 'majority' },
  ],
  workers: 2,
  quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
