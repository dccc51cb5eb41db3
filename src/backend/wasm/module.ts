import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as v8 from 'node:v8';
import type { TensorInfo } from '@tensorflow/tfjs';
import { PROJECT_ROOT } from '../../util/paths';

/**
 * Exports of ferlab's kernel module (src/backend/wasm/assembly, built by `npm run build:kernels`). Arguments are
 * byte pointers into the tfjs wasm backend's memory and int32 sizes; see the AssemblyScript sources for semantics.
 */
export interface KernelExports {
  packWeights(w: number, T: number, I: number, O: number, transpose: number, out: number): void;
  im2col(
    x: number,
    N: number,
    IH: number,
    IW: number,
    C: number,
    KH: number,
    KW: number,
    OH: number,
    OW: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    pt: number,
    pl: number,
    out: number,
  ): void;
  igemm(
    mode: number,
    src: number,
    N: number,
    IH: number,
    IW: number,
    K: number,
    wp: number,
    KH: number,
    KW: number,
    J: number,
    out: number,
    OH: number,
    OW: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    pt: number,
    pl: number,
    zero: number,
    ptrs: number,
  ): void;
  wgradScratchBytes(C: number, J: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number, R: number, CW: number): number;
  wgrad(
    x: number,
    N: number,
    IH: number,
    IW: number,
    C: number,
    dy: number,
    OH: number,
    OW: number,
    J: number,
    dyStride: number,
    KH: number,
    KW: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    pt: number,
    pl: number,
    R: number,
    CW: number,
    work: number,
    out: number,
  ): void;
  wgradC1(
    x: number,
    N: number,
    IH: number,
    IW: number,
    dy: number,
    OH: number,
    OW: number,
    J: number,
    KH: number,
    KW: number,
    pt: number,
    pl: number,
    xp: number,
    out: number,
  ): void;
  gatherTap(
    x: number,
    N: number,
    IH: number,
    IW: number,
    C: number,
    dy: number,
    OH: number,
    OW: number,
    J: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    pt: number,
    pl: number,
    xo: number,
    dyo: number,
  ): number;
  winoFilter(w: number, CI: number, CO: number, transpose: number, out: number): void;
  winoInput(x: number, N: number, H: number, W: number, C: number, pt: number, pl: number, TH: number, TW: number, out: number): void;
  winoOutput(m: number, N: number, TH: number, TW: number, OH: number, OW: number, J: number, out: number): void;
  winoDy(dy: number, N: number, OH: number, OW: number, C: number, TH: number, TW: number, out: number): void;
  winoWgradOutput(s: number, CI: number, CO: number, out: number): void;
  winoFilter4(w: number, CI: number, CO: number, transpose: number, out: number): void;
  winoInput4(x: number, N: number, H: number, W: number, C: number, pt: number, pl: number, TH: number, TW: number, out: number): void;
  winoOutput4(m: number, N: number, TH: number, TW: number, OH: number, OW: number, J: number, out: number): void;
  sumRows(x: number, M: number, C: number, out: number, scratch: number): void;
  bnStats(x: number, M: number, C: number, mean: number, variance: number, scratch: number): void;
  affineRows(x: number, M: number, C: number, scale: number, shift: number, relu: number, y: number): void;
  bnGradSums(dy: number, x: number, M: number, C: number, mean: number, sumDy: number, sumDyXc: number, scratch: number): void;
  bnGradApply(dy: number, x: number, M: number, C: number, mean: number, k1: number, k2: number, k3: number, dx: number): void;
  reluGrad(dy: number, x: number, n: number, dx: number): void;
  maxPoolGrad(
    dy: number,
    x: number,
    y: number,
    N: number,
    IH: number,
    IW: number,
    C: number,
    OH: number,
    OW: number,
    KH: number,
    KW: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    dx: number,
  ): void;
  maxPoolGradTiled(dy: number, x: number, y: number, N: number, OH: number, OW: number, C: number, KH: number, KW: number, dx: number): void;
  dropout(x: number, n: number, rate: number, seed: number, y: number, mask: number): void;
  adamStep(
    x: number,
    m: number,
    v: number,
    g: number,
    n: number,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    wd: number,
    bc1: number,
    bc2: number,
    xo: number,
    mo: number,
    vo: number,
  ): void;
  biasAct(y: number, M: number, C: number, bias: number, relu: number): void;
  dwInputGrad(
    dy: number,
    N: number,
    OH: number,
    OW: number,
    w: number,
    KH: number,
    KW: number,
    C: number,
    M: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    dx: number,
    IH: number,
    IW: number,
    work: number,
  ): void;
  /** assembly/peak.ts: `iters` rounds of 12 independent 4-lane multiply-adds (96 flop each); returns their lanes' sum. */
  maddPeak(iters: number, a: number): number;
  dwInputGradScratchBytes(KH: number, KW: number, IW: number): number;
  dwFilterGradScratchBytes(KH: number, KW: number, C: number, M: number): number;
  dwFilterGrad(
    x: number,
    N: number,
    IH: number,
    IW: number,
    C: number,
    M: number,
    dy: number,
    OH: number,
    OW: number,
    KH: number,
    KW: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    work: number,
    dw: number,
  ): void;
}

/** Which build of the kernel module runs: FMA through relaxed SIMD, or plain SIMD128. */
export type KernelVariant = 'relaxed' | 'simd';

/** The parts of tfjs-backend-wasm's BackendWasm that ferlab's kernels use. */
export interface WasmBackendLike {
  wasm: { _malloc(bytes: number): number; _free(ptr: number): void; HEAPU8: Uint8Array; asm?: Record<string, unknown> };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: unknown): TensorInfo;
}

