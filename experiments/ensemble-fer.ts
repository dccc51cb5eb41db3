/**
 * ensemble-fer: the members of ferlab's FER2013 ensemble (issue 29), each trained with best-cpu's FER2013 recipe
 * (experiments/best-cpu.ts `deep-fer`: random 40x40 crops, rotation 10 degrees, zoom 10%, flip, SGD Nesterov
 * one-cycle to 0.05, 70 epochs, ten-crop TTA), seeds and architectures varied so that their errors differ.
 *
 * Question: how far past best-cpu's single `deep` (68.01%, 69.04% with ten-crop TTA, PrivateTest) do several
 * 2-hour CPU networks go when combined, toward the 71.6% the released FER2013 model must reach (5 points above
 * @vladmandic/human's mini-Xception, 66.6%)? Members are chosen on PublicTest only; PrivateTest decides nothing.
 *
 * Command:  npm run exp -- ensemble-fer --only deep-fer,mini-xception-fer   (native: two members side by side, one
 *           oneDNN thread each), then npm run exp -- ensemble-fer --only resnet-cpu-fer --threads 2 --workers 1 (a
 *           folder of its own: resnet-cpu costs 1.6x deep per image, 239 img/s on one thread beside another run, 2.3
 *           hours for 70 epochs; on both cores alone it stays under 2 hours); a killed experiment resumes with
 *           --resume <folder>; then npm run ferlab -- ensemble <the folders> runs/<best-cpu>/deep-fer --out models/<name>
 * Runtime:  deep members about 65 min each on one core of the 2-core machine with another member beside it (56 s per
 *           epoch, 508 img/s); quick: npm run exp -- ensemble-fer --quick (about 1 min).
 * Expected: measured (docs/results/ensembles.md, runs/ensemble-fer-20261207-153510 and -181706): deep-fer seeds 1 / 2 /
 *           3 68.54% / 68.10% / 68.01% PrivateTest (69.18% / 68.85% / 70.13% with ten-crop TTA), mini-xception-fer
 *           65.81% (66.98%); with best-cpu's deep-fer (seed 42, 68.01%) all five (mean of logits, committed float16
 *           exports under models/members/) 70.13% (68.60-71.66%), 70.21% with flip TTA (chosen on PublicTest); the
 *           three deep seeds 1, 2, 42 alone 69.69%. resnet-cpu is still to train (2 threads, a folder of its own).
 */
import { defineExperiment } from '../src/exp/config';
import { bestCpuRecipe } from './best-cpu';

/** best-cpu's FER2013 recipe (experiments/best-cpu.ts deep-fer), unchanged. */
const ferRecipe = bestCpuRecipe('deep-fer');

export default defineExperiment({
  name: 'ensemble-fer',
  description: "members of the FER2013 ensemble: best-cpu's FER2013 recipe on deep (3 seeds), resnet-cpu and mini-xception",
  settings: ferRecipe,
  runs: [
    { name: 'resnet-cpu-fer', model: 'resnet-cpu', labels: 'fer' },
    { name: 'deep-fer', model: 'deep', labels: 'fer', seeds: [1, 2, 3] },
    { name: 'mini-xception-fer', model: 'mini-xception', labels: 'fer' },
  ],
  workers: 2,
  quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
