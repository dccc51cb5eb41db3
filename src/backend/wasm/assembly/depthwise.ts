// Gradients of the depthwise convolution (tf.depthwiseConv2d, DepthwiseConv2dNative) for ferlab's wasm training path
// (AssemblyScript, wasm SIMD). tfjs-backend-wasm has only the forward kernel (XNNPACK); these two make the depthwise
// half of SeparableConv2D / DepthwiseConv2D layers trainable on the wasm backend.
//
// Shapes (float32, row-major, NHWC; byte pointers into the tfjs wasm backend's memory):
//   x  [N, IH, IW, C]      dy [N, OH, OW, C*M]      w [KH, KW, C, M]   (M = channel multiplier; output channel c*M + m)
// Forward (for reference): y[n, oy, ox, c*M + m] = sum over taps (kh, kw) of x[n, oy*sh + kh - pt, ox*sw + kw - pl, c]
//   * w[kh, kw, c, m], taps in the padding contributing nothing (TensorFlow's depthwise_conv2d_native).
//   dwInputGrad   dx[n, iy, ix, c]  = sum over (kh, kw, m) with iy = oy*sh + kh - pt, ix = ox*sw + kw - pl for an
//                                     output pixel (oy, ox) of dy[n, oy, ox, c*M + m] * w[kh, kw, c, m]
//   dwFilterGrad  dW[kh, kw, c, m]  = sum over (n, oy, ox) of x[n, oy*sh + kh - pt, ox*sw + kw - pl, c] * dy[n, oy, ox, c*M + m]
// Dilation is not handled (tfjs-core's DepthwiseConv2dNative gradient refuses dilations > 1 before any kernel runs).
// With M = 1 (every depthwise layer of ferlab's models) the channels are independent lanes: 4 channels per v128, a
// scalar loop for the last C % 4. Other multipliers take a scalar path (same sums, no SIMD).

// @ts-ignore: decorator
@inline function floorDiv(a: i32, b: i32): i32 {
  return a >= 0 ? a / b : -((b - 1 - a) / b);
}

// @ts-ignore: decorator
@inline function ceilDiv(a: i32, b: i32): i32 {
  return a >= 0 ? (a + b - 1) / b : -(-a / b);
}

/** Scratch bytes dwInputGrad needs: tap pointer pairs, the output row of each kernel row, the output column of each (input column, kernel column). */
export function dwInputGradScratchBytes(KH: i32, KW: i32, IW: i32): i32 {
  return KH * KW * 8 + KH * 4 + IW * KW * 4;
}

/**
 * Input gradient dx [N, IH, IW, C] of a depthwise convolution from dy [N, OH, OW, C*M] and w [KH, KW, C, M]
 * (strides sh, sw; padding pt top, pl left). Each dx pixel gathers its (at most KH*KW) taps: the valid ones are
 * listed first as (dy row, filter tap) pointer pairs, then every block of 4 channels sums over them in one register.
 * Which output row / column a kernel row / column reads from (or none) is tabulated once per input row and once per
 * call, so the per-pixel work has no integer division. `work` holds dwInputGradScratchBytes(KH, KW, IW) bytes.
 * Every dx element is written (zero when no tap reaches it).
 */
export function dwInputGrad(
  dy: usize, N: i32, OH: i32, OW: i32,
  w: usize, KH: i32, KW: i32, C: i32, M: i32,
  sh: i32, sw: i32, pt: i32, pl: i32,
  dx: usize, IH: i32, IW: i32, work: usize,
): void {
  const CM = C * M;
  const dyRow = <usize>CM << 2;
  const tapBytes = <usize>CM << 2;
  const C4 = C & ~3;
  const ptrs = work;
  const rowTab = ptrs + (<usize>(KH * KW) << 3);
  const colTab = rowTab + (<usize>KH << 2);
  // colTab[ix][kw] = ox with ox*sw + kw - pl = ix, or -1
  for (let ix = 0; ix < IW; ix++) {
    for (let kw = 0; kw < KW; kw++) {
      const tx = ix + pl - kw;
      let ox = -1;
      if (tx >= 0 && tx % sw == 0 && tx / sw < OW) ox = tx / sw;
      store<i32>(colTab + (<usize>(ix * KW + kw) << 2), ox);
    }
  }
  let out = dx;
  for (let n = 0; n < N; n++) {
    for (let iy = 0; iy < IH; iy++) {
      // rowTab[kh] = oy with oy*sh + kh - pt = iy, or -1
      for (let kh = 0; kh < KH; kh++) {
        const ty = iy + pt - kh;
        let oy = -1;
        if (ty >= 0 && ty % sh == 0 && ty / sh < OH) oy = ty / sh;
        store<i32>(rowTab + (<usize>kh << 2), oy);
      }
      for (let ix = 0; ix < IW; ix++) {
        let cnt = 0;
        for (let kh = 0; kh < KH; kh++) {
          const oy = load<i32>(rowTab + (<usize>kh << 2));
          if (oy < 0) continue;
          const base = dy + <usize>((n * OH + oy) * OW) * dyRow;
          for (let kw = 0; kw < KW; kw++) {
            const ox = load<i32>(colTab + (<usize>(ix * KW + kw) << 2));
            if (ox < 0) continue;
            const q = ptrs + (<usize>cnt << 3);
            store<usize>(q, base + <usize>ox * dyRow);
            store<usize>(q, w + <usize>(kh * KW + kw) * tapBytes, 4);
            cnt++;
          }
        }
        if (M == 1) {
          let c = 0;
          for (; c < C4; c += 4) {
            const o = <usize>c << 2;
            let acc = f32x4.splat(0);
            for (let t = 0; t < cnt; t++) {
              const q = ptrs + (<usize>t << 3);
              acc = MADD(v128.load(load<usize>(q) + o), v128.load(load<usize>(q, 4) + o), acc);
            }
            v128.store(out + o, acc);
          }
          for (; c < C; c++) {
            const o = <usize>c << 2;
            let acc: f32 = 0;
            for (let t = 0; t < cnt; t++) {
              const q = ptrs + (<usize>t << 3);
              acc += load<f32>(load<usize>(q) + o) * load<f32>(load<usize>(q, 4) + o);
            }
            store<f32>(out + o, acc);
          }
        } else {
          for (let c = 0; c < C; c++) {
            let acc: f32 = 0;
            for (let t = 0; t < cnt; t++) {
              const q = ptrs + (<usize>t << 3);
              const s = load<usize>(q);
              const f = load<usize>(q, 4);
              for (let m = 0; m < M; m++) {
                const o = <usize>(c * M + m) << 2;
                acc += load<f32>(s + o) * load<f32>(f + o);
              }
            }
            store<f32>(out + (<usize>c << 2), acc);
          }
        }
        out += <usize>C << 2;
      }
    }
  }
}

