// Convolution and matrix-multiply kernels for ferlab's wasm training path (AssemblyScript, wasm SIMD).
//
// Every tensor is float32, row-major, NHWC, addressed by byte pointers into the tfjs wasm backend's memory.
// These kernels cover forward convolution, its two gradients and the dense layers' matrix multiplies:
//   packWeights  [T, I, O] filters -> panels [ceil(O/8)][T][I][8] (or transposed: [ceil(I/8)][T][O][8]), zero-padded
//   im2col       patches [N*OH*OW, KH*KW*C] (zeros in the padding), for convolutions with few input channels
//   igemm        out[m, j] = sum over taps t and k < K of src_t(m)[k] * w[t, k, j]       (implicit GEMM)
//   wgrad        dW[t, c, j] = sum over output pixels m of x_t(m)[c] * dy[m, j]         (weight gradient)
//   wgradC1      dW for one input channel, stride 1: 3 taps x 8 columns per tile straight from dy
//   gatherTap    the rows of x_t and dy where tap t reads inside the image, for wgrad on small maps
// src_t(m) is the source pixel that tap t of output pixel m reads, or a row of zeros in the padding.
// The micro-kernel is 4 rows x 8 columns (8 v128 accumulators), fed by 4 broadcast loads and 2 vector loads per
// step: the shape that fits x64's 16 xmm registers. Weight panels are contiguous per 8 output columns so the
// kernel streams them; wgrad repacks each chunk of pixels into the same streaming layout.

// @ts-ignore: decorator
@inline function storeLanes(p: usize, v0: v128, v1: v128, count: i32): void {
  if (count > 0) store<f32>(p, f32x4.extract_lane(v0, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v0, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v0, 2), 8);
  if (count > 3) store<f32>(p, f32x4.extract_lane(v0, 3), 12);
  if (count > 4) store<f32>(p, f32x4.extract_lane(v1, 0), 16);
  if (count > 5) store<f32>(p, f32x4.extract_lane(v1, 1), 20);
  if (count > 6) store<f32>(p, f32x4.extract_lane(v1, 2), 24);
  if (count > 7) store<f32>(p, f32x4.extract_lane(v1, 3), 28);
}

/**
 * Packs filters w [T, I, O] (HWIO flattened over taps) into 8-column panels for igemm.
 * transpose = 0: out[p][t][i][l] = w[t, i, 8p + l]  (0 when 8p + l >= O)      forward: K = I, J = O
 * transpose = 1: out[p][t][o][l] = w[t, 8p + l, o]  (0 when 8p + l >= I)      input gradient: K = O, J = I
 */
export function packWeights(w: usize, T: i32, I: i32, O: i32, transpose: i32, out: usize): void {
  const J = transpose ? I : O;
  const K = transpose ? O : I;
  const panels = (J + 7) >> 3;
  let dst = out;
  for (let p = 0; p < panels; p++) {
    const j0 = p << 3;
    const full = j0 + 8 <= J;
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < K; k++) {
        if (!transpose && full) {
          const s = w + (<usize>((t * I + k) * O + j0) << 2);
          v128.store(dst, v128.load(s));
          v128.store(dst, v128.load(s, 16), 16);
        } else {
          for (let l = 0; l < 8; l++) {
            const j = j0 + l;
            let v: f32 = 0;
            if (j < J) v = transpose ? load<f32>(w + (<usize>((t * I + j) * O + k) << 2)) : load<f32>(w + (<usize>((t * I + k) * O + j) << 2));
            store<f32>(dst + (<usize>l << 2), v);
          }
        }
        dst += 32;
      }
    }
  }
}

