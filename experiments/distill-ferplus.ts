/**
 * distill-ferplus: one `deep` network trained on the FER+ ensemble's softened probabilities (knowledge distillation,
 * Hinton, Vinyals & Dean 2015, arXiv 1503.02531; src/train/distill.ts), with best-cpu's FER+ recipe otherwise unchanged
 * (experiments/best-cpu.ts deep-ferplus-ce: the vote distribution as a soft target, shift 10%, rotation 15 degrees,
 * zoom 10%, flip, random erasing, SGD Nesterov one-cycle to 0.05, 54 epochs, flip TTA). Two seeds.
 *
 * Teachers: the ensemble-ferplus members kept under models/members/ and the released best-cpu deep-ferplus-ce
 * (models/ferlab-ferplus), combined as the log of their mean probability, softened with T = 4; the true-label term
 * (weight alpha = 0.5) is the cross-entropy against the FER+ vote distribution, as in the recipe. Targets cached: one
 * pass of each teacher over the training images before training (src/train/distill.ts).
 *
 * Question: does one distilled `deep` pass the 86.5% (FER+ majority labels, PrivateTest) a single network must reach,
 * against best-cpu's 85.35% (86.17% with flip TTA)?
 *
 * Command:  npm run exp -- distill-ferplus --backend native   (both seeds side by side, one oneDNN thread each)
 * Runtime:  as best-cpu's deep-ferplus-ce plus the teachers' pass: about 55 min per seed on one core beside the other;
 *           quick: npm run exp -- distill-ferplus --quick (a minute).
 * Expected: to be filled from the run records.
 */
import { defineExperiment } from '../src/exp/config';
import { bestCpuRecipe } from './best-cpu';

/** best-cpu's FER+ recipe (experiments/best-cpu.ts deep-ferplus-ce), unchanged. */
const ferplusRecipe = bestCpuRecipe('deep-ferplus-ce');

/** The FER+ teachers: committed members (models/README.md) and the released best-cpu deep-ferplus-ce. */
export const FERPLUS_TEACHERS = ['models/members/deep-ferplus-ce-seed1', 'models/members/deep-ferplus-ce-seed2', 'models/ferlab-ferplus'];

export default defineExperiment({
  name: 'distill-ferplus',
  description: "one deep network distilled from the FER+ ensemble's members (T 4, alpha 0.5, cached targets), best-cpu's FER+ recipe, 2 seeds",
  settings: { ...ferplusRecipe, distill: { teacher: FERPLUS_TEACHERS, temperature: 4, alpha: 0.5, mode: 'cached' } },
  runs: [{ name: 'deep-ferplus-ce-distill', model: 'deep', labels: 'crossentropy', seeds: [1, 2] }],
  workers: 2,
  quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