const wasmPath = (variant: KernelVariant) => join(PROJECT_ROOT, 'src', 'backend', 'wasm', `ferlab-kernels.${variant}.wasm`);

let relaxedSupport: boolean | undefined;

/**
 * Whether this engine runs relaxed SIMD (needed for the FMA build). Node 22+ has it on by default; Node 20's V8
 * ships it behind `--experimental-wasm-relaxed-simd`, which is switched on here (process-wide, before any module
 * using it is compiled) when validation fails without it.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupport !== undefined) return relaxedSupport;
  const bytes = readFileSync(wasmPath('relaxed'));
  relaxedSupport = WebAssembly.validate(bytes);
  if (!relaxedSupport) {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      relaxedSupport = WebAssembly.validate(bytes);
    } catch {
      relaxedSupport = false;
    }
  }
  return relaxedSupport;
}

/**
 * The variant to run: `FERLAB_KERNELS=relaxed|simd` forces one; by default relaxed when supported, else simd.
 * @throws Error when `FERLAB_KERNELS=relaxed` but the engine cannot run relaxed SIMD.
 */
export function chooseVariant(): KernelVariant {
  const want = process.env.FERLAB_KERNELS;
  if (want === 'simd') return 'simd';
  const ok = relaxedSimdSupported();
  if (want === 'relaxed' && !ok) throw new Error('FERLAB_KERNELS=relaxed, but this engine cannot run relaxed SIMD (use Node >= 22, or FERLAB_KERNELS=simd)');
  return ok ? 'relaxed' : 'simd';
}

/**
 * ferlab's kernel module instantiated against one tfjs wasm backend: it imports that backend's memory, so its
 * kernels read and write tensors in place. Also owns growable scratch buffers (malloc'ed on the wasm heap).
 */
export class WasmKernels {
  readonly exports: KernelExports;
  private readonly scratchBufs = new Map<string, { ptr: number; bytes: number }>();

  constructor(
    readonly backend: WasmBackendLike,
    readonly variant: KernelVariant,
  ) {
    this.exports = instantiate(variant, findMemory(backend));
  }

  /** Byte offset of a tensor's data on the wasm heap. */
  ptr(t: TensorInfo): number {
    const d = this.backend.dataIdMap.get(t.dataId);
    if (!d) throw new Error('tensor is not on the wasm backend');
    return d.memoryOffset;
  }

  /** A new float32 (or int32) output tensor on the heap; its content is undefined until a kernel writes it. */
  output(shape: number[], dtype: 'float32' | 'int32' = 'float32'): TensorInfo {
    return this.backend.makeOutput(shape, dtype);
  }

  /**
   * A scratch buffer of at least `bytes` bytes, reused across calls under `name` and grown on demand. With
   * `zeroed`, the whole buffer is zero on return (the buffer is filled once when it grows; callers must keep it zero).
   */
  scratch(name: string, bytes: number, zeroed = false): number {
    const cur = this.scratchBufs.get(name);
    if (cur && cur.bytes >= bytes) return cur.ptr;
    if (cur) this.backend.wasm._free(cur.ptr);
    const size = Math.max(bytes, 64, cur ? cur.bytes * 2 : 0);
    const ptr = this.backend.wasm._malloc(size);
    if (!ptr) throw new Error(`wasm heap exhausted allocating ${size} bytes of scratch`);
    if (zeroed) this.heapF32(ptr, size >> 2).fill(0);
    this.scratchBufs.set(name, { ptr, bytes: size });
    return ptr;
  }

  /** Float32 view of `count` floats at byte offset `ptr` (recreate after any allocation: the heap may grow). */
  heapF32(ptr: number, count: number): Float32Array {
    return new Float32Array(this.backend.wasm.HEAPU8.buffer, ptr, count);
  }
}

/**
 * The kernel module of `variant` on a one-page memory of its own, bound to no backend: for the kernels that touch no
 * tensors (maddPeak, which `npm run bench` times).
 * @throws Error when `variant` is 'relaxed' and the engine cannot run relaxed SIMD.
 */
export function standaloneKernels(variant: KernelVariant): KernelExports {
  if (variant === 'relaxed' && !relaxedSimdSupported()) throw new Error('this engine cannot run relaxed SIMD (use Node >= 22, or the simd variant)');
  return instantiate(variant, new WebAssembly.Memory({ initial: 1 }));
}

/** The kernel module of `variant` instantiated on `memory` (its only import besides an abort hook). */
function instantiate(variant: KernelVariant, memory: WebAssembly.Memory): KernelExports {
  const module = new WebAssembly.Module(readFileSync(wasmPath(variant)));
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new Error('ferlab kernel abort');
      },
    },
  });
  return instance.exports as unknown as KernelExports;
}

function findMemory(backend: WasmBackendLike): WebAssembly.Memory {
  const asm = backend.wasm.asm ?? {};
  for (const v of Object.values(asm)) if (v instanceof WebAssembly.Memory) return v;
  const m = (backend.wasm as unknown as { wasmMemory?: WebAssembly.Memory }).wasmMemory;
  if (m instanceof WebAssembly.Memory) return m;
  throw new Error('cannot find the tfjs wasm backend memory (unsupported @tensorflow/tfjs-backend-wasm version?)');
}

const instances = new WeakMap<object, WasmKernels>();

/** The kernel module bound to `backend` (instantiated on first use). */
export function kernelsFor(backend: WasmBackendLike): WasmKernels {
  let k = instances.get(backend);
  if (!k) {
    k = new WasmKernels(backend, chooseVariant());
    instances.set(backend, k);
  }
  return k;
}
