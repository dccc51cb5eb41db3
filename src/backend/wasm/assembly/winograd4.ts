// Winograd F(4x4, 3x3) convolution (Lavin & Gray, arXiv 1509.09308, interpolation points 0, 1, -1, 2, -2 and
// infinity, the matrices of the paper and of NNPACK): each 4x4 output tile is A^T [ (G g G^T) . (B^T d B) ] A from a
// 6x6 input tile d and the 3x3 filter g, so the 144 multiplies of a direct 4x4 tile become 36 (4x fewer; F(2x2, 3x3)
// in winograd.ts saves 2.25x), spent in 36 GEMMs (one per transformed position) that run on igemm.
// Larger tiles trade float32 accuracy for fewer multiplies: the transforms' constants (up to 8) grow the rounding
// error. Measured against the direct convolution on deep's 24x24x32 -> 64 and 12x12x64 -> 128 layers (inputs and
// weights in [-0.5, 0.5]): max |error| / max |output| 7.5e-5 / 7.7e-5 (forward) and 2.1e-5 / 3.0e-5 (input gradient),
// against 3.5e-6 / 2.7e-6 and 2.3e-6 / 4.8e-6 for F(2x2, 3x3). Hence opt-in (FERLAB_WINOGRAD=4, kernels/conv.ts).
//   B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0 4 -4 -1 1 0;  0 -2 -1 2 1 0;  0 2 -1 -2 1 0;  0 4 0 -5 0 1]
//   G   = [1/4 0 0;  -1/6 -1/6 -1/6;  -1/6 1/6 -1/6;  1/24 1/12 1/6;  1/24 -1/12 1/6;  0 0 1]
//   A^T = [1 1 1 1 1 0;  0 1 -1 2 -2 0;  0 1 1 4 4 0;  0 1 -1 8 -8 1]
// Each 2D transform is two passes of a 1D one (columns, then rows), the matrix rows factored as in NNPACK (e.g. B^T
// rows 1 and 2 = (d4 - 4 d2) +- (d3 - 4 d1)). The column pass writes into the transform's own output buffer and the
// row pass transforms it in place: the module owns no linear memory of its own (it imports tfjs' heap), so there is
// no static scratch to hold a tile.

import { ld } from './winograd';

// G's rows applied to a column (a, b, c) of the filter, in float64
// @ts-ignore: decorator
@inline function g0(a: f64, b: f64, c: f64): f64 { return a / 4; }
// @ts-ignore: decorator
@inline function g1(a: f64, b: f64, c: f64): f64 { return -(a + b + c) / 6; }
// @ts-ignore: decorator
@inline function g2(a: f64, b: f64, c: f64): f64 { return -(a - b + c) / 6; }
// @ts-ignore: decorator
@inline function g3(a: f64, b: f64, c: f64): f64 { return a / 24 + b / 12 + c / 6; }
// @ts-ignore: decorator
@inline function g4(a: f64, b: f64, c: f64): f64 { return a / 24 - b / 12 + c / 6; }

/** Stores the 6 values G (a, b, c)^T as float32 at dst + i * stride, i = 0..5. */
// @ts-ignore: decorator
@inline function storeG(a: f64, b: f64, c: f64, dst: usize, stride: usize): void {
  store<f32>(dst, <f32>g0(a, b, c));
  store<f32>(dst + stride, <f32>g1(a, b, c));
  store<f32>(dst + 2 * stride, <f32>g2(a, b, c));
  store<f32>(dst + 3 * stride, <f32>g3(a, b, c));
  store<f32>(dst + 4 * stride, <f32>g4(a, b, c));
  store<f32>(dst + 5 * stride, <f32>c);
}

/**
 * Transformed filters U = G g G^T for every (k, j) pair, packed as igemm panels per position p = 6*i + j' (36):
 * out + p * (ceil(J/8) * K * 32 bytes) holds [ceil(J/8)][K][8]. transpose as winoFilter (winograd.ts): 0 = forward
 * (K = CI, J = CO), 1 = input gradient (K = CO, J = CI, filter rotated by 180 degrees). w is HWIO [3][3][CI][CO].
 * Computed in float64, stored as float32.
 */
