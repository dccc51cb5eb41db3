import type { TensorInfo } from '@tensorflow/tfjs';
import { K, size, type Args } from './shared';

/**
 * FerlabAdam: inputs x, m, v, g (same shape, float32); attrs lr, beta1, beta2, epsilon, weightDecay, step (>= 1).
 * Outputs the updated x, m, v (see adamStep in assembly/ops.ts).
 */
export function adam(args: Args): TensorInfo[] {
  const { x, m, v, g } = args.inputs as Record<string, TensorInfo>;
  const a = args.attrs as Record<string, number>;
  const k = K(args.backend);
  const xo = k.output(x.shape);
  const mo = k.output(x.shape);
  const vo = k.output(x.shape);
  const bc1 = 1 - Math.pow(a.beta1, a.step);
  const bc2 = 1 - Math.pow(a.beta2, a.step);
  k.exports.adamStep(
    k.ptr(x),
    k.ptr(m),
    k.ptr(v),
    k.ptr(g),
    size(x.shape),
    a.lr,
    a.beta1,
    a.beta2,
    a.epsilon,
    a.weightDecay,
    bc1,
    bc2,
    k.ptr(xo),
    k.ptr(mo),
    k.ptr(vo),
  );
  return [xo, mo, vo];
}
