// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// arXiv 1509.09308): each 2x2 output tile is A^T [ (G g G^T) . (B^T d B) ] A from a 4x4 input tile d and the 3x3
// filter g, so the 36 multiplies of a direct 2x2 tile become 16 (2.25x fewer), spent in 16 GEMMs (one per transformed
// position) that run on igemm. Used for stride-1 3x3 convolutions and their input gradients on maps of 6x6 and up.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]

/**
 * Transformed filters U = G g G^T for every (k, j) pair, packed as igemm panels per position p = 4*i + j':
 * out + p * (ceil(J/8) * K * 32 bytes) holds [ceil(J/8)][K][8].
 * transpose = 0 (forward): K = CI, J = CO, g[a][b] = w[a][b][k][j].
 * transpose = 1 (input gradient): K = CO, J = CI, g[a][b] = w[2-a][2-b][j][k] (rotated, in/out swapped).
 * w is HWIO [3][3][CI][CO].
 */
export function winoFilter(w: usize, CI: i32, CO: i32, transpose: i32, out: usize): void {
  const K = transpose ? CO : CI;
  const J = transpose ? CI : CO;
  const J8 = (J + 7) >> 3;
  const posBytes = <usize>(J8 * K) << 5;
  memory.fill(out, 0, posBytes * 16);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < J; j++) {
      // g[a][b], read straight (forward) or rotated by 180 degrees with in/out swapped (input gradient)
      let g00: f32, g01: f32, g02: f32, g10: f32, g11: f32, g12: f32, g20: f32, g21: f32, g22: f32;
      if (transpose) {
        const s = w + (<usize>(j * CO + k) << 2);
        const tap = <usize>(CI * CO) << 2;
        g00 = load<f32>(s + 8 * tap); g01 = load<f32>(s + 7 * tap); g02 = load<f32>(s + 6 * tap);
        g10 = load<f32>(s + 5 * tap); g11 = load<f32>(s + 4 * tap); g12 = load<f32>(s + 3 * tap);
        g20 = load<f32>(s + 2 * tap); g21 = load<f32>(s + tap); g22 = load<f32>(s);
      } else {
        const s = w + (<usize>(k * CO + j) << 2);
        const tap = <usize>(CI * CO) << 2;
        g00 = load<f32>(s); g01 = load<f32>(s + tap); g02 = load<f32>(s + 2 * tap);
        g10 = load<f32>(s + 3 * tap); g11 = load<f32>(s + 4 * tap); g12 = load<f32>(s + 5 * tap);
        g20 = load<f32>(s + 6 * tap); g21 = load<f32>(s + 7 * tap); g22 = load<f32>(s + 8 * tap);
      }
      // t = G g (4 rows x 3 columns)
      const h: f32 = 0.5;
      const t00 = g00, t01 = g01, t02 = g02;
      const t10 = h * (g00 + g10 + g20), t11 = h * (g01 + g11 + g21), t12 = h * (g02 + g12 + g22);
      const t20 = h * (g00 - g10 + g20), t21 = h * (g01 - g11 + g21), t22 = h * (g02 - g12 + g22);
      const t30 = g20, t31 = g21, t32 = g22;
      // U = t G^T (4x4), position p = 4*row + col
      const panel = out + <usize>(j >> 3) * (<usize>K << 5) + (<usize>k << 5) + (<usize>(j & 7) << 2);
      store<f32>(panel, t00);
      store<f32>(panel + posBytes, h * (t00 + t01 + t02));
      store<f32>(panel + 2 * posBytes, h * (t00 - t01 + t02));
      store<f32>(panel + 3 * posBytes, t02);
      store<f32>(panel + 4 * posBytes, t10);
      store<f32>(panel + 5 * posBytes, h * (t10 + t11 + t12));
      store<f32>(panel + 6 * posBytes, h * (t10 - t11 + t12));
      store<f32>(panel + 7 * posBytes, t12);
      store<f32>(panel + 8 * posBytes, t20);
      store<f32>(panel + 9 * posBytes, h * (t20 + t21 + t22));
      store<f32>(panel + 10 * posBytes, h * (t20 - t21 + t22));
      store<f32>(panel + 11 * posBytes, t22);
      store<f32>(panel + 12 * posBytes, t30);
      store<f32>(panel + 13 * posBytes, h * (t30 + t31 + t32));
      store<f32>(panel + 14 * posBytes, h * (t30 - t31 + t32));
      store<f32>(panel + 15 * posBytes, t32);
    }
  }
}