export function winoFilter4(w: usize, CI: i32, CO: i32, transpose: i32, out: usize): void {
  const K = transpose ? CO : CI;
  const J = transpose ? CI : CO;
  const J8 = (J + 7) >> 3;
  const posBytes = <usize>(J8 * K) << 5;
  memory.fill(out, 0, posBytes * 36);
  const tap = <usize>(CI * CO) << 2;
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < J; j++) {
      // g[a][b] = tap 3a + b, read straight (forward) or rotated by 180 degrees with in/out swapped (input gradient)
      const s = w + (<usize>(transpose ? j * CO + k : k * CO + j) << 2);
      const t0 = transpose ? 8 : 0;
      const d: i32 = transpose ? -1 : 1;
      const a0 = <f64>load<f32>(s + <usize>t0 * tap), a1 = <f64>load<f32>(s + <usize>(t0 + d) * tap), a2 = <f64>load<f32>(s + <usize>(t0 + 2 * d) * tap);
      const b0 = <f64>load<f32>(s + <usize>(t0 + 3 * d) * tap), b1 = <f64>load<f32>(s + <usize>(t0 + 4 * d) * tap), b2 = <f64>load<f32>(s + <usize>(t0 + 5 * d) * tap);
      const c0 = <f64>load<f32>(s + <usize>(t0 + 6 * d) * tap), c1 = <f64>load<f32>(s + <usize>(t0 + 7 * d) * tap), c2 = <f64>load<f32>(s + <usize>(t0 + 8 * d) * tap);
      // rows a, b, c of g; t = G g (6 x 3), then U = t G^T row by row: row i of U at positions 6i .. 6i + 5
      const panel = out + <usize>(j >> 3) * (<usize>K << 5) + (<usize>k << 5) + (<usize>(j & 7) << 2);
      storeG(g0(a0, b0, c0), g0(a1, b1, c1), g0(a2, b2, c2), panel, posBytes);
      storeG(g1(a0, b0, c0), g1(a1, b1, c1), g1(a2, b2, c2), panel + 6 * posBytes, posBytes);
      storeG(g2(a0, b0, c0), g2(a1, b1, c1), g2(a2, b2, c2), panel + 12 * posBytes, posBytes);
      storeG(g3(a0, b0, c0), g3(a1, b1, c1), g3(a2, b2, c2), panel + 18 * posBytes, posBytes);
      storeG(g4(a0, b0, c0), g4(a1, b1, c1), g4(a2, b2, c2), panel + 24 * posBytes, posBytes);
      storeG(c0, c1, c2, panel + 30 * posBytes, posBytes);
    }
  }
}

/** Stores the 6 values B^T (z0 .. z5)^T at dst + i * stride, i = 0..5. */
// @ts-ignore: decorator
@inline function storeBT(z0: v128, z1: v128, z2: v128, z3: v128, z4: v128, z5: v128, dst: usize, stride: usize): void {
  const a = MADD(f32x4(-4, -4, -4, -4), z2, z4); // z4 - 4 z2
  const b = MADD(f32x4(-4, -4, -4, -4), z1, z3); // z3 - 4 z1
  const c = f32x4.sub(z4, z2);
  const e = f32x4.mul(f32x4(2, 2, 2, 2), f32x4.sub(z3, z1));
  v128.store(dst, MADD(f32x4(4, 4, 4, 4), z0, MADD(f32x4(-5, -5, -5, -5), z2, z4)));
  v128.store(dst + stride, f32x4.add(a, b));
  v128.store(dst + 2 * stride, f32x4.sub(a, b));
  v128.store(dst + 3 * stride, f32x4.add(c, e));
  v128.store(dst + 4 * stride, f32x4.sub(c, e));
  v128.store(dst + 5 * stride, MADD(f32x4(4, 4, 4, 4), z1, MADD(f32x4(-5, -5, -5, -5), z3, z5)));
}

/**
 * Input transform V = B^T d B of every 6x6 tile: x [N, H, W, C] (C a multiple of 4) -> out [36][N*TH*TW][C].
 * Tile (n, ty, tx) reads rows 4*ty - pt .. 4*ty - pt + 5 and columns 4*tx - pl .. + 5 (zeros outside the image).
 */
