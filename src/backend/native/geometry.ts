import type * as tf from '@tensorflow/tfjs';

/**
 * A convolution's geometry (tfjs' Conv2DInfo) as the 17 integers the addon's convolution entry points take (conv.cc,
 * depthwise.cc): N, H, W, CI, KH, KW, `channels`, OH, OW, sh, sw, dh, dw, pad top, pad left, pad bottom, pad right.
 * oneDNN wants bottom/right padding such that the output size follows from (in + pads - filter extent) / stride + 1;
 * tfjs' padInfo may give more (TensorFlow's 'same' rule), so they are derived from the output size (never negative).
 * @param channels the output channels (conv.cc) or the channel multiplier M (depthwise.cc).
 * @returns null when the input or the output is empty (the caller falls back to the wasm kernel).
 */
export function oneDnnConvArgs(c: tf.backend_util.Conv2DInfo, channels: number): number[] | null {
  if (c.batchSize * c.inHeight * c.inWidth * c.inChannels === 0 || c.outHeight * c.outWidth * c.outChannels === 0) return null;
  const pb = (c.outHeight - 1) * c.strideHeight + (c.filterHeight - 1) * c.dilationHeight + 1 - c.inHeight - c.padInfo.top;
  const pr = (c.outWidth - 1) * c.strideWidth + (c.filterWidth - 1) * c.dilationWidth + 1 - c.inWidth - c.padInfo.left;
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.filterHeight,
    c.filterWidth,
    channels,
    c.outHeight,
    c.outWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
    Math.max(0, pb),
    Math.max(0, pr),
  ];
}
