import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../util/paths';

/**
 * Loading ferlab's oneDNN addon (src/backend/native/*.cc, built by scripts/build-native.mjs during `npm ci` when a C++
 * compiler and oneDNN are installed). Every function takes the tfjs wasm heap (its WebAssembly.Memory's current
 * ArrayBuffer, never a SharedArrayBuffer) and byte offsets into it, and reads and writes float32 tensors there in
 * place. Sizes are element counts; `bias` < 0 means none. Errors from oneDNN are thrown as JavaScript errors naming
 * the kernel.
 */
export interface NativeAddon {
  /** Sets the OpenMP threads oneDNN uses (>= 1); returns the number in effect. */
  setThreads(n: number): number;
  /** OpenMP threads in effect. */
  threads(): number;
  /** The oneDNN library loaded at run time: version, CPU threading runtime and the instruction set its kernels use. */
  version(): { major: number; minor: number; patch: number; hash: string; cpuRuntime: string; isa: string };
  /**
   * y [N, OH, OW, CO] = conv(x [N, H, W, CI], w [KH, KW, CI, CO]) (+ bias [CO]) (then ReLU), followed by the 17
   * geometry integers N, H, W, CI, KH, KW, CO, OH, OW, sh, sw, dh, dw (tfjs dilations: 1 = none), pt, pl, pb, pr.
   */
  conv2dForward(heap: ArrayBuffer, x: number, w: number, bias: number, y: number, ...geomReluAny: number[]): void;
  /** dx [N, H, W, CI] from dy [N, OH, OW, CO] and w; geometry as conv2dForward, then anyAct. */
  conv2dBackwardData(heap: ArrayBuffer, dy: number, w: number, dx: number, ...geomAny: number[]): void;
  /** dw [KH, KW, CI, CO] from x and dy; geometry as conv2dForward, then anyAct. */
  conv2dBackwardWeights(heap: ArrayBuffer, x: number, dy: number, dw: number, ...geomAny: number[]): void;
  /**
   * c [max(batchA, batchB), M, N] = op(a) @ op(b) (+ bias [N]) (then ReLU); a [batchA, M, K] ([batchA, K, M] when
   * transposeA), b [batchB, K, N] ([batchB, N, K] when transposeB); a batch of 1 broadcasts.
   */
  matMul(
    heap: ArrayBuffer,
    a: number,
    b: number,
    bias: number,
    c: number,
    batchA: number,
    batchB: number,
    M: number,
    K: number,
    N: number,
    transposeA: number,
    transposeB: number,
    relu: number,
  ): void;
  /** y = gamma * (x - mean) / sqrt(variance + epsilon) + beta over x [M, C]; writes the batch mean [C] and biased variance [C]. */
  batchNormTrain(
    heap: ArrayBuffer,
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    variance: number,
    M: number,
    C: number,
    epsilon: number,
  ): void;
  /**
   * Max pooling y [N, OH, OW, C] of x [N, H, W, C], geometry N, H, W, C, KH, KW, OH, OW, sh, sw, pt, pl, pb, pr;
   * returns oneDNN's workspace (where each maximum is) for maxPoolBackward.
   */
  maxPoolForward(heap: ArrayBuffer, x: number, y: number, ...geom: number[]): ArrayBuffer;
  /** dx [N, H, W, C] of max pooling from dy and the forward pass's workspace; geometry as maxPoolForward. */
  maxPoolBackward(heap: ArrayBuffer, dy: number, dx: number, workspace: ArrayBuffer, ...geom: number[]): void;
  /**
   * The float32 multiply-add peak of the calling thread (peak.cc): best of `runs` timings of `iters` rounds of 12
   * independent vector FMAs on the widest vectors the CPU has; GFLOP/s counts 2 flop per lane per FMA.
   */
  fmaPeak(iters: number, runs: number): { isa: string; lanes: number; gflops: number; sink: number };
  /**
   * Depthwise convolution y [N, OH, OW, C*M] of x [N, H, W, C] and w [KH, KW, C, M], followed by the 17 geometry
   * integers N, H, W, C, KH, KW, M, OH, OW, sh, sw, dh, dw, pt, pl, pb, pr.
   */
  depthwiseForward(heap: ArrayBuffer, x: number, w: number, y: number, ...geom: number[]): void;
  /** dx [N, H, W, C] of the depthwise convolution for dy; geometry as depthwiseForward. */
  depthwiseBackwardData(heap: ArrayBuffer, dy: number, w: number, dx: number, ...geom: number[]): void;
  /** dw [KH, KW, C, M] of the depthwise convolution of x for dy; geometry as depthwiseForward. */
  depthwiseBackwardWeights(heap: ArrayBuffer, x: number, dy: number, dw: number, ...geom: number[]): void;
  /** y = max(x, 0) over n floats. */
  relu(heap: ArrayBuffer, x: number, y: number, n: number): void;
  /** dx = dy where x > 0, else 0, over n floats. */
  reluGrad(heap: ArrayBuffer, dy: number, x: number, dx: number, n: number): void;
  /** The full backward pass of batchNormTrain: dx [M, C], dgamma [C], dbeta [C]. */
  batchNormGrad(
    heap: ArrayBuffer,
    dy: number,
    x: number,
    mean: number,
    variance: number,
    gamma: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    M: number,
    C: number,
    epsilon: number,
  ): void;
}

/** Where the build puts the addon; FERLAB_NATIVE_ADDON overrides it (tests point it at a missing file). */
export function nativeAddonPath(): string {
  return process.env.FERLAB_NATIVE_ADDON || join(PROJECT_ROOT, 'src', 'backend', 'native', 'build', 'Release', 'ferlab_native.node');
}

/** What to install so that the addon builds (Debian / Ubuntu package names; the README says the same). */
export const NATIVE_INSTALL_HINT = 'install a C++ compiler and oneDNN (Debian/Ubuntu: apt-get install g++ make libdnnl-dev), then run `npm run build:native`';

let loaded: { addon: NativeAddon } | { error: string } | undefined;

/**
 * The oneDNN addon, or why it is unavailable (loaded once per process).
 * @returns `{ addon }`, or `{ error }`: a one-line reason (not built, or it failed to load, e.g. libdnnl.so missing)
 *   followed by what to install ({@link NATIVE_INSTALL_HINT}).
 */
export function loadNativeAddon(): { addon: NativeAddon } | { error: string } {
  if (loaded) return loaded;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    loaded = { error: `the oneDNN addon is not built (${path} is missing): ${NATIVE_INSTALL_HINT}` };
    return loaded;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a compiled Node addon is loaded with require
    loaded = { addon: require(path) as NativeAddon };
  } catch (e) {
    loaded = { error: `the oneDNN addon ${path} failed to load (${(e as Error).message.split('\n')[0]}): ${NATIVE_INSTALL_HINT}` };
  }
  return loaded;
}
