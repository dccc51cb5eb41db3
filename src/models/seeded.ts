import * as tf from '@tensorflow/tfjs';

/**
 * Seeded initialisers for the functional models (resnet.ts, xception.ts), with the rules buildCnn (cnn.ts) uses:
 * PyTorch's defaults, one seed per layer drawn from `seed * 1000 + k` in build order.
 */
export interface SeededInits {
  /** Conv2D / Dense / pointwise kernels: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (torch.nn.Conv2d/Linear `reset_parameters`). */
  kernel(): ReturnType<typeof tf.initializers.zeros>;
  /**
   * Depthwise kernels `[kh, kw, C, 1]`: U(-1/sqrt(kh*kw), 1/sqrt(kh*kw)), PyTorch's bound for a grouped conv with one
   * input channel per group (fan_in = kh*kw). tfjs' fan-in of that shape would be C*kh*kw.
   */
  depthwise(kh: number, kw: number): ReturnType<typeof tf.initializers.zeros>;
}

/** {@link SeededInits} seeded from `seed`. */
export function seededInits(seed: number): SeededInits {
  let k = 0;
  const next = () => (seed * 1000 + ++k) >>> 0;
  return {
    kernel: () => tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: next() }),
    depthwise: (kh, kw) => {
      const bound = 1 / Math.sqrt(kh * kw);
      return tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: next() });
    },
  };
}
