import * as tf from '@tensorflow/tfjs';
import type { DataType, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/**
 * Helpers shared by ferlab's WGSL kernel families: a dispatcher for compute shaders with several outputs on tfjs'
 * webgpu backend, and WGSL snippets.
 *
 * Why our own dispatcher: tfjs' `backend.runWebGPUProgram` (tfjs-backend-webgpu src/backend_webgpu.ts) binds exactly
 * one output and declares every input read-only, so batch-norm statistics, dropout (output + mask) and Adam (x, m, v)
 * would cost one dispatch per output plus recomputation. This records into the backend's own command encoder and
 * compute pass, with the same submit batching (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE) and timestamp queries (tf.profile),
 * so ordering with tfjs' kernels is preserved. It uses the backend's internal fields listed in {@link WebGpuBackendLike}
 * (stable in tfjs 4.x; checked at registration by {@link assertBackendShape}).
 */

/** Arguments tfjs passes to a kernel function. */
export type Args = { inputs: Record<string, TensorInfo | undefined>; attrs?: NamedAttrMap; backend: unknown };

/** The fields of tfjs' WebGPUBackend the dispatcher uses. */
export interface WebGpuBackendLike {
  device: GPUDeviceLike;
  commandEncoder: { beginComputePass(d: object): ComputePassLike; finish(): unknown } | null;
  computePassEncoder: ComputePassLike | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  activeTimers: Array<{ name: string; query: Promise<number> }> | null;
  supportTimestampQuery: boolean;
  querySet: unknown;
  querySetCount: number;
  makeTensorInfo(shape: number[], dtype: DataType): TensorInfo;
  uploadToGPU(dataId: object): void;
  tensorToBinding(t: TensorInfo): object;
  makeUniforms(u: Array<{ type: string; data: number[] }>): object;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  getQueryTime(): Promise<number>;
  incRef(dataId: object): void;
}
interface GPUDeviceLike {
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: object): { getBindGroupLayout(i: number): unknown };
  createBindGroup(d: object): unknown;
  createQuerySet(d: object): unknown;
}
interface ComputePassLike {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y: number, z: number): void;
  end(): void;
}

/** Throws when tfjs' webgpu backend lacks a field the dispatcher needs (a tfjs upgrade changed its internals). */
export function assertBackendShape(b: unknown): asserts b is WebGpuBackendLike {
  const need = [
    'device',
    'makeTensorInfo',
    'uploadToGPU',
    'tensorToBinding',
    'makeUniforms',
    'ensureCommandEncoderReady',
    'endComputePassEncoder',
    'submitQueue',
  ];
  const missing = need.filter((k) => (b as Record<string, unknown>)[k] === undefined);
  if (missing.length) throw new Error(`tfjs webgpu backend lacks ${missing.join(', ')} (expected tfjs-backend-webgpu 4.x internals)`);
}

/** One compute dispatch with several float32/int32 outputs. */
export interface GpuKernel {
  /** Pipeline cache key: must change whenever `code` changes (include every constant baked into the code). */
  key: string;
  /**
   * WGSL with `@compute fn main` and these bindings, in order: the outputs (`var<storage, read_write>`), the
   * inputs (`var<storage, read>`), then `var<uniform> u: U` when `uniforms` is not empty. Every binding must be used.
   */
  code: string;
  outputs: Array<{ shape: number[]; dtype?: DataType }>;
  inputs: TensorInfo[];
  /** Scalar uniforms, in the order of the WGSL struct U's fields (4 bytes each). */
  uniforms?: Array<['i32' | 'u32' | 'f32', number]>;
  /** Workgroup counts (x, y, z), each <= 65535. */
  workgroups: [number, number, number];
  /** Name in tf.profile's kernel list (default: key up to the first '|'). */
  name?: string;
}

const pipelines = new WeakMap<object, Map<string, { getBindGroupLayout(i: number): unknown }>>();

/**
 * Records one dispatch of `k` on tfjs' webgpu backend and returns its new output tensors (owned by the caller, as a
 * kernel function's outputs).
 */
export function dispatch(backend: unknown, k: GpuKernel): TensorInfo[] {
  const b = backend as WebGpuBackendLike;
  const outs = k.outputs.map((o) => b.makeTensorInfo(o.shape, o.dtype ?? 'float32'));
  for (const t of [...outs, ...k.inputs]) b.uploadToGPU(t.dataId);
  let cache = pipelines.get(b.device);
  if (!cache) pipelines.set(b.device, (cache = new Map()));
  let pipeline = cache.get(k.key);
  if (!pipeline) {
    const module = b.device.createShaderModule({ code: k.code });
    pipeline = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    cache.set(k.key, pipeline);
  }
  const entries: Array<{ binding: number; resource: object }> = [...outs, ...k.inputs].map((t, i) => ({ binding: i, resource: b.tensorToBinding(t) }));
  if (k.uniforms?.length) {
    const u = b.makeUniforms(k.uniforms.map(([type, v]) => ({ type: type === 'f32' ? 'float32' : type === 'u32' ? 'uint32' : 'int32', data: [v] })));
    entries.push({ binding: entries.length, resource: u });
  }
  for (const t of [...outs, ...k.inputs]) b.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = b.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const timed = b.activeTimers != null;
  b.ensureCommandEncoderReady();
  if (timed && b.supportTimestampQuery) {
    b.endComputePassEncoder();
    if (b.querySet == null) b.querySet = b.device.createQuerySet({ type: 'timestamp', count: b.querySetCount });
    b.computePassEncoder = b.commandEncoder!.beginComputePass({
      timestampWrites: { querySet: b.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
  } else if (!b.computePassEncoder) {
    b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  }
  const [x, y, z] = k.workgroups;
  if (x > 65535 || y > 65535 || z > 65535) throw new Error(`${k.key}: workgroup count [${k.workgroups}] exceeds 65535 in a dimension`);
  b.computePassEncoder!.setPipeline(pipeline);
  b.computePassEncoder!.setBindGroup(0, bindGroup);
  b.computePassEncoder!.dispatchWorkgroups(x, y, z);
  b.dispatchCountInPass++;
  if (timed || (tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    if (timed) b.activeTimers!.push({ name: k.name ?? k.key.split('|')[0], query: b.getQueryTime() });
    else b.submitQueue();
  }
  return outs;
}

/** Number of elements of a shape. */
export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Threads per workgroup of the elementwise kernels. */
export const EW_THREADS = 256;

/**
 * Workgroup counts covering `n` threads of {@link EW_THREADS}, spread over x and y (each dimension <= 65535); the
 * WGSL side computes the flat index with {@link FLAT_INDEX}.
 */
export function flatGrid(n: number, threads = EW_THREADS): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / threads));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

/** WGSL builtins and the flat thread index `i` (u32) of a {@link flatGrid} dispatch. */
export const FLAT_MAIN = `@compute @workgroup_size(${EW_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32)`;
export const FLAT_INDEX = `let i = (wid.y * nwg.x + wid.x) * ${EW_THREADS}u + lid;`;
