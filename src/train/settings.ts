import { z } from 'zod';
import { INPUT_NORMALIZATIONS, INPUT_RESIZES, inputSpecProblems, MAX_SCALE, MIN_CROP } from '../data/input';

/**
 * The training settings of a run: one zod schema that carries every default, unit, meaning and source. The
 * TypeScript types of the training modules (TrainSettings, Schedule, AdamConfig, Augment) are derived from it with
 * `z.infer`; experiments state only what differs from these defaults (nanoGPT-style), and the defaults reproduce
 * the default experiment (experiments/default.ts): 5 epochs, batch 64, Adam, one-cycle to 3e-3, flips, seed 42.
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
      name: z
        .literal('plateau')
        .describe(
          "PyTorch's ReduceLROnPlateau (mode 'max', threshold_mode 'rel') on the PublicTest accuracy of each epoch, as usef-kh/fer (Khaireddin & Chen 2021)",
        ),
      factor: z
        .number()
        .gt(0)
        .lt(1)
        .default(0.75)
        .describe('lr multiplied by this when the accuracy has not improved for more than `patience` epochs (usef-kh/fer: 0.75)'),
      patience: int(0).default(5).describe('epochs without improvement tolerated before a reduction (usef-kh/fer: 5)'),
      threshold: z.number().min(0).default(1e-4).describe('relative improvement that counts: accuracy > best * (1 + threshold) (PyTorch default 1e-4)'),
      cooldown: int(0).default(0).describe('epochs after a reduction during which bad epochs are not counted (PyTorch default 0)'),
      minLr: z.number().min(0).default(0).describe('lower bound of the learning rate (PyTorch default 0)'),
    }),
    z
      .strictObject({
        name: z.literal('step').describe('lr multiplied by gamma at each milestone epoch (microsoft/FERPlus train.py)'),
        milestones: z.array(int(1)).default([20, 40]).describe('epochs (1-based counts of finished epochs) at which lr is multiplied by gamma'),
        gamma: z.number().gt(0).max(1).default(0.5).describe('factor applied at each milestone'),
        factors: z
          .array(z.number().gt(0).max(1))
          .optional()
          .describe(
            'instead of gamma^k: the lr factor from the k-th milestone on, one per milestone (microsoft/FERPlus src/train.py: lr, lr / 2 from epoch 20, lr / 10 from epoch 40 -> [0.5, 0.1])',
          ),
      })
      .refine((s) => !s.factors || s.factors.length === s.milestones.length, { message: 'schedule.factors needs one factor per milestone', path: ['factors'] }),
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
      .describe(
        'Adam: decoupled weight decay per step, times lr (AdamW, Loshchilov & Hutter arXiv 1711.05101); SGD: L2 penalty added to the gradient (PyTorch SGD weight_decay); on conv/dense kernels only; 0 = off',
      ),
    name: z
      .enum(['adam', 'sgd'])
      .optional()
      .describe("'adam' (the default when absent) or 'sgd': stochastic gradient descent with momentum, as PyTorch's torch.optim.SGD (dampening 0)"),
    momentum: z
      .number()
      .min(0)
      .lt(1)
      .optional()
      .describe('SGD only: momentum factor (default 0.9 when name is sgd; usef-kh/fer and microsoft/FERPlus use 0.9)'),
    nesterov: z.boolean().optional().describe('SGD only: Nesterov momentum (Sutskever et al. 2013, as PyTorch; usef-kh/fer uses it); default false'),
  })
  .prefault({})
  .superRefine((o, ctx) => {
    if (o.name === 'sgd') return;
    for (const k of ['momentum', 'nesterov'] as const)
      if (o[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `optimizer.${k} applies to SGD only: set optimizer.name to 'sgd'` });
  });
export type AdamConfig = z.infer<typeof AdamSchema>;

/** A `[min, max]` pair of numbers, each checked by `each`; min > max is an error at the pair's path. */
const minMax = (each: z.ZodNumber) => z.tuple([each, each]).refine(([lo, hi]) => lo <= hi, { message: 'expected [min, max] with min <= max' });

