import { existsSync, readdirSync } from 'node:fs';

/**
 * The GPU for tfjs' webgpu backend in Node: Dawn's Node bindings from the `webgpu` npm package (an optional
 * dependency; prebuilt for Linux, macOS and Windows inside the package), exposed as `navigator.gpu` the way
 * @tensorflow/tfjs-backend-webgpu expects (it registers the backend at import time only when `navigator.gpu` exists,
 * and its factory calls `navigator.gpu.requestAdapter`). Dawn drives Vulkan (Linux, Windows), Metal (macOS) or D3D12
 * (Windows): a GPU driver is all a machine needs, no CUDA.
 *
 * Software adapters: SwiftShader (Google's CPU Vulkan driver, shipped by Debian's `chromium` package as
 * /usr/lib/chromium/vk_swiftshader_icd.json) and Mesa's lavapipe/llvmpipe run every kernel correctly but slower than
 * ferlab's wasm kernels, so `auto` never picks them; `webgpu` named explicitly takes them (the tests do).
 */

/** The adapter description ferlab reports (GPUAdapterInfo fields). */
export interface AdapterDescription {
  /** What ferlab prints: the device name and the driver description, e.g. `swiftshader-device-subzero- (SwiftShader driver 5.0.0)`. */
  description: string;
  /** GPUAdapterInfo.description: on Vulkan the driver, e.g. `NVIDIA: 580.159.04 580.159.4.0`, `SwiftShader driver 5.0.0`. */
  driver: string;
  vendor: string;
  architecture: string;
  device: string;
  /** True for CPU implementations (SwiftShader, lavapipe/llvmpipe, WARP): correct, but no speed-up. */
  software: boolean;
}

/** The Debian location of SwiftShader's Vulkan ICD manifest (package `chromium`). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
/** The part of `navigator.gpu` ferlab and tfjs use. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<AdapterLike | null>;
}
/** The part of GPUAdapter ferlab reads (tfjs requests the device itself). */
export interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

let dawn: DawnModule | undefined;
let gpu: GpuLike | undefined;
let chosen: { adapter: AdapterLike; info: AdapterDescription } | undefined;

/** Loads the `webgpu` package (an ES module: `require` of ES modules needs Node >= 20.19, else dynamic import). */
async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the optional dependency loads on demand
    dawn = require('webgpu') as DawnModule;
  } catch (e) {
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND') throw new Error("the optional dependency 'webgpu' (Dawn for Node) is not installed");
    dawn = (await import('webgpu' as string)) as DawnModule;
  }
  return dawn;
}

/** Describes an adapter from its GPUAdapterInfo; `software` for SwiftShader, lavapipe/llvmpipe and fallback adapters. */
export function describeAdapter(a: AdapterLike): AdapterDescription {
  const i = a.info ?? {};
  const text = `${i.vendor ?? ''} ${i.architecture ?? ''} ${i.device ?? ''} ${i.description ?? ''}`.toLowerCase();
  const software = Boolean(i.isFallbackAdapter || a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|microsoft basic render/.test(text));
  const name = [i.device, i.description ? `(${i.description})` : ''].filter(Boolean).join(' ') || i.vendor || 'unknown adapter';
  return { description: name, driver: i.description ?? '', vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '', software };
}

/**
 * Whether a Vulkan driver could exist on Linux: an ICD manifest in the loader's standard folders or named by
 * VK_ICD_FILENAMES / VK_DRIVER_FILES (Vulkan loader docs, LoaderDriverInterface.md). Without one, Dawn only prints
 * "vkCreateInstance: Found no drivers!", so `auto` does not even ask. Always true on macOS and Windows.
 */
export function vulkanDriverMayExist(): boolean {
  if (process.platform !== 'linux') return true;
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES || process.env.VK_ADD_DRIVER_FILES) return true;
  const dirs = ['/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/nvidia/share/vulkan/icd.d'];
  return dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
}

/**
 * Finds a WebGPU adapter and installs `navigator.gpu` (answering tfjs' requestAdapter with exactly that adapter) and
 * Dawn's WebGPU globals (GPUBufferUsage, ...). Call before `require('@tensorflow/tfjs-backend-webgpu')`. Once an
 * adapter is chosen, later calls return it (tfjs creates one device on it per process).
 *
 * @param allowSoftware accept SwiftShader / lavapipe (true for an explicit `--backend webgpu`; `auto` passes false).
 * @returns the chosen adapter's description.
 * @throws Error when `webgpu` is not installed, no adapter exists (naming the Vulkan/Metal/D3D12 driver to install
 *   and SwiftShader for tests), or only a software adapter exists and `allowSoftware` is false.
 */
export async function setupWebGpu(allowSoftware: boolean): Promise<AdapterDescription> {
  if (chosen) {
    if (chosen.info.software && !allowSoftware) throw new Error(`only a software adapter (${chosen.info.description}) is available`);
    return chosen.info;
  }
  if (!allowSoftware && !vulkanDriverMayExist())
    throw new Error('no Vulkan driver installed (no ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d)');
  const d = await loadDawn();
  gpu ??= d.create([]);
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter && allowSoftware) adapter = await gpu.requestAdapter({ forceFallbackAdapter: true });
  if (!adapter)
    throw new Error(
      `no WebGPU adapter: install the GPU's Vulkan (Linux, Windows), Metal (macOS) or D3D12 (Windows) driver; for a CPU adapter (tests) ` +
        `install Debian's chromium and libvulkan1 and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`,
    );
  const info = describeAdapter(adapter);
  if (info.software && !allowSoftware)
    throw new Error(`only a software adapter (${info.description}) is available: slower than wasm; name --backend webgpu to use it anyway`);
  Object.assign(globalThis, d.globals);
  const found = adapter;
  const nav = { gpu: { requestAdapter: async () => found, getPreferredCanvasFormat: () => 'rgba8unorm' } };
  // Node >= 21 defines a read-only globalThis.navigator: redefine the property instead of assigning it
  const existing = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (existing && typeof existing === 'object') {
    try {
      Object.defineProperty(existing, 'gpu', { value: nav.gpu, configurable: true });
    } catch {
      Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
    }
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  }
  chosen = { adapter, info };
  return info;
}

/** The adapter chosen by {@link setupWebGpu}, if any. */
export function webgpuAdapter(): AdapterDescription | undefined {
  return chosen?.info;
}
