import { z } from 'zod';

/**
 * The training settings of a run: one zod schema that carries every default, unit, meaning and source. The
 * TypeScript types of the training modules (TrainSettings, Schedule, AdamConfig, Augment) are derived from it with
 * `z.infer`; experiments state only what differs from these defaults (nanoGPT-style), and the defaults reproduce
 * the default study (experiments/default.ts): 5 epochs, batch 64, Adam, one-cycle to 3e-3, flips, seed 42.
 *
 * Objects are strict: an unknown key is an error naming its path.
 */

const int = (min = 0) => z.number().int().min(min);

/** Learning-rate schedule, as a function of the optimizer step; the formulas are in schedule.ts. */
export const ScheduleSchema = z
  .discriminatedUnion('name', [
    z.strictObject({ name: z.literal('constant').describe('the peak lr at every step') }),
    z.strictObject({
      name: z.literal('onecycle').describe("PyTorch's OneCycleLR with cosine annealing (Smith & Topin, arXiv 1708.07120)"),
      pctStart: z.number().gt(0).lt(1).default(0.25).describe('fraction of all steps spent rising to the peak lr (PyTorch default 0.3)'),
      divFactor: z.number().gt(1).default(25).describe('initial lr = peak lr / divFactor (PyTorch default 25)'),
      finalDivFactor: z.number().gt(1).default(1e4).describe('final lr = initial lr / finalDivFactor (PyTorch default 1e4)'),
    }),
    z.strictObject({
      name: z.literal('cosine').describe('linear warm-up, then cosine decay to 0 (Loshchilov & Hutter, arXiv 1608.03983)'),
      warmupEpochs: z.number().min(0).default(1).describe('epochs of linear warm-up from lr / steps to lr'),
    }),
    z.strictObject({
      name: z.literal('step').describe('lr multiplied by gamma at each milestone epoch (microsoft/FERPlus train.py)'),
      milestones: z.array(int(1)).default([20, 40]).describe('epochs (1-based counts of finished epochs) at which lr is multiplied by gamma'),
      gamma: z.number().gt(0).max(1).default(0.5).describe('factor applied at each milestone'),
    }),
  ])
  .default({ name: 'onecycle', pctStart: 0.25, divFactor: 25, finalDivFactor: 1e4 });
export type Schedule = z.infer<typeof ScheduleSchema>;

/** Adam / AdamW hyper-parameters (defaults: Kingma & Ba, arXiv 1412.6980, as PyTorch's torch.optim.Adam). */
export const AdamSchema = z
  .strictObject({
    beta1: z.number().min(0).lt(1).default(0.9).describe('exponential decay of the first moment'),
    beta2: z.number().min(0).lt(1).default(0.999).describe('exponential decay of the second moment'),
    epsilon: z.number().positive().default(1e-8).describe('added to sqrt of the second moment (PyTorch default 1e-8)'),
    weightDecay: z
      .number()
      .min(0)
      .default(0)
      .describe('decoupled weight decay per step, times lr (AdamW, Loshchilov & Hutter arXiv 1711.05101), on conv/dense kernels only; 0 = Adam'),
  })
  .prefault({});
export type AdamConfig = z.infer<typeof AdamSchema>;

/** Training-time augmentation, applied per image on the fly from the uint8 data (src/train/batches.ts). */
export const AugmentSchema = z
  .strictObject({
    flip: z.boolean().default(true).describe('mirror left-right with probability 0.5 (expressions are left-right symmetric)'),
    shift: int(0).max(12).default(0).describe('random translation of up to this many pixels in x and y, edges replicated; 0 = off'),
  })
  .prefault({});
export type Augment = z.infer<typeof AugmentSchema>;

/** Settings of one training run, with the defaults of the default study. */
export const TrainSettingsSchema = z.strictObject({
  epochs: int(1).default(5).describe('maximum epochs (full passes over the training split)'),
  batchSize: int(2).default(64).describe('images per optimizer step'),
  lr: z.number().positive().default(3e-3).describe('peak learning rate of the schedule'),
  schedule: ScheduleSchema,
  optimizer: AdamSchema,
  augment: AugmentSchema,
  labelSmoothing: z.number().min(0).max(0.5).default(0).describe('cross-entropy label smoothing epsilon (0 = off; not used by multi_target)'),
  patience: int(0).default(0).describe('stop after this many epochs without a better PublicTest accuracy (0 = never stop early)'),
  seed: int(0).default(42).describe('seed of weights, dropout masks, shuffling and augmentation: same seed + backend = same metrics'),
  evalBatchSize: int(1).default(256).describe('images per forward pass when evaluating (speed/memory only)'),
  initFrom: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe(
      'fine-tuning: start from the weights of a saved model instead of random ones: a run folder, a model folder (model.json), models/<name>, or <experiment>/<run> (the newest finished run of that name under runs/); a different class set gets a new classifier head; null = train from scratch',
    ),
  freeze: z
    .enum(['none', 'conv'])
    .default('none')
    .describe(
      "fine-tuning: 'conv' keeps every layer before the first Flatten fixed (weights and BatchNorm statistics; BatchNorm in inference mode, as Keras does for trainable=False) and trains the dense layers only; 'none' trains everything",
    ),
});
export type TrainSettings = z.infer<typeof TrainSettingsSchema>;

/** Everything one training run needs: a registered model and its settings. */
export type TrainConfig = TrainSettings & {
  /** Registered model name (listModels()). */
  model: string;
};

/** Adam's defaults (Kingma & Ba, arXiv 1412.6980), as PyTorch's torch.optim.Adam; no weight decay. */
export const ADAM_DEFAULTS: AdamConfig = AdamSchema.parse({});

/** The default training settings (TrainSettingsSchema with nothing set). */
export const TRAIN_DEFAULTS: TrainSettings = TrainSettingsSchema.parse({});