/** Patches of x [N, IH, IW, C] for a KHxKW window: out [N*OH*OW, KH*KW*C], zeros where the window is in the padding. */
export function im2col(
  x: usize, N: i32, IH: i32, IW: i32, C: i32, KH: i32, KW: i32, OH: i32, OW: i32,
  sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, out: usize,
): void {
  const cb = <usize>C << 2;
  let dst = out;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let kh = 0; kh < KH; kh++) {
          const iy = oy * sh + kh * dh - pt;
          for (let kw = 0; kw < KW; kw++) {
            const ix = ox * sw + kw * dw - pl;
            const inside = iy >= 0 && iy < IH && ix >= 0 && ix < IW;
            if (C == 1) store<f32>(dst, inside ? load<f32>(x + (<usize>((n * IH + iy) * IW + ix) << 2)) : 0);
            else if (inside) memory.copy(dst, x + <usize>((n * IH + iy) * IW + ix) * cb, cb);
            else memory.fill(dst, 0, cb);
            dst += cb;
          }
        }
      }
    }
  }
}

/** Output row of igemm's row m: m itself, or for position-major rows image m % N at position m / N (of P per image). */
// @ts-ignore: decorator
@inline function outIndex(m: i32, posMajor: bool, N: i32, P: i32): usize {
  return posMajor ? <usize>((m % N) * P + m / N) : <usize>m;
}

/**
 * Implicit-GEMM convolution: out [N, OH, OW, J] from src [N, IH, IW, K] and panels wp from packWeights (Jp columns).
 * mode 0 (forward conv): tap (kh, kw) of output (oy, ox) reads src at iy = oy*sh + kh*dh - pt, ix = ox*sw + kw*dw - pl.
 * mode 1 (input gradient, src = dy): it reads src at ((oy + pt - kh*dh) / sh, (ox + pl - kw*dw) / sw) when both
 *   divisions are exact: the transposed convolution.
 * Out-of-range taps read `zero` (>= K floats of zeros). `ptrs` is scratch for 4 * KH * KW pointers.
 * mode | 2: position-major rows: the 4 rows of a micro-kernel block are 4 images at the same output position
 *   (row m is image m % N at position m / N), so on small padded maps (3x3: 32 of 81 taps in the padding) the
 *   block's padding taps coincide and are skipped. A tap whose 4 pointers all read `zero` is skipped in either order;
 *   each output still sums its taps in ascending order, so skipping changes no result (the skipped products are 0).
 */
