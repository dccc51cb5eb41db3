// Memory-bound kernels of the training step (AssemblyScript, wasm SIMD): per-channel reductions, batch
// normalisation forward and backward, max-pool gradient, ReLU gradient, dropout. Tensors are float32 NHWC viewed as
// [M, C] (M = N*H*W rows of C channels) unless stated otherwise; pointers are byte offsets into the tfjs wasm memory.
// Per-channel sums accumulate in float32 over chunks of CHUNK rows and in float64 across chunks, so a 150k-row
// reduction keeps float64-level accuracy at float32 speed.

const CHUNK: i32 = 64;

// column sums of x [M, C] into f64 tot [C]; f32 scratch [C]
function colSums(x: usize, M: i32, C: i32, tot: usize, part: usize): void {
  const C4 = C & ~3;
  memory.fill(tot, 0, <usize>C << 3);
  for (let m0 = 0; m0 < M; m0 += CHUNK) {
    const m1 = min(M, m0 + CHUNK);
    memory.fill(part, 0, <usize>C << 2);
    let p = x + (<usize>(m0 * C) << 2);
    for (let m = m0; m < m1; m++) {
      let c = 0;
      for (; c < C4; c += 4) {
        const q = part + (<usize>c << 2);
        v128.store(q, f32x4.add(v128.load(q), v128.load(p + (<usize>c << 2))));
      }
      for (; c < C; c++) {
        const q = part + (<usize>c << 2);
        store<f32>(q, load<f32>(q) + load<f32>(p + (<usize>c << 2)));
      }
      p += <usize>C << 2;
    }
    for (let c = 0; c < C; c++) {
      const t = tot + (<usize>c << 3);
      store<f64>(t, load<f64>(t) + <f64>load<f32>(part + (<usize>c << 2)));
    }
  }
}

/** out[c] = sum over rows of x [M, C] (float32 result of a float64-accumulated sum). scratch: 12*C bytes. */
export function sumRows(x: usize, M: i32, C: i32, out: usize, scratch: usize): void {
  colSums(x, M, C, scratch, scratch + (<usize>C << 3));
  for (let c = 0; c < C; c++) store<f32>(out + (<usize>c << 2), <f32>load<f64>(scratch + (<usize>c << 3)));
}

/**
 * Batch statistics over rows of x [M, C], C a multiple of 4: mean[c] and biased variance var[c] (divided by M, as
 * tf.moments), two passes (mean, then squared deviations) for accuracy. scratch: 12*C bytes.
 */
export function bnStats(x: usize, M: i32, C: i32, mean: usize, variance: usize, scratch: usize): void {
  const tot = scratch;
  const part = scratch + (<usize>C << 3);
  colSums(x, M, C, tot, part);
  for (let c = 0; c < C; c++) store<f32>(mean + (<usize>c << 2), <f32>(load<f64>(tot + (<usize>c << 3)) / <f64>M));
  memory.fill(tot, 0, <usize>C << 3);
  for (let m0 = 0; m0 < M; m0 += CHUNK) {
    const m1 = min(M, m0 + CHUNK);
    memory.fill(part, 0, <usize>C << 2);
    let p = x + (<usize>(m0 * C) << 2);
    for (let m = m0; m < m1; m++) {
      for (let c = 0; c < C; c += 4) {
        const o = <usize>c << 2;
        const d = f32x4.sub(v128.load(p + o), v128.load(mean + o));
        v128.store(part + o, MADD(d, d, v128.load(part + o)));
      }
      p += <usize>C << 2;
    }
    for (let c = 0; c < C; c++) {
      const t = tot + (<usize>c << 3);
      store<f64>(t, load<f64>(t) + <f64>load<f32>(part + (<usize>c << 2)));
    }
  }
  for (let c = 0; c < C; c++) store<f32>(variance + (<usize>c << 2), <f32>(load<f64>(tot + (<usize>c << 3)) / <f64>M));
}

/** y = x * scale[c] + shift[c] over x [M, C] (C a multiple of 4); with relu != 0, y = max(0, ...). */
export function affineRows(x: usize, M: i32, C: i32, scale: usize, shift: usize, relu: i32, y: usize): void {
  let p = x;
  let q = y;
  const zero = f32x4.splat(0);
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < C; c += 4) {
      const o = <usize>c << 2;
      let v = MADD(v128.load(p + o), v128.load(scale + o), v128.load(shift + o));
      if (relu) v = f32x4.max(v, zero);
      v128.store(q + o, v);
    }
    p += <usize>C << 2;
    q += <usize>C << 2;
  }
}

/**
 * Batch-norm backward sums over rows (C a multiple of 4): sumDy[c] = sum dy, sumDyXc[c] = sum dy * (x - mean).
 * scratch: 24*C bytes.
 */
