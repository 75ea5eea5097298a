/**
 * The WebGPU runtime: device acquisition, pipeline cache, command batching and
 * readback. It knows kernels, buffers and uniforms, nothing of tensors.
 *
 * Dispatches are encoded into one pending compute pass and submitted in
 * batches (every `batchSize` dispatches, or when something is read back), so
 * no op waits on the GPU. Each dispatch's parameter block goes into a shared
 * arena written once per submit; queue ordering makes the reuse safe. (The
 * arena is bound as read-only storage, see `paramsBinding`.)
 *
 * @module
 */

import { classifyAdapter } from "./adapter.ts";
import {
  bucketSize,
  BufferPool,
  type BufferPoolOptions,
  type PoolStats,
} from "./buffer_pool.ts";
import { formatBytes, GpuKernelError, ShaderCompileError } from "./errors.ts";

/** A compute kernel: WGSL plus the key it is cached (and labelled) under. */
export interface KernelSpec {
  /** Cache key; also the label of the shader module and pipeline. */
  key: string;
  /** Produces the WGSL source; called only on a cache miss. */
  source: () => string;
  /** Values for the shader's `override` constants. */
  constants?: Record<string, number>;
}

/** One kernel launch. */
export interface Dispatch {
  /** The kernel to run. */
  kernel: KernelSpec;
  /** Storage bindings 0..n-1: inputs first, then outputs. */
  buffers: GPUBuffer[];
  /**
   * Contents of the parameter binding `n` (at most 256 bytes), if any; bound
   * as read-only storage (`paramsBinding`).
   */
  uniforms?: ArrayBuffer;
  /** Workgroup counts; x and y are each at most 65535. */
  workgroups: [number, number, number];
}

/** What the adapter is and what it can do. */
export interface AdapterSummary {
  /** Vendor string. */
  vendor: string;
  /** Architecture string. */
  architecture: string;
  /**
   * Device description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"; where the
   * runtime reports none (Chromium), the device or vendor and architecture.
   */
  description: string;
  /**
   * True for a software adapter (Mesa lavapipe/llvmpipe, SwiftShader, WARP),
   * by the runtime's flag or by name (see `classifyAdapter`).
   */
  isFallbackAdapter: boolean;
  /** Selected limits. */
  limits: Record<string, number>;
  /** Feature names. */
  features: string[];
}

const UNIFORM_SLOT = 256;

/** Readback buffers kept between reads; larger ones are kept first. */
const MAX_IDLE_STAGING = 2;

/**
 * Requests an adapter; null when WebGPU is unavailable.
 * @example
 * ```ts
 * import { requestAdapter } from "@cnnf/webgpu/gpu";
 * import assert from "node:assert/strict";
 * const adapter = await requestAdapter(); // never throws
 * assert.ok(adapter === null || typeof adapter.requestDevice === "function");
 * ```
 */
export async function requestAdapter(): Promise<GPUAdapter | null> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return null;
  try {
    return await navigator.gpu.requestAdapter({
      powerPreference: "high-performance",
    });
  } catch {
    return null;
  }
}

/**
 * Describes an adapter for `info` and backend selection.
 * @example
 * ```ts
 * import { requestAdapter, summarizeAdapter } from "@cnnf/webgpu/gpu";
 * import assert from "node:assert/strict";
 * const adapter = await requestAdapter();
 * if (adapter) {
 *   const s = summarizeAdapter(adapter);
 *   assert.equal(s.limits.maxBufferSize, adapter.limits.maxBufferSize);
 *   assert.equal(typeof s.isFallbackAdapter, "boolean");
 * }
 * ```
 */
export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  const l = adapter.limits;
  const c = classifyAdapter({
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: info.isFallbackAdapter ?? legacy.isFallbackAdapter,
  });
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    description: c.name,
    isFallbackAdapter: c.software,
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
    features: [...adapter.features].sort(),
  };
}

/** Counters of a `GpuRuntime`. */
export interface RuntimeStats extends PoolStats {
  /** Bytes of the runtime's own buffers: parameter arena, readback. */
  internalBytes: number;
  /** Dispatches encoded so far. */
  dispatches: number;
  /** Command buffers submitted so far. */
  submits: number;
}

/**
 * A WebGPU device with a buffer pool, pipeline cache and batched queue.
 * Needs WebGPU; the example does nothing where there is no adapter.
 * @example Upload and read back through one runtime
 * ```ts
 * import { GpuRuntime, requestAdapter } from "@cnnf/webgpu/gpu";
 * import assert from "node:assert/strict";
 * if (await requestAdapter()) {
 *   const rt = await GpuRuntime.create();
 *   const buf = rt.upload(new Float32Array([1, 2, 3]));
 *   const [bytes] = await rt.readMany([{ buffer: buf, bytes: 12 }]);
 *   assert.deepEqual([...new Float32Array(bytes)], [1, 2, 3]);
 *   assert.equal(rt.stats().liveBuffers, 1);
 *   rt.pool.release(buf);
 *   rt.destroy();
 * }
 * ```
 */
