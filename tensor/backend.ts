/**
 * The backend contract (allocate, free, upload, read, run a primitive) and
 * refcounted storage. The CPU backend is the reference; WebGPU runs the WGSL.
 *
 * @module
 */

import type { GpuRuntime } from "../gpu/runtime.ts";
import { allocTyped, type DType, sizeOf, type TypedArray } from "./shape.ts";
import type { KernelArgs, OpDef } from "./ops/types.ts";

/** Name of a backend. */
export type BackendName = "cpu" | "webgpu";

/** Memory counters of a backend. */
export interface MemoryStats {
  /** Live storages (tensors may share one). */
  liveBuffers: number;
  /** Bytes held by live storages. */
  liveBytes: number;
  /** Pooled buffers waiting for reuse (WebGPU only). */
  freeBuffers: number;
  /** Bytes of pooled buffers. */
  freeBytes: number;
  /**
   * Most bytes the pool holds free before it destroys the least recently
   * released buffers (WebGPU only; 0 on the CPU).
   */
  freeLimitBytes: number;
  /** Bytes of the backend's own buffers: parameters, readback (WebGPU). */
  internalBytes: number;
  /** Everything the device holds: live + free + internal bytes. */
  totalBytes: number;
}

/** A backend: where tensor data lives and kernels run. */
export interface Backend {
  /** Backend name. */
  readonly name: BackendName;
  /**
   * Allocates `n` elements (contents unspecified on WebGPU).
   * @param op The op asking, named in errors.
   */
  alloc(dtype: DType, n: number, op?: string): unknown;
  /**
   * Allocates and fills with `data`.
   * @param op The op asking, named in errors.
   */
  upload(data: TypedArray, op?: string): unknown;
  /**
   * Throws a clear error, naming `op`, when `n` elements of `dtype` cannot
   * be allocated as one buffer (over a device limit); allocates nothing.
   */
  checkAlloc(op: string, dtype: DType, n: number): void;
  /** Frees a handle. */
  free(handle: unknown): void;
  /** Runs a primitive. */
  run<A>(op: OpDef<A>, ins: unknown[], out: unknown, args: KernelArgs<A>): void;
  /** Reads handles back (one synchronisation for all of them). */
  read(items: { handle: unknown; dtype: DType; n: number }[]): Promise<
    TypedArray[]
  >;
  /** Memory counters. */
  stats(): MemoryStats;
}

/**
 * Refcounted storage shared by tensors (views share it).
 * @example The memory is freed when the last reference goes
 * ```ts
 * import { CpuBackend, Storage } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * const cpu = new CpuBackend();
 * const s = new Storage(cpu, cpu.alloc("float32", 8), "float32", 8);
 * s.retain(); // a second view
 * s.release();
 * assert.ok(s.alive);
 * s.release();
 * assert.ok(!s.alive);
 * assert.equal(cpu.stats().liveBuffers, 0);
 * ```
 */
export class Storage {
  /** Owning backend. */
  readonly backend: Backend;
  /** Backend handle (typed array or GPU buffer). */
  handle: unknown;
  /** Element type. */
  readonly dtype: DType;
  /** Element count. */
  readonly n: number;
  #refs = 1;

  /**
   * Wraps a backend handle with one reference.
   * @param backend Owning backend.
   * @param handle Backend handle.
   * @param dtype Element type.
   * @param n Element count.
   */
  constructor(backend: Backend, handle: unknown, dtype: DType, n: number) {
    this.backend = backend;
    this.handle = handle;
    this.dtype = dtype;
    this.n = n;
  }

