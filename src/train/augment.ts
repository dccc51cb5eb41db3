import { IMAGE_PIXELS, IMAGE_SIZE } from '../data/classes';
import { writeImage } from '../data/preprocess';
import type { Rng } from '../util/rng';
import type { Augment, Crop, Erasing } from './settings';

/**
 * Training-time geometric augmentation and random erasing on the uint8 image cache (settings: AugmentSchema in
 * settings.ts, presets and sources there). One 2x3 affine matrix per image (crop, flip, zoom, shear, rotation about
 * the image centre, translation), the `[48, 48]` uint8 source sampled bilinearly with replicated edges and written as
 * float32 in [0, 1] straight into the batch buffer; random erasing afterwards on that float image.
 *
 * Coordinates: x = column (right), y = row (down), pixel centres at integers, image centre (23.5, 23.5).
 *
 * Cost, measured with a script (TrainBatches.epoch() batches of 64 from a 2,000-image cache, performance.now() over
 * 1,000 batches, best of 4 rounds; Node 20.20, one process on a 2-core AMD EPYC VM while other work kept the load
 * near 5), per 64-image batch including the shuffle and target copies: flip only (default, old path) 0.9 ms; flip +
 * shift 4 (old path) 0.4 ms; `ferplus-paper` 0.8 ms; `khaireddin2021` 0.8 ms; erasing alone (paper defaults, random
 * values) 1.2 ms; rotation 15 + scale 0.1 + translate 0.1 + skew 0.05 + crop + random-value erasing 1.1-1.2 ms. A
 * `deep` step at batch 64 takes ~370 ms on one core: augmentation is < 0.5% of a step.
 */

const S = IMAGE_SIZE;
/** Centre of the 48x48 pixel grid (pixel centres at 0..47). */
const CENTRE = (S - 1) / 2;
/** Tries of the rejection samplers, as torchvision (RandomResizedCrop.get_params, RandomErasing.get_params). */
const TRIES = 10;

/** A crop box of the source image, in pixels: top-left corner (x, y), width w and height h. */
export interface CropBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Parameters of one image's transformation (all optional; left out = identity). */
export interface AffineParams {
  /** Mirror left-right (about the image centre), before the other transforms. */
  flip?: boolean;
  /** Rotation about the image centre, degrees, positive = counter-clockwise on screen. */
  angle?: number;
  /** Zoom factor about the image centre (> 1 enlarges the content), same in x and y. */
  scale?: number;
  /** Shear x += shearX * y (centred coordinates; dimensionless), applied after shearY. */
  shearX?: number;
  /** Shear y += shearY * x (centred coordinates), applied first of the two shears. */
  shearY?: number;
  /** Translation of the content, px (positive = right / down), last. */
  tx?: number;
  ty?: number;
  /** Source crop resized to the full 48x48 before everything else; null / left out = whole image. */
  crop?: CropBox | null;
}

/**
 * The 2x3 matrix that maps an output pixel (x, y) to the source point it samples (the inverse of the image
 * transformation): `srcX = m[0] x + m[1] y + m[2]`, `srcY = m[3] x + m[4] y + m[5]`.
 *
 * The forward transformation of the content, in this order: crop box resized to 48x48 (pixel-centre aligned, as
 * align_corners=False resizing: output pixel c samples crop.x + (c + 0.5) crop.w / 48 - 0.5), mirror, then
 * A = scale * R(angle) * [[1, shearX], [0, 1]] * [[1, 0], [shearY, 1]] about the centre (so shearY first, then shearX,
 * then the rotation, as microsoft/FERPlus src/img_util.py crop_img composes rotation and skews), then translation.
 * Rotations by whole multiples of 90 degrees use exact cosines and sines.
 *
 * @param out 6 float64 entries to write (preallocate it for per-image use). @returns `out`.
 */