/**
 * Random resized crop, sampled as torchvision's RandomResizedCrop.get_params (the crop Khaireddin & Chen 2021 use):
 * up to 10 tries of area ~ U(scale) x 48 x 48 and width / height ~ log-U(ratio), the first crop that fits the image
 * kept at a random integer position, else the whole image; the crop is resized back to 48x48 (bilinear) by the same
 * affine warp as the other knobs (src/train/augment.ts).
 */
export const CropSchema = z.strictObject({
  scale: minMax(z.number().gt(0).max(4)).describe(
    'crop area as a fraction of the image area, uniform in [min, max] (torchvision RandomResizedCrop `scale`); values > 1 are drawn too, but only crops that fit the image are kept',
  ),
  ratio: minMax(z.number().gt(0).max(10))
    .default([3 / 4, 4 / 3])
    .describe('crop width / height, log-uniform in [min, max] (torchvision RandomResizedCrop `ratio`, default [3/4, 4/3])'),
});
export type Crop = z.infer<typeof CropSchema>;

/**
 * Random erasing (Zhong et al. 2017, arXiv 1708.04896, Algorithm 1), sampled as torchvision's RandomErasing: with
 * probability p, up to 10 tries of area ~ U(area) x 48 x 48 and height / width ~ log-U(ratio); the first rectangle
 * smaller than the image is filled. Applied to the float image after the warp. Defaults: the paper's (p 0.5,
 * s_l 0.02, s_h 0.4, r_1 0.3, r_2 = 1 / r_1, random values).
 */
export const ErasingSchema = z.strictObject({
  p: z.number().min(0).max(1).default(0.5).describe('probability that an image gets an erased rectangle (Zhong et al.: 0.5)'),
  area: minMax(z.number().gt(0).max(1))
    .default([0.02, 0.4])
    .describe('rectangle area as a fraction of the image area, uniform in [min, max] (Zhong et al. s_l 0.02, s_h 0.4; torchvision [0.02, 0.33])'),
  ratio: minMax(z.number().gt(0).max(100))
    .default([0.3, 1 / 0.3])
    .describe('rectangle height / width, log-uniform in [min, max] (Zhong et al. r_1 0.3, r_2 1 / r_1; torchvision [0.3, 3.3])'),
  value: z
    .union([z.literal('random'), z.number().min(0).max(1)])
    .default('random')
    .describe(
      "fill on the [0, 1] input scale: 'random' = each erased pixel uniform in [0, 1) (Zhong et al.'s rand(0, 255)), or one value (torchvision's default 0)",
    ),
});
export type Erasing = z.infer<typeof ErasingSchema>;

/** Names of the augmentation presets (values: {@link AUGMENT_PRESETS}). */
export const AUGMENT_PRESET_NAMES = ['none', 'ferplus-paper', 'khaireddin2021'] as const;
export type AugmentPreset = (typeof AUGMENT_PRESET_NAMES)[number];

/** The augmentation knobs beyond flip and shift, every one resolved; 0 / null = off. */
export interface AugmentKnobs {
  rotation: number;
  scale: number;
  translate: number;
  skew: number;
  crop: Crop | null;
  erasing: Erasing | null;
}

/** Every knob off: the default experiment's augmentation is flips only. */
export const AUGMENT_OFF: Readonly<AugmentKnobs> = { rotation: 0, scale: 0, translate: 0, skew: 0, crop: null, erasing: null };