export function bnGradSums(dy: usize, x: usize, M: i32, C: i32, mean: usize, sumDy: usize, sumDyXc: usize, scratch: usize): void {
  const t1 = scratch;
  const t2 = scratch + (<usize>C << 3);
  const p1 = scratch + (<usize>C << 4);
  const p2 = p1 + (<usize>C << 2);
  memory.fill(t1, 0, <usize>C << 4);
  for (let m0 = 0; m0 < M; m0 += CHUNK) {
    const m1 = min(M, m0 + CHUNK);
    memory.fill(p1, 0, <usize>C << 3);
    let pd = dy + (<usize>(m0 * C) << 2);
    let px = x + (<usize>(m0 * C) << 2);
    for (let m = m0; m < m1; m++) {
      for (let c = 0; c < C; c += 4) {
        const o = <usize>c << 2;
        const g = v128.load(pd + o);
        const d = f32x4.sub(v128.load(px + o), v128.load(mean + o));
        v128.store(p1 + o, f32x4.add(v128.load(p1 + o), g));
        v128.store(p2 + o, MADD(g, d, v128.load(p2 + o)));
      }
      pd += <usize>C << 2;
      px += <usize>C << 2;
    }
    for (let c = 0; c < C; c++) {
      const a = t1 + (<usize>c << 3);
      const b = t2 + (<usize>c << 3);
      store<f64>(a, load<f64>(a) + <f64>load<f32>(p1 + (<usize>c << 2)));
      store<f64>(b, load<f64>(b) + <f64>load<f32>(p2 + (<usize>c << 2)));
    }
  }
  for (let c = 0; c < C; c++) {
    store<f32>(sumDy + (<usize>c << 2), <f32>load<f64>(t1 + (<usize>c << 3)));
    store<f32>(sumDyXc + (<usize>c << 2), <f32>load<f64>(t2 + (<usize>c << 3)));
  }
}

/** dx = k1[c] * dy + k2[c] * (x - mean[c]) + k3[c] over rows of [M, C] (C a multiple of 4). */
export function bnGradApply(dy: usize, x: usize, M: i32, C: i32, mean: usize, k1: usize, k2: usize, k3: usize, dx: usize): void {
  let pd = dy;
  let px = x;
  let po = dx;
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < C; c += 4) {
      const o = <usize>c << 2;
      const d = f32x4.sub(v128.load(px + o), v128.load(mean + o));
      const v = MADD(v128.load(k1 + o), v128.load(pd + o), MADD(v128.load(k2 + o), d, v128.load(k3 + o)));
      v128.store(po + o, v);
    }
    pd += <usize>C << 2;
    px += <usize>C << 2;
    po += <usize>C << 2;
  }
}

