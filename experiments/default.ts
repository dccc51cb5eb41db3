/**
 * default: FER vs FER+ (majority) x baseline vs deep.
 *
 * Question: how much do FER+'s crowd-sourced majority labels change what the same CNNs learn and how well they score
 * on the same PrivateTest images, for a small (baseline, 3 blocks) and a deeper (deep, 5 blocks) network?
 *
 * Command:  npm run exp                 (quick check of the same code on a slice: npm run exp -- --quick)
 * Runtime:  24 min on 2 cores (wasm backend, 2 trainings side by side), about 44 min on 1 core (the four trainings' measured 44.1 min, summed); quick: 35 s on 2 cores.
 * Settings: the defaults (src/train/settings.ts): 5 epochs, batch 64, Adam, one-cycle to lr 3e-3, flips, seed 42.
 * Expected: PrivateTest accuracy baseline-fer 54.8%, deep-fer 62.8%, baseline-ferplus 74.2%, deep-ferplus 79.2%
 *           (measured: runs/default-20261121-082234, the README's results table; the same seed and backend give the
 *           same numbers).
 */
import { defineExperiment } from '../src/exp/config';

export default defineExperiment({
  name: 'default',
  description:
    'FER vs FER+ (majority) x baseline vs deep: 4 trainings, selected on PublicTest, reported on PrivateTest, cross-evaluated against the other label set',
  runs: [
    { name: 'baseline-fer', model: 'baseline', labels: 'fer' },
    { name: 'deep-fer', model: 'deep', labels: 'fer' },
    { name: 'baseline-ferplus', model: 'baseline', labels: 'majority' },
    { name: 'deep-ferplus', model: 'deep', labels: 'majority' },
  ],
  quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
