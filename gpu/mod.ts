/**
 * The WebGPU layer: device runtime with batched command submission, the
 * buffer pool, typed errors and the WGSL generators. It knows nothing of
 * tensors.
 *
 * @example Querying the adapter
 * ```ts
 * import { requestAdapter, summarizeAdapter } from "@cnnf/webgpu/gpu";
 * const adapter = await requestAdapter();
 * if (adapter) console.log(summarizeAdapter(adapter).description);
 * ```
 *
 * @module
 */

export {
  type AdapterClass,
  type AdapterInfoRecord,
  classifyAdapter,
} from "./adapter.ts";
export {
  bucketSize,
  BufferPool,
  type BufferPoolOptions,
  DEFAULT_POOL_FREE_BYTES,
  type PoolStats,
} from "./buffer_pool.ts";
export {
  formatBytes,
  GpuAllocationError,
  GpuKernelError,
  ShaderCompileError,
} from "./errors.ts";
export {
  type AdapterSummary,
  type Dispatch,
  GpuRuntime,
  type KernelSpec,
  requestAdapter,
  type RuntimeStats,
  summarizeAdapter,
} from "./runtime.ts";
