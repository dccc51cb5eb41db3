import type * as tf from '@tensorflow/tfjs';
import { createModel } from './registry';

/** Size and cost of a model. */
export interface ModelStats {
  /** Trainable + non-trainable parameters. */
  params: number;
  /** Multiply-accumulates of one forward pass of one image (conv and dense layers). */
  macs: number;
  /**
   * Multiply-accumulates of one training step per image counted as direct convolution and matmul: each counted
   * layer's forward pass, its weight gradient (as many as its forward) and its input gradient (as many again), except
   * the input gradient of layers fed by the model input, which backpropagation does not compute. Winograd and other
   * fast algorithms do fewer; this is the yardstick that `npm run bench` divides step times into.
   */
  trainingMacs: number;
}

/**
 * Parameters and forward multiply-adds per image of a built model. Counted: Conv2D (OH*OW*kh*kw*cin*cout),
 * DepthwiseConv2D (OH*OW*kh*kw*cin*multiplier), SeparableConv2D (its depthwise part plus the pointwise
 * OH*OW*cin*multiplier*cout) and Dense (in*units); BatchNorm, pooling, Add and activations are not.
 */
export function modelStats(model: tf.LayersModel): ModelStats {
  let macs = 0;
  let trainingMacs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const out = layer.outputShape as number[];
    let m = 0;
    if (cls === 'Conv2D') {
      const [kh, kw, cin, cout] = (layer.getWeights()[0] ?? { shape: [0, 0, 0, 0] }).shape as number[];
      m = out[1] * out[2] * kh * kw * cin * cout;
    } else if (cls === 'DepthwiseConv2D' || cls === 'SeparableConv2D') {
      const ws = layer.getWeights();
      const [kh, kw, cin, mult] = ws[0].shape as number[];
      m = out[1] * out[2] * kh * kw * cin * mult;
      if (cls === 'SeparableConv2D') m += out[1] * out[2] * cin * mult * (ws[1].shape[3] as number);
    } else if (cls === 'Dense') {
      const [cin, cout] = layer.getWeights()[0].shape as number[];
      m = cin * cout;
    }
    macs += m;
    trainingMacs += (fedByInput(layer) ? 2 : 3) * m;
  }
  return { params: model.countParams(), macs, trainingMacs };
}

/** Whether every input of `layer` is the model's input (its gradient w.r.t. that input is never computed). */
function fedByInput(layer: tf.layers.Layer): boolean {
  const nodes = (layer as unknown as { inboundNodes: Array<{ inboundLayers: tf.layers.Layer[] }> }).inboundNodes;
  return nodes.length > 0 && nodes.every((n) => n.inboundLayers.length > 0 && n.inboundLayers.every((l) => l.getClassName() === 'InputLayer'));
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
