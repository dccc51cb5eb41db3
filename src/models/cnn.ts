import * as tf from '@tensorflow/tfjs';
import { batchNormalization, conv2d, dropout } from './layers';
import { registerModel } from './registry';

/**
 * One convolution block: `convs` x (3x3 'same' conv -> [BatchNorm] -> ReLU), then 2x2 max-pool, then optional dropout.
 * With BatchNorm the convs have no bias (BatchNorm's beta replaces it).
 */
export interface ConvBlock {
  filters: number;
  /** Dropout rate after the pool (0 = none). */
  dropout: number;
  /** Convolutions in the block (default 1). */
  convs?: number;
}

/** A plain CNN: conv blocks, flatten, hidden dense layers with dropout, a linear classifier (logits). */
export interface CnnSpec {
  blocks: ConvBlock[];
  /** Units of the hidden dense layer(s): one number or one per layer. */
  dense: number | number[];
  /** Dropout after each hidden dense layer. */
  denseDropout: number;
  /** Conv -> BatchNorm -> ReLU (default true); false: Conv(+bias, ReLU). */
  batchNorm?: boolean;
}

/**
 * Builds a {@link CnnSpec} as a tf.Sequential of standard tfjs layers (ferlab's Conv2D/BatchNormalization/Dropout
 * subclasses keep tfjs' class names). Input `[batch, H, W, C]` float32 in [0, 1]; output logits `[batch, numClasses]`.
 *
 * Initialisation and BatchNorm follow PyTorch's defaults (the speed and accuracy yardstick): kernels
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (torch.nn.Conv2d/Linear `reset_parameters`: kaiming_uniform with a = sqrt(5)),
 * BatchNorm momentum 0.1 (tfjs 0.9) and epsilon 1e-5, seeded per layer from `seed`. The smaller-than-He kernels matter
 * with BatchNorm and Adam, whose effective step on a normalised layer scales with 1/|w|^2: in a development run
 * (deep on FER2013, 2 epochs one-cycle) He-uniform kernels trailed this init by about 7 points of PrivateTest accuracy.
 */
