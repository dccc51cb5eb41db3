/**
 * sweep-lr: peak learning rate x batch size for the `deep` CNN on FER+ majority labels (a hyper-parameter sweep).
 *
 * Question: how sensitive is the one-cycle Adam recipe of the default study to its peak learning rate and batch size?
 * Selection is on PublicTest; PrivateTest is reported for every point.
 *
 * Command:  npm run exp -- sweep-lr                 (quick: npm run exp -- sweep-lr --quick)
 * Runtime:  6 runs x 3 epochs of deep, 2 side by side: about 25 minutes on 2 cores; quick: about 2 minutes.
 * Expected: a flat optimum around lr 3e-3 at batch 64; lr 1e-2 trains but ends lower.
 */
import { defineExperiment, gridRuns } from '../src/exp/config';
import defaultExperiment from './default';

export default defineExperiment({
  name: 'sweep-lr',
  description: 'deep on FER+ majority: peak learning rate {1e-3, 3e-3, 1e-2} x batch size {32, 64}, 3 epochs each',
  defaults: { ...defaultExperiment.defaults, epochs: 3 },
  runs: gridRuns('deep', 'majority', { lr: [1e-3, 3e-3, 1e-2], batchSize: [32, 64] }),
  workers: 2,
  quick: defaultExperiment.quick,
});