export function igemm(
  mode: i32, src: usize, N: i32, IH: i32, IW: i32, K: i32,
  wp: usize, KH: i32, KW: i32, J: i32,
  out: usize, OH: i32, OW: i32,
  sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32,
  zero: usize, ptrs: usize,
): void {
  const T = KH * KW;
  const M = N * OH * OW;
  const rowBytes = <usize>K << 2;
  const panelBytes = (<usize>T * rowBytes) << 3;
  const outRow = <usize>J << 2;
  const posMajor = (mode & 2) != 0;
  const transposed = (mode & 1) != 0;
  const tapBytes = rowBytes << 3;
  for (let m0 = 0; m0 < M; m0 += 4) {
    const rows = min(4, M - m0);
    for (let r = 0; r < 4; r++) {
      const m = m0 + min(r, rows - 1);
      const pix = posMajor ? m / N : m % (OH * OW);
      const ox = pix % OW;
      const oy = pix / OW;
      const n = posMajor ? m % N : m / (OH * OW);
      for (let kh = 0; kh < KH; kh++) {
        let iy: i32;
        let vy: bool;
        if (!transposed) {
          iy = oy * sh + kh * dh - pt;
          vy = iy >= 0 && iy < IH;
        } else {
          const ty = oy + pt - kh * dh;
          iy = ty / sh;
          vy = ty >= 0 && ty % sh == 0 && iy < IH;
        }
        for (let kw = 0; kw < KW; kw++) {
          let ix: i32;
          let vx: bool;
          if (!transposed) {
            ix = ox * sw + kw * dw - pl;
            vx = ix >= 0 && ix < IW;
          } else {
            const tx = ox + pl - kw * dw;
            ix = tx / sw;
            vx = tx >= 0 && tx % sw == 0 && ix < IW;
          }
          const p = vy && vx ? src + <usize>((n * IH + iy) * IW + ix) * rowBytes : zero;
          store<usize>(ptrs + (<usize>((kh * KW + kw) * 4 + r) << 2), p);
        }
      }
    }
    for (let j0 = 0; j0 < J; j0 += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let wr = wp + <usize>(j0 >> 3) * panelBytes;
      for (let t = 0; t < T; t++) {
        const pp = ptrs + (<usize>t << 4);
        const p0 = load<usize>(pp);
        const p1 = load<usize>(pp, 4);
        const p2 = load<usize>(pp, 8);
        const p3 = load<usize>(pp, 12);
        if (p0 == zero && p1 == zero && p2 == zero && p3 == zero) {
          wr += tapBytes; // every row of the block reads this tap in the padding
          continue;
        }
        for (let k: usize = 0; k < rowBytes; k += 4) {
          const b0 = v128.load(wr);
          const b1 = v128.load(wr, 16);
          let a = v128.load32_splat(p0 + k);
          c00 = MADD(a, b0, c00);
          c01 = MADD(a, b1, c01);
          a = v128.load32_splat(p1 + k);
          c10 = MADD(a, b0, c10);
          c11 = MADD(a, b1, c11);
          a = v128.load32_splat(p2 + k);
          c20 = MADD(a, b0, c20);
          c21 = MADD(a, b1, c21);
          a = v128.load32_splat(p3 + k);
          c30 = MADD(a, b0, c30);
          c31 = MADD(a, b1, c31);
          wr += 32;
        }
      }
      const jb = <usize>j0 << 2;
      const o0 = out + outIndex(m0, posMajor, N, OH * OW) * outRow + jb;
      const o1 = out + outIndex(m0 + 1, posMajor, N, OH * OW) * outRow + jb;
      const o2 = out + outIndex(m0 + 2, posMajor, N, OH * OW) * outRow + jb;
      const o3 = out + outIndex(m0 + 3, posMajor, N, OH * OW) * outRow + jb;
      if (j0 + 8 <= J) {
        v128.store(o0, c00);
        v128.store(o0, c01, 16);
        if (rows > 1) {
          v128.store(o1, c10);
          v128.store(o1, c11, 16);
        }
        if (rows > 2) {
          v128.store(o2, c20);
          v128.store(o2, c21, 16);
        }
        if (rows > 3) {
          v128.store(o3, c30);
          v128.store(o3, c31, 16);
        }
      } else {
        const cnt = J - j0;
        storeLanes(o0, c00, c01, cnt);
        if (rows > 1) storeLanes(o1, c10, c11, cnt);
        if (rows > 2) storeLanes(o2, c20, c21, cnt);
        if (rows > 3) storeLanes(o3, c30, c31, cnt);
      }
    }
  }
}

/**
 * Rows of one tap (kh, kw) of a convolution that read inside the image, for its weight gradient on small maps: for every
 * output pixel m = (n, oy, ox) in order whose tap input (oy*sh + kh*dh - pt, ox*sw + kw*dw - pl) is inside x, copies that
 * input row (C floats) to xo and dy's row m (J floats) to dyo. Returns the number of rows copied. Summing x (x) dy over
 * these rows gives the tap's weight gradient with the same terms in the same order as over all patches, minus the
 * padding's zero terms.
 */
export function gatherTap(
  x: usize, N: i32, IH: i32, IW: i32, C: i32, dy: usize, OH: i32, OW: i32, J: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, xo: usize, dyo: usize,
): i32 {
  const cb = <usize>C << 2;
  const jb = <usize>J << 2;
  let rows = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const iy = oy * sh + kh * dh - pt;
      if (iy < 0 || iy >= IH) continue;
      for (let ox = 0; ox < OW; ox++) {
        const ix = ox * sw + kw * dw - pl;
        if (ix < 0 || ix >= IW) continue;
        memory.copy(xo + <usize>rows * cb, x + <usize>((n * IH + iy) * IW + ix) * cb, cb);
        memory.copy(dyo + <usize>rows * jb, dy + <usize>((n * OH + oy) * OW + ox) * jb, jb);
        rows++;
      }
    }
  }
  return rows;
}