/**
 * What each preset sets: every knob of {@link AugmentKnobs} (the ones a source does not use are off). Neither preset
 * touches `flip` or `shift`: both sources flip left-right with probability 0.5, which is already the default, and
 * neither uses an integer shift.
 *
 * - `ferplus-paper`: the FER+ paper's training augmentation (Barsoum et al. 2016, arXiv 1608.01041), from
 *   microsoft/FERPlus (commit ae2128a) src/ferplus.py FERPlusReader.__init__ (max_shift 0.08, max_scale 1.05,
 *   max_angle 20.0, max_skew 0.05, do_flip True) and src/img_util.py distort_img / crop_img (shift = size x max_shift x
 *   U(-1, 1) per axis, angle U(-20, 20) degrees, skew_x and skew_y U(-0.05, 0.05), scale per axis U(1, 1.05) inverted
 *   with probability 0.5, bilinear, flip after the warp). Differences here: the scale is one factor for both axes,
 *   uniform in [0.95, 1.05] (FER+: per axis in [1/1.05, 1.05]); edges are replicated (FER+: scipy 'reflect'); the
 *   images are 48x48 (FER+ crops 64x64 from the face box).
 * - `khaireddin2021`: Khaireddin & Chen 2021 (arXiv 2105.03588), from usef-kh/fer (commit 3c5de07) data/fer2013.py
 *   get_dataloaders: RandomResizedCrop(48, scale=(0.8, 1.2)) (torchvision's default ratio (3/4, 4/3)),
 *   RandomApply([RandomAffine(0, translate=(0.2, 0.2))], p=0.5), RandomHorizontalFlip(), RandomApply([RandomRotation(10)],
 *   p=0.5), then TenCrop(40) and RandomErasing(p=0.5) (torchvision defaults: scale (0.02, 0.33), ratio (0.3, 3.3),
 *   value 0, on the [0, 1] tensor). Differences here: translation and rotation apply to every image (there: each with
 *   probability 0.5), the translation is continuous (torchvision rounds it to whole pixels), and there is no TenCrop
 *   (ferlab models take 48x48, so erasing acts on the whole 48x48 image instead of each 40x40 crop).
 */
export const AUGMENT_PRESETS: Readonly<Record<Exclude<AugmentPreset, 'none'>, Readonly<AugmentKnobs>>> = {
  'ferplus-paper': { rotation: 20, scale: 0.05, translate: 0.08, skew: 0.05, crop: null, erasing: null },
  khaireddin2021: {
    rotation: 10,
    scale: 0,
    translate: 0.2,
    skew: 0,
    crop: { scale: [0.8, 1.2], ratio: [3 / 4, 4 / 3] },
    erasing: { p: 0.5, area: [0.02, 0.33], ratio: [0.3, 3.3], value: 0 },
  },
};

/** The augmentation settings as written (before {@link resolveAugment}): a knob left out is unset. */
const AugmentFieldsSchema = z.strictObject({
  flip: z.boolean().default(true).describe('mirror left-right with probability 0.5 (expressions are left-right symmetric)'),
  shift: int(0).max(12).default(0).describe('random translation of up to this many pixels in x and y, edges replicated; 0 = off'),
  preset: z
    .enum(AUGMENT_PRESET_NAMES)
    .default('none')
    .describe(
      "a published recipe that sets rotation, scale, translate, skew, crop and erasing (AUGMENT_PRESETS: 'ferplus-paper' = microsoft/FERPlus src/ferplus.py + src/img_util.py, 'khaireddin2021' = usef-kh/fer data/fer2013.py); a knob given next to the preset overrides the preset's value (0 or null turns it off); 'none' = every unset knob off",
    ),
  rotation: z
    .number()
    .min(0)
    .max(180)
    .optional()
    .describe(
      'random rotation about the image centre by U(-rotation, rotation) degrees (positive = counter-clockwise on screen), bilinear, edges replicated; 0 = off (FER+ paper: 20)',
    ),
  scale: z
    .number()
    .min(0)
    .lt(1)
    .optional()
    .describe(
      'random zoom about the image centre by a factor U(1 - scale, 1 + scale) (> 1 enlarges the face), the same in x and y; 0 = off (FER+ paper: max_scale 1.05, i.e. 0.05)',
    ),
  translate: z
    .number()
    .min(0)
    .max(0.5)
    .optional()
    .describe(
      'random continuous translation by U(-translate, translate) x 48 px in x and in y independently (0.1 = up to 4.8 px; unlike the integer `shift`), bilinear, edges replicated; 0 = off (FER+ paper: 0.08; Khaireddin & Chen: 0.2)',
    ),
  skew: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe(
      'random shear about the image centre: y += ky x then x += kx y, with kx, ky each U(-skew, skew) (dimensionless); 0 = off (FER+ paper: max_skew 0.05)',
    ),
  crop: CropSchema.nullable()
    .optional()
    .describe(
      'random resized crop (torchvision RandomResizedCrop sampling), then resized back to 48x48; null = off (Khaireddin & Chen: scale [0.8, 1.2], ratio [3/4, 4/3])',
    ),
  erasing: ErasingSchema.nullable()
    .optional()
    .describe(
      'random erasing (Zhong et al. 2017, arXiv 1708.04896) after the warp; null = off (Khaireddin & Chen: p 0.5, area [0.02, 0.33], ratio [0.3, 3.3], value 0)',
    ),
});
/** The augmentation settings as written, defaults of flip / shift / preset filled in, knobs possibly unset. */
export type AugmentFields = z.output<typeof AugmentFieldsSchema>;

