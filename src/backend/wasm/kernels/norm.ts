import type { TensorInfo } from '@tensorflow/tfjs';
import { K, size, type Args } from './shared';

/** Batch normalisation in training: FerlabBatchNormTrain (statistics + affine) and FerlabBatchNormGrad (full backward). */

/** FerlabBatchNormTrain: inputs x [..., C], gamma [C], beta [C]; attrs epsilon. Outputs y, batch mean, batch variance. */
export function batchNormTrain(args: Args): TensorInfo[] {
  const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const eps = args.attrs!.epsilon as number;
  const k = K(args.backend);
  const C = x.shape[x.shape.length - 1];
  const M = size(x.shape) / C;
  const mean = k.output([C]);
  const variance = k.output([C]);
  const y = k.output(x.shape);
  const coef = k.scratch('bncoef', C * 8);
  k.exports.bnStats(k.ptr(x), M, C, k.ptr(mean), k.ptr(variance), k.scratch('sums', C * 12));
  const mu = k.heapF32(k.ptr(mean), C);
  const v = k.heapF32(k.ptr(variance), C);
  const g = k.heapF32(k.ptr(gamma), C);
  const b = k.heapF32(k.ptr(beta), C);
  const scale = k.heapF32(coef, C);
  const shift = k.heapF32(coef + C * 4, C);
  for (let c = 0; c < C; c++) {
    scale[c] = g[c] / Math.sqrt(v[c] + eps);
    shift[c] = b[c] - mu[c] * scale[c];
  }
  k.exports.affineRows(k.ptr(x), M, C, coef, coef + C * 4, 0, k.ptr(y));
  return [y, mean, variance];
}

/**
 * FerlabBatchNormGrad: inputs dy, x, mean, variance, gamma; attrs epsilon. Outputs dx, dgamma, dbeta of
 * y = gamma * (x - mean) / sqrt(variance + eps) + beta with mean and (biased) variance taken over the batch:
 * dx = gamma*r*dy - gamma*r/M * sum(dy) - (x - mean) * gamma*r^3/M * sum(dy*(x - mean)), r = 1/sqrt(var + eps).
 */
export function batchNormGrad(args: Args): TensorInfo[] {
  const { dy, x, mean, variance, gamma } = args.inputs as Record<string, TensorInfo>;
  const eps = args.attrs!.epsilon as number;
  const k = K(args.backend);
  const C = x.shape[x.shape.length - 1];
  const M = size(x.shape) / C;
  const dx = k.output(x.shape);
  const dgamma = k.output([C]);
  const dbeta = k.output([C]);
  const work = k.scratch('bnwork', C * 20);
  k.exports.bnGradSums(k.ptr(dy), k.ptr(x), M, C, k.ptr(mean), work, work + C * 4, k.scratch('bnsums', C * 24));
  const f = k.heapF32(work, C * 5);
  const v = k.heapF32(k.ptr(variance), C);
  const g = k.heapF32(k.ptr(gamma), C);
  const dg = k.heapF32(k.ptr(dgamma), C);
  const db = k.heapF32(k.ptr(dbeta), C);
  for (let c = 0; c < C; c++) {
    const sumDy = f[c];
    const sumDyXc = f[C + c];
    const r = 1 / Math.sqrt(v[c] + eps);
    f[2 * C + c] = g[c] * r; // k1
    f[3 * C + c] = (-g[c] * r * r * r * sumDyXc) / M; // k2
    f[4 * C + c] = (-g[c] * r * sumDy) / M; // k3
    dg[c] = sumDyXc * r;
    db[c] = sumDy;
  }
  k.exports.bnGradApply(k.ptr(dy), k.ptr(x), M, C, k.ptr(mean), work + 2 * C * 4, work + 3 * C * 4, work + 4 * C * 4, k.ptr(dx));
  return [dx, dgamma, dbeta];
}
