import * as tf from '@tensorflow/tfjs';
import { hasFerlabKernel } from '../backend/ops';
import { FERLAB_KERNELS } from '../backend/wasm/kernels';

/** Adam / AdamW hyper-parameters (defaults: Kingma & Ba, arXiv 1412.6980). */
export interface AdamConfig {
  /** Exponential decay of the first moment (default 0.9). */
  beta1: number;
  /** Exponential decay of the second moment (default 0.999). */
  beta2: number;
  /** Added to the root of the second moment (default 1e-8, as PyTorch). */
  epsilon: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov & Hutter, arXiv 1711.05101), applied to weights of rank >= 2 (conv and
   * dense kernels) only, never to biases or BatchNorm parameters. 0 = plain Adam.
   */
  weightDecay: number;
}

/** Adam's defaults from Kingma & Ba (arXiv 1412.6980), as in PyTorch's torch.optim.Adam; no weight decay. */
export const ADAM_DEFAULTS: AdamConfig = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

/**
 * Adam / AdamW with the learning rate given per step (schedules live in schedule.ts). On ferlab's wasm backend each
 * variable is updated by one fused kernel (FerlabAdam: one pass instead of about twelve elementwise ops); elsewhere
 * by the same formula in tfjs ops. The fused kernel flushes moments below 1e-30 to zero (x86 subnormal arithmetic is
 * ~35x slower, and wasm cannot set flush-to-zero); such a moment moves its weight by < lr * 1e-22.
 */
export class Adam {
  private readonly moments = new Map<string, { m: tf.Tensor; v: tf.Tensor }>();
  private t = 0;

  constructor(readonly config: AdamConfig = ADAM_DEFAULTS) {}

  /** Number of updates applied so far. */
  get steps(): number {
    return this.t;
  }

  /**
   * Applies one update: for each variable with a gradient in `grads` (keyed by variable name, as
   * tf.variableGrads returns them), x <- x - lr * (m_hat / (sqrt(v_hat) + eps) + wd * x).
   * @param lr learning rate of this step (> 0).
   */
  apply(vars: tf.Variable[], grads: tf.NamedTensorMap, lr: number): void {
    this.t += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const fused = hasFerlabKernel(FERLAB_KERNELS.adam);
    for (const variable of vars) {
      const g = grads[variable.name];
      if (!g) continue;
      let st = this.moments.get(variable.name);
      if (!st) {
        st = { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
        this.moments.set(variable.name, st);
      }
      const wd = variable.rank >= 2 ? weightDecay : 0;
      const [x, m, v] = tf.tidy(() => {
        if (fused) {
          return tf
            .engine()
            .runKernel(
              FERLAB_KERNELS.adam,
              { x: variable, m: st!.m, v: st!.v, g },
              { lr, beta1, beta2, epsilon, weightDecay: wd, step: this.t },
            ) as tf.Tensor[];
        }
        const m1 = tf.add(tf.mul(st!.m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(st!.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const mHat = tf.div(m1, 1 - Math.pow(beta1, this.t));
        const vHat = tf.div(v1, 1 - Math.pow(beta2, this.t));
        let upd = tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon));
        if (wd > 0) upd = tf.add(upd, tf.mul(variable, wd));
        return [tf.sub(variable, tf.mul(upd, lr)), m1, v1];
      });
      variable.assign(x);
      x.dispose();
      st.m.dispose();
      st.v.dispose();
      st.m = tf.keep(m);
      st.v = tf.keep(v);
    }
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }
}