/**
 * Resolved augmentation (what a run record stores): `flip` and `shift` always; with a preset, its name and every
 * knob (so that the record reads without the preset table); without one, only the knobs that are on (an absent knob
 * is off, so the default experiment's record is `{ flip: true, shift: 0 }` as before the knobs existed). Parsing a resolved
 * value again gives the same value.
 */
export type ResolvedAugment = { flip: boolean; shift: number; preset?: Exclude<AugmentPreset, 'none'> } & Partial<AugmentKnobs>;

/**
 * Resolves a preset into explicit knob values: each knob is the value given, else the preset's, else off. The run
 * record stores the result (AugmentSchema applies it on parse). To switch presets on the command line, set the group
 * whole (`--set 'augment={"preset":"khaireddin2021"}'`): `augment.preset=...` on an already resolved config keeps the
 * old preset's values, which are explicit by then.
 */
export function resolveAugment(a: AugmentFields): ResolvedAugment {
  const preset = a.preset === 'none' ? undefined : AUGMENT_PRESETS[a.preset];
  const base = preset ?? AUGMENT_OFF;
  const knobs: AugmentKnobs = {
    rotation: a.rotation ?? base.rotation,
    scale: a.scale ?? base.scale,
    translate: a.translate ?? base.translate,
    skew: a.skew ?? base.skew,
    crop: structuredClone(a.crop !== undefined ? a.crop : base.crop),
    erasing: structuredClone(a.erasing !== undefined ? a.erasing : base.erasing),
  };
  if (a.preset !== 'none') return { flip: a.flip, shift: a.shift, preset: a.preset, ...knobs };
  const out: ResolvedAugment = { flip: a.flip, shift: a.shift };
  if (knobs.rotation > 0) out.rotation = knobs.rotation;
  if (knobs.scale > 0) out.scale = knobs.scale;
  if (knobs.translate > 0) out.translate = knobs.translate;
  if (knobs.skew > 0) out.skew = knobs.skew;
  if (knobs.crop) out.crop = knobs.crop;
  if (knobs.erasing) out.erasing = knobs.erasing;
  return out;
}

/**
 * Training-time augmentation, applied per image on the fly from the uint8 data (src/train/batches.ts; the warp and
 * erasing in src/train/augment.ts). Parsing resolves the preset ({@link resolveAugment}).
 */
export const AugmentSchema = AugmentFieldsSchema.transform(resolveAugment).prefault({});
export type Augment = z.infer<typeof AugmentSchema>;

/**
 * The model input (src/data/input.ts InputSpec), field by field over the model's own default (src/models/registry.ts
 * resolveInputSpec; DEFAULT_INPUT, 48x48 and pixel / 255, for every model registered so far). A field left out keeps
 * the model's value; the resolved spec is recorded in config.json and ferlab.json (`inputSpec`) and applied by
 * training, evaluation, TTA, re-scoring, export and predict alike. Absent = the model's default.
 */