  /** Adds a reference and returns this. */
  retain(): Storage {
    if (this.#refs <= 0) throw new Error("Storage used after it was freed");
    this.#refs++;
    return this;
  }

  /** Drops a reference; frees the memory at zero. */
  release(): void {
    if (--this.#refs === 0) {
      this.backend.free(this.handle);
      this.handle = null;
    }
  }

  /** Whether the memory is still held. */
  get alive(): boolean {
    return this.#refs > 0;
  }
}

/** Arrays shorter than this are not pooled on the CPU. */
const POOL_MIN = 1 << 14;
/** Bytes of freed arrays the CPU backend keeps for reuse. */
const POOL_CAP = 256 * 2 ** 20;
/**
 * Ops whose CPU kernels store to every output element (the elementwise
 * loops, the strided copies of slice/pad/concat/expand/permute): a reused
 * array goes to them as it is, saving a pass over memory. Every other op
 * (scatter-adds such as unpool, the GEMM-based kernels) gets zeros.
 */
const OVERWRITES = new Set([
  "neg",
  "exp",
  "log",
  "sqrt",
  "abs",
  "sign",
  "relu",
  "sigmoid",
  "tanh",
  "sin",
  "cos",
  "clamp",
  "cast",
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "minimum",
  "maximum",
  "gt",
  "ge",
  "lt",
  "le",
  "eq",
  "ne",
  "where",
  "slice",
  "pad",
  "concat",
  "expand",
  "permute",
  "insNorm",
  "insNormBiasRelu",
  "insNormGrad",
]);

/**
 * The pure-TypeScript reference backend.
 * @example Uploading, reading back and freeing
 * ```ts
 * import { CpuBackend } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * const cpu = new CpuBackend();
 * const h = cpu.upload(new Float32Array([1, 2, 3]));
 * const [v] = await cpu.read([{ handle: h, dtype: "float32", n: 3 }]);
 * assert.deepEqual([...v], [1, 2, 3]);
 * assert.equal(cpu.stats().liveBytes, 12);
 * cpu.free(h);
 * assert.equal(cpu.stats().liveBuffers, 0);
 * ```
 */
export class CpuBackend implements Backend {
  /** Backend name. */
  readonly name: BackendName = "cpu";
  /**
   * Storage precision of float32 tensors: "float64" makes every CPU kernel
   * compute and store in double precision (for finite-difference checks).
   */
  precision: "float32" | "float64" = "float32";
  #live = 0;
  #bytes = 0;
  // Freed large arrays by type and length: reusing one (zeroed) is cheaper
  // than the page faults of a fresh allocation. Bounded by POOL_CAP bytes.
  #pool = new Map<unknown, Map<number, TypedArray[]>>();
  #pooled = 0;
  #pooledCount = 0;
  alloc(dtype: DType, n: number, op?: string): TypedArray {
    this.#live++;
    this.#bytes += n * 4;
    const f64 = dtype === "float32" && this.precision === "float64";
    const ctor = f64 ? Float64Array : dtype === "int32" ? Int32Array : null;
    const reused = this.#pool.get(ctor ?? dtype)?.get(n)?.pop();
    if (reused) {
      this.#pooled -= reused.byteLength;
      this.#pooledCount--;
      // Kernels that write every output element need no zeroed array.
      return op !== undefined && OVERWRITES.has(op) ? reused : reused.fill(0);
    }
    if (f64) return new Float64Array(n) as unknown as Float32Array;
    return allocTyped(dtype, n);
  }
  upload(data: TypedArray): TypedArray {
    this.#live++;
    this.#bytes += data.length * 4;
    if (data instanceof Float32Array && this.precision === "float64") {
      return Float64Array.from(data) as unknown as Float32Array;
    }
    return data.slice();
  }
  free(handle: unknown): void {
    const a = handle as TypedArray;
    this.#live--;
    this.#bytes -= a.length * 4;
    if (a.length < POOL_MIN || this.#pooled + a.byteLength > POOL_CAP) return;
    const key = a instanceof Float64Array
      ? Float64Array
      : a instanceof Int32Array
      ? Int32Array
      : "float32";
    let byLen = this.#pool.get(key);
    if (!byLen) this.#pool.set(key, byLen = new Map());
    const list = byLen.get(a.length);
    if (list) list.push(a);
    else byLen.set(a.length, [a]);
    this.#pooled += a.byteLength;
    this.#pooledCount++;
  }
  checkAlloc(_op: string, _dtype: DType, _n: number): void {
    // Host arrays fail on their own with a RangeError naming the length.
  }
  run<A>(op: OpDef<A>, ins: unknown[], out: unknown, args: KernelArgs<A>) {
    op.cpu(ins as TypedArray[], out as TypedArray, args);
  }
  read(
    items: { handle: unknown; dtype: DType; n: number }[],
  ): Promise<TypedArray[]> {
    return Promise.resolve(
      items.map((it) => (it.handle as TypedArray).slice(0, it.n)),
    );
  }
  stats(): MemoryStats {
    return {
      liveBuffers: this.#live,
      liveBytes: this.#bytes,
      freeBuffers: this.#pooledCount,
      freeBytes: this.#pooled,
      freeLimitBytes: POOL_CAP,
      internalBytes: 0,
      totalBytes: this.#bytes + this.#pooled,
    };
  }
}

/**
 * The WebGPU backend: runs each primitive's WGSL plan on a runtime. Needs
 * WebGPU; the example does nothing where there is no adapter.
 * @example Uploading and reading back through the backend interface
 * ```ts
 * import {
 *   GpuRuntime,
 *   requestAdapter,
 *   WebGpuBackend,
 * } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * if (await requestAdapter()) {
 *   const gpu = new WebGpuBackend(await GpuRuntime.create());
 *   const h = gpu.upload(new Int32Array([4, 5]));
 *   const [v] = await gpu.read([{ handle: h, dtype: "int32", n: 2 }]);
 *   assert.deepEqual([...v], [4, 5]);
 *   gpu.free(h);
 *   assert.equal(gpu.stats().liveBuffers, 0);
 *   gpu.runtime.destroy();
 * }
 * ```
 */
export class WebGpuBackend implements Backend {
  /** Backend name. */
  readonly name: BackendName = "webgpu";
  /** The runtime that owns the device. */
  readonly runtime: GpuRuntime;
  /**
   * Creates the backend over a runtime.
   * @param runtime The device runtime.
   */
  constructor(runtime: GpuRuntime) {
    this.runtime = runtime;
  }
  alloc(_dtype: DType, n: number, op?: string): GPUBuffer {
    return this.runtime.pool.acquire(Math.max(4, n * 4), op);
  }
  upload(data: TypedArray, op?: string): GPUBuffer {
    return this.runtime.upload(data, op);
  }
  checkAlloc(op: string, _dtype: DType, n: number): void {
    this.runtime.pool.check(Math.max(4, n * 4), op);
  }
  free(handle: unknown): void {
    this.runtime.pool.release(handle as GPUBuffer);
  }
  run<A>(op: OpDef<A>, ins: unknown[], out: unknown, args: KernelArgs<A>) {
    if (sizeOf(args.outShape) === 0) return;
    const prog = op.gpu(args);
    const plans = Array.isArray(prog) ? prog : prog.plans;
    const pool = this.runtime.pool;
    const scratch = Array.isArray(prog)
      ? []
      : prog.scratch.map((n) => pool.acquire(Math.max(4, n * 4), "scratch"));
    try {
      for (const plan of plans) {
        const buffers = plan.buffers
          ? plan.buffers.map((r) =>
            r === "out"
              ? out as GPUBuffer
              : typeof r === "number"
              ? ins[r] as GPUBuffer
              : scratch[r.scratch]
          )
          : [
            ...((plan.bind
              ? plan.bind.map((i) => ins[i])
              : ins) as GPUBuffer[]),
            out as GPUBuffer,
          ];
        this.runtime.dispatch({
          kernel: plan.kernel,
          buffers,
          uniforms: plan.uniforms,
          workgroups: plan.workgroups,
        });
      }
    } finally {
      // Safe to reuse at once: later dispatches are ordered after these.
      scratch.forEach((b) => pool.release(b));
    }
  }
  async read(
    items: { handle: unknown; dtype: DType; n: number }[],
  ): Promise<TypedArray[]> {
    const raw = await this.runtime.readMany(
      items.map((it) => ({ buffer: it.handle as GPUBuffer, bytes: it.n * 4 })),
    );
    return raw.map((b, i) =>
      items[i].dtype === "int32" ? new Int32Array(b) : new Float32Array(b)
    );
  }
  stats(): MemoryStats {
    const s = this.runtime.stats();
    return {
      liveBuffers: s.liveBuffers,
      liveBytes: s.liveBytes,
      freeBuffers: s.freeBuffers,
      freeBytes: s.freeBytes,
      freeLimitBytes: s.freeLimitBytes,
      internalBytes: s.internalBytes,
      totalBytes: s.liveBytes + s.freeBytes + s.internalBytes,
    };
  }
}