// @ts-ignore: decorator
@inline export function ld(x: usize, ok: bool): v128 {
  let v = f32x4.splat(0);
  if (ok) v = v128.load(x); // never read outside the image: those addresses may not exist
  return v;
}

/**
 * Input transform V = B^T d B of every 4x4 tile: x [N, H, W, C] (C a multiple of 4) -> out [16][N*TH*TW][C].
 * Tile (n, ty, tx) reads rows 2*ty - pt .. 2*ty - pt + 3 and columns 2*tx - pl .. + 3 (zeros outside the image).
 */
export function winoInput(x: usize, N: i32, H: i32, W: i32, C: i32, pt: i32, pl: i32, TH: i32, TW: i32, out: usize): void {
  const TT = N * TH * TW;
  const posBytes = <usize>(TT * C) << 2;
  const rowBytes = <usize>(W * C) << 2;
  const pixBytes = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    for (let ty = 0; ty < TH; ty++) {
      const y0 = 2 * ty - pt;
      const r0 = y0 >= 0 && y0 < H, r1 = y0 + 1 >= 0 && y0 + 1 < H, r2 = y0 + 2 >= 0 && y0 + 2 < H, r3 = y0 + 3 >= 0 && y0 + 3 < H;
      for (let tx = 0; tx < TW; tx++) {
        const x0 = 2 * tx - pl;
        const c0 = x0 >= 0 && x0 < W, c1 = x0 + 1 >= 0 && x0 + 1 < W, c2 = x0 + 2 >= 0 && x0 + 2 < W, c3 = x0 + 3 >= 0 && x0 + 3 < W;
        const tile = (n * TH + ty) * TW + tx;
        const base = x + <usize>(n * H + y0) * rowBytes + <usize>x0 * pixBytes;
        const o = out + (<usize>(tile * C) << 2);
        for (let c: usize = 0; c < pixBytes; c += 16) {
          const p0 = base + c;
          const p1 = p0 + rowBytes;
          const p2 = p1 + rowBytes;
          const p3 = p2 + rowBytes;
          // rows of d, each as 4 column values
          const d00 = ld(p0, r0 && c0), d01 = ld(p0 + pixBytes, r0 && c1), d02 = ld(p0 + 2 * pixBytes, r0 && c2), d03 = ld(p0 + 3 * pixBytes, r0 && c3);
          const d10 = ld(p1, r1 && c0), d11 = ld(p1 + pixBytes, r1 && c1), d12 = ld(p1 + 2 * pixBytes, r1 && c2), d13 = ld(p1 + 3 * pixBytes, r1 && c3);
          const d20 = ld(p2, r2 && c0), d21 = ld(p2 + pixBytes, r2 && c1), d22 = ld(p2 + 2 * pixBytes, r2 && c2), d23 = ld(p2 + 3 * pixBytes, r2 && c3);
          const d30 = ld(p3, r3 && c0), d31 = ld(p3 + pixBytes, r3 && c1), d32 = ld(p3 + 2 * pixBytes, r3 && c2), d33 = ld(p3 + 3 * pixBytes, r3 && c3);
          // t = B^T d (row combinations)
          const t00 = f32x4.sub(d00, d20), t01 = f32x4.sub(d01, d21), t02 = f32x4.sub(d02, d22), t03 = f32x4.sub(d03, d23);
          const t10 = f32x4.add(d10, d20), t11 = f32x4.add(d11, d21), t12 = f32x4.add(d12, d22), t13 = f32x4.add(d13, d23);
          const t20 = f32x4.sub(d20, d10), t21 = f32x4.sub(d21, d11), t22 = f32x4.sub(d22, d12), t23 = f32x4.sub(d23, d13);
          const t30 = f32x4.sub(d10, d30), t31 = f32x4.sub(d11, d31), t32 = f32x4.sub(d12, d32), t33 = f32x4.sub(d13, d33);
          // V = t B (column combinations), position p = 4*row + col
          v128.store(o + c, f32x4.sub(t00, t02));
          v128.store(o + c + posBytes, f32x4.add(t01, t02));
          v128.store(o + c + 2 * posBytes, f32x4.sub(t02, t01));
          v128.store(o + c + 3 * posBytes, f32x4.sub(t01, t03));
          v128.store(o + c + 4 * posBytes, f32x4.sub(t10, t12));
          v128.store(o + c + 5 * posBytes, f32x4.add(t11, t12));
          v128.store(o + c + 6 * posBytes, f32x4.sub(t12, t11));
          v128.store(o + c + 7 * posBytes, f32x4.sub(t11, t13));
          v128.store(o + c + 8 * posBytes, f32x4.sub(t20, t22));
          v128.store(o + c + 9 * posBytes, f32x4.add(t21, t22));
          v128.store(o + c + 10 * posBytes, f32x4.sub(t22, t21));
          v128.store(o + c + 11 * posBytes, f32x4.sub(t21, t23));
          v128.store(o + c + 12 * posBytes, f32x4.sub(t30, t32));
          v128.store(o + c + 13 * posBytes, f32x4.add(t31, t32));
          v128.store(o + c + 14 * posBytes, f32x4.sub(t32, t31));
          v128.store(o + c + 15 * posBytes, f32x4.sub(t31, t33));
        }
      }
    }
  }
}