export function affineMatrix(p: AffineParams, out: Float64Array = new Float64Array(6)): Float64Array {
  const angle = p.angle ?? 0;
  const s = p.scale ?? 1;
  const kx = p.shearX ?? 0;
  const ky = p.shearY ?? 0;
  let c: number;
  let sn: number;
  if (Number.isInteger(angle / 90)) {
    const q = (((angle / 90) % 4) + 4) % 4;
    c = q === 0 ? 1 : q === 2 ? -1 : 0;
    sn = q === 1 ? 1 : q === 3 ? -1 : 0;
  } else {
    const t = (angle * Math.PI) / 180;
    c = Math.cos(t);
    sn = Math.sin(t);
  }
  // R (counter-clockwise on screen with y down) = [[c, sn], [-sn, c]]; shears [[1, kx], [0, 1]] [[1, 0], [ky, 1]] = [[1 + kx ky, kx], [ky, 1]]
  const h00 = 1 + kx * ky;
  const a00 = s * (c * h00 + sn * ky);
  const a01 = s * (c * kx + sn);
  const a10 = s * (-sn * h00 + c * ky);
  const a11 = s * (-sn * kx + c);
  // inverse of A (det = s^2: rotation and shears have determinant 1)
  const det = a00 * a11 - a01 * a10;
  let i00 = a11 / det;
  let i01 = -a01 / det;
  const i10 = -a10 / det;
  const i11 = a00 / det;
  if (p.flip) {
    // the mirror comes first forward, so last in the inverse: x -> -x in centred coordinates
    i00 = -i00;
    i01 = -i01;
  }
  // crop-image point = C + M (p - C - t), M = F A^-1
  const qx = CENTRE + (p.tx ?? 0);
  const qy = CENTRE + (p.ty ?? 0);
  let m2 = CENTRE - i00 * qx - i01 * qy;
  let m5 = CENTRE - i10 * qx - i11 * qy;
  let m0 = i00;
  let m1 = i01;
  let m3 = i10;
  let m4 = i11;
  if (p.crop) {
    // source point = K q + k: K = diag(w / 48, h / 48), k = corner + half a source pixel step - 0.5
    const sx = p.crop.w / S;
    const sy = p.crop.h / S;
    m0 *= sx;
    m1 *= sx;
    m2 = m2 * sx + p.crop.x + 0.5 * sx - 0.5;
    m3 *= sy;
    m4 *= sy;
    m5 = m5 * sy + p.crop.y + 0.5 * sy - 0.5;
  }
  out[0] = m0;
  out[1] = m1;
  out[2] = m2;
  out[3] = m3;
  out[4] = m4;
  out[5] = m5;
  return out;
}

/**
 * Warps one image: output pixel (x, y) = bilinear sample of the source at `m` (x, y) ({@link affineMatrix}'s
 * convention), source coordinates clamped to [0, 47] (replicated edges), written as float32 value / 255 in [0, 1].
 * Integer sample points give exactly pixel / 255 (the values of src/data/preprocess.ts writeImage). No allocation.
 *
 * @param src `[N, 48, 48]` uint8 images; the image starts at `srcOffset` (row * 2304).
 * @param out float32 buffer; the `[48, 48]` result is written at `outOffset`.
 * @param m 2x3 output-to-source matrix, 6 entries.
 */
export function warpAffine(src: Uint8Array, srcOffset: number, out: Float32Array, outOffset: number, m: ArrayLike<number>): void {
  const m0 = m[0];
  const m1 = m[1];
  const m2 = m[2];
  const m3 = m[3];
  const m4 = m[4];
  const m5 = m[5];
  const last = S - 1;
  for (let r = 0; r < S; r++) {
    const bx = m1 * r + m2;
    const by = m4 * r + m5;
    const o = outOffset + r * S;
    for (let c = 0; c < S; c++) {
      let x = bx + m0 * c;
      let y = by + m3 * c;
      x = x > 0 ? (x < last ? x : last) : 0;
      y = y > 0 ? (y < last ? y : last) : 0;
      const xi = x | 0;
      const yi = y | 0;
      const fx = x - xi;
      const fy = y - yi;
      const i = srcOffset + yi * S + xi;
      const dx = xi < last ? 1 : 0;
      const dy = yi < last ? S : 0;
      const p00 = src[i];
      const p01 = src[i + dx];
      const p10 = src[i + dy];
      const p11 = src[i + dy + dx];
      const top = p00 + fx * (p01 - p00);
      const bottom = p10 + fx * (p11 - p10);
      out[o + c] = (top + fy * (bottom - top)) / 255;
    }
  }
}

