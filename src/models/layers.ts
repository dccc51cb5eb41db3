import * as tf from '@tensorflow/tfjs';
import { batchNormTrain, dropoutTrain, updateMovingStats } from '../backend/ops';

/**
 * Drop-in subclasses of tfjs-layers' Conv2D, BatchNormalization and Dropout with faster training paths (ferlab's fused wasm
 * kernels, see src/backend/ops.ts), and of SeparableConv2D with a working pointwise initialiser. They keep tfjs' class
 * names, configs and weights, so a saved model is made of the standard layers and loads with plain
 * `tf.loadLayersModel`; inference runs tfjs' own code.
 */

type LayerCtor = new (args: Record<string, unknown>) => tf.layers.Layer;
type Kwargs = Record<string, unknown>;

// tfjs-layers exports factories, not classes: take the classes from instances.
const TfBatchNormalization = Object.getPrototypeOf(tf.layers.batchNormalization({})).constructor as LayerCtor;
const TfDropout = Object.getPrototypeOf(tf.layers.dropout({ rate: 0.5 })).constructor as LayerCtor;
const TfConv2D = Object.getPrototypeOf(tf.layers.conv2d({ filters: 1, kernelSize: 1 })).constructor as LayerCtor;
const TfSeparableConv2D = Object.getPrototypeOf(tf.layers.separableConv2d({ filters: 1, kernelSize: 1 })).constructor as LayerCtor;

/**
 * Conv2D that, without bias and activation (the usual Conv -> BatchNorm pattern), calls tf.conv2d instead of
 * tfjs-layers' tf.fused.conv2d. The fused op's custom gradient always computes the gradient of the input too, which
 * for the first layer (whose input is the data) is wasted work; tf.conv2d's gradient is computed only where needed.
 * Everything else (with bias or activation) is tfjs' implementation.
 */
export class Conv2D extends TfConv2D {
  static readonly className = 'Conv2D';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as {
      useBias: boolean;
      activation: { getClassName(): string };
      dataFormat: string;
      kernel: tf.LayerVariable;
      strides: [number, number];
      padding: string;
      dilationRate: [number, number];
    };
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (self.useBias || self.activation.getClassName() !== 'linear' || self.dataFormat !== 'channelsLast' || self.padding === 'causal') {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() =>
      tf.conv2d(input as tf.Tensor4D, self.kernel.read() as tf.Tensor4D, self.strides, self.padding as 'same' | 'valid', 'NHWC', self.dilationRate),
    );
  }
}

/** `tf.layers.conv2d` with the gradient-pruning call above. */
export function conv2d(args: Record<string, unknown>): tf.layers.Layer {
  return new Conv2D(args);
}

/**
 * SeparableConv2D (depthwise conv, then a 1x1 pointwise conv; tfjs' layer and math) whose pointwise kernel is drawn
 * from `pointwiseInitializer`. tfjs-layers 4.22's SeparableConv constructor builds its pointwise initializer from
 * `depthwiseInitializer` (`getInitializer(config.depthwiseInitializer || DEFAULT_POINTWISE_INITIALIZER)`, in
 * src/layers/convolutional.ts), so the stock layer draws the pointwise kernel with the depthwise kernel's rule and
 * seed. Saved models still name tfjs' SeparableConv2D and load with plain `tf.loadLayersModel`.
 * @param args tfjs SeparableConv2D args; `pointwiseInitializer` an initializer object (tf.initializers.*) or name.
 */
export class SeparableConv2D extends TfSeparableConv2D {
  static readonly className = 'SeparableConv2D';

  constructor(args: Record<string, unknown>) {
    super(args);
    const pw = args.pointwiseInitializer;
    if (pw == null) return;
    const self = this as unknown as { pointwiseInitializer: unknown };
    if (typeof (pw as { apply?: unknown }).apply === 'function') self.pointwiseInitializer = pw;
    else
      self.pointwiseInitializer = (
        tf.layers.dense({ units: 1, kernelInitializer: pw as 'glorotUniform' }) as unknown as { kernelInitializer: unknown }
      ).kernelInitializer;
  }
}

