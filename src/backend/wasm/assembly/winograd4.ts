// Winograd F(4x4, 3x3) convolution (Lavin & Gray, arXiv 1509.09308, interpolation points 0, 1, -1, 2, -2 and
// infinity, the matrices of the paper and of NNPACK): each 4x4 output tile is A^T [ (G g G^T) . (B^T d B) ] A from a
// 6x6 input tile d and the 3x3 filter g, so the 144 multiplies of a direct 4x4 tile become 36 (4x fewer; F(2x2, 3x3)
// in winograd.ts saves 2.25x), spent in 36 GEMMs (one per transformed position) that run on igemm.
//   B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0 4 -4 -1 1 0;  0 -2 -1 2 1 0;  0 2 -1 -2 1 0;  0 4 0 -5 0 1]
//   G   = [1/4 0 0;  -1/6 -1/6 -1/6;  -1/6 1/6 -1/6;  1/24 1/12 1/6;  1/24 -1/12 1/6;  0 0 1]
//   A^T = [1 1 1 1 1 0;  0 1 -1 2 -2 0;  0 1 1 4 4 0;  0 1 -1 8 -8 1]
// Each 2D transform is two passes of a 1D one (columns, then rows), the matrix rows factored as in NNPACK (e.g. B^T
// rows 1 and 2 = (d4 - 4 d2) +- (d3 - 4 d1)). They are written out (unrolled, every intermediate in a local) on
// purpose: a compact version with the 1D transform as an inline function, its column pass written to the output
// buffer and its row pass done in place (the module owns no linear memory for a scratch tile: it imports tfjs' heap),
// made F(4x4) slower than F(2x2) (deep's 24x24x32 -> 64 forward: 36.4 ms vs 22.8 ms; unrolled: 20.4 ms).
// Measured (AMD EPYC, one thread): forward 24x24x32 -> 64 and 12x12x64 -> 128 at batch 64, 20.4 / 15.4 ms against
// F(2x2)'s 22.7 / 16.8 ms; whole training steps 1.04x (deep) and 1.05x (baseline) (`npx tsx
// scripts/winograd-speed.ts`). The price is float32 accuracy: against the direct convolution on those layers (inputs
// and weights in [-0.5, 0.5]) max |error| / max |output| is 7.5e-5 / 7.7e-5 (forward) and 2.1e-5 / 3.0e-5 (input
// gradient), against 3.5e-6 / 2.7e-6 and 2.3e-6 / 4.8e-6 for F(2x2, 3x3). Hence opt-in: FERLAB_WINOGRAD=4
// (kernels/conv.ts); the default stays F(2x2), with which every committed result was measured.

import { ld } from './winograd';

/**
 * Row r of G (6x3, the header's matrix) times the column (a, b, c), in float64. The filter transform runs once per
 * convolution call, not per tile, so it is written compactly; only the input and output transforms are unrolled.
 */
// @ts-ignore: decorator
@inline function gRow(r: i32, a: f64, b: f64, c: f64): f64 {
  if (r == 0) return a / 4.0;
  if (r == 1) return -(a + b + c) / 6.0;
  if (r == 2) return -(a - b + c) / 6.0;
  if (r == 3) return a / 24.0 + b / 12.0 + c / 6.0;
  if (r == 4) return a / 24.0 - b / 12.0 + c / 6.0;
  return c;
}

