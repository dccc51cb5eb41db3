import * as tf from '@tensorflow/tfjs';
import { batchNormalization, conv2d } from './layers';
import { registerModel } from './registry';
import { seededInits } from './seeded';

/**
 * `resnet-cpu`: a small residual network for 48x48 faces after He et al. 2016 ("Deep Residual Learning for Image
 * Recognition", CVPR 2016, arXiv 1512.03385): the basic block (3x3 conv - BN - ReLU - 3x3 conv - BN, plus the
 * shortcut, then ReLU; section 3.3 and Fig. 2), projection shortcuts (1x1 conv with stride 2 + BN, option B) where a
 * stage halves the map and doubles the channels, global average pooling and one linear classifier.
 *
 * Layers, for input `[batch, 48, 48, 1]`:
 *   stem    conv 3x3 32 - BN - ReLU (48x48), max-pool 2x2            -> [24, 24, 32]
 *   stage 1 2 basic blocks, 32 channels, identity shortcuts            -> [24, 24, 32]
 *   stage 2 2 basic blocks, 64 channels, first conv stride 2           -> [12, 12, 64]
 *   stage 3 2 basic blocks, 128 channels, first conv stride 2          -> [6, 6, 128]
 *   head    GlobalAveragePooling2D -> Dense numClasses (logits)        -> [numClasses]
 * 'same' padding everywhere (TensorFlow's: a stride-2 conv on an even map pads one row/column at the bottom/right,
 * where PyTorch's padding=1 pads both sides; same output size). Convs have no bias (BatchNorm follows each), init
 * and BatchNorm (momentum 0.1 in PyTorch's convention, eps 1e-5) as every ferlab model. 0.70 M parameters (8 classes),
 * 59.6 M multiply-adds per image (1.6x `deep`).
 */
export interface ResNetSpec {
  /** Stem conv filters. */
  stem: number;
  /** Channels of each stage; every stage after the first halves the map (stride 2). */
  stages: number[];
  /** Basic blocks per stage. */
  blocks: number;
}

export const RESNET_CPU: ResNetSpec = { stem: 32, stages: [32, 64, 128], blocks: 2 };

/**
 * Builds a {@link ResNetSpec} as a functional tf.LayersModel (input `[batch, ...inputShape]` float32 in [0, 1],
 * output logits `[batch, numClasses]`), seeded from `seed`.
 */
export function buildResNet(spec: ResNetSpec, inputShape: [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  const init = seededInits(seed);
  const conv = (name: string, filters: number, kernelSize: number, strides: number, x: tf.SymbolicTensor) =>
    conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init.kernel() }).apply(x) as tf.SymbolicTensor;
  const bn = (name: string, x: tf.SymbolicTensor) => batchNormalization({ name, momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  const relu = (name: string, x: tf.SymbolicTensor) => tf.layers.activation({ name, activation: 'relu' }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: inputShape, name: 'input' });
  let x = relu('relu1', bn('bn1', conv('conv1', spec.stem, 3, 1, input)));
  x = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  let channels = spec.stem;
  spec.stages.forEach((filters, s) => {
    for (let b = 0; b < spec.blocks; b++) {
      const id = `s${s + 1}b${b + 1}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      let y = relu(`${id}_relu1`, bn(`${id}_bn1`, conv(`${id}_conv1`, filters, 3, stride, x)));
      y = bn(`${id}_bn2`, conv(`${id}_conv2`, filters, 3, 1, y));
      const shortcut = stride !== 1 || channels !== filters ? bn(`${id}_short_bn`, conv(`${id}_short_conv`, filters, 1, stride, x)) : x;
      x = relu(`${id}_relu2`, tf.layers.add({ name: `${id}_add` }).apply([y, shortcut]) as tf.SymbolicTensor);
      channels = filters;
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ name: 'logits', units: numClasses, kernelInitializer: init.kernel() }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'resnet-cpu' });
}

registerModel({
  name: 'resnet-cpu',
  description:
    'ResNet (He et al. 2016) for 48x48: conv 32 + max-pool, 3 stages x 2 basic blocks (32-64-128, stride-2 projection shortcuts), global average pool, dense',
  create: (o) => buildResNet(RESNET_CPU, o.inputShape, o.numClasses, o.seed),
});
