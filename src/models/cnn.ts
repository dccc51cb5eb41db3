import * as tf from '@tensorflow/tfjs';
import { batchNormalization, conv2d, dropout } from './layers';
import { registerModel } from './registry';

/** One convolution block: 3x3 'same' conv (no bias) -> BatchNorm -> ReLU -> 2x2 max-pool -> optional dropout. */
export interface ConvBlock {
  filters: number;
  /** Dropout rate after the pool (0 = none). */
  dropout: number;
}

/** A plain CNN: conv blocks, flatten, one hidden dense layer with dropout, a linear classifier (logits). */
export interface CnnSpec {
  blocks: ConvBlock[];
  /** Units of the hidden dense layer. */
  dense: number;
  /** Dropout before the classifier. */
  denseDropout: number;
}

/**
 * Builds a {@link CnnSpec} as a tf.Sequential of standard tfjs layers (ferlab's BatchNormalization/Dropout subclasses
 * keep tfjs' class names). Weights use He-uniform init for ReLU layers and Glorot-uniform for the classifier, seeded
 * per layer from `seed`. Input `[batch, H, W, C]` float32 in [0, 1]; output logits `[batch, numClasses]` float32.
 */
export function buildCnn(spec: CnnSpec, inputShape: [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  let k = 0;
  const next = () => (seed * 1000 + ++k) >>> 0;
  const model = tf.sequential();
  spec.blocks.forEach((b, i) => {
    const n = i + 1;
    model.add(
      conv2d({
        ...(i === 0 ? { inputShape } : {}),
        name: `conv${n}`,
        filters: b.filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.heUniform({ seed: next() }),
      }),
    );
    model.add(batchNormalization({ name: `bn${n}`, momentum: 0.9 }));
    model.add(tf.layers.activation({ name: `relu${n}`, activation: 'relu' }));
    model.add(tf.layers.maxPooling2d({ name: `pool${n}`, poolSize: 2, strides: 2 }));
    if (b.dropout > 0) model.add(dropout({ name: `drop${n}`, rate: b.dropout, seed: next() }));
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'fc', units: spec.dense, activation: 'relu', kernelInitializer: tf.initializers.heUniform({ seed: next() }) }));
  if (spec.denseDropout > 0) model.add(dropout({ name: 'fc_drop', rate: spec.denseDropout, seed: next() }));
  model.add(tf.layers.dense({ name: 'logits', units: numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: next() }) }));
  return model;
}

/**
 * `baseline`: three conv blocks (32-64-128 filters), dense 256 with dropout 0.5: the 3-conv-block CNN FER baselines
 * use (about 57.5% on FER2013 in the seed notebooks) and the architecture issue #3's PyTorch yardstick times
 * (185 ms/step, batch 64, 1 thread). 1.27 M parameters; 23 M multiply-adds per 48x48 image.
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
 * `deep`: five Conv-BatchNorm-MaxPool-Dropout blocks (32-64-128-256-256 filters, dropout 0.1-0.1-0.2-0.2-0.3) down to
 * 1x1, dense 256 with dropout 0.5: the seed notebooks' deep FER CNN pattern (69-71% on FER2013 after long training).
 * 1.05 M parameters; 38 M multiply-adds per image. Chosen over a 4-block variant by a PyTorch sweep during
 * development (6 epochs, FER PrivateTest: 5 blocks 60.5%, 4 blocks 55.2%, baseline 56.0%).
 */
export const DEEP: CnnSpec = {
  blocks: [
    { filters: 32, dropout: 0.1 },
    { filters: 64, dropout: 0.1 },
    { filters: 128, dropout: 0.2 },
    { filters: 256, dropout: 0.2 },
    { filters: 256, dropout: 0.3 },
  ],
  dense: 256,
  denseDropout: 0.5,
};

registerModel({
  name: 'baseline',
  description: '3 conv blocks (32-64-128, Conv-BN-ReLU-MaxPool), dense 256 + dropout 0.5',
  create: (o) => buildCnn(BASELINE, o.inputShape, o.numClasses, o.seed),
});

registerModel({
  name: 'deep',
  description: '5 conv blocks (32-64-128-256-256, Conv-BN-ReLU-MaxPool-Dropout), dense 256 + dropout 0.5',
  create: (o) => buildCnn(DEEP, o.inputShape, o.numClasses, o.seed),
});