/** ReLU gradient over n floats: dx = dy where x > 0, else 0. */
export function reluGrad(dy: usize, x: usize, n: i32, dx: usize): void {
  const zero = f32x4.splat(0);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(x + o), zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(x + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

/**
 * Max-pool gradient, NHWC: dx [N, IH, IW, C] from dy [N, OH, OW, C], the pool input x and output y. Each dy goes to
 * the first position (row-major within the window, padding skipped) whose x equals the window maximum y, which is
 * the position tfjs' cpu backend picks (strictly-greater scan). Overlapping windows accumulate.
 */
export function maxPoolGrad(
  dy: usize, x: usize, y: usize, N: i32, IH: i32, IW: i32, C: i32, OH: i32, OW: i32,
  KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, dx: usize,
): void {
  memory.fill(dx, 0, <usize>(N * IH * IW * C) << 2);
  const C4 = C & ~3;
  const ones = i32x4.splat(-1);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const y0 = max(0, oy * sh - pt);
      const y1 = min(IH, oy * sh - pt + KH);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = max(0, ox * sw - pl);
        const x1 = min(IW, ox * sw - pl + KW);
        const ob = <usize>(((n * OH + oy) * OW + ox) * C) << 2;
        let c = 0;
        for (; c < C4; c += 4) {
          const o = ob + (<usize>c << 2);
          const vmax = v128.load(y + o);
          const g = v128.load(dy + o);
          let free = ones;
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const ib = (<usize>(((n * IH + iy) * IW + ix) * C + c)) << 2;
              const hit = v128.and(f32x4.eq(v128.load(x + ib), vmax), free);
              v128.store(dx + ib, f32x4.add(v128.load(dx + ib), v128.and(g, hit)));
              free = v128.andnot(free, hit);
            }
          }
        }
        for (; c < C; c++) {
          const o = ob + (<usize>c << 2);
          const vmax = load<f32>(y + o);
          let done = false;
          for (let iy = y0; iy < y1 && !done; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const ib = (<usize>(((n * IH + iy) * IW + ix) * C + c)) << 2;
              if (load<f32>(x + ib) == vmax) {
                store<f32>(dx + ib, load<f32>(dx + ib) + load<f32>(dy + o));
                done = true;
                break;
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Inverted dropout over n floats: mask[i] = 1 / (1 - rate) with probability 1 - rate, else 0; y = x * mask.
 * Uniforms come from four xorshift32 streams (one per lane) seeded from `seed` by splitmix32, so the same seed gives
 * the same mask. rate in [0, 1).
 */
export function dropout(x: usize, n: i32, rate: f32, seed: u32, y: usize, mask: usize): void {
  let s: u32 = seed;
  let l0: u32 = 0, l1: u32 = 0, l2: u32 = 0, l3: u32 = 0;
  for (let k = 0; k < 4; k++) {
    s += 0x9e3779b9;
    let z: u32 = s;
    z = (z ^ (z >>> 16)) * 0x85ebca6b;
    z = (z ^ (z >>> 13)) * 0xc2b2ae35;
    z = z ^ (z >>> 16);
    if (z == 0) z = 0x6d2b79f5;
    if (k == 0) l0 = z;
    else if (k == 1) l1 = z;
    else if (k == 2) l2 = z;
    else l3 = z;
  }
  let st = i32x4(<i32>l0, <i32>l1, <i32>l2, <i32>l3);
  const keep = f32x4.splat(1 / (1 - rate));
  const thr = f32x4.splat(rate);
  const scale = f32x4.splat(<f32>(1.0 / 16777216.0));
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    st = v128.xor(st, i32x4.shl(st, 13));
    st = v128.xor(st, i32x4.shr_u(st, 17));
    st = v128.xor(st, i32x4.shl(st, 5));
    const u = f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(st, 8)), scale);
    const m = v128.and(keep, f32x4.ge(u, thr));
    const o = <usize>i << 2;
    v128.store(mask + o, m);
    v128.store(y + o, f32x4.mul(v128.load(x + o), m));
  }
  for (; i < n; i++) {
    st = v128.xor(st, i32x4.shl(st, 13));
    st = v128.xor(st, i32x4.shr_u(st, 17));
    st = v128.xor(st, i32x4.shl(st, 5));
    const u = <f32>(<u32>i32x4.extract_lane(st, 0) >>> 8) * <f32>(1.0 / 16777216.0);
    const m: f32 = u >= rate ? <f32>1 / (<f32>1 - rate) : 0;
    const o = <usize>i << 2;
    store<f32>(mask + o, m);
    store<f32>(y + o, load<f32>(x + o) * m);
  }
}

/** In place over y [M, C] (any C): y += bias[c]; with relu != 0 then y = max(0, y). */
export function biasAct(y: usize, M: i32, C: i32, bias: usize, relu: i32): void {
  const C4 = C & ~3;
  const zero = f32x4.splat(0);
  let p = y;
  for (let m = 0; m < M; m++) {
    let c = 0;
    for (; c < C4; c += 4) {
      const o = <usize>c << 2;
      let v = f32x4.add(v128.load(p + o), v128.load(bias + o));
      if (relu) v = f32x4.max(v, zero);
      v128.store(p + o, v);
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      let v = load<f32>(p + o) + load<f32>(bias + o);
      if (relu && v < 0) v = 0;
      store<f32>(p + o, v);
    }
    p += <usize>C << 2;
  }
}

/**
 * One Adam / AdamW step over n floats (Kingma & Ba, arXiv 1412.6980, Algorithm 1; decoupled weight decay of
 * Loshchilov & Hutter, arXiv 1711.05101):
 *   m' = b1*m + (1-b1)*g;  v' = b2*v + (1-b2)*g^2;  x' = x - lr * ((m'/bc1) / (sqrt(v'/bc2) + eps) + wd * x)
 * with bc1 = 1 - b1^t and bc2 = 1 - b2^t passed in. Results go to xo, mo, vo (which may not alias the inputs).
 * Moments below 1e-30 are flushed to zero: the first moment of a weight whose gradient stays zero (a dead ReLU
 * unit) decays geometrically through the float32 subnormals, and subnormal arithmetic is ~35x slower on x86 (wasm
 * cannot set flush-to-zero); such moments move a weight by less than lr * 1e-22, far below its float32 resolution.
 */
export function adamStep(
  x: usize, m: usize, v: usize, g: usize, n: i32,
  lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32,
  xo: usize, mo: usize, vo: usize,
): void {
  const vb1 = f32x4.splat(b1), vb1c = f32x4.splat(1 - b1);
  const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(1 - b2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
  const ibc1 = f32x4.splat(1 / bc1), ibc2 = f32x4.splat(1 / bc2);
  const tiny = f32x4.splat(1e-30);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gv = v128.load(g + o);
    const xv = v128.load(x + o);
    let mn = MADD(vb1, v128.load(m + o), f32x4.mul(vb1c, gv));
    let vn = MADD(vb2, v128.load(v + o), f32x4.mul(vb2c, f32x4.mul(gv, gv)));
    mn = v128.andnot(mn, f32x4.lt(f32x4.abs(mn), tiny));
    vn = v128.andnot(vn, f32x4.lt(vn, tiny));
    const den = f32x4.add(f32x4.sqrt(f32x4.mul(vn, ibc2)), veps);
    const upd = MADD(vwd, xv, f32x4.div(f32x4.mul(mn, ibc1), den));
    v128.store(mo + o, mn);
    v128.store(vo + o, vn);
    v128.store(xo + o, f32x4.sub(xv, f32x4.mul(vlr, upd)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    const xv = load<f32>(x + o);
    let mn = b1 * load<f32>(m + o) + (1 - b1) * gv;
    let vn = b2 * load<f32>(v + o) + (1 - b2) * gv * gv;
    if (Mathf.abs(mn) < 1e-30) mn = 0;
    if (vn < 1e-30) vn = 0;
    store<f32>(mo + o, mn);
    store<f32>(vo + o, vn);
    store<f32>(xo + o, xv - lr * ((mn / bc1) / (Mathf.sqrt(vn / bc2) + eps) + wd * xv));
  }
}

/**
 * Max-pool gradient for non-overlapping windows that tile the input exactly (stride = window, no padding,
 * IH = OH*KH, IW = OW*KW, C a multiple of 4): every input position is written once (dy at the window's first
 * maximum, else 0), so no zero-fill pass is needed. 2x2 windows go to maxPoolGrad2x2 (3.5x faster here, README
 * Performance).
 */
export function maxPoolGradTiled(dy: usize, x: usize, y: usize, N: i32, OH: i32, OW: i32, C: i32, KH: i32, KW: i32, dx: usize): void {
  const IW = OW * KW;
  const rowBytes = <usize>(IW * C) << 2;
  const pixBytes = <usize>C << 2;
  const ones = i32x4.splat(-1);
  if (KH == 2 && KW == 2) {
    maxPoolGrad2x2(dy, x, y, N * OH, OW, pixBytes, rowBytes, dx);
    return;
  }
  let o: usize = 0;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const rowBase = <usize>((n * OH + oy) * KH) * rowBytes;
      for (let ox = 0; ox < OW; ox++) {
        const base = rowBase + <usize>(ox * KW) * pixBytes;
        for (let c: usize = 0; c < pixBytes; c += 16) {
          const vmax = v128.load(y + o);
          const g = v128.load(dy + o);
          let free = ones;
          for (let a = 0; a < KH; a++) {
            for (let b = 0; b < KW; b++) {
              const ib = base + <usize>a * rowBytes + <usize>b * pixBytes + c;
              const hit = v128.and(f32x4.eq(v128.load(x + ib), vmax), free);
              v128.store(dx + ib, v128.and(g, hit));
              free = v128.andnot(free, hit);
            }
          }
          o += 16;
        }
      }
    }
  }
}

// maxPoolGradTiled for 2x2 windows (every pool of the registry's CNNs): the four input vectors of a window are loaded
// before any of the four gradient vectors is stored, so no load waits on a store to dx that may alias it in the
// store buffer (dx and x are separate tensors at offsets that can differ by a multiple of 4 KiB).
function maxPoolGrad2x2(dy: usize, x: usize, y: usize, rows: i32, OW: i32, pixBytes: usize, rowBytes: usize, dx: usize): void {
  let o: usize = 0;
  for (let r = 0; r < rows; r++) {
    let p0 = <usize>(r * 2) * rowBytes;
    for (let ox = 0; ox < OW; ox++) {
      const end = p0 + pixBytes;
      for (let q = p0; q < end; q += 16) {
        const vmax = v128.load(y + o);
        const g = v128.load(dy + o);
        const a = v128.load(x + q);
        const b = v128.load(x + q + pixBytes);
        const c = v128.load(x + q + rowBytes);
        const d = v128.load(x + q + rowBytes + pixBytes);
        const ha = f32x4.eq(a, vmax);
        const hb = v128.andnot(f32x4.eq(b, vmax), ha);
        const taken = v128.or(ha, hb);
        const hc = v128.andnot(f32x4.eq(c, vmax), taken);
        const hd = v128.andnot(f32x4.eq(d, vmax), v128.or(taken, hc));
        v128.store(dx + q, v128.and(g, ha));
        v128.store(dx + q + pixBytes, v128.and(g, hb));
        v128.store(dx + q + rowBytes, v128.and(g, hc));
        v128.store(dx + q + rowBytes + pixBytes, v128.and(g, hd));
        o += 16;
      }
      p0 += pixBytes << 1;
    }
  }
}