/**
 * Weight gradient of a stride-1, undilated convolution with one input channel (a network's first layer on grayscale
 * faces): out [KH*KW, 1, J], out[t, 0, j] = sum over output pixels (n, oy, ox) of x[n, oy + kh - pt, ox + kw - pl] *
 * dy[n, oy, ox, j] (0 in the padding). J must be a multiple of 8. Each image is first copied into a zero-padded plane
 * `xp` ((OH + KH - 1) * (OW + KW - 1) floats); then for every group of 3 taps and 8 columns a 3x8 tile accumulates over
 * the image's pixels straight from dy, without the patch matrix and repacking of the general path. Every output sums
 * the same terms, zeros of the padding included, in the same order (pixel by pixel) as im2col + wgrad.
 */
export function wgradC1(
  x: usize, N: i32, IH: i32, IW: i32, dy: usize, OH: i32, OW: i32, J: i32,
  KH: i32, KW: i32, pt: i32, pl: i32, xp: usize, out: usize,
): void {
  const T = KH * KW;
  const PH = OH + KH - 1;
  const PW = OW + KW - 1;
  const jb = <usize>J << 2;
  memory.fill(out, 0, <usize>T * jb);
  for (let n = 0; n < N; n++) {
    for (let a = 0; a < PH; a++) {
      const iy = a - pt;
      for (let b = 0; b < PW; b++) {
        const ix = b - pl;
        const v: f32 = iy >= 0 && iy < IH && ix >= 0 && ix < IW ? load<f32>(x + (<usize>((n * IH + iy) * IW + ix) << 2)) : 0;
        store<f32>(xp + (<usize>(a * PW + b) << 2), v);
      }
    }
    const dyImage = dy + <usize>n * <usize>(OH * OW) * jb;
    for (let t0 = 0; t0 < T; t0 += 3) {
      const cnt = min(3, T - t0);
      // plane offsets of the group's taps (a missing third tap repeats the last one; its sums are not stored)
      const t1 = t0 + min(1, cnt - 1);
      const t2 = t0 + min(2, cnt - 1);
      const o0 = xp + (<usize>((t0 / KW) * PW + t0 % KW) << 2);
      const o1 = xp + (<usize>((t1 / KW) * PW + t1 % KW) << 2);
      const o2 = xp + (<usize>((t2 / KW) * PW + t2 % KW) << 2);
      for (let j0 = 0; j0 < J; j0 += 8) {
        const a0p = out + <usize>t0 * jb + (<usize>j0 << 2);
        const a1p = out + <usize>t1 * jb + (<usize>j0 << 2);
        const a2p = out + <usize>t2 * jb + (<usize>j0 << 2);
        let c00 = v128.load(a0p), c01 = v128.load(a0p, 16);
        let c10 = v128.load(a1p), c11 = v128.load(a1p, 16);
        let c20 = v128.load(a2p), c21 = v128.load(a2p, 16);
        let d = dyImage + (<usize>j0 << 2);
        for (let oy = 0; oy < OH; oy++) {
          const row = <usize>(oy * PW) << 2;
          for (let ox: usize = 0; ox < <usize>OW << 2; ox += 4) {
            const b0 = v128.load(d);
            const b1 = v128.load(d, 16);
            let s = v128.load32_splat(o0 + row + ox);
            c00 = MADD(s, b0, c00);
            c01 = MADD(s, b1, c01);
            s = v128.load32_splat(o1 + row + ox);
            c10 = MADD(s, b0, c10);
            c11 = MADD(s, b1, c11);
            s = v128.load32_splat(o2 + row + ox);
            c20 = MADD(s, b0, c20);
            c21 = MADD(s, b1, c21);
            d += jb;
          }
        }
        // store the group's taps in reverse, so a repeated tap keeps its first (real) sums
        if (cnt > 2) {
          v128.store(a2p, c20);
          v128.store(a2p, c21, 16);
        }
        if (cnt > 1) {
          v128.store(a1p, c10);
          v128.store(a1p, c11, 16);
        }
        v128.store(a0p, c00);
        v128.store(a0p, c01, 16);
      }
    }
  }
}