/** Tap t (0..8, row-major) of the 3x3 filter at s (taps `tap` bytes apart), as float64; rotated by 180 degrees when transpose. */
// @ts-ignore: decorator
@inline function gTap(s: usize, t: i32, transpose: i32, tap: usize): f64 {
  return <f64>load<f32>(s + <usize>(transpose ? 8 - t : t) * tap);
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
      // g[a][b] = tap 3a + b, read straight (forward) or rotated with in/out swapped (input gradient)
      const s = w + (<usize>(transpose ? j * CO + k : k * CO + j) << 2);
      const g00 = gTap(s, 0, transpose, tap), g01 = gTap(s, 1, transpose, tap), g02 = gTap(s, 2, transpose, tap);
      const g10 = gTap(s, 3, transpose, tap), g11 = gTap(s, 4, transpose, tap), g12 = gTap(s, 5, transpose, tap);
      const g20 = gTap(s, 6, transpose, tap), g21 = gTap(s, 7, transpose, tap), g22 = gTap(s, 8, transpose, tap);
      // U = (G g) G^T: t = G times each column of g, then each row of t times G^T; position p = 6*row + col
      const panel = out + <usize>(j >> 3) * (<usize>K << 5) + (<usize>k << 5) + (<usize>(j & 7) << 2);
      for (let r = 0; r < 6; r++) {
        const t0 = gRow(r, g00, g10, g20), t1 = gRow(r, g01, g11, g21), t2 = gRow(r, g02, g12, g22);
        for (let c = 0; c < 6; c++) store<f32>(panel + <usize>(6 * r + c) * posBytes, <f32>gRow(c, t0, t1, t2));
      }
    }
  }
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
  const f2 = f32x4.splat(2), f4 = f32x4.splat(4), m4 = f32x4.splat(-4), m5 = f32x4.splat(-5);
  for (let n = 0; n < N; n++) {
    for (let ty = 0; ty < TH; ty++) {
      const y0 = 4 * ty - pt;
      const r0 = y0 + 0 >= 0 && y0 + 0 < H, r1 = y0 + 1 >= 0 && y0 + 1 < H, r2 = y0 + 2 >= 0 && y0 + 2 < H, r3 = y0 + 3 >= 0 && y0 + 3 < H, r4 = y0 + 4 >= 0 && y0 + 4 < H, r5 = y0 + 5 >= 0 && y0 + 5 < H;
      for (let tx = 0; tx < TW; tx++) {
        const x0 = 4 * tx - pl;
        const c0 = x0 + 0 >= 0 && x0 + 0 < W, c1 = x0 + 1 >= 0 && x0 + 1 < W, c2 = x0 + 2 >= 0 && x0 + 2 < W, c3 = x0 + 3 >= 0 && x0 + 3 < W, c4 = x0 + 4 >= 0 && x0 + 4 < W, c5 = x0 + 5 >= 0 && x0 + 5 < W;
        const tile = (n * TH + ty) * TW + tx;
        const base = x + <usize>(n * H + y0) * rowBytes + <usize>x0 * pixBytes;
        const o = out + (<usize>(tile * C) << 2);
        for (let c: usize = 0; c < pixBytes; c += 16) {
          const p = base + c;
          // t = B^T d, column by column (d[i][j] is row i, column j of the tile)
          const d00 = ld(p + 0 * rowBytes + 0 * pixBytes, r0 && c0), d10 = ld(p + 1 * rowBytes + 0 * pixBytes, r1 && c0), d20 = ld(p + 2 * rowBytes + 0 * pixBytes, r2 && c0), d30 = ld(p + 3 * rowBytes + 0 * pixBytes, r3 && c0), d40 = ld(p + 4 * rowBytes + 0 * pixBytes, r4 && c0), d50 = ld(p + 5 * rowBytes + 0 * pixBytes, r5 && c0);
          const t00 = MADD(f4, d00, MADD(m5, d20, d40));
          const t00a = MADD(m4, d20, d40), t00b = MADD(m4, d10, d30);
          const t10 = f32x4.add(t00a, t00b), t20 = f32x4.sub(t00a, t00b);
          const t00c = f32x4.sub(d40, d20), t00e = f32x4.mul(f2, f32x4.sub(d30, d10));
          const t30 = f32x4.add(t00c, t00e), t40 = f32x4.sub(t00c, t00e);
          const t50 = MADD(f4, d10, MADD(m5, d30, d50));
          const d01 = ld(p + 0 * rowBytes + 1 * pixBytes, r0 && c1), d11 = ld(p + 1 * rowBytes + 1 * pixBytes, r1 && c1), d21 = ld(p + 2 * rowBytes + 1 * pixBytes, r2 && c1), d31 = ld(p + 3 * rowBytes + 1 * pixBytes, r3 && c1), d41 = ld(p + 4 * rowBytes + 1 * pixBytes, r4 && c1), d51 = ld(p + 5 * rowBytes + 1 * pixBytes, r5 && c1);
          const t01 = MADD(f4, d01, MADD(m5, d21, d41));
          const t01a = MADD(m4, d21, d41), t01b = MADD(m4, d11, d31);
          const t11 = f32x4.add(t01a, t01b), t21 = f32x4.sub(t01a, t01b);
          const t01c = f32x4.sub(d41, d21), t01e = f32x4.mul(f2, f32x4.sub(d31, d11));
          const t31 = f32x4.add(t01c, t01e), t41 = f32x4.sub(t01c, t01e);
          const t51 = MADD(f4, d11, MADD(m5, d31, d51));
          const d02 = ld(p + 0 * rowBytes + 2 * pixBytes, r0 && c2), d12 = ld(p + 1 * rowBytes + 2 * pixBytes, r1 && c2), d22 = ld(p + 2 * rowBytes + 2 * pixBytes, r2 && c2), d32 = ld(p + 3 * rowBytes + 2 * pixBytes, r3 && c2), d42 = ld(p + 4 * rowBytes + 2 * pixBytes, r4 && c2), d52 = ld(p + 5 * rowBytes + 2 * pixBytes, r5 && c2);
          const t02 = MADD(f4, d02, MADD(m5, d22, d42));
          const t02a = MADD(m4, d22, d42), t02b = MADD(m4, d12, d32);
          const t12 = f32x4.add(t02a, t02b), t22 = f32x4.sub(t02a, t02b);
          const t02c = f32x4.sub(d42, d22), t02e = f32x4.mul(f2, f32x4.sub(d32, d12));
          const t32 = f32x4.add(t02c, t02e), t42 = f32x4.sub(t02c, t02e);
          const t52 = MADD(f4, d12, MADD(m5, d32, d52));
          const d03 = ld(p + 0 * rowBytes + 3 * pixBytes, r0 && c3), d13 = ld(p + 1 * rowBytes + 3 * pixBytes, r1 && c3), d23 = ld(p + 2 * rowBytes + 3 * pixBytes, r2 && c3), d33 = ld(p + 3 * rowBytes + 3 * pixBytes, r3 && c3), d43 = ld(p + 4 * rowBytes + 3 * pixBytes, r4 && c3), d53 = ld(p + 5 * rowBytes + 3 * pixBytes, r5 && c3);
          const t03 = MADD(f4, d03, MADD(m5, d23, d43));
          const t03a = MADD(m4, d23, d43), t03b = MADD(m4, d13, d33);
          const t13 = f32x4.add(t03a, t03b), t23 = f32x4.sub(t03a, t03b);
          const t03c = f32x4.sub(d43, d23), t03e = f32x4.mul(f2, f32x4.sub(d33, d13));
          const t33 = f32x4.add(t03c, t03e), t43 = f32x4.sub(t03c, t03e);
          const t53 = MADD(f4, d13, MADD(m5, d33, d53));
          const d04 = ld(p + 0 * rowBytes + 4 * pixBytes, r0 && c4), d14 = ld(p + 1 * rowBytes + 4 * pixBytes, r1 && c4), d24 = ld(p + 2 * rowBytes + 4 * pixBytes, r2 && c4), d34 = ld(p + 3 * rowBytes + 4 * pixBytes, r3 && c4), d44 = ld(p + 4 * rowBytes + 4 * pixBytes, r4 && c4), d54 = ld(p + 5 * rowBytes + 4 * pixBytes, r5 && c4);
          const t04 = MADD(f4, d04, MADD(m5, d24, d44));
          const t04a = MADD(m4, d24, d44), t04b = MADD(m4, d14, d34);
          const t14 = f32x4.add(t04a, t04b), t24 = f32x4.sub(t04a, t04b);
          const t04c = f32x4.sub(d44, d24), t04e = f32x4.mul(f2, f32x4.sub(d34, d14));
          const t34 = f32x4.add(t04c, t04e), t44 = f32x4.sub(t04c, t04e);
          const t54 = MADD(f4, d14, MADD(m5, d34, d54));
          const d05 = ld(p + 0 * rowBytes + 5 * pixBytes, r0 && c5), d15 = ld(p + 1 * rowBytes + 5 * pixBytes, r1 && c5), d25 = ld(p + 2 * rowBytes + 5 * pixBytes, r2 && c5), d35 = ld(p + 3 * rowBytes + 5 * pixBytes, r3 && c5), d45 = ld(p + 4 * rowBytes + 5 * pixBytes, r4 && c5), d55 = ld(p + 5 * rowBytes + 5 * pixBytes, r5 && c5);
          const t05 = MADD(f4, d05, MADD(m5, d25, d45));
          const t05a = MADD(m4, d25, d45), t05b = MADD(m4, d15, d35);
          const t15 = f32x4.add(t05a, t05b), t25 = f32x4.sub(t05a, t05b);
          const t05c = f32x4.sub(d45, d25), t05e = f32x4.mul(f2, f32x4.sub(d35, d15));
          const t35 = f32x4.add(t05c, t05e), t45 = f32x4.sub(t05c, t05e);
          const t55 = MADD(f4, d15, MADD(m5, d35, d55));
          // V = t B, row by row; position p = 6*row + col
          const v00 = MADD(f4, t00, MADD(m5, t02, t04));
          const v00a = MADD(m4, t02, t04), v00b = MADD(m4, t01, t03);
          const v01 = f32x4.add(v00a, v00b), v02 = f32x4.sub(v00a, v00b);
          const v00c = f32x4.sub(t04, t02), v00e = f32x4.mul(f2, f32x4.sub(t03, t01));
          const v03 = f32x4.add(v00c, v00e), v04 = f32x4.sub(v00c, v00e);
          const v05 = MADD(f4, t01, MADD(m5, t03, t05));
          v128.store(o + c + 0 * posBytes, v00); v128.store(o + c + 1 * posBytes, v01); v128.store(o + c + 2 * posBytes, v02); v128.store(o + c + 3 * posBytes, v03); v128.store(o + c + 4 * posBytes, v04); v128.store(o + c + 5 * posBytes, v05);
          const v10 = MADD(f4, t10, MADD(m5, t12, t14));
          const v10a = MADD(m4, t12, t14), v10b = MADD(m4, t11, t13);
          const v11 = f32x4.add(v10a, v10b), v12 = f32x4.sub(v10a, v10b);
          const v10c = f32x4.sub(t14, t12), v10e = f32x4.mul(f2, f32x4.sub(t13, t11));
          const v13 = f32x4.add(v10c, v10e), v14 = f32x4.sub(v10c, v10e);
          const v15 = MADD(f4, t11, MADD(m5, t13, t15));
          v128.store(o + c + 6 * posBytes, v10); v128.store(o + c + 7 * posBytes, v11); v128.store(o + c + 8 * posBytes, v12); v128.store(o + c + 9 * posBytes, v13); v128.store(o + c + 10 * posBytes, v14); v128.store(o + c + 11 * posBytes, v15);
          const v20 = MADD(f4, t20, MADD(m5, t22, t24));
          const v20a = MADD(m4, t22, t24), v20b = MADD(m4, t21, t23);
          const v21 = f32x4.add(v20a, v20b), v22 = f32x4.sub(v20a, v20b);
          const v20c = f32x4.sub(t24, t22), v20e = f32x4.mul(f2, f32x4.sub(t23, t21));
          const v23 = f32x4.add(v20c, v20e), v24 = f32x4.sub(v20c, v20e);
          const v25 = MADD(f4, t21, MADD(m5, t23, t25));
          v128.store(o + c + 12 * posBytes, v20); v128.store(o + c + 13 * posBytes, v21); v128.store(o + c + 14 * posBytes, v22); v128.store(o + c + 15 * posBytes, v23); v128.store(o + c + 16 * posBytes, v24); v128.store(o + c + 17 * posBytes, v25);
          const v30 = MADD(f4, t30, MADD(m5, t32, t34));
          const v30a = MADD(m4, t32, t34), v30b = MADD(m4, t31, t33);
          const v31 = f32x4.add(v30a, v30b), v32 = f32x4.sub(v30a, v30b);
          const v30c = f32x4.sub(t34, t32), v30e = f32x4.mul(f2, f32x4.sub(t33, t31));
          const v33 = f32x4.add(v30c, v30e), v34 = f32x4.sub(v30c, v30e);
          const v35 = MADD(f4, t31, MADD(m5, t33, t35));
          v128.store(o + c + 18 * posBytes, v30); v128.store(o + c + 19 * posBytes, v31); v128.store(o + c + 20 * posBytes, v32); v128.store(o + c + 21 * posBytes, v33); v128.store(o + c + 22 * posBytes, v34); v128.store(o + c + 23 * posBytes, v35);
          const v40 = MADD(f4, t40, MADD(m5, t42, t44));
          const v40a = MADD(m4, t42, t44), v40b = MADD(m4, t41, t43);
          const v41 = f32x4.add(v40a, v40b), v42 = f32x4.sub(v40a, v40b);
          const v40c = f32x4.sub(t44, t42), v40e = f32x4.mul(f2, f32x4.sub(t43, t41));
          const v43 = f32x4.add(v40c, v40e), v44 = f32x4.sub(v40c, v40e);
          const v45 = MADD(f4, t41, MADD(m5, t43, t45));
          v128.store(o + c + 24 * posBytes, v40); v128.store(o + c + 25 * posBytes, v41); v128.store(o + c + 26 * posBytes, v42); v128.store(o + c + 27 * posBytes, v43); v128.store(o + c + 28 * posBytes, v44); v128.store(o + c + 29 * posBytes, v45);
          const v50 = MADD(f4, t50, MADD(m5, t52, t54));
          const v50a = MADD(m4, t52, t54), v50b = MADD(m4, t51, t53);
          const v51 = f32x4.add(v50a, v50b), v52 = f32x4.sub(v50a, v50b);
          const v50c = f32x4.sub(t54, t52), v50e = f32x4.mul(f2, f32x4.sub(t53, t51));
          const v53 = f32x4.add(v50c, v50e), v54 = f32x4.sub(v50c, v50e);
          const v55 = MADD(f4, t51, MADD(m5, t53, t55));
          v128.store(o + c + 30 * posBytes, v50); v128.store(o + c + 31 * posBytes, v51); v128.store(o + c + 32 * posBytes, v52); v128.store(o + c + 33 * posBytes, v53); v128.store(o + c + 34 * posBytes, v54); v128.store(o + c + 35 * posBytes, v55);
        }
      }
    }
  }
}

