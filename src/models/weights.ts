import * as tf from '@tensorflow/tfjs';

/**
 * Every weight of a model, layer by layer, each layer's in its own order (Conv2D: kernel, bias; BatchNormalization:
 * gamma, beta, moving mean, moving variance; Dense: kernel, bias). Unlike `model.getWeights()` (all trainable weights
 * first, then the others), this order does not change when layers are frozen (`trainable = false`), so it is the one
 * checkpoints use.
 * @returns copies: `[...weight shape]` float32 arrays.
 */
export function readLayerWeights(model: tf.LayersModel): Float32Array[] {
  return model.layers.flatMap((l) => l.getWeights().map((w) => (w.dataSync() as Float32Array).slice()));
}

/**
 * Writes weights read by {@link readLayerWeights} back into a model of the same architecture.
 * @throws Error naming the layer when the number of weights or a weight's size differs.
 */
export function writeLayerWeights(model: tf.LayersModel, values: readonly Float32Array[]): void {
  let k = 0;
  for (const layer of model.layers) {
    const current = layer.weights;
    if (!current.length) continue;
    if (k + current.length > values.length) throw new Error(`weights end before layer '${layer.name}' (${values.length} given)`);
    const tensors = current.map((w, i) => {
      const v = values[k + i];
      const shape = w.shape as number[];
      const size = shape.reduce((a, b) => a * b, 1);
      if (v.length !== size) throw new Error(`layer '${layer.name}' weight ${w.originalName}: ${v.length} values, expected ${size} (${shape})`);
      return tf.tensor(v, shape);
    });
    layer.setWeights(tensors);
    tf.dispose(tensors);
    k += current.length;
  }
  if (k !== values.length) throw new Error(`model has ${k} weights, ${values.length} given`);
}
