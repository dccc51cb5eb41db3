/**
 * gains-fer: cheap single-model gains on FER2013 (issue 29), each against best-cpu's FER2013 recipe with the same seed
 * on the same backend, compared by McNemar's test on the same PrivateTest images (the experiment's report): weight
 * averaging (EMA of the weights, timm ModelEmaV2; src/train/ema.ts), mixup (Zhang et al. 2018) and CutMix (Yun et al.
 * 2019) (src/train/mix.ts), and the registry's vgg-cpu (Khaireddin & Chen 2021's VGG at half width) on the same recipe.
 * (resnet-cpu and mini-xception on this recipe are members of experiments/ensemble-fer.ts.)
 *
 * Question: which of these lifts a single 2-hour CPU network above best-cpu's deep-fer (68.01%, 69.04% with ten-crop
 * TTA, PrivateTest) by more than the noise (seed-to-seed spread: ensemble-fer's deep-fer seeds 1-3 and this
 * experiment's reference)? Selection on PublicTest only.
 *
 * Command:  npm run exp -- gains-fer --backend native --only deep-fer,deep-fer-ema,deep-fer-mixup,deep-fer-cutmix
 *           (two runs side by side, one oneDNN thread each), then
 *           npm run exp -- gains-fer --backend native --only vgg-cpu-fer --threads 2 --workers 1   (a folder of its own;
 *           vgg-cpu costs 3x deep per image: one run on both cores keeps it under 2 hours)
 * Runtime:  each deep run about 1 hour on one core of an idle 2-core machine (native, 540 img/s on 40x40 crops);
 *           vgg-cpu about 1.7 hours on both cores; quick: npm run exp -- gains-fer --quick.
 * Expected: to be filled from the measured run records with each verdict.
 */
import { defineExperiment } from '../src/exp/config';
import { bestCpuRecipe } from './best-cpu';

/** best-cpu's FER2013 recipe (experiments/best-cpu.ts deep-fer), unchanged; seed 42 (the default) as there. */
const ferRecipe = bestCpuRecipe('deep-fer');

export default defineExperiment({
  name: 'gains-fer',
  description: "single-model gains on best-cpu's FER2013 recipe: weight EMA, mixup, CutMix, vgg-cpu; McNemar against the reference",
  settings: ferRecipe,
  runs: [
    { name: 'deep-fer', model: 'deep', labels: 'fer' },
    { name: 'deep-fer-ema', model: 'deep', labels: 'fer', settings: { ema: { decay: 0.999 } } },
    { name: 'deep-fer-mixup', model: 'deep', labels: 'fer', settings: { mixup: { alpha: 0.2 } } },
    { name: 'deep-fer-cutmix', model: 'deep', labels: 'fer', settings: { cutmix: { alpha: 1 } } },
    { name: 'vgg-cpu-fer', model: 'vgg-cpu', labels: 'fer' },
  ],
  workers: 2,
  quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