/**
 * Draws a random resized crop as torchvision's RandomResizedCrop.get_params (the crop of Khaireddin & Chen 2021,
 * usef-kh/fer data/fer2013.py): up to 10 tries of area = U(scale[0], scale[1]) x 2304 (one `uniform()`), width / height
 * = exp(U(log ratio[0], log ratio[1])) (one `uniform()`), w = round(sqrt(area ratio)), h = round(sqrt(area / ratio));
 * the first with 0 < w, h <= 48 is placed at y = int(48 - h + 1), then x = int(48 - w + 1). When no try fits: the
 * largest centred crop whose ratio is within bounds (the whole image when the bounds contain 1); no further draws.
 * @param box written with the crop, px. @returns `box`.
 */
export function drawCrop(rng: Rng, crop: Crop, box: CropBox): CropBox {
  const area = S * S;
  const lr0 = Math.log(crop.ratio[0]);
  const lr1 = Math.log(crop.ratio[1]);
  for (let t = 0; t < TRIES; t++) {
    const target = area * (crop.scale[0] + (crop.scale[1] - crop.scale[0]) * rng.uniform());
    const ratio = Math.exp(lr0 + (lr1 - lr0) * rng.uniform());
    const w = Math.round(Math.sqrt(target * ratio));
    const h = Math.round(Math.sqrt(target / ratio));
    if (w > 0 && w <= S && h > 0 && h <= S) {
      box.y = rng.int(S - h + 1);
      box.x = rng.int(S - w + 1);
      box.w = w;
      box.h = h;
      return box;
    }
  }
  let w = S;
  let h = S;
  if (1 < crop.ratio[0]) h = Math.round(S / crop.ratio[0]);
  else if (1 > crop.ratio[1]) w = Math.round(S * crop.ratio[1]);
  box.x = (S - w) >> 1;
  box.y = (S - h) >> 1;
  box.w = w;
  box.h = h;
  return box;
}

/**
 * Random erasing (Zhong et al. 2017, arXiv 1708.04896), sampled as torchvision's RandomErasing: one `uniform()`, and
 * only when it is < p, up to 10 tries of area = U(area[0], area[1]) x 2304 (one `uniform()`), height / width =
 * exp(U(log ratio[0], log ratio[1])) (one `uniform()`), h = round(sqrt(area ratio)), w = round(sqrt(area / ratio));
 * the first with h < 48 and w < 48 is placed at row y = int(48 - h + 1), then column x = int(48 - w + 1), and
 * filled with `value`, or for 'random' with one `uniform()` per erased pixel in row-major order. No try fitting
 * leaves the image as it is. No allocation.
 *
 * @param out float32 images in [0, 1]; the `[48, 48]` image at `offset` is erased in place.
 * @param box when given, receives [x, y, w, h] (px) of the erased rectangle.
 * @returns whether a rectangle was erased.
 */
export function randomErase(out: Float32Array, offset: number, rng: Rng, e: Erasing, box?: Int32Array): boolean {
  if (!(rng.uniform() < e.p)) return false;
  const area = S * S;
  const lr0 = Math.log(e.ratio[0]);
  const lr1 = Math.log(e.ratio[1]);
  for (let t = 0; t < TRIES; t++) {
    const target = area * (e.area[0] + (e.area[1] - e.area[0]) * rng.uniform());
    const ratio = Math.exp(lr0 + (lr1 - lr0) * rng.uniform());
    const h = Math.round(Math.sqrt(target * ratio));
    const w = Math.round(Math.sqrt(target / ratio));
    if (!(h < S && w < S)) continue;
    const y = rng.int(S - h + 1);
    const x = rng.int(S - w + 1);
    const random = e.value === 'random';
    const v = random ? 0 : (e.value as number);
    for (let r = y; r < y + h; r++) {
      const o = offset + r * S;
      for (let c = x; c < x + w; c++) out[o + c] = random ? rng.uniform() : v;
    }
    if (box) {
      box[0] = x;
      box[1] = y;
      box[2] = w;
      box[3] = h;
    }
    return true;
  }
  return false;
}

/** Whether `a` turns on a knob beyond flip and shift (which then need an {@link Augmenter}). */
export function needsAugmenter(a: Augment): boolean {
  return !!(a.rotation || a.scale || a.translate || a.skew || a.crop || a.erasing);
}

