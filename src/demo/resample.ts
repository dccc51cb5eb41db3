/**
 * The browser demo's version of src/data/image.ts `toFerPixels` for one face crop: RGBA pixels from a canvas ->
 * 48x48 8-bit grayscale, made the way sharp (libvips) makes them in `predict`, so the page feeds the model what
 * `predict` would.
 *
 * ferlab's own code because the page has no sharp: a canvas' `drawImage` resampling is browser-defined (bilinear or
 * box filters, no Lanczos), so the two steps are written out here after libvips' definitions:
 * - grayscale: libvips `colourspace(B_W)` from sRGB = Rec. 709 luminance computed in linear light and sRGB-encoded
 *   again (libvips libvips/colour/sRGB2scRGB.c, scRGB2BW.c); matches sharp within one grey level;
 * - resize: separable; shrinking with Lanczos-3 (a = 3) stretched by the scale factor (antialiasing), sample centres
 *   aligned as libvips `reduce` aligns them; enlarging (faces under 48 px) with a Catmull-Rom bicubic, as libvips
 *   enlarges (see weights1d).
 * test/demo-resample.test.ts compares the result with toFerPixels on real photos.
 *
 * No Node imports: the page bundle (src/demo/server.ts) includes this file.
 */

/** Side of the model input, pixels (FER2013's 48x48; src/data/classes.ts IMAGE_SIZE, repeated to keep this file DOM-only). */
export const INPUT_SIDE = 48;

const toLinear = new Float64Array(256);
for (let v = 0; v < 256; v++) {
  const c = v / 255;
  toLinear[v] = c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

/** sRGB encoding of a linear value in [0, 1], scaled to [0, 255] (not rounded). */
function fromLinear(y: number): number {
  const c = y <= 0.0031308 ? 12.92 * y : 1.055 * Math.pow(y, 1 / 2.4) - 0.055;
  return 255 * Math.min(1, Math.max(0, c));
}

/**
 * Grayscale of RGBA pixels as libvips makes it from sRGB: Y = 0.2126 R + 0.7152 G + 0.0722 B in linear light,
 * sRGB-encoded, 0-255 (alpha ignored).
 * @param rgba `[h, w, 4]` uint8 (canvas ImageData.data). @returns `[h, w]` float32 in [0, 255], not rounded.
 */
export function grayFromRgba(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    out[i] = fromLinear(0.2126 * toLinear[rgba[4 * i]] + 0.7152 * toLinear[rgba[4 * i + 1]] + 0.0722 * toLinear[rgba[4 * i + 2]]);
  }
  return out;
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/** Weights of a 1-D Lanczos-3 resampling from `n` to `m` samples: for each output, first source index and weights. */
function catmullRom(x: number): number {
  const a = Math.abs(x);
  if (a < 1) return 1.5 * a * a * a - 2.5 * a * a + 1;
  if (a < 2) return -0.5 * a * a * a + 2.5 * a * a - 4 * a + 2;
  return 0;
}

/**
 * Weights of a 1-D resampling from `n` to `m` samples: for each output, first source index and weights (edge samples
 * repeated beyond the borders). Shrinking (m < n): Lanczos-3 stretched by the scale, sample centres aligned
 * ((i + 0.5) * scale - 0.5), as libvips `reduce`. Enlarging (m > n): libvips (through sharp's `resize`) interpolates
 * with a bicubic (Catmull-Rom) at x = i * scale - 0.5 whatever the kernel; measured on sharp 0.35 / libvips 8.18
 * with step and random rows (within 1 grey level).
 */
function weights1d(n: number, m: number): Array<{ first: number; w: Float64Array }> {
  const scale = n / m;
  const enlarge = scale < 1;
  const stretch = Math.max(1, scale); // widen the kernel when shrinking (antialiasing)
  const kernel = enlarge ? catmullRom : lanczos3;
  const support = (enlarge ? 2 : 3) * stretch;
  const out: Array<{ first: number; w: Float64Array }> = [];
  for (let i = 0; i < m; i++) {
    const centre = enlarge ? i * scale - 0.5 : (i + 0.5) * scale - 0.5;
    const first = Math.ceil(centre - support);
    const last = Math.floor(centre + support);
    const w = new Float64Array(n);
    let sum = 0;
    for (let j = first; j <= last; j++) {
      const v = kernel((j - centre) / stretch);
      w[Math.min(n - 1, Math.max(0, j))] += v;
      sum += v;
    }
    let lo = 0;
    let hi = n - 1;
    while (lo < hi && w[lo] === 0) lo++;
    while (hi > lo && w[hi] === 0) hi--;
    out.push({ first: lo, w: w.slice(lo, hi + 1).map((v) => v / sum) });
  }
  return out;
}

/**
 * Separable Lanczos-3 resize of a single-channel image.
 * @param src `[sh, sw]` float32. @returns `[dh, dw]` float32 (not clamped or rounded).
 */
export function resizeLanczos3(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const wx = weights1d(sw, dw);
  const wy = weights1d(sh, dh);
  const tmp = new Float32Array(sh * dw);
  for (let y = 0; y < sh; y++)
    for (let x = 0; x < dw; x++) {
      const { first, w } = wx[x];
      let s = 0;
      for (let k = 0; k < w.length; k++) s += w[k] * src[y * sw + first + k];
      tmp[y * dw + x] = s;
    }
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const { first, w } = wy[y];
    for (let x = 0; x < dw; x++) {
      let s = 0;
      for (let k = 0; k < w.length; k++) s += w[k] * tmp[(first + k) * dw + x];
      out[y * dw + x] = s;
    }
  }
  return out;
}

/**
 * A face crop's RGBA pixels -> the 48x48 8-bit grayscale model input before pixel / 255 (as toFerPixels gives it).
 * @param rgba `[height, width, 4]` uint8 of the crop region (canvas getImageData of src/predict/geometry.ts
 *   faceCropBox). @returns `[48 * 48]` uint8, row-major.
 */
export function ferPixelsFromRgba(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Uint8Array {
  const small = resizeLanczos3(grayFromRgba(rgba, width, height), width, height, INPUT_SIDE, INPUT_SIDE);
  const out = new Uint8Array(small.length);
  for (let i = 0; i < small.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(small[i])));
  return out;
}
