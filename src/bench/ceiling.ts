import { chooseVariant, standaloneKernels, type KernelVariant } from '../backend/wasm/module';

/**
 * The wasm ceiling of one core, measured by `npm run bench` in the same run as the training steps: the rate of the
 * multiply-add that ferlab's kernel build uses (one relaxed-SIMD FMA, or a SIMD128 multiply and add: 4 float32 lanes
 * either way), so that each training step's speed reads as a fraction of what wasm can do at all on that core. Native
 * code on the same core has 8 (AVX2) or 16 (AVX-512) lanes per FMA; PyTorch's oneDNN kernels use them.
 */

/** The measured peak of one core. */
export interface MaddPeak {
  /** Kernel build timed (src/backend/wasm/module.ts chooseVariant). */
  variant: KernelVariant;
  /** Best run (GFLOP/s, 2 flop per multiply-add lane). */
  gflops: number;
  /** Every run's GFLOP/s, in order. */
  runs: number[];
}

/** Floating-point operations of one round of assembly/peak.ts maddPeak: 12 multiply-adds x 4 lanes x 2. */
export const MADD_PEAK_FLOP_PER_ROUND = 96;

/**
 * Times `runs` calls of maddPeak (2^24 rounds each, ~30-60 ms on current x86 cores) after a warm-up call.
 * @returns the best and every run's GFLOP/s on the calling thread's core.
 * @throws Error when the kernel returns a non-finite sum, or as standaloneKernels.
 */
export function measureMaddPeak(variant: KernelVariant = chooseVariant(), runs = 9): MaddPeak {
  const k = standaloneKernels(variant);
  const iters = 1 << 24;
  k.maddPeak(1 << 16, 1);
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const sum = k.maddPeak(iters, 1 + r / runs);
    const ms = performance.now() - t0;
    if (!Number.isFinite(sum)) throw new Error(`maddPeak returned ${sum}; expected a finite sum`);
    rates.push((MADD_PEAK_FLOP_PER_ROUND * iters) / ms / 1e6);
  }
  return { variant, gflops: Math.max(...rates), runs: rates };
}