/**
 * Scratch bytes wgrad needs for a chunk of R output rows x CW output columns (see wgrad).
 */
export function wgradScratchBytes(C: i32, J: i32, KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, R: i32, CW: i32): i32 {
  const C4 = (C + 3) >> 2;
  const J8 = (J + 7) >> 3;
  const XR = (R - 1) * sh + (KH - 1) * dh + 1;
  const XC = (CW - 1) * sw + (KW - 1) * dw + 1;
  return KH * KW * C4 * J8 * 128 + J8 * R * XC * 32 + C4 * XR * XC * 16 + 64;
}

/**
 * Weight gradient: out [KH*KW, C, J], out[t, c, j] = sum over output pixels (n, oy, ox) of
 * x[n, oy*sh + kh*dh - pt, ox*sw + kw*dw - pl, c] * dy[n, oy, ox, j] (taps in the padding contribute nothing).
 * x [N, IH, IW, C]; dy [N, OH, OW, J] with rows of `dyStride` floats. Output pixels are processed in chunks of
 * R rows x CW columns: each chunk of dy is repacked into 8-column panels [J8][R*CW][8] and the chunk's input window
 * into zero-padded 4-channel planes [C4][XR][XC][4], so that every (tap, 4 channels, 8 columns) tile accumulates
 * over the chunk with sequential loads and no bounds checks. `work` holds wgradScratchBytes(...) bytes.
 */