/**
 * Output transform Y = A^T m A: m [16][N*TH*TW][J] (J a multiple of 4) -> out [N, OH, OW, J]; tile (n, ty, tx) writes
 * rows 2*ty, 2*ty + 1 and columns 2*tx, 2*tx + 1 where they are inside OH x OW.
 */
export function winoOutput(m: usize, N: i32, TH: i32, TW: i32, OH: i32, OW: i32, J: i32, out: usize): void {
  const TT = N * TH * TW;
  const posBytes = <usize>(TT * J) << 2;
  const rowBytes = <usize>(OW * J) << 2;
  const pixBytes = <usize>J << 2;
  for (let n = 0; n < N; n++) {
    for (let ty = 0; ty < TH; ty++) {
      const oy = 2 * ty;
      const row1 = oy + 1 < OH;
      for (let tx = 0; tx < TW; tx++) {
        const ox = 2 * tx;
        const col1 = ox + 1 < OW;
        const tile = (n * TH + ty) * TW + tx;
        const s = m + (<usize>(tile * J) << 2);
        const o = out + <usize>(n * OH + oy) * rowBytes + <usize>ox * pixBytes;
        for (let c: usize = 0; c < pixBytes; c += 16) {
          const q = s + c;
          const m0 = v128.load(q), m1 = v128.load(q + posBytes), m2 = v128.load(q + 2 * posBytes), m3 = v128.load(q + 3 * posBytes);
          const m4 = v128.load(q + 4 * posBytes), m5 = v128.load(q + 5 * posBytes), m6 = v128.load(q + 6 * posBytes), m7 = v128.load(q + 7 * posBytes);
          const m8 = v128.load(q + 8 * posBytes), m9 = v128.load(q + 9 * posBytes), m10 = v128.load(q + 10 * posBytes), m11 = v128.load(q + 11 * posBytes);
          const m12 = v128.load(q + 12 * posBytes), m13 = v128.load(q + 13 * posBytes), m14 = v128.load(q + 14 * posBytes), m15 = v128.load(q + 15 * posBytes);
          // t = A^T m (2x4): row 0 = m0 + m1 + m2 (rows of m), row 1 = m1 - m2 - m3
          const a0 = f32x4.add(f32x4.add(m0, m4), m8), a1 = f32x4.add(f32x4.add(m1, m5), m9);
          const a2 = f32x4.add(f32x4.add(m2, m6), m10), a3 = f32x4.add(f32x4.add(m3, m7), m11);
          const b0 = f32x4.sub(f32x4.sub(m4, m8), m12), b1 = f32x4.sub(f32x4.sub(m5, m9), m13);
          const b2 = f32x4.sub(f32x4.sub(m6, m10), m14), b3 = f32x4.sub(f32x4.sub(m7, m11), m15);
          // Y = t A (2x2)
          v128.store(o + c, f32x4.add(f32x4.add(a0, a1), a2));
          if (col1) v128.store(o + c + pixBytes, f32x4.sub(f32x4.sub(a1, a2), a3));
          if (row1) {
            v128.store(o + c + rowBytes, f32x4.add(f32x4.add(b0, b1), b2));
            if (col1) v128.store(o + c + rowBytes + pixBytes, f32x4.sub(f32x4.sub(b1, b2), b3));
          }
        }
      }
    }
  }
}

