/**
 * transfer-folder: a FER2013-trained `deep` evaluated on, then fine-tuned on, an image-folder dataset.
 *
 * Question: how well does a CNN trained on FER2013 transfer to another set of labelled faces (RAF-DB, CK+, JAFFE, an
 * AffectNet export, your own photos), before any training (zero-shot: each run's init.json and metrics.json `init.before`)
 * and after fine-tuning all layers or the classifier only (conv blocks frozen)? The model to start from is the
 * `deep-fer` run of the newest finished `default` experiment (`initFrom: 'default/deep-fer'`); any saved model works with
 * `--set initFrom=<run folder | models/<name>>`. For the from-scratch baseline on the same data, train the default
 * experiment's deep-fer on it: `npm run exp -- default --only deep-fer --data-dir <folder>`.
 *
 * Command:  npm run exp -- default --only deep-fer                     (the FER2013 model, once)
 *           npm run ferlab -- folder-copy data/fer2013-folder           (FER2013 as image folders, Kaggle layout)
 *           npm run exp -- transfer-folder --data-dir data/fer2013-folder   (or any folder dataset)
 *           quick: npm run exp -- default --quick --only deep-fer && npm run exp -- transfer-folder --quick --data-dir <folder>
 * Runtime:  2 runs x 3 epochs of deep, side by side on 2 cores (wasm). On the FER2013 folder copy (28,709 training
 *           images) about 9 min, estimated from measured throughput (deep trains at 172 images/s per core, README's
 *           results table; with frozen conv blocks 2.5x faster in the quick run), not run at full size here;
 *           proportionally less on smaller datasets. Quick: about 30 s.
 * Expected: on the PNG folder copy of FER2013 (the pretraining data itself) the zero-shot scores equal the deep-fer
 *           run's own (same images, same pixels: a plumbing check, asserted by test/exp/transfer.test.ts) and
 *           fine-tuning changes them little. On another dataset the zero-shot accuracy is usually far lower; ferlab has
 *           not measured a non-FER2013 dataset (none is in the development data).
 */
import { defineExperiment } from '../src/exp/config';

export default defineExperiment({
  name: 'transfer-folder',
  description: 'FER2013-trained deep on a folder dataset: zero-shot scores, then fine-tuning all layers vs. the classifier only (conv frozen)',
  settings: { initFrom: 'default/deep-fer', epochs: 3 },
  runs: [
    { name: 'deep-finetune', model: 'deep', labels: 'fer', settings: { lr: 1e-3 } },
    { name: 'deep-finetune-head', model: 'deep', labels: 'fer', settings: { freeze: 'conv', lr: 3e-3 } },
  ],
  quick: { initFrom: 'default-quick/deep-fer', epochs: 2, slice: { train: 1280, val: 320, test: 320 } },
});
