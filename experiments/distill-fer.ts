/**
 * distill-fer: one `deep` network trained on the FER2013 ensemble's softened probabilities (knowledge distillation,
 * Hinton, Vinyals & Dean 2015, arXiv 1503.02531; src/train/distill.ts), with best-cpu's FER2013 recipe otherwise
 * unchanged (experiments/best-cpu.ts deep-fer: random 40x40 crops, rotation 10 degrees, zoom 10%, flip, SGD Nesterov
 * one-cycle to 0.05, 70 epochs, ten-crop TTA). Two seeds, so that the recipe's result is a mean +- std.
 *
 * Teachers: the ensemble-fer members kept under models/members/ (committed; rebuilt by the commands in
 * models/README.md) and the released best-cpu deep-fer (models/ferlab-fer2013), combined as Hinton et al. do (the log of
 * the teachers' mean probability), softened with T = 4, weighted 1 - alpha = 0.5 against the one-hot FER2013 labels.
 * Targets are cached: each teacher predicts every training image once, on its own input (the centre 40x40 window),
 * before training (about 28,709 x 5 forward passes: a minute or two), not per augmented batch (src/train/distill.ts
 * explains the trade-off). The teachers never see PublicTest or PrivateTest.
 *
 * Question: how much of the ensemble's gain over one `deep` (ensemble-fer: 69.66% vs 68.01-68.54% PrivateTest)
 * does one `deep` keep when trained on the ensemble's outputs; does it pass the 70.0% a single network must reach?
 *
 * Command:  npm run exp -- distill-fer --backend native   (both seeds side by side, one oneDNN thread each)
 * Runtime:  as best-cpu's deep-fer plus the teachers' pass: about 65 min per seed on one core of the 2-core machine
 *           beside the other; quick: npm run exp -- distill-fer --quick (a minute).
 * Expected: to be filled from the run records (per seed PrivateTest with its 95% interval and McNemar against
 *           best-cpu's deep-fer on the same images).
 */
import { defineExperiment } from '../src/exp/config';
import { bestCpuRecipe } from './best-cpu';

/** best-cpu's FER2013 recipe (experiments/best-cpu.ts deep-fer), unchanged. */
const ferRecipe = bestCpuRecipe('deep-fer');

/** The FER2013 teachers: committed members (models/README.md) and the released best-cpu deep-fer. */
export const FER_TEACHERS = [
  'models/members/deep-fer-seed1',
  'models/members/deep-fer-seed2',
  'models/members/deep-fer-seed3',
  'models/members/mini-xception-fer',
  'models/ferlab-fer2013',
];

export default defineExperiment({
  name: 'distill-fer',
  description: "one deep network distilled from the FER2013 ensemble's members (T 4, alpha 0.5, cached targets), best-cpu's FER2013 recipe, 2 seeds",
  settings: { ...ferRecipe, distill: { teacher: FER_TEACHERS, temperature: 4, alpha: 0.5, mode: 'cached' } },
  runs: [{ name: 'deep-fer-distill', model: 'deep', labels: 'fer', seeds: [1, 2] }],
  workers: 2,
  quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
