// Fused multiply-add on 4 float32 lanes: a * b + c.
// The build compiles this module twice (scripts/build-kernels.ts): with `--use MADD=maddRelaxed` where the engine has
// relaxed SIMD (one FMA instruction on x86 with FMA3 and on Arm), and `--use MADD=maddPlain` elsewhere. AssemblyScript
// compiles only what is reached, so the variant not selected is never type-checked against the disabled feature.

// @ts-ignore: decorator
@global @inline function maddRelaxed(a: v128, b: v128, c: v128): v128 {
  return f32x4.relaxed_madd(a, b, c);
}

// @ts-ignore: decorator
@global @inline function maddPlain(a: v128, b: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), c);
}