/** @throws Error when `a` names a preset whose knobs were not resolved (a preset must not be silently ignored). */
function checkResolved(a: Augment): void {
  const knobs = [a.rotation, a.scale, a.translate, a.skew, a.crop, a.erasing];
  if (a.preset && knobs.some((k) => k === undefined))
    throw new Error(`augment preset '${a.preset}' is not resolved: parse the settings with AugmentSchema (resolveAugment in src/train/settings.ts)`);
}

/**
 * The augmenter for `a`, or undefined when only flip and shift are on (TrainBatches then keeps its own flip / shift
 * code, so those runs draw and write exactly as before the other knobs existed).
 * @throws Error when `a` names a preset whose knobs were not resolved.
 */
export function createAugmenter(a: Augment): Augmenter | undefined {
  checkResolved(a);
  return needsAugmenter(a) ? new Augmenter(a) : undefined;
}

/**
 * Per-image augmentation for the knobs beyond flip and shift: draws one image's parameters from the run's Rng and
 * writes the image. Preallocated: no allocation per image.
 *
 * Draw order per image (each only when its knob is on): flip `uniform() < 0.5`; shift dx then dy, each
 * `int(2 shift + 1) - shift` (these two exactly as TrainBatches without the new knobs); crop ({@link drawCrop});
 * angle `rotation (2 uniform() - 1)`; zoom `1 + scale (2 uniform() - 1)`; shear kx then ky, each
 * `skew (2 uniform() - 1)`; translation tx then ty, each `48 translate (2 uniform() - 1)` px (added to dx, dy);
 * erasing ({@link randomErase}).
 */
export class Augmenter {
  private readonly matrix = new Float64Array(6);
  private readonly box: CropBox = { x: 0, y: 0, w: S, h: S };
  private readonly params: AffineParams & Required<Omit<AffineParams, 'crop'>> = {
    flip: false,
    angle: 0,
    scale: 1,
    shearX: 0,
    shearY: 0,
    tx: 0,
    ty: 0,
    crop: null,
  };
  /** Whether any geometric knob is on (else flip / shift go through writeImage, erasing after). */
  private readonly warp: boolean;

  /**
   * @param a resolved augmentation settings (AugmentSchema's output, resolveAugment).
   * @throws Error when `a` names a preset but lacks its resolved knobs (not passed through AugmentSchema).
   */
  constructor(private readonly a: Augment) {
    checkResolved(a);
    this.warp = !!(a.rotation || a.scale || a.translate || a.skew || a.crop);
  }

  /**
   * Draws image `row`'s transformation from `rng` (order in the class comment) and writes it.
   * @param pixels `[N, 48, 48]` uint8 images. @param out float32 batch buffer; `[48, 48]` in [0, 1] written at `offset`.
   */
  write(rng: Rng, pixels: Uint8Array, row: number, out: Float32Array, offset: number): void {
    const a = this.a;
    const p = this.params;
    const flip = a.flip && rng.uniform() < 0.5;
    const dx = a.shift ? rng.int(2 * a.shift + 1) - a.shift : 0;
    const dy = a.shift ? rng.int(2 * a.shift + 1) - a.shift : 0;
    if (!this.warp) {
      writeImage(pixels, row, out, offset, flip, dx, dy);
    } else {
      p.flip = flip;
      p.crop = a.crop ? drawCrop(rng, a.crop, this.box) : null;
      p.angle = a.rotation ? a.rotation * (2 * rng.uniform() - 1) : 0;
      p.scale = a.scale ? 1 + a.scale * (2 * rng.uniform() - 1) : 1;
      p.shearX = a.skew ? a.skew * (2 * rng.uniform() - 1) : 0;
      p.shearY = a.skew ? a.skew * (2 * rng.uniform() - 1) : 0;
      p.tx = dx + (a.translate ? S * a.translate * (2 * rng.uniform() - 1) : 0);
      p.ty = dy + (a.translate ? S * a.translate * (2 * rng.uniform() - 1) : 0);
      affineMatrix(p, this.matrix);
      warpAffine(pixels, row * IMAGE_PIXELS, out, offset, this.matrix);
    }
    if (a.erasing) randomErase(out, offset, rng, a.erasing);
  }
}