// Weight gradient as Winograd F(3x3, 2x2): each 2x2 tile of dy and the 4x4 tile of x under it contribute
// A3^T [ (G2 g G2^T) . (B3^T d B3) ] A3 to the 3x3 filter gradient, with
//   B3^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 -1 0 1]   G2 = [1 0; 1/2 1/2; 1/2 -1/2; 0 1]
//   A3^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1]
// B3^T equals the forward B^T with its last row negated, so winoInput's tiles serve here: the transformed positions
// with exactly one index equal to 3 change sign, which winoWgradOutput applies. The sum over tiles of each of the 16
// positions is a GEMM reducing over tiles (wgrad with a 1x1 window).

/** dy transform U = G2 g G2^T of every 2x2 tile: dy [N, OH, OW, C] (C a multiple of 4) -> out [16][N*TH*TW][C]. */
export function winoDy(dy: usize, N: i32, OH: i32, OW: i32, C: i32, TH: i32, TW: i32, out: usize): void {
  const TT = N * TH * TW;
  const posBytes = <usize>(TT * C) << 2;
  const rowBytes = <usize>(OW * C) << 2;
  const pixBytes = <usize>C << 2;
  const h = f32x4.splat(0.5);
  for (let n = 0; n < N; n++) {
    for (let ty = 0; ty < TH; ty++) {
      const y0 = 2 * ty;
      const row1 = y0 + 1 < OH;
      for (let tx = 0; tx < TW; tx++) {
        const x0 = 2 * tx;
        const col1 = x0 + 1 < OW;
        const tile = (n * TH + ty) * TW + tx;
        const s = dy + <usize>(n * OH + y0) * rowBytes + <usize>x0 * pixBytes;
        const o = out + (<usize>(tile * C) << 2);
        for (let c: usize = 0; c < pixBytes; c += 16) {
          const g00 = v128.load(s + c);
          const g01 = ld(s + c + pixBytes, col1);
          const g10 = ld(s + c + rowBytes, row1);
          const g11 = ld(s + c + rowBytes + pixBytes, row1 && col1);
          // t = G2 g (4x2)
          const t00 = g00, t01 = g01;
          const t10 = f32x4.mul(h, f32x4.add(g00, g10)), t11 = f32x4.mul(h, f32x4.add(g01, g11));
          const t20 = f32x4.mul(h, f32x4.sub(g00, g10)), t21 = f32x4.mul(h, f32x4.sub(g01, g11));
          const t30 = g10, t31 = g11;
          // U = t G2^T (4x4): columns [a, (a+b)/2, (a-b)/2, b]
          v128.store(o + c, t00);
          v128.store(o + c + posBytes, f32x4.mul(h, f32x4.add(t00, t01)));
          v128.store(o + c + 2 * posBytes, f32x4.mul(h, f32x4.sub(t00, t01)));
          v128.store(o + c + 3 * posBytes, t01);
          v128.store(o + c + 4 * posBytes, t10);
          v128.store(o + c + 5 * posBytes, f32x4.mul(h, f32x4.add(t10, t11)));
          v128.store(o + c + 6 * posBytes, f32x4.mul(h, f32x4.sub(t10, t11)));
          v128.store(o + c + 7 * posBytes, t11);
          v128.store(o + c + 8 * posBytes, t20);
          v128.store(o + c + 9 * posBytes, f32x4.mul(h, f32x4.add(t20, t21)));
          v128.store(o + c + 10 * posBytes, f32x4.mul(h, f32x4.sub(t20, t21)));
          v128.store(o + c + 11 * posBytes, t21);
          v128.store(o + c + 12 * posBytes, t30);
          v128.store(o + c + 13 * posBytes, f32x4.mul(h, f32x4.add(t30, t31)));
          v128.store(o + c + 14 * posBytes, f32x4.mul(h, f32x4.sub(t30, t31)));
          v128.store(o + c + 15 * posBytes, t31);
        }
      }
    }
  }
}

