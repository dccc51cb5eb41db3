/**
 * ferplus-modes: the four FER+ training modes of Barsoum et al. (arXiv 1608.01041, Table 2), with ferlab's `deep` CNN.
 *
 * Question: does training on the crowd's vote distribution (probability, crossentropy) or on every acceptable label
 * (multi_target) beat training on the majority label, when all are scored on the same majority-labelled PrivateTest
 * images? (The paper, VGG13 at 64x64 for 100 epochs: majority 83.85%, probability 84.65%, crossentropy 84.72%,
 * multi_target 84.00%.)
 *
 * Command:  npm run exp -- ferplus-modes            (quick: npm run exp -- ferplus-modes --quick)
 * Runtime:  4 x 5 epochs of deep: 28.5 min on 2 cores (2 side by side), about 55 min on 1 core (estimated: side-by-side runs keep ~98% of
 *           their 1-core speed, README Performance); quick: under a minute.
 * Expected: PrivateTest (majority labels) majority 79.16%, probability 78.50%, crossentropy 80.43%, multi_target
 *           78.50% (measured: runs/ferplus-modes-20261121-084800). As in the paper, crossentropy is best; these
 *           are single runs with one seed, and the seed-to-seed spread has not been measured.
 */
import { defineExperiment } from '../src/exp/config';
import defaultExperiment from './default';

export default defineExperiment({
  name: 'ferplus-modes',
  description: 'FER+ majority vs probability vs crossentropy vs multi_target training, deep CNN, all scored on majority labels',
  runs: [
    { name: 'deep-majority', model: 'deep', labels: 'majority' },
    { name: 'deep-probability', model: 'deep', labels: 'probability' },
    { name: 'deep-crossentropy', model: 'deep', labels: 'crossentropy' },
    { name: 'deep-multi_target', model: 'deep', labels: 'multi_target' },
  ],
  seeds: [42, 43, 44],
  quick: defaultExperiment.quick,
});