export function winoInput4(x: usize, N: i32, H: i32, W: i32, C: i32, pt: i32, pl: i32, TH: i32, TW: i32, out: usize): void {
  const TT = N * TH * TW;
  const posBytes = <usize>(TT * C) << 2;
  const rowBytes = <usize>(W * C) << 2;
  const pixBytes = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    for (let ty = 0; ty < TH; ty++) {
      const y0 = 4 * ty - pt;
      const r0 = y0 >= 0 && y0 < H, r1 = y0 + 1 >= 0 && y0 + 1 < H, r2 = y0 + 2 >= 0 && y0 + 2 < H;
      const r3 = y0 + 3 >= 0 && y0 + 3 < H, r4 = y0 + 4 >= 0 && y0 + 4 < H, r5 = y0 + 5 >= 0 && y0 + 5 < H;
      for (let tx = 0; tx < TW; tx++) {
        const x0 = 4 * tx - pl;
        const tile = (n * TH + ty) * TW + tx;
        const base = x + <usize>(n * H + y0) * rowBytes + <usize>x0 * pixBytes;
        const o = out + (<usize>(tile * C) << 2);
        for (let c: usize = 0; c < pixBytes; c += 16) {
          // t = B^T d column by column (column j of the tile to positions 6i + j), then V = t B row by row in place
          for (let j = 0; j < 6; j++) {
            const cj = x0 + j >= 0 && x0 + j < W;
            const p = base + c + <usize>j * pixBytes;
            storeBT(
              ld(p, r0 && cj),
              ld(p + rowBytes, r1 && cj),
              ld(p + 2 * rowBytes, r2 && cj),
              ld(p + 3 * rowBytes, r3 && cj),
              ld(p + 4 * rowBytes, r4 && cj),
              ld(p + 5 * rowBytes, r5 && cj),
              o + c + <usize>j * posBytes,
              6 * posBytes,
            );
          }
          for (let i = 0; i < 6; i++) {
            const q = o + c + <usize>(6 * i) * posBytes;
            storeBT(
              v128.load(q),
              v128.load(q + posBytes),
              v128.load(q + 2 * posBytes),
              v128.load(q + 3 * posBytes),
              v128.load(q + 4 * posBytes),
              v128.load(q + 5 * posBytes),
              q,
              posBytes,
            );
          }
        }
      }
    }
  }
}

/** Stores the first `n` (1..4) of the 4 values A^T (z0 .. z5)^T at dst + i * stride. */
// @ts-ignore: decorator
@inline function storeAT(z0: v128, z1: v128, z2: v128, z3: v128, z4: v128, z5: v128, dst: usize, stride: usize, n: i32): void {
  const s = f32x4.add(z1, z2), d = f32x4.sub(z1, z2);
  const S = f32x4.add(z3, z4), D = f32x4.sub(z3, z4);
  v128.store(dst, f32x4.add(f32x4.add(z0, s), S));
  if (n > 1) v128.store(dst + stride, MADD(f32x4(2, 2, 2, 2), D, d));
  if (n > 2) v128.store(dst + 2 * stride, MADD(f32x4(4, 4, 4, 4), S, s));
  if (n > 3) v128.store(dst + 3 * stride, f32x4.add(MADD(f32x4(8, 8, 8, 8), D, d), z5));
}

/**
 * Output transform Y = A^T m A: m [36][N*TH*TW][J] (J a multiple of 4; overwritten) -> out [N, OH, OW, J]; tile
 * (n, ty, tx) writes rows 4*ty .. 4*ty + 3 and columns 4*tx .. 4*tx + 3 where they are inside OH x OW.
 */
export function winoOutput4(m: usize, N: i32, TH: i32, TW: i32, OH: i32, OW: i32, J: i32, out: usize): void {
  const TT = N * TH * TW;
  const posBytes = <usize>(TT * J) << 2;
  const rowBytes = <usize>(OW * J) << 2;
  const pixBytes = <usize>J << 2;
  for (let n = 0; n < N; n++) {
    for (let ty = 0; ty < TH; ty++) {
      const oy = 4 * ty;
      const rows = min(4, OH - oy);
      for (let tx = 0; tx < TW; tx++) {
        const ox = 4 * tx;
        const cols = min(4, OW - ox);
        const tile = (n * TH + ty) * TW + tx;
        const s = m + (<usize>(tile * J) << 2);
        const o = out + <usize>(n * OH + oy) * rowBytes + <usize>ox * pixBytes;
        for (let c: usize = 0; c < pixBytes; c += 16) {
          // t = A^T m column by column, in place (rows 0..3 of column j at positions 6r + j), then Y = t A row by row
          for (let j = 0; j < 6; j++) {
            const q = s + c + <usize>j * posBytes;
            const step: usize = 6 * posBytes;
            storeAT(
              v128.load(q),
              v128.load(q + step),
              v128.load(q + 2 * step),
              v128.load(q + 3 * step),
              v128.load(q + 4 * step),
              v128.load(q + 5 * step),
              q,
              step,
              4,
            );
          }
          for (let r = 0; r < rows; r++) {
            const q = s + c + <usize>(6 * r) * posBytes;
            storeAT(
              v128.load(q),
              v128.load(q + posBytes),
              v128.load(q + 2 * posBytes),
              v128.load(q + 3 * posBytes),
              v128.load(q + 4 * posBytes),
              v128.load(q + 5 * posBytes),
              o + c + <usize>r * rowBytes,
              pixBytes,
              cols,
            );
          }
        }
      }
    }
  }
}
