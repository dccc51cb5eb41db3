import * as tf from '@tensorflow/tfjs';
import { adamUpdate } from '../backend/ops';
import { ADAM_DEFAULTS, type AdamConfig } from './settings';

export { ADAM_DEFAULTS, type AdamConfig } from './settings';

/**
 * Adam / AdamW with the learning rate given per step (schedules live in schedule.ts). Each variable is updated by
 * src/backend/ops.ts `adamUpdate`: on ferlab's wasm backend one fused kernel (FerlabAdam: one pass instead of about
 * twelve elementwise ops), elsewhere the same formula in tfjs ops. The fused kernel flushes moments below 1e-30 to zero (x86 subnormal arithmetic is
 * ~35x slower, and wasm cannot set flush-to-zero); such a moment moves its weight by < lr * 1e-22.
 */
/** What the training loop needs of an optimizer ({@link Adam}, {@link Sgd}); created by {@link createOptimizer}. */
export interface Optimizer {
  /** Number of updates applied so far. */
  readonly steps: number;
  /** One update of every variable of `vars` that has a gradient in `grads` (keyed by variable name), at learning rate `lr`. */
  apply(vars: tf.Variable[], grads: tf.NamedTensorMap, lr: number): void;
  /** The state for a checkpoint (per-variable buffers in the order of `vars`). */
  getState(vars: tf.Variable[]): AdamState;
  /** Restores a {@link getState} onto the same variables. @throws Error when counts or sizes differ. */
  setState(vars: tf.Variable[], state: AdamState): void;
  dispose(): void;
}

/**
 * The optimizer of a run's settings: SGD when `config.name` is 'sgd', else Adam / AdamW.
 */
export function createOptimizer(config: AdamConfig): Optimizer {
  return config.name === 'sgd' ? new Sgd(config) : new Adam(config);
}

export class Adam implements Optimizer {
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
    for (const variable of vars) {
      const g = grads[variable.name];
      if (!g) continue;
      let st = this.moments.get(variable.name);
      if (!st) {
        st = { m: tf.keep(tf.zerosLike(variable)), v: tf.keep(tf.zerosLike(variable)) };
        this.moments.set(variable.name, st);
      }
      const wd = variable.rank >= 2 ? weightDecay : 0;
      const [x, m, v] = adamUpdate(variable, st.m, st.v, g, { lr, beta1, beta2, epsilon, weightDecay: wd, step: this.t });
      variable.assign(x);
      x.dispose();
      st.m.dispose();
      st.v.dispose();
      st.m = tf.keep(m);
      st.v = tf.keep(v);
    }
  }

  /**
   * The optimizer's state for a checkpoint: the update count and, for each variable of `vars` in that order, its
   * first and second moments (`[...variable shape]` float32, zeros for a variable never updated).
   */
  getState(vars: tf.Variable[]): AdamState {
    const read = (t: tf.Tensor | undefined, like: tf.Variable) => (t ? (t.dataSync() as Float32Array).slice() : new Float32Array(like.size));
    return {
      step: this.t,
      m: vars.map((v) => read(this.moments.get(v.name)?.m, v)),
      v: vars.map((v) => read(this.moments.get(v.name)?.v, v)),
    };
  }

  /**
   * Restores a {@link getState} onto `vars` (the same variables, in the same order, as when it was saved; names may
   * differ between processes).
   * @throws Error when the number of variables or a moment's size differs.
   */
  setState(vars: tf.Variable[], state: AdamState): void {
    if (state.m.length !== vars.length || state.v.length !== vars.length)
      throw new Error(`optimizer state holds moments of ${state.m.length} variables, the model has ${vars.length}`);
    this.dispose();
    vars.forEach((variable, i) => {
      if (state.m[i].length !== variable.size || state.v[i].length !== variable.size)
        throw new Error(`optimizer state: variable ${i} (${variable.name}) has ${variable.size} values, saved moments ${state.m[i].length}`);
      this.moments.set(variable.name, { m: tf.keep(tf.tensor(state.m[i], variable.shape)), v: tf.keep(tf.tensor(state.v[i], variable.shape)) });
    });
    this.t = state.step;
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }
}