/**
 * Output transform of the weight gradient: s [16][CI][CO] (per-position sums over tiles, computed with winoInput's
 * tiles, CO a multiple of 4) -> dW [3][3][CI][CO] = A3^T S A3, with the sign of positions (3, j<3) and (i<3, 3) flipped.
 */
export function winoWgradOutput(s: usize, CI: i32, CO: i32, out: usize): void {
  const posBytes = <usize>(CI * CO) << 2;
  const tapBytes = posBytes;
  for (let ci = 0; ci < CI; ci++) {
    for (let co = 0; co < CO; co += 4) {
      const q = s + (<usize>(ci * CO + co) << 2);
      const s0 = v128.load(q), s1 = v128.load(q + posBytes), s2 = v128.load(q + 2 * posBytes), s3 = f32x4.neg(v128.load(q + 3 * posBytes));
      const s4 = v128.load(q + 4 * posBytes), s5 = v128.load(q + 5 * posBytes), s6 = v128.load(q + 6 * posBytes), s7 = f32x4.neg(v128.load(q + 7 * posBytes));
      const s8 = v128.load(q + 8 * posBytes), s9 = v128.load(q + 9 * posBytes), s10 = v128.load(q + 10 * posBytes), s11 = f32x4.neg(v128.load(q + 11 * posBytes));
      const s12 = f32x4.neg(v128.load(q + 12 * posBytes)), s13 = f32x4.neg(v128.load(q + 13 * posBytes)), s14 = f32x4.neg(v128.load(q + 14 * posBytes)), s15 = v128.load(q + 15 * posBytes);
      // t = A3^T S (3x4)
      const a0 = f32x4.add(f32x4.add(s0, s4), s8), a1 = f32x4.add(f32x4.add(s1, s5), s9), a2 = f32x4.add(f32x4.add(s2, s6), s10), a3 = f32x4.add(f32x4.add(s3, s7), s11);
      const b0 = f32x4.sub(s4, s8), b1 = f32x4.sub(s5, s9), b2 = f32x4.sub(s6, s10), b3 = f32x4.sub(s7, s11);
      const c0 = f32x4.add(f32x4.add(s4, s8), s12), c1 = f32x4.add(f32x4.add(s5, s9), s13), c2 = f32x4.add(f32x4.add(s6, s10), s14), c3 = f32x4.add(f32x4.add(s7, s11), s15);
      // Y = t A3 (3x3): columns [x0 + x1 + x2, x1 - x2, x1 + x2 + x3]
      const o = out + (<usize>(ci * CO + co) << 2);
      v128.store(o, f32x4.add(f32x4.add(a0, a1), a2));
      v128.store(o + tapBytes, f32x4.sub(a1, a2));
      v128.store(o + 2 * tapBytes, f32x4.add(f32x4.add(a1, a2), a3));
      v128.store(o + 3 * tapBytes, f32x4.add(f32x4.add(b0, b1), b2));
      v128.store(o + 4 * tapBytes, f32x4.sub(b1, b2));
      v128.store(o + 5 * tapBytes, f32x4.add(f32x4.add(b1, b2), b3));
      v128.store(o + 6 * tapBytes, f32x4.add(f32x4.add(c0, c1), c2));
      v128.store(o + 7 * tapBytes, f32x4.sub(c1, c2));
      v128.store(o + 8 * tapBytes, f32x4.add(f32x4.add(c1, c2), c3));
    }
  }
}
