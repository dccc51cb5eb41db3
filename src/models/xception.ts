import * as tf from '@tensorflow/tfjs';
import { batchNormalization, conv2d, separableConv2d } from './layers';
import { registerModel } from './registry';
import { seededInits } from './seeded';

/**
 * `mini-xception`: the mini-Xception of Arriaga, Ploeger & Valdenegro 2017 ("Real-time Convolutional Neural Networks
 * for Emotion and Gender Classification", arXiv 1710.07557, section 3; code oarriaga/face_classification
 * `src/models/cnn.py`, `mini_XCEPTION`; 66% on FER2013 in the paper). Layers, for input `[batch, 48, 48, 1]`:
 *
 *   base      conv 3x3 8 'valid' - BN - ReLU, twice                                   -> [44, 44, 8]
 *   module k  (k = 1..4, F = 16, 32, 64, 128; map 44 -> 22 -> 11 -> 6 -> 3)
 *             residual: conv 1x1 F stride 2 'same' - BN
 *             main:     SeparableConv2D 3x3 F 'same' - BN - ReLU - SeparableConv2D 3x3 F 'same' - BN
 *                       - max-pool 3x3 stride 2 'same'
 *             Add(main, residual)                                                    -> [3, 3, 128] after module 4
 *   head      conv 3x3 numClasses 'same' (with bias) - GlobalAveragePooling2D        -> logits [numClasses]
 *
 * SeparableConv2D is a depthwise 3x3 conv (channel multiplier 1) then a pointwise 1x1 conv, no bias (BatchNorm
 * follows); ferlab's subclass (layers.ts) so that the pointwise kernel gets its own initialiser. As in the reference, no ReLU after a module's Add and none after the head conv. Differences from the
 * reference: the output is logits (the reference ends with a softmax Activation; ferlab's losses take logits), no
 * L2 kernel regularisation (0.01 there; ferlab's optimizer has weight decay), and init and BatchNorm as every ferlab
 * model (PyTorch's: kernels U(+-1/sqrt(fan_in)), depthwise fan_in = 9; momentum 0.1 in PyTorch's convention, eps
 * 1e-5; Keras' defaults are Glorot, 0.99 and 1e-3). Training the depthwise half on the wasm backend uses ferlab's
 * DepthwiseConv2dNativeBackprop{Input,Filter} kernels (src/backend/wasm/kernels/depthwise.ts).
 * 59.6 K parameters for 8 classes (58,423 for 7 classes: the reference's own count), 5.5 M multiply-adds per image
 * (0.15x `deep`).
 */
export interface MiniXceptionSpec {
  /** Filters of the two base convs. */
  base: number;
  /** Filters of each residual module. */
  modules: number[];
}

export const MINI_XCEPTION: MiniXceptionSpec = { base: 8, modules: [16, 32, 64, 128] };

/**
 * Builds a {@link MiniXceptionSpec} as a functional tf.LayersModel (input `[batch, ...inputShape]` float32 in [0, 1],
 * output logits `[batch, numClasses]`), seeded from `seed`.
 */
export function buildMiniXception(spec: MiniXceptionSpec, inputShape: [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  const init = seededInits(seed);
  const bn = (name: string, x: tf.SymbolicTensor) => batchNormalization({ name, momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  const relu = (name: string, x: tf.SymbolicTensor) => tf.layers.activation({ name, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  const sep = (name: string, filters: number, x: tf.SymbolicTensor) =>
    separableConv2d({
      name,
      filters,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      depthwiseInitializer: init.depthwise(3, 3),
      pointwiseInitializer: init.kernel(),
    }).apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: inputShape, name: 'input' });
  let x = input;
  for (const i of [1, 2]) {
    x = conv2d({ name: `conv${i}`, filters: spec.base, kernelSize: 3, padding: 'valid', useBias: false, kernelInitializer: init.kernel() }).apply(
      x,
    ) as tf.SymbolicTensor;
    x = relu(`relu${i}`, bn(`bn${i}`, x));
  }
  spec.modules.forEach((filters, k) => {
    const id = `m${k + 1}`;
    const residual = bn(
      `${id}_res_bn`,
      conv2d({ name: `${id}_res_conv`, filters, kernelSize: 1, strides: 2, padding: 'same', useBias: false, kernelInitializer: init.kernel() }).apply(
        x,
      ) as tf.SymbolicTensor,
    );
    let y = relu(`${id}_relu1`, bn(`${id}_bn1`, sep(`${id}_sep1`, filters, x)));
    y = bn(`${id}_bn2`, sep(`${id}_sep2`, filters, y));
    y = tf.layers.maxPooling2d({ name: `${id}_pool`, poolSize: 3, strides: 2, padding: 'same' }).apply(y) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `${id}_add` }).apply([y, residual]) as tf.SymbolicTensor;
  });
  x = conv2d({ name: 'head_conv', filters: numClasses, kernelSize: 3, padding: 'same', kernelInitializer: init.kernel() }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.globalAveragePooling2d({ name: 'logits' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'mini-xception' });
}

registerModel({
  name: 'mini-xception',
  description:
    'mini-Xception (Arriaga et al. 2017, arXiv 1710.07557): 2 convs 8, 4 residual modules of separable convs (16-32-64-128) with 1x1 stride-2 shortcuts, conv to classes + global average pool (logits)',
  create: (o) => buildMiniXception(MINI_XCEPTION, o.inputShape, o.numClasses, o.seed),
});