/** Adam's state (see {@link Adam.getState}). */
export interface AdamState {
  /** Updates applied so far (t in Kingma & Ba's bias corrections). */
  step: number;
  /** Per variable, `[size]` float32 first moments. */
  m: Float32Array[];
  /** Per variable, `[size]` float32 second moments. */
  v: Float32Array[];
}

/**
 * Stochastic gradient descent with momentum, exactly PyTorch's torch.optim.SGD with dampening 0 (its documented
 * algorithm, pytorch.org/docs torch.optim.SGD): on conv/dense kernels (rank >= 2) g <- g + weightDecay * x (L2, coupled);
 * then b <- momentum * b + g (b = g at the first update); d = g + momentum * b with Nesterov (Sutskever et al. 2013,
 * in PyTorch's form), else d = b; x <- x - lr * d. Momentum 0 gives plain SGD. In tfjs ops (a few elementwise
 * kernels per variable; no fused kernel: the update is a small part of a step).
 */
export class Sgd implements Optimizer {
  private readonly buffers = new Map<string, tf.Tensor>();
  private t = 0;
  readonly momentum: number;
  readonly nesterov: boolean;

  /** @param config the run's optimizer settings (name 'sgd'; momentum default 0.9, nesterov default false). */
  constructor(readonly config: AdamConfig) {
    this.momentum = config.momentum ?? 0.9;
    this.nesterov = config.nesterov ?? false;
    if (this.nesterov && this.momentum <= 0) throw new Error('optimizer.nesterov needs optimizer.momentum > 0 (as PyTorch)');
  }

  get steps(): number {
    return this.t;
  }

  apply(vars: tf.Variable[], grads: tf.NamedTensorMap, lr: number): void {
    this.t += 1;
    const mu = this.momentum;
    for (const variable of vars) {
      const g0 = grads[variable.name];
      if (!g0) continue;
      const wd = variable.rank >= 2 ? this.config.weightDecay : 0;
      const x = tf.tidy(() => {
        const g = wd > 0 ? tf.add(g0, tf.mul(variable, wd)) : g0;
        let d = g;
        if (mu > 0) {
          const prev = this.buffers.get(variable.name);
          const b = prev ? tf.add(tf.mul(prev, mu), g) : tf.clone(g);
          prev?.dispose();
          this.buffers.set(variable.name, tf.keep(b));
          d = this.nesterov ? tf.add(g, tf.mul(b, mu)) : b;
        }
        return tf.sub(variable, tf.mul(d, lr));
      });
      variable.assign(x);
      x.dispose();
    }
  }

  /** Checkpoint state: `m` = the momentum buffers (zeros before the first update), `v` = empty arrays. */
  getState(vars: tf.Variable[]): AdamState {
    return {
      step: this.t,
      m: vars.map((v) => {
        const b = this.buffers.get(v.name);
        return b ? (b.dataSync() as Float32Array).slice() : new Float32Array(v.size);
      }),
      v: vars.map(() => new Float32Array(0)),
    };
  }

  setState(vars: tf.Variable[], state: AdamState): void {
    if (state.m.length !== vars.length) throw new Error(`optimizer state holds momentum buffers of ${state.m.length} variables, the model has ${vars.length}`);
    this.dispose();
    vars.forEach((variable, i) => {
      if (state.m[i].length !== variable.size)
        throw new Error(`optimizer state: variable ${i} (${variable.name}) has ${variable.size} values, saved momentum buffer ${state.m[i].length}`);
      // a buffer exists from the first update on: before it (step 0) PyTorch starts from b = g
      if (state.step > 0 && this.momentum > 0) this.buffers.set(variable.name, tf.keep(tf.tensor(state.m[i], variable.shape)));
    });
    this.t = state.step;
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