export const InputSchema = z
  .strictObject({
    size: int(1)
      .optional()
      .describe(
        `side of the square model input, pixels: 48 with resize 'none', ${MIN_CROP}-47 with 'crop' (usef-kh/fer, Khaireddin & Chen 2021: 40), 49-${MAX_SCALE} with 'scale' (FER+ paper VGG13: 64)`,
      ),
    resize: z
      .enum(INPUT_RESIZES)
      .optional()
      .describe(
        "'none' = the 48x48 image; 'crop' = a size x size window of it (training: random, after augmentation, as torchvision RandomCrop; evaluation: the centre window; tta=tencrop: corners + centre and mirrors); 'scale' = bilinear resize to size x size (half-pixel centres, as OpenCV INTER_LINEAR)",
      ),
    normalize: z
      .enum(INPUT_NORMALIZATIONS)
      .optional()
      .describe(
        "'unit' = pixel / 255 in [0, 1]; 'standardize' = per-image (x - mean) / max(std, 1 / sqrt(n)) on the grey levels of the view (tf.image.per_image_standardization); 'histeq' = histogram equalisation of the uint8 48x48 image (OpenCV equalizeHist), then / 255",
      ),
  })
  .superRefine((o, ctx) => {
    // what can be checked without the model's default: the size against a given resize
    if (o.size === undefined || o.resize === undefined) return;
    for (const p of inputSpecProblems({ size: o.size, resize: o.resize, normalize: o.normalize ?? 'unit' }))
      if (p.field === 'size') ctx.addIssue({ code: 'custom', path: ['size'], message: p.message });
  });
export type InputOverride = z.infer<typeof InputSchema>;

/**
 * Exponential moving average of the weights (Polyak & Juditsky 1992; as timm's ModelEmaV2, pytorch-image-models
 * timm/utils/model_ema.py): after every optimizer step, ema = decay * ema + (1 - decay) * w for every weight of the
 * model, BatchNorm moving mean and variance included (ModelEmaV2 averages the whole state_dict, buffers too). The
 * average starts from the initial weights; validation, the selection of the best epoch and the saved model use the
 * averaged weights (src/train/ema.ts).
 */
export const EmaSchema = z.strictObject({
  decay: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.999)
    .describe(
      'weight of the old average per step (timm ModelEmaV2 default 0.9999; 0.999 suits runs of a few thousand steps: the average spans ~1 / (1 - decay) steps)',
    ),
  warmup: z
    .boolean()
    .default(false)
    .describe(
      'use min(decay, (1 + n) / (10 + n)) at the n-th update (tf.train.ExponentialMovingAverage num_updates), so that short runs are not dominated by the random initial weights; false = decay from the first step, as ModelEmaV2',
    ),
});
export type EmaConfig = z.infer<typeof EmaSchema>;

/** One batch-mixing augmentation (mixup or CutMix): its Beta(alpha, alpha) and the probability per batch (src/train/mix.ts). */
const mixSchema = (alpha: number, source: string) =>
  z.strictObject({
    alpha: z.number().positive().default(alpha).describe(`lambda ~ Beta(alpha, alpha), one per batch (${source})`),
    prob: z.number().min(0).max(1).default(1).describe('probability that a batch is mixed (timm Mixup mix_prob, default 1)'),
  });
export const MixupSchema = mixSchema(0.2, 'Zhang et al. 2018, arXiv 1710.09412: 0.2 on ImageNet, 1 on CIFAR-10');
export const CutmixSchema = mixSchema(1, 'Yun et al. 2019, arXiv 1905.04899: 1 on ImageNet and CIFAR');
export type MixConfig = z.infer<typeof MixupSchema>;

/** The kinds of teacher outputs knowledge distillation can use (src/train/distill.ts). */
export const DISTILL_MODES = ['cached', 'batch'] as const;

/**
 * Knowledge distillation (Hinton, Vinyals & Dean 2015, arXiv 1503.02531): the student learns from the teachers'
 * softened probabilities besides the labels; loss = alpha * CE(target, softmax(z)) + (1 - alpha) * T^2 *
 * CE(softmax(t / T), softmax(z / T)), with t the log of the teachers' mean probability (src/train/distill.ts).
 */