export function wgrad(
  x: usize, N: i32, IH: i32, IW: i32, C: i32,
  dy: usize, OH: i32, OW: i32, J: i32, dyStride: i32,
  KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32,
  R: i32, CW: i32, work: usize, out: usize,
): void {
  const T = KH * KW;
  const C4 = (C + 3) >> 2;
  const J8 = (J + 7) >> 3;
  const XR = (R - 1) * sh + (KH - 1) * dh + 1;
  const XC = (CW - 1) * sw + (KW - 1) * dw + 1;
  // dy panels use the window's row pitch XC (zeros past the chunk's columns) so that with unit strides a whole chunk is
  // one run of consecutive pixels in both x and dy: the halo columns cost a few zero FMAs, not a loop restart per row
  const P = R * XC;
  const acc = (work + 63) & ~63;
  const dyp = acc + <usize>(T * C4 * J8 * 128);
  const xp = dyp + <usize>(J8 * P * 32);
  memory.fill(acc, 0, <usize>(T * C4 * J8 * 128));
  const zero = f32x4.splat(0);
  for (let n = 0; n < N; n++) {
    for (let oy0 = 0; oy0 < OH; oy0 += R) {
      const rr = min(R, OH - oy0);
      for (let ox0 = 0; ox0 < OW; ox0 += CW) {
        const cw = min(CW, OW - ox0);
        // dy chunk -> [J8][P][8] (pixel q = row * XC + col; zeros for col >= cw)
        for (let r = 0; r < rr; r++) {
          for (let c = 0; c < XC; c++) {
            const s = dy + (<usize>(((n * OH + oy0 + r) * OW + ox0 + c) * dyStride) << 2);
            const q = r * XC + c;
            for (let p = 0; p < J8; p++) {
              const d = dyp + (<usize>(p * P + q) << 5);
              const j = p << 3;
              if (c >= cw) {
                v128.store(d, zero);
                v128.store(d, zero, 16);
              } else if (j + 8 <= J) {
                v128.store(d, v128.load(s + (<usize>j << 2)));
                v128.store(d, v128.load(s + (<usize>j << 2), 16), 16);
              } else {
                for (let l = 0; l < 8; l++) store<f32>(d + (<usize>l << 2), j + l < J ? load<f32>(s + (<usize>(j + l) << 2)) : 0);
              }
            }
          }
        }
        // input window -> [C4][XR][XC][4], zeros outside the image and beyond C
        const xr1 = (rr - 1) * sh + (KH - 1) * dh + 1;
        const xc1 = (cw - 1) * sw + (KW - 1) * dw + 1;
        for (let a = 0; a < xr1; a++) {
          const iy = oy0 * sh - pt + a;
          for (let b = 0; b < xc1; b++) {
            const ix = ox0 * sw - pl + b;
            const inside = iy >= 0 && iy < IH && ix >= 0 && ix < IW;
            const s = x + (<usize>(((n * IH + iy) * IW + ix) * C) << 2);
            for (let p = 0; p < C4; p++) {
              const d = xp + (<usize>((p * XR + a) * XC + b) << 4);
              const c = p << 2;
              if (!inside) v128.store(d, zero);
              else if (c + 4 <= C) v128.store(d, v128.load(s + (<usize>c << 2)));
              else for (let l = 0; l < 4; l++) store<f32>(d + (<usize>l << 2), c + l < C ? load<f32>(s + (<usize>(c + l) << 2)) : 0);
            }
          }
        }
        // accumulate every (tap, channel block, column panel) tile over the chunk
        const xStep = <usize>sw << 4;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const t = kh * KW + kw;
            for (let p = 0; p < C4; p++) {
              const xplane = xp + (<usize>((p * XR + kh * dh) * XC + kw * dw) << 4);
              for (let g = 0; g < J8; g++) {
                const ap = acc + (<usize>((t * C4 + p) * J8 + g) << 7);
                let c00 = v128.load(ap), c01 = v128.load(ap, 16), c10 = v128.load(ap, 32), c11 = v128.load(ap, 48);
                let c20 = v128.load(ap, 64), c21 = v128.load(ap, 80), c30 = v128.load(ap, 96), c31 = v128.load(ap, 112);
                const dpanel = dyp + (<usize>(g * P) << 5);
                const unit = sh == 1 && sw == 1;
                for (let r = 0; r < rr; r++) {
                  let xs = xplane + (<usize>(r * sh * XC) << 4);
                  let ds = dpanel + (<usize>(r * XC) << 5);
                  const end = unit ? dpanel + (<usize>((rr - 1) * XC + cw) << 5) : ds + (<usize>cw << 5);
                  if (unit) r = rr; // one run over the whole chunk
                  while (ds < end) {
                    const b0 = v128.load(ds);
                    const b1 = v128.load(ds, 16);
                    let a = v128.load32_splat(xs);
                    c00 = MADD(a, b0, c00);
                    c01 = MADD(a, b1, c01);
                    a = v128.load32_splat(xs, 4);
                    c10 = MADD(a, b0, c10);
                    c11 = MADD(a, b1, c11);
                    a = v128.load32_splat(xs, 8);
                    c20 = MADD(a, b0, c20);
                    c21 = MADD(a, b1, c21);
                    a = v128.load32_splat(xs, 12);
                    c30 = MADD(a, b0, c30);
                    c31 = MADD(a, b1, c31);
                    xs += xStep;
                    ds += 32;
                  }
                }
                v128.store(ap, c00);
                v128.store(ap, c01, 16);
                v128.store(ap, c10, 32);
                v128.store(ap, c11, 48);
                v128.store(ap, c20, 64);
                v128.store(ap, c21, 80);
                v128.store(ap, c30, 96);
                v128.store(ap, c31, 112);
              }
            }
          }
        }
      }
    }
  }
  // tiles [T][C4][J8][4][8] -> out [T][C][J]
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < J; j++) {
        const s = acc + (<usize>((((t * C4 + (c >> 2)) * J8 + (j >> 3)) << 5) + ((c & 3) << 3) + (j & 7)) << 2);
        store<f32>(out + (<usize>((t * C + c) * J + j) << 2), load<f32>(s));
      }
    }
  }
}