export function buildCnn(spec: CnnSpec, inputShape: [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  let k = 0;
  const next = () => (seed * 1000 + ++k) >>> 0;
  const init = () => tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: next() });
  const model = tf.sequential();
  const bn = spec.batchNorm ?? true;
  let first = true;
  spec.blocks.forEach((b, i) => {
    const n = i + 1;
    const convs = b.convs ?? 1;
    for (let j = 1; j <= convs; j++) {
      const id = convs > 1 ? `${n}_${j}` : `${n}`;
      model.add(
        conv2d({
          ...(first ? { inputShape } : {}),
          name: `conv${id}`,
          filters: b.filters,
          kernelSize: 3,
          padding: 'same',
          useBias: !bn,
          activation: bn ? 'linear' : 'relu',
          kernelInitializer: init(),
        }),
      );
      first = false;
      if (bn) {
        model.add(batchNormalization({ name: `bn${id}`, momentum: 0.9, epsilon: 1e-5 }));
        model.add(tf.layers.activation({ name: `relu${id}`, activation: 'relu' }));
      }
    }
    model.add(tf.layers.maxPooling2d({ name: `pool${n}`, poolSize: 2, strides: 2 }));
    if (b.dropout > 0) model.add(dropout({ name: `drop${n}`, rate: b.dropout, seed: next() }));
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  const dense = Array.isArray(spec.dense) ? spec.dense : [spec.dense];
  dense.forEach((units, i) => {
    const id = dense.length > 1 ? `fc${i + 1}` : 'fc';
    model.add(tf.layers.dense({ name: id, units, activation: 'relu', kernelInitializer: init() }));
    if (spec.denseDropout > 0) model.add(dropout({ name: `${id}_drop`, rate: spec.denseDropout, seed: next() }));
  });
  model.add(tf.layers.dense({ name: 'logits', units: numClasses, kernelInitializer: init() }));
  return model;
}

/**
 * `baseline`: three conv blocks (32-64-128 filters), dense 256 with dropout 0.5: the small 3-conv-block CNN that FER
 * baselines commonly use, also trained by the PyTorch yardstick of `npm run bench` (bench/torch_ref.py; measured
 * times in bench/results/ (latest.md: the newest run)). 1.28 M parameters (8 classes); 23.1 M multiply-adds per 48x48 image.
 */
export const BASELINE: CnnSpec = {
  blocks: [
    { filters: 32, dropout: 0 },
    { filters: 64, dropout: 0 },
    { filters: 128, dropout: 0 },
  ],
  dense: 256,
  denseDropout: 0.5,
};

/**
 * `deep`: five Conv-BatchNorm-ReLU-MaxPool blocks (32-64-128-256-256 filters) down to 1x1, dropout after blocks 3-5
 * (0.1, 0.1, 0.2), dense 256 with dropout 0.4: the seed notebooks' deep FER CNN pattern (69-71% on FER2013 after long
 * training). 1.05 M parameters; 38 M multiply-adds per image, 1.6x the baseline's cost. The dropout is light because
 * the default experiment trains 5 epochs, where the network underfits (training accuracy with dropout on ~ validation
 * accuracy): in development runs on FER2013 (5 epochs, one-cycle), dropout 0.1-0.1-0.2-0.2-0.3 / 0.5 reached 58.3%
 * PrivateTest and this setting 62.8%.
 */
export const DEEP: CnnSpec = {
  blocks: [
    { filters: 32, dropout: 0 },
    { filters: 64, dropout: 0 },
    { filters: 128, dropout: 0.1 },
    { filters: 256, dropout: 0.1 },
    { filters: 256, dropout: 0.2 },
  ],
  dense: 256,
  denseDropout: 0.4,
};

registerModel({
  name: 'baseline',
  description: '3 conv blocks (32-64-128, Conv-BN-ReLU-MaxPool), dense 256 + dropout 0.5',
  create: (o) => buildCnn(BASELINE, o.inputShape, o.numClasses, o.seed),
});

/**
 * `vgg13`: the VGG13-style network of the FER+ paper (Barsoum et al., arXiv 1608.01041, section 4; microsoft/FERPlus
 * `src/models.py` class VGG13): conv 64x2, 128x2, 256x3, 256x3 (3x3, ReLU, no BatchNorm), each block max-pool 2x2
 * and dropout 0.25, then two dense 1024 + dropout 0.5. The paper feeds 64x64 crops; ferlab feeds the 48x48 images, so
 * the last block ends at 3x3. About 490 M multiply-adds per image: a GPU model (the `full` experiment).
 */
export const VGG13: CnnSpec = {
  blocks: [
    { filters: 64, convs: 2, dropout: 0.25 },
    { filters: 128, convs: 2, dropout: 0.25 },
    { filters: 256, convs: 3, dropout: 0.25 },
    { filters: 256, convs: 3, dropout: 0.25 },
  ],
  dense: [1024, 1024],
  denseDropout: 0.5,
  batchNorm: false,
};

registerModel({
  name: 'vgg13',
  description: 'FER+ paper VGG13 (64x2, 128x2, 256x3, 256x3 convs, no BN, dropout 0.25; dense 1024x2 + dropout 0.5)',
  create: (o) => buildCnn(VGG13, o.inputShape, o.numClasses, o.seed),
});

registerModel({
  name: 'deep',
  description: '5 conv blocks (32-64-128-256-256, Conv-BN-ReLU-MaxPool, dropout 0.1-0.1-0.2 after blocks 3-5), dense 256 + dropout 0.4',
  create: (o) => buildCnn(DEEP, o.inputShape, o.numClasses, o.seed),
});

/**
 * `vgg-cpu`: the VGG variant of Khaireddin & Chen 2021 ("Facial Emotion Recognition: State of the Art Performance on
 * FER2013", arXiv 2105.03588; code usef-kh/fer `models/vgg.py`, class `Vgg`), sized for a CPU. The paper's network is
 * four stages of two 3x3 Conv-BN-ReLU (64, 128, 256, 512 channels) each followed by a 2x2 max-pool, then two fully
 * connected layers of 4096 with dropout 0.2 and a linear classifier (73.28% on FER2013 PrivateTest after 300 epochs
 * on 40x40 crops). Here: half the channels (32-64-128-256), dense 256-256 with the same dropout 0.2, on the 48x48
 * images, so the last stage ends at 3x3x256 (the paper: 2x2x512). Convolutions have no bias (BatchNorm's beta
 * replaces it; the reference keeps PyTorch's default bias), init and BatchNorm as every ferlab CNN (see buildCnn).
 * The reference applies dropout before the ReLU of each hidden layer; inverted dropout commutes with ReLU, so ReLU
 * then dropout (buildCnn's order) is the same function.
 * Input `[batch, 48, 48, 1]`, output logits `[batch, numClasses]`. 1.83 M parameters (8 classes), 118.1 M
 * multiply-adds per image (3.1x `deep`).
 */
export const VGG_CPU: CnnSpec = {
  blocks: [
    { filters: 32, convs: 2, dropout: 0 },
    { filters: 64, convs: 2, dropout: 0 },
    { filters: 128, convs: 2, dropout: 0 },
    { filters: 256, convs: 2, dropout: 0 },
  ],
  dense: [256, 256],
  denseDropout: 0.2,
};

registerModel({
  name: 'vgg-cpu',
  description:
    'VGG of Khaireddin & Chen 2021 (arXiv 2105.03588, usef-kh/fer) at half width: 4 stages of 2 Conv-BN-ReLU (32-64-128-256) + max-pool, dense 256-256 + dropout 0.2',
  create: (o) => buildCnn(VGG_CPU, o.inputShape, o.numClasses, o.seed),
});
