/**
 * lr-grid: peak learning rate x batch size for the `deep` CNN on FER+ majority labels (a grid of runs; called
 * sweep-lr before, a name that still loads it).
 *
 * Question: how sensitive is the one-cycle Adam recipe of the default experiment to its peak learning rate and batch size?
 * Selection is on PublicTest; PrivateTest is reported for every point.
 *
 * Command:  npm run exp -- lr-grid                 (quick: npm run exp -- lr-grid --quick)
 * Runtime:  6 runs x 3 epochs of deep: 24 min on 2 cores (2 side by side), about 46 min on 1 core (estimated: side-by-side runs keep ~98% of
 *           their 1-core speed, README Performance); quick: about a minute.
 * Expected: flat: PrivateTest 76.0-77.2% over the whole grid, PublicTest 78.1-78.9%; selected on PublicTest: lr 3e-3 at
 *           batch 64 (PublicTest 78.87%, PrivateTest 76.94%). Measured: runs/sweep-lr-20261121-091754 (one seed).
 */
import { defineExperiment, gridRuns } from '../src/exp/config';
import defaultExperiment from './default';

export default defineExperiment({
  name: 'lr-grid',
  description: 'deep on FER+ majority: peak learning rate {1e-3, 3e-3, 1e-2} x batch size {32, 64}, 3 epochs each',
  settings: { epochs: 3 },
  runs: gridRuns('deep', 'majority', { lr: [1e-3, 3e-3, 1e-2], batchSize: [32, 64] }),
  quick: defaultExperiment.quick,
});