/** Scratch bytes dwFilterGrad needs: a float64 accumulator per filter weight. */
export function dwFilterGradScratchBytes(KH: i32, KW: i32, C: i32, M: i32): i32 {
  return KH * KW * C * M * 8 + 16;
}

/**
 * Filter gradient dW [KH, KW, C, M] of a depthwise convolution from x [N, IH, IW, C] and dy [N, OH, OW, C*M]
 * (strides sh, sw; padding pt top, pl left). For every output row (n, oy) and tap (kh, kw), each block of 4 channels
 * sums x * dy along the row's valid output columns in a float32 register; the row sums are added into a float64
 * accumulator (`work`, dwFilterGradScratchBytes bytes), so the N*OH*OW-term sums keep float64-level accuracy.
 */
export function dwFilterGrad(
  x: usize, N: i32, IH: i32, IW: i32, C: i32, M: i32,
  dy: usize, OH: i32, OW: i32,
  KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32,
  work: usize, dw: usize,
): void {
  const CM = C * M;
  const T = KH * KW;
  const acc = (work + 15) & ~15;
  memory.fill(acc, 0, <usize>(T * CM) << 3);
  const C4 = C & ~3;
  const xPix = <usize>C << 2;
  const dyPix = <usize>CM << 2;
  const xStep = <usize>sw * xPix;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const dyRow = dy + <usize>((n * OH + oy) * OW) * dyPix;
      for (let kh = 0; kh < KH; kh++) {
        const iy = oy * sh + kh - pt;
        if (iy < 0 || iy >= IH) continue;
        const xRow = x + <usize>((n * IH + iy) * IW) * xPix;
        for (let kw = 0; kw < KW; kw++) {
          // output columns whose tap kw lands inside the image: 0 <= ox*sw + kw - pl < IW
          const ox0 = max(0, ceilDiv(pl - kw, sw));
          const ox1 = min(OW - 1, floorDiv(IW - 1 + pl - kw, sw));
          if (ox0 > ox1) continue;
          const cols = ox1 - ox0 + 1;
          const xs0 = xRow + <usize>(ox0 * sw + kw - pl) * xPix;
          const ds0 = dyRow + <usize>ox0 * dyPix;
          const a0 = acc + (<usize>((kh * KW + kw) * CM) << 3);
          if (M == 1) {
            let c = 0;
            for (; c < C4; c += 4) {
              const o = <usize>c << 2;
              let s = f32x4.splat(0);
              let xs = xs0 + o;
              let ds = ds0 + o;
              for (let i = 0; i < cols; i++) {
                s = MADD(v128.load(xs), v128.load(ds), s);
                xs += xStep;
                ds += dyPix;
              }
              const a = a0 + (<usize>c << 3);
              v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(s)));
              v128.store(a, f64x2.add(v128.load(a, 16), f64x2.promote_low_f32x4(f32x4.shuffle(s, s, 2, 3, 0, 1))), 16);
            }
            for (; c < C; c++) {
              const o = <usize>c << 2;
              let s: f32 = 0;
              let xs = xs0 + o;
              let ds = ds0 + o;
              for (let i = 0; i < cols; i++) {
                s += load<f32>(xs) * load<f32>(ds);
                xs += xStep;
                ds += dyPix;
              }
              const a = a0 + (<usize>c << 3);
              store<f64>(a, load<f64>(a) + <f64>s);
            }
          } else {
            for (let c = 0; c < C; c++) {
              for (let m = 0; m < M; m++) {
                const j = c * M + m;
                let s: f32 = 0;
                let xs = xs0 + (<usize>c << 2);
                let ds = ds0 + (<usize>j << 2);
                for (let i = 0; i < cols; i++) {
                  s += load<f32>(xs) * load<f32>(ds);
                  xs += xStep;
                  ds += dyPix;
                }
                const a = a0 + (<usize>j << 3);
                store<f64>(a, load<f64>(a) + <f64>s);
              }
            }
          }
        }
      }
    }
  }
  const total = T * CM;
  for (let i = 0; i < total; i++) store<f32>(dw + (<usize>i << 2), <f32>load<f64>(acc + (<usize>i << 3)));
}
