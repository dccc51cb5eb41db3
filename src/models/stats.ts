import type * as tf from '@tensorflow/tfjs';
import { createModel } from './registry';

/** Size and cost of a model. */
export interface ModelStats {
  /** Trainable + non-trainable parameters. */
  params: number;
  /** Multiply-accumulates of one forward pass of one image (conv and dense layers). */
  macs: number;
}

/**
 * Parameters and forward multiply-adds per image of a built model. Counted: Conv2D (OH*OW*kh*kw*cin*cout),
 * DepthwiseConv2D (OH*OW*kh*kw*cin*multiplier), SeparableConv2D (its depthwise part plus the pointwise
 * OH*OW*cin*multiplier*cout) and Dense (in*units); BatchNorm, pooling, Add and activations are not.
 */
export function modelStats(model: tf.LayersModel): ModelStats {
  let macs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const out = layer.outputShape as number[];
    if (cls === 'Conv2D') {
      const [kh, kw, cin, cout] = (layer.getWeights()[0] ?? { shape: [0, 0, 0, 0] }).shape as number[];
      macs += out[1] * out[2] * kh * kw * cin * cout;
    } else if (cls === 'DepthwiseConv2D' || cls === 'SeparableConv2D') {
      const ws = layer.getWeights();
      const [kh, kw, cin, mult] = ws[0].shape as number[];
      macs += out[1] * out[2] * kh * kw * cin * mult;
      if (cls === 'SeparableConv2D') macs += out[1] * out[2] * cin * mult * (ws[1].shape[3] as number);
    } else if (cls === 'Dense') {
      const [cin, cout] = layer.getWeights()[0].shape as number[];
      macs += cin * cout;
    }
  }
  return { params: model.countParams(), macs };
}

const cache = new Map<string, ModelStats>();

/** {@link modelStats} of a registered model (built once, then cached). */
export function registeredModelStats(name: string, numClasses: number): ModelStats {
  const key = `${name}/${numClasses}`;
  let s = cache.get(key);
  if (!s) {
    const m = createModel(name, { numClasses });
    s = modelStats(m);
    m.dispose();
    cache.set(key, s);
  }
  return s;
}