/**
 * Output transform Y = A^T m A: m [36][N*TH*TW][J] (J a multiple of 4) -> out [N, OH, OW, J]; tile (n, ty, tx)
 * writes rows 4*ty .. 4*ty + 3 and columns 4*tx .. 4*tx + 3 where they are inside OH x OW.
 */
export function winoOutput4(m: usize, N: i32, TH: i32, TW: i32, OH: i32, OW: i32, J: i32, out: usize): void {
  const TT = N * TH * TW;
  const posBytes = <usize>(TT * J) << 2;
  const rowBytes = <usize>(OW * J) << 2;
  const pixBytes = <usize>J << 2;
  const f2 = f32x4.splat(2), f4 = f32x4.splat(4), f8 = f32x4.splat(8);
  for (let n = 0; n < N; n++) {
    for (let ty = 0; ty < TH; ty++) {
      const oy = 4 * ty;
      const row1 = oy + 1 < OH, row2 = oy + 2 < OH, row3 = oy + 3 < OH;
      for (let tx = 0; tx < TW; tx++) {
        const ox = 4 * tx;
        const col1 = ox + 1 < OW, col2 = ox + 2 < OW, col3 = ox + 3 < OW;
        const tile = (n * TH + ty) * TW + tx;
        const s = m + (<usize>(tile * J) << 2);
        const o = out + <usize>(n * OH + oy) * rowBytes + <usize>ox * pixBytes;
        for (let c: usize = 0; c < pixBytes; c += 16) {
          const q = s + c;
          // t = A^T m, column by column (m[i][j] = position 6*i + j)
          const m00 = v128.load(q + 0 * posBytes), m10 = v128.load(q + 6 * posBytes), m20 = v128.load(q + 12 * posBytes), m30 = v128.load(q + 18 * posBytes), m40 = v128.load(q + 24 * posBytes), m50 = v128.load(q + 30 * posBytes);
          const t00s = f32x4.add(m10, m20), t00d = f32x4.sub(m10, m20), t00S = f32x4.add(m30, m40), t00D = f32x4.sub(m30, m40);
          const t00 = f32x4.add(f32x4.add(m00, t00s), t00S), t10 = MADD(f2, t00D, t00d);
          const t20 = MADD(f4, t00S, t00s), t30 = f32x4.add(MADD(f8, t00D, t00d), m50);
          const m01 = v128.load(q + 1 * posBytes), m11 = v128.load(q + 7 * posBytes), m21 = v128.load(q + 13 * posBytes), m31 = v128.load(q + 19 * posBytes), m41 = v128.load(q + 25 * posBytes), m51 = v128.load(q + 31 * posBytes);
          const t01s = f32x4.add(m11, m21), t01d = f32x4.sub(m11, m21), t01S = f32x4.add(m31, m41), t01D = f32x4.sub(m31, m41);
          const t01 = f32x4.add(f32x4.add(m01, t01s), t01S), t11 = MADD(f2, t01D, t01d);
          const t21 = MADD(f4, t01S, t01s), t31 = f32x4.add(MADD(f8, t01D, t01d), m51);
          const m02 = v128.load(q + 2 * posBytes), m12 = v128.load(q + 8 * posBytes), m22 = v128.load(q + 14 * posBytes), m32 = v128.load(q + 20 * posBytes), m42 = v128.load(q + 26 * posBytes), m52 = v128.load(q + 32 * posBytes);
          const t02s = f32x4.add(m12, m22), t02d = f32x4.sub(m12, m22), t02S = f32x4.add(m32, m42), t02D = f32x4.sub(m32, m42);
          const t02 = f32x4.add(f32x4.add(m02, t02s), t02S), t12 = MADD(f2, t02D, t02d);
          const t22 = MADD(f4, t02S, t02s), t32 = f32x4.add(MADD(f8, t02D, t02d), m52);
          const m03 = v128.load(q + 3 * posBytes), m13 = v128.load(q + 9 * posBytes), m23 = v128.load(q + 15 * posBytes), m33 = v128.load(q + 21 * posBytes), m43 = v128.load(q + 27 * posBytes), m53 = v128.load(q + 33 * posBytes);
          const t03s = f32x4.add(m13, m23), t03d = f32x4.sub(m13, m23), t03S = f32x4.add(m33, m43), t03D = f32x4.sub(m33, m43);
          const t03 = f32x4.add(f32x4.add(m03, t03s), t03S), t13 = MADD(f2, t03D, t03d);
          const t23 = MADD(f4, t03S, t03s), t33 = f32x4.add(MADD(f8, t03D, t03d), m53);
          const m04 = v128.load(q + 4 * posBytes), m14 = v128.load(q + 10 * posBytes), m24 = v128.load(q + 16 * posBytes), m34 = v128.load(q + 22 * posBytes), m44 = v128.load(q + 28 * posBytes), m54 = v128.load(q + 34 * posBytes);
          const t04s = f32x4.add(m14, m24), t04d = f32x4.sub(m14, m24), t04S = f32x4.add(m34, m44), t04D = f32x4.sub(m34, m44);
          const t04 = f32x4.add(f32x4.add(m04, t04s), t04S), t14 = MADD(f2, t04D, t04d);
          const t24 = MADD(f4, t04S, t04s), t34 = f32x4.add(MADD(f8, t04D, t04d), m54);
          const m05 = v128.load(q + 5 * posBytes), m15 = v128.load(q + 11 * posBytes), m25 = v128.load(q + 17 * posBytes), m35 = v128.load(q + 23 * posBytes), m45 = v128.load(q + 29 * posBytes), m55 = v128.load(q + 35 * posBytes);
          const t05s = f32x4.add(m15, m25), t05d = f32x4.sub(m15, m25), t05S = f32x4.add(m35, m45), t05D = f32x4.sub(m35, m45);
          const t05 = f32x4.add(f32x4.add(m05, t05s), t05S), t15 = MADD(f2, t05D, t05d);
          const t25 = MADD(f4, t05S, t05s), t35 = f32x4.add(MADD(f8, t05D, t05d), m55);
          // Y = t A, row by row, stored where inside the output
          const y00s = f32x4.add(t01, t02), y00d = f32x4.sub(t01, t02), y00S = f32x4.add(t03, t04), y00D = f32x4.sub(t03, t04);
          const y00 = f32x4.add(f32x4.add(t00, y00s), y00S), y01 = MADD(f2, y00D, y00d);
          const y02 = MADD(f4, y00S, y00s), y03 = f32x4.add(MADD(f8, y00D, y00d), t05);
          v128.store(o + c, y00);
          if (col1) v128.store(o + c + 1 * pixBytes, y01);
          if (col2) v128.store(o + c + 2 * pixBytes, y02);
          if (col3) v128.store(o + c + 3 * pixBytes, y03);
          const y10s = f32x4.add(t11, t12), y10d = f32x4.sub(t11, t12), y10S = f32x4.add(t13, t14), y10D = f32x4.sub(t13, t14);
          const y10 = f32x4.add(f32x4.add(t10, y10s), y10S), y11 = MADD(f2, y10D, y10d);
          const y12 = MADD(f4, y10S, y10s), y13 = f32x4.add(MADD(f8, y10D, y10d), t15);
          if (row1) {
            v128.store(o + c + 1 * rowBytes, y10);
            if (col1) v128.store(o + c + 1 * rowBytes + 1 * pixBytes, y11);
            if (col2) v128.store(o + c + 1 * rowBytes + 2 * pixBytes, y12);
            if (col3) v128.store(o + c + 1 * rowBytes + 3 * pixBytes, y13);
          }
          const y20s = f32x4.add(t21, t22), y20d = f32x4.sub(t21, t22), y20S = f32x4.add(t23, t24), y20D = f32x4.sub(t23, t24);
          const y20 = f32x4.add(f32x4.add(t20, y20s), y20S), y21 = MADD(f2, y20D, y20d);
          const y22 = MADD(f4, y20S, y20s), y23 = f32x4.add(MADD(f8, y20D, y20d), t25);
          if (row2) {
            v128.store(o + c + 2 * rowBytes, y20);
            if (col1) v128.store(o + c + 2 * rowBytes + 1 * pixBytes, y21);
            if (col2) v128.store(o + c + 2 * rowBytes + 2 * pixBytes, y22);
            if (col3) v128.store(o + c + 2 * rowBytes + 3 * pixBytes, y23);
          }
          const y30s = f32x4.add(t31, t32), y30d = f32x4.sub(t31, t32), y30S = f32x4.add(t33, t34), y30D = f32x4.sub(t33, t34);
          const y30 = f32x4.add(f32x4.add(t30, y30s), y30S), y31 = MADD(f2, y30D, y30d);
          const y32 = MADD(f4, y30S, y30s), y33 = f32x4.add(MADD(f8, y30D, y30d), t35);
          if (row3) {
            v128.store(o + c + 3 * rowBytes, y30);
            if (col1) v128.store(o + c + 3 * rowBytes + 1 * pixBytes, y31);
            if (col2) v128.store(o + c + 3 * rowBytes + 2 * pixBytes, y32);
            if (col3) v128.store(o + c + 3 * rowBytes + 3 * pixBytes, y33);
          }
        }
      }
    }
  }
}