export const DistillSchema = z.strictObject({
  teacher: z
    .array(z.string().min(1))
    .min(1)
    .describe(
      "teacher models: model folders (model.json + ferlab.json: exported ferlab models, a run folder or its model/), models/<name> or <experiment>/<run>, as initFrom; several = an ensemble: t = log of the mean of their probabilities. Each runs on its own input spec (its ferlab.json) and must predict the student's classes in the same order",
    ),
  temperature: z
    .number()
    .positive()
    .default(4)
    .describe(
      'T: softmax temperature of teacher and student in the distillation term (Hinton et al. 2015 use 1-20; 4 is the usual choice of later work, e.g. Tian et al. 2020 CRD)',
    ),
  alpha: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('weight of the loss on the true targets (one-hot FER or FER+ vote distributions); 1 - alpha weighs the distillation term'),
  mode: z
    .enum(DISTILL_MODES)
    .default('cached')
    .describe(
      "'cached': each teacher predicts every training image once before training (no augmentation; mixup / CutMix mix the cached targets with the batch's lambda); 'batch': the teachers predict every augmented (and mixed) batch (exact; a teacher forward per step; the teachers must share the student's input spec)",
    ),
});
export type DistillConfig = z.infer<typeof DistillSchema>;

/** Settings of one training run, with the defaults of the default experiment. */
export const TrainSettingsSchema = z.strictObject({
  epochs: int(1).default(5).describe('maximum epochs (full passes over the training split)'),
  batchSize: int(2).default(64).describe('images per optimizer step'),
  lr: z.number().positive().default(3e-3).describe('peak learning rate of the schedule'),
  schedule: ScheduleSchema,
  optimizer: AdamSchema,
  augment: AugmentSchema,
  classWeights: z
    .enum(['none', 'balanced'])
    .optional()
    .describe(
      "class-weighted cross-entropy: 'balanced' weighs class c by n / (C * n_c) over the training labels (scikit-learn's compute_class_weight 'balanced'; the loss is sum_i w_i ce_i / sum_i w_i as PyTorch's CrossEntropyLoss(weight=...)); 'none' or absent = plain mean",
    ),
  balancedSampling: z
    .boolean()
    .optional()
    .describe(
      'class-balanced sampling: every epoch draws its images with replacement, a class uniformly then an image of it (src/train/batches.ts); absent / false = each image once per epoch, shuffled',
    ),
  tta: z
    .enum(['none', 'flip', 'tencrop'])
    .optional()
    .describe(
      "evaluation only: test-time augmentation of the final PublicTest and PrivateTest scores (src/eval/tta.ts): 'flip' averages the softmax of the model input and that of the mirrored image, 'tencrop' of the 4 corner and centre crops and their mirrors (Krizhevsky et al. 2012; needs input.resize 'crop', the crop side being input.size); recorded in metrics.json beside the plain scores; epochs are always selected without it; absent = 'none'",
    ),
  input: InputSchema.optional().describe(
    'model input, over the model\'s default (src/data/input.ts): {size, resize: \'none\' | \'crop\' | \'scale\', normalize: \'unit\' | \'standardize\' | \'histeq\'}, each field optional; e.g. {"size": 40, "resize": "crop"} (usef-kh/fer\'s 40x40 crops) or {"size": 64, "resize": "scale", "normalize": "histeq"} (the FER+ paper\'s 64x64); absent = the model\'s default (48x48, pixel / 255 for every registered model)',
  ),
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
  ema: EmaSchema.optional().describe(
    'exponential moving average of the weights (timm ModelEmaV2), used for validation, best-epoch selection and the saved model, e.g. {"decay": 0.999}; absent = off',
  ),
  mixup: MixupSchema.optional().describe(
    'mixup (Zhang et al. 2018): a batch becomes lambda x + (1 - lambda) x_reversed, targets likewise, e.g. {"alpha": 0.2}; with cutmix on too, each batch picks one of the two with probability 0.5 (timm switch_prob); absent = off',
  ),
  cutmix: CutmixSchema.optional().describe(
    'CutMix (Yun et al. 2019): a box of area ~ (1 - lambda) of each image replaced by the reversed batch\'s, targets mixed by the box\'s actual area, e.g. {"alpha": 1}; absent = off',
  ),
  distill: DistillSchema.optional().describe(
    'knowledge distillation from teacher models (Hinton et al. 2015), e.g. {"teacher": ["runs/best-cpu-20261207-044828/deep-fer"], "temperature": 4, "alpha": 0.5}; absent = off',
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
