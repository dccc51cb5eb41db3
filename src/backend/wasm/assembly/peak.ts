// The ceiling of this build's multiply-add (MADD: one relaxed-SIMD FMA, or a SIMD128 multiply then add), measured by
// `npm run bench` in the same run as the training steps, so that their speed can be read as a fraction of what one
// core can do through wasm at all.

/**
 * Runs `iters` rounds of 12 independent 4-lane multiply-adds c = c * b + a (12 dependency chains cover an FMA
 * latency of 4 cycles on 2 pipes and, with the two operands, fit the 16 vector registers V8 gives wasm); 96 floating
 * point operations per round. The accumulators converge to a / (1 - b) (b = 0.999), so nothing overflows.
 * @returns the sum of every accumulator lane, so that no work can be dropped.
 */
export function maddPeak(iters: i32, a: f32): f32 {
  const x = f32x4.splat(a);
  const b = f32x4.splat(0.999);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(1), c2 = f32x4.splat(2), c3 = f32x4.splat(3);
  let c4 = f32x4.splat(4), c5 = f32x4.splat(5), c6 = f32x4.splat(6), c7 = f32x4.splat(7);
  let c8 = f32x4.splat(8), c9 = f32x4.splat(9), c10 = f32x4.splat(10), c11 = f32x4.splat(11);
  for (let i = 0; i < iters; i++) {
    c0 = MADD(c0, b, x); c1 = MADD(c1, b, x); c2 = MADD(c2, b, x); c3 = MADD(c3, b, x);
    c4 = MADD(c4, b, x); c5 = MADD(c5, b, x); c6 = MADD(c6, b, x); c7 = MADD(c7, b, x);
    c8 = MADD(c8, b, x); c9 = MADD(c9, b, x); c10 = MADD(c10, b, x); c11 = MADD(c11, b, x);
  }
  let s = f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)));
  s = f32x4.add(s, f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
