import type { Rng } from '../util/rng';
import type { MixConfig } from './settings';

/**
 * Batch-mixing augmentations, as timm's Mixup (pytorch-image-models timm/data/mixup.py, `mode='batch'`): one lambda
 * per batch from Beta(alpha, alpha); the partner of image i is image n - 1 - i (the batch reversed, `x.flip(0)`).
 * - mixup (Zhang et al. 2018, arXiv 1710.09412): x_i <- lambda x_i + (1 - lambda) x_{n-1-i};
 * - CutMix (Yun et al. 2019, arXiv 1905.04899): a box of each image is replaced by the same box of its partner; the
 *   box is timm's rand_bbox (side ratio sqrt(1 - lambda), centre uniform, clipped at the border) and lambda is
 *   corrected to 1 - box area / image area (timm's correct_lam).
 * Targets become lambda y_i + (1 - lambda) y_{n-1-i} in both cases: one-hot FER labels and FER+ vote distributions
 * alike turn into soft targets of the cross-entropy.
 */

/** What was drawn for one batch. */
export interface MixDraw {
  kind: 'mixup' | 'cutmix';
  /** Weight of the image itself in the targets, in [0, 1] (for CutMix: corrected to the box's actual area). */
  lambda: number;
  /** CutMix: rows [y0, y1) and columns [x0, x1) taken from the partner. */
  box?: { y0: number; y1: number; x0: number; x1: number };
}

/** The batch-mixing settings of a run (TrainSettings `mixup` / `cutmix`; absent = off). */
export interface MixSettings {
  mixup?: MixConfig;
  cutmix?: MixConfig;
}

/** True when mixup or CutMix is on. */
export function mixOn(m: MixSettings): boolean {
  return m.mixup !== undefined || m.cutmix !== undefined;
}

/**
 * A standard normal draw (Marsaglia polar method: two uniforms per try, the second value discarded so that a draw
 * depends only on the generator's state).
 */
function normal(rng: Rng): number {
  for (;;) {
    const u = 2 * rng.uniform() - 1;
    const v = 2 * rng.uniform() - 1;
    const s = u * u + v * v;
    if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
  }
}

/**
 * A Gamma(shape, 1) draw: Marsaglia & Tsang 2000 (ACM TOMS 26(3), "A simple method for generating gamma
 * variables") for shape >= 1; for shape < 1, Gamma(shape + 1) * U^(1 / shape) (the same paper, section 6).
 */
export function gammaDraw(rng: Rng, shape: number): number {
  if (shape < 1) {
    const g = gammaDraw(rng, shape + 1);
    let u = rng.uniform();
    while (u === 0) u = rng.uniform();
    return g * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) draw: X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b) (numpy's method for small parameters). */
export function betaDraw(rng: Rng, a: number, b: number): number {
  const x = gammaDraw(rng, a);
  const y = gammaDraw(rng, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

/**
 * timm's rand_bbox for an `side x side` image: cut = int(side * sqrt(1 - lambda)) per axis, centre cy then cx uniform
 * integers in [0, side), the box [c - cut // 2, c + cut // 2) clipped to the image.
 */
export function cutmixBox(rng: Rng, lambda: number, side: number): { y0: number; y1: number; x0: number; x1: number } {
  const cut = Math.floor(side * Math.sqrt(1 - lambda));
  const half = Math.floor(cut / 2);
  const cy = rng.int(side);
  const cx = rng.int(side);
  const clip = (v: number) => Math.min(Math.max(v, 0), side);
  return { y0: clip(cy - half), y1: clip(cy + half), x0: clip(cx - half), x1: clip(cx + half) };
}

/**
 * Draws one batch's mixing, in this order: with both mixup and CutMix on, uniform() < 0.5 picks CutMix (timm
 * switch_prob 0.5); then uniform() < prob decides whether the batch is mixed at all; then lambda ~ Beta(alpha, alpha);
 * for CutMix the box (cy, then cx). The uniform for `prob` is drawn even when prob is 1.
 * @param side side of the square model input, pixels.
 * @returns the draw, or null for a batch left as it is (or with both settings absent: nothing drawn).
 */
export function drawMix(rng: Rng, m: MixSettings, side: number): MixDraw | null {
  if (!mixOn(m)) return null;
  const kind: MixDraw['kind'] = m.mixup && m.cutmix ? (rng.uniform() < 0.5 ? 'cutmix' : 'mixup') : m.mixup ? 'mixup' : 'cutmix';
  const cfg = (kind === 'mixup' ? m.mixup : m.cutmix)!;
  if (!(rng.uniform() < cfg.prob)) return null;
  const lam = betaDraw(rng, cfg.alpha, cfg.alpha);
  if (kind === 'mixup') return { kind, lambda: lam };
  const box = cutmixBox(rng, lam, side);
  return { kind, lambda: 1 - ((box.y1 - box.y0) * (box.x1 - box.x0)) / (side * side), box };
}

/**
 * Mixes a batch in place with its reverse (see the module comment).
 * @param x `[n, side, side, 1]` float32 model inputs (first n * side^2 entries used).
 * @param y `[n, C]` float32 targets (first n * C entries used).
 * @param rows optional further `[n, k]` float32 per-image arrays to mix like the targets (k = rows.width).
 */
export function applyMix(d: MixDraw, x: Float32Array, y: Float32Array, n: number, side: number, C: number, rows?: { data: Float32Array; width: number }): void {
  const P = side * side;
  const mixRows = (a: Float32Array, w: number) => mixWithReverse(a, n, w, d.lambda);
  if (d.kind === 'mixup') mixRows(x, P);
  else {
    const { y0, y1, x0, x1 } = d.box!;
    for (let i = 0, j = n - 1; i < j; i++, j--)
      for (let r = y0; r < y1; r++)
        for (let c = x0; c < x1; c++) {
          const t = x[i * P + r * side + c];
          x[i * P + r * side + c] = x[j * P + r * side + c];
          x[j * P + r * side + c] = t;
        }
  }
  mixRows(y, C);
  if (rows) mixRows(rows.data, rows.width);
}

/**
 * Row i of `[n, w]` float32 `a` becomes lambda a_i + (1 - lambda) a_{n-1-i}, in place (the middle row of an odd n
 * stays as it is: its partner is itself). The mixing of mixup's images and of every batch-mixing's targets.
 */
export function mixWithReverse(a: Float32Array, n: number, w: number, lambda: number): void {
  for (let i = 0, j = n - 1; i < j; i++, j--)
    for (let k = 0; k < w; k++) {
      const u = a[i * w + k];
      const v = a[j * w + k];
      a[i * w + k] = lambda * u + (1 - lambda) * v;
      a[j * w + k] = lambda * v + (1 - lambda) * u;
    }
}