export class GpuRuntime {
  /** The adapter the device came from. */
  readonly adapter: GPUAdapter;
  /** The device. */
  readonly device: GPUDevice;
  /** Pool of storage buffers. */
  readonly pool: BufferPool;
  /** Dispatches per submitted command buffer. */
  batchSize: number;
  #pipelines = new Map<string, GPUComputePipeline>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pending = 0;
  #kernelsInBatch: string[] = [];
  #arena: GPUBuffer;
  #arenaData: Uint8Array<ArrayBuffer>;
  #arenaUsed = 0;
  #error: Error | null = null;
  #errorChecks: Promise<void>[] = [];
  #layouts = new Map<GPUComputePipeline, GPUBindGroupLayout>();
  /** Idle readback buffers, at most `MAX_IDLE_STAGING`. */
  #staging: GPUBuffer[] = [];
  #dispatches = 0;
  #submits = 0;

  private constructor(
    adapter: GPUAdapter,
    device: GPUDevice,
    batch: number,
    poolOptions: BufferPoolOptions,
  ) {
    this.adapter = adapter;
    this.device = device;
    this.pool = new BufferPool(device, {
      ...poolOptions,
      flush: () => this.flush(),
      report: (check) => {
        this.#errorChecks.push(check.then((err) => {
          // The root cause: it wins over the kernel errors it causes.
          if (err) this.#error = err;
        }));
      },
    });
    this.batchSize = batch;
    this.#arenaData = new Uint8Array(batch * UNIFORM_SLOT);
    this.#arena = device.createBuffer({
      size: batch * UNIFORM_SLOT,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      label: "params-arena",
    });
    device.addEventListener("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      this.#error ??= new GpuKernelError("unknown", err.message);
    });
  }

  /**
   * Acquires a device from `adapter` (or the default adapter).
   * @param options.maxFreeBytes Cap on the pool's free bytes.
   * @throws {Error} when WebGPU or an adapter is unavailable.
   */
  static async create(
    options: {
      adapter?: GPUAdapter;
      batchSize?: number;
      maxFreeBytes?: number;
    } = {},
  ): Promise<GpuRuntime> {
    const adapter = options.adapter ?? await requestAdapter();
    if (!adapter) throw new Error("WebGPU: no adapter available");
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
    });
    return new GpuRuntime(adapter, device, options.batchSize ?? 64, {
      maxFreeBytes: options.maxFreeBytes,
    });
  }

  /** Adapter description and limits. */
  summary(): AdapterSummary {
    return summarizeAdapter(this.adapter);
  }

  /**
   * Pool statistics, the bytes of the runtime's own buffers (parameter
   * arena, idle readback buffers) and dispatch and submit counters.
   */
  stats(): RuntimeStats {
    return {
      ...this.pool.stats(),
      internalBytes: this.#arena.size +
        this.#staging.reduce((a, b) => a + b.size, 0),
      dispatches: this.#dispatches,
      submits: this.#submits,
    };
  }

  #pipeline(spec: KernelSpec): GPUComputePipeline {
    const cacheKey = spec.constants
      ? `${spec.key}|${JSON.stringify(spec.constants)}`
      : spec.key;
    let p = this.#pipelines.get(cacheKey);
    if (p) return p;
    const code = spec.source();
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code, label: spec.key });
    p = this.device.createComputePipeline({
      layout: "auto",
      label: cacheKey,
      compute: { module, entryPoint: "main", constants: spec.constants },
    });
    const check = this.device.popErrorScope().then(async (err) => {
      if (!err) return;
      const info = await module.getCompilationInfo();
      const lines = code.split("\n");
      const msgs = info.messages.map((m) =>
        `${m.type} at line ${m.lineNum}: ${m.message}\n  ${
          lines[m.lineNum - 1] ?? ""
        }`
      );
      // The root cause: it wins over the invalid-pipeline errors it causes.
      this.#error = new ShaderCompileError(
        spec.key,
        msgs.length ? msgs.join("\n") : err.message,
      );
    });
    this.#errorChecks.push(check);
    this.#pipelines.set(cacheKey, p);
    return p;
  }

  /** Encodes one dispatch into the pending batch. */
  dispatch(d: Dispatch): void {
    const pipeline = this.#pipeline(d.kernel);
    if (!this.#encoder) {
      this.#encoder = this.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    let params: [number, number] | null = null;
    if (d.uniforms) {
      const bytes = d.uniforms.byteLength;
      if (bytes > UNIFORM_SLOT) {
        throw new Error(`${d.kernel.key}: uniform block over 256 bytes`);
      }
      const offset = this.#arenaUsed;
      this.#arenaData.set(new Uint8Array(d.uniforms), offset);
      this.#arenaUsed += UNIFORM_SLOT;
      params = [offset, bytes];
    }
    const group = this.#bindGroup(d, pipeline, params);
    const pass = this.#pass!;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    const [x, y, z] = d.workgroups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    this.#kernelsInBatch.push(d.kernel.key);
    this.#pending++;
    this.#dispatches++;
    if (this.#pending >= this.batchSize) this.flush();
  }

  /** The bind group of `d`'s buffers and parameter slot. */
  #bindGroup(
    d: Dispatch,
    pipeline: GPUComputePipeline,
    params: [number, number] | null,
  ): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = d.buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    if (params) {
      entries.push({
        binding: d.buffers.length,
        resource: { buffer: this.#arena, offset: params[0], size: params[1] },
      });
    }
    // One layout object per pipeline, not a fresh wrapper per dispatch.
    let layout = this.#layouts.get(pipeline);
    if (!layout) {
      layout = pipeline.getBindGroupLayout(0);
      this.#layouts.set(pipeline, layout);
    }
    this.device.pushErrorScope("validation");
    const group = this.device.createBindGroup({ layout, entries });
    this.#errorChecks.push(
      this.device.popErrorScope().then((err) => {
        if (err) this.#error ??= new GpuKernelError(d.kernel.key, err.message);
      }),
    );
    return group;
  }

  /** Submits the pending batch, if any. */
  flush(): void {
    if (!this.#encoder) return;
    this.#pass!.end();
    if (this.#arenaUsed > 0) {
      this.device.queue.writeBuffer(
        this.#arena,
        0,
        this.#arenaData,
        0,
        this.#arenaUsed,
      );
    }
    const kernels = this.#kernelsInBatch;
    this.device.pushErrorScope("validation");
    this.device.queue.submit([this.#encoder.finish()]);
    this.#errorChecks.push(
      this.device.popErrorScope().then((err) => {
        if (err) {
          this.#error ??= new GpuKernelError(
            [...new Set(kernels)].join(", "),
            err.message,
          );
        }
      }),
    );
    this.#submits++;
    this.pool.advance();
    this.#encoder = null;
    this.#pass = null;
    this.#pending = 0;
    this.#arenaUsed = 0;
    this.#kernelsInBatch = [];
  }

  /** Waits for error scopes and throws the first GPU error seen, if any. */
  async checkErrors(): Promise<void> {
    const checks = this.#errorChecks;
    this.#errorChecks = [];
    await Promise.all(checks);
    if (this.#error) {
      const e = this.#error;
      this.#error = null;
      throw e;
    }
  }

  /**
   * A pooled buffer holding `data` (see `BufferPool.upload`).
   * @param op Name of the op asking, for error messages.
   */
  upload(data: ArrayBufferView, op?: string): GPUBuffer {
    return this.pool.upload(data, op);
  }

  /**
   * Reads several buffers back with one submit and one `mapAsync`.
   * @param parts Buffers and the byte length to read from each.
   */
  async readMany(
    parts: { buffer: GPUBuffer; bytes: number }[],
  ): Promise<ArrayBuffer[]> {
    this.flush();
    const offsets: number[] = [];
    let total = 0;
    for (const p of parts) {
      offsets.push(total);
      total += Math.ceil(p.bytes / 4) * 4;
    }
    const size = Math.max(4, total);
    // The smallest idle buffer that fits; new ones are bucket-sized so that
    // reads of similar sizes share them.
    const idx = this.#staging.findIndex((b) => b.size >= size);
    const staging = idx >= 0
      ? this.#staging.splice(idx, 1)[0]
      : this.#createStaging(size);
    const enc = this.device.createCommandEncoder();
    parts.forEach((p, i) => {
      if (p.bytes > 0) {
        enc.copyBufferToBuffer(
          p.buffer,
          0,
          staging,
          offsets[i],
          Math.ceil(p.bytes / 4) * 4,
        );
      }
    });
    this.device.queue.submit([enc.finish()]);
    this.#submits++;
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    const mapped = staging.getMappedRange(0, size);
    const out = parts.map((p, i) =>
      mapped.slice(offsets[i], offsets[i] + p.bytes)
    );
    staging.unmap();
    this.#keepStaging(staging);
    await this.checkErrors();
    return out;
  }

  #createStaging(size: number): GPUBuffer {
    const limit = this.device.limits.maxBufferSize;
    if (size > limit) {
      throw new Error(
        `data(): cannot read back ${
          formatBytes(size)
        } (${size} bytes) at once: over the device's maxBufferSize of ${
          formatBytes(limit)
        } (${limit} bytes); read fewer or smaller tensors`,
      );
    }
    return this.device.createBuffer({
      size: Math.min(bucketSize(size), Math.floor(limit / 4) * 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "staging",
    });
  }

  /** Keeps `staging` for the next read, dropping the smallest past the cap. */
  #keepStaging(staging: GPUBuffer): void {
    this.#staging.push(staging);
    this.#staging.sort((a, b) => a.size - b.size);
    while (this.#staging.length > MAX_IDLE_STAGING) {
      this.#staging.shift()!.destroy();
    }
  }

  /** Waits until all submitted work is done (for benchmarks). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  /** Destroys the device and everything on it. */
  destroy(): void {
    this.pool.trim();
    for (const b of this.#staging) b.destroy();
    this.#staging = [];
    this.#arena.destroy();
    this.device.destroy();
  }
}
