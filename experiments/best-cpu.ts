/**
 * best-cpu: the best FER+ and the best FER2013 recipe found for ferlab's `deep` network, side by side, in at most 2
 * hours on the 2-core development machine (one core each).
 *
 * Question: how close do a CPU and 2 hours get to the published anchors (FER+ paper VGG13 83.9-85.0% on majority
 * labels; best single FER2013 network 73.28%, Khaireddin & Chen 2021) and to the mini-Xception of @vladmandic/human
 * (66.6% on FER2013 PrivateTest), with single models selected on PublicTest (PrivateTest decides nothing)?
 *
 * The recipes:
 * - deep-ferplus-ce: FER+ `crossentropy` labels (the vote distribution as a soft target; the best mode of
 *   `ferplus-modes` and of the FER+ paper's Table 2), scored on majority-labelled PublicTest / PrivateTest; continuous
 *   shift 10%, rotation 15 degrees, zoom 10%, flip, random erasing (Zhong et al. 2017 defaults); SGD with Nesterov
 *   momentum 0.9, L2 5e-4, one-cycle to lr 0.05; flip averaging at test. This is the recipe the issue measured with
 *   PyTorch on a GPU for the same architecture (62 epochs: 86.1%); 54 epochs fit the 2 hours here.
 * - deep-fer: FER2013 labels with the FER+ run's kind of augmentation, a little lighter on rotation (shift 10%,
 *   rotation 10 degrees, zoom 10%, flip, random erasing) on the whole 48x48 image, the same SGD + one-cycle and
 *   epochs, flip averaging at test. (A first version used usef-kh/fer's heavier augmentation, `khaireddin2021`, on 40x40
 *   crops with ten-crop TTA for 64 epochs: 64.95% / 65.98% with TTA, commit 1213ee5, runs/best-cpu-20261126-193154;
 *   its augmented training accuracy ended at 59.5%.)
 *
 * Command:  npm run exp -- best-cpu            (quick check of the same code on a slice: npm run exp -- best-cpu --quick)
 * Runtime:  110.6 min on 2 cores (AMD EPYC, wasm backend, the two trainings side by side: 102 and 104 min of
 *           training); quick: about 1 min.
 * Expected: measured in runs/best-cpu-20261126-224446 (this file as of commit a9e7f54; README "Best recipes"),
 *           PrivateTest of the best PublicTest epoch, one seed: deep-ferplus-ce 85.35% (macro-F1 0.629), with flip
 *           TTA 86.17% (95% bootstrap interval 84.97-87.35%), epoch 50/54 (bit-identical to the first run of this
 *           recipe); deep-fer 67.12% (macro-F1 0.616), with flip TTA 67.37% (65.81-68.90%), epoch 52/54. FER+ reaches
 *           the 85.5%; FER2013 misses its 69% (augmented training accuracy 64.5% at the end, below
 *           PublicTest's 65.9%: still regularised more than it can fit).
 */
import { defineExperiment, type SettingsDiff } from '../src/exp/config';

/** The optimizer and schedule both runs share: SGD, Nesterov momentum 0.9, L2 5e-4, one-cycle to 0.05. */
const sgd: SettingsDiff = {
  lr: 0.05,
  optimizer: { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  schedule: { name: 'onecycle' },
};

export default defineExperiment({
  name: 'best-cpu',
  description:
    'the best FER+ (crossentropy labels) and FER2013 recipes for deep in <= 2 hours on 2 cores: SGD Nesterov one-cycle, affine augmentation + random erasing, test-time augmentation',
  settings: sgd,
  runs: [
    {
      name: 'deep-ferplus-ce',
      model: 'deep',
      labels: 'crossentropy',
      settings: { epochs: 54, augment: { translate: 0.1, rotation: 15, scale: 0.1, erasing: {} }, tta: 'flip' },
    },
    {
      name: 'deep-fer',
      model: 'deep',
      labels: 'fer',
      settings: {
        epochs: 64,
        input: { size: 40, resize: 'crop' },
        augment: { rotation: 10, scale: 0.1, erasing: { p: 0.25 } },
        tta: 'tencrop',
      },
    },
  ],
  quick: { epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