/** `tf.layers.separableConv2d` that honours `pointwiseInitializer` (see {@link SeparableConv2D}). */
export function separableConv2d(args: Record<string, unknown>): tf.layers.Layer {
  return new SeparableConv2D(args);
}

interface BatchNormFields {
  axis: number;
  epsilon: number;
  momentum: number;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  center: boolean;
  scale: boolean;
}

/**
 * BatchNormalization over the last axis whose training branch uses {@link batchNormTrain} (same outputs, same
 * moving-average updates as tfjs: moving = moving - (moving - batch) * (1 - momentum)). Other axes, or layers without
 * center/scale, use tfjs' implementation unchanged. A layer with `trainable = false` (frozen for fine-tuning, see
 * init.ts freezeLayers) always runs in inference mode: moving statistics used, never updated (Keras' rule for
 * BatchNormalization with trainable=False, keras.io BatchNormalization docs).
 */
export class BatchNormalization extends TfBatchNormalization {
  static readonly className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as BatchNormFields;
    if (kwargs['training'] && !this.trainable) return super.call(inputs, { ...kwargs, training: false });
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = self.axis === -1 || self.axis === input.shape.length - 1;
    if (!kwargs['training'] || !lastAxis || !self.center || !self.scale) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTrain(input, self.gamma.read() as tf.Tensor1D, self.beta.read() as tf.Tensor1D, self.epsilon);
      tf.tidy(() => {
        const [m, v] = updateMovingStats(self.movingMean.read(), self.movingVariance.read(), mean, variance, 1 - self.momentum);
        self.movingMean.write(m);
        self.movingVariance.write(v);
      });
      tf.dispose([mean, variance]);
      return y;
    });
  }
}

/**
 * Dropout whose training branch uses {@link dropoutTrain} with a fresh mask every call, drawn from the layer's seed and
 * a call counter (tfjs' Dropout with a fixed `seed` reuses one mask for every batch). Seeded layers give the same
 * sequence of masks in every run. `noiseShape` falls back to tfjs' implementation.
 */
export class Dropout extends TfDropout {
  static readonly className = 'Dropout';
  private calls = 0;

  /** Training calls so far: the next mask is drawn from the layer's seed and this counter (saved in checkpoints). */
  get callCount(): number {
    return this.calls;
  }

  set callCount(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`Dropout call count must be a non-negative integer, got ${n}`);
    this.calls = n;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as { rate: number; seed?: number; noiseShape?: number[] };
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs['training'] || self.noiseShape != null || !(self.rate > 0 && self.rate < 1)) return super.call(inputs, kwargs);
    const base = self.seed ?? Math.floor(Math.random() * 2 ** 31);
    const seed = (Math.imul(base ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(++this.calls, 0xc2b2ae35)) >>> 0;
    return tf.tidy(() => dropoutTrain(input, self.rate, seed));
  }
}

/**
 * The call counters of a model's ferlab Dropout layers, in layer order: with the weights, they decide every future
 * dropout mask of a seeded model (for checkpoints).
 */
export function dropoutCallCounts(model: tf.LayersModel): number[] {
  return model.layers.filter((l): l is Dropout => l instanceof Dropout).map((l) => l.callCount);
}

/**
 * Restores {@link dropoutCallCounts}.
 * @throws Error when the model has a different number of ferlab Dropout layers.
 */
export function setDropoutCallCounts(model: tf.LayersModel, counts: readonly number[]): void {
  const layers = model.layers.filter((l): l is Dropout => l instanceof Dropout);
  if (layers.length !== counts.length) throw new Error(`model has ${layers.length} Dropout layers, the checkpoint ${counts.length}`);
  layers.forEach((l, i) => (l.callCount = counts[i]));
}

/** `tf.layers.batchNormalization` with ferlab's training path. */
export function batchNormalization(args: Record<string, unknown> = {}): tf.layers.Layer {
  return new BatchNormalization(args);
}

/** `tf.layers.dropout` with ferlab's training path and per-call masks. */
export function dropout(args: { rate: number; seed?: number; name?: string }): tf.layers.Layer {
  return new Dropout(args);
}
