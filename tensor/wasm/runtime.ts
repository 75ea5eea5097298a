/**
 * The WebAssembly runtime of the CPU backend: feature probes, the one
 * memory every kernel works in (shared between threads when the platform
 * allows), a scratch arena inside it, and `launch`, which runs a kernel's
 * units on the calling thread and on the worker pool.
 *
 * Tensors stay ordinary typed arrays; an op copies (packs) its operands into
 * the arena, runs kernels there and copies results out. The arena is reset
 * by every op, so the memory grows to the largest op's need and no further.
 * Memory cannot shrink; ops bound their scratch by chunking (see conv.ts).
 *
 * @module
 */

import { buildModule, Code, type FuncDef } from "./builder.ts";
import { gemmKernel } from "./gemm_kernel.ts";
import {
  col2imKernel,
  im2colKernel,
  packRowsKernel,
  transposeKernel,
} from "./layout_kernels.ts";
import { WorkerPool } from "./pool.ts";
import { poolArg2x2Kernel } from "./pooling_kernel.ts";

const PAGE = 65536;
/** Address-space limit of the memory (4 GiB is wasm32's). */
const MAX_PAGES = 65536;
/** Bytes reserved at the start: pool control words and argument blocks. */
export const HEAP_BASE = 4096;
/** Byte address of the argument block of the launched kernel. */
export const ARGS_AT = 256;

/** What the platform supports. */
export interface WasmFeatures {
  /** 128-bit SIMD. */
  simd: boolean;
  /** relaxed-SIMD (fused multiply-add). */
  relaxed: boolean;
  /** Shared memory (SharedArrayBuffer, cross-origin isolation in pages). */
  shared: boolean;
}

function validates(fn: FuncDef): boolean {
  try {
    return WebAssembly.validate(buildModule([fn], false, 1));
  } catch {
    return false;
  }
}

/** Probes SIMD, relaxed SIMD and shared memory once. */
export function probeFeatures(): WasmFeatures {
  if (typeof WebAssembly !== "object") {
    return { simd: false, relaxed: false, shared: false };
  }
  const tiny = (body: (c: Code) => void): FuncDef => {
    const code = new Code(0);
    body(code);
    return { name: "f", params: [], results: [], code };
  };
  const simd = validates(tiny((c) => c.vconst(1).vconst(2).vadd().op(0x1a)));
  const relaxed = simd &&
    validates(tiny((c) => c.vconst(1).vconst(2).vconst(3).vmadd().op(0x1a)));
  let shared = false;
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    shared = m.buffer instanceof SharedArrayBuffer &&
      WebAssembly.validate(buildModule([], true, MAX_PAGES));
  } catch {
    shared = false;
  }
  return { simd, relaxed, shared };
}

/** The kernels of the module, in export order (workers use the same). */
function kernels(fma: boolean): FuncDef[] {
  return [
    gemmKernel(fma),
    im2colKernel(),
    col2imKernel(),
    packRowsKernel(),
    transposeKernel(),
    poolArg2x2Kernel(),
  ];
}

/** Kernel ids: index into the module's functions. */
export const KERNEL = {
  gemm: 0,
  im2col: 1,
  col2im: 2,
  packRows: 3,
  transpose: 4,
  poolArg2x2: 5,
} as const;

type KernelFn = (unit: number, args: number) => void;

/** One instantiated runtime. */
export class WasmRuntime {
  /** The platform's features. */
  readonly features: WasmFeatures;
  /** The memory (shared when `features.shared`). */
  readonly memory: WebAssembly.Memory;
  readonly #bytes: Uint8Array<ArrayBuffer>;
  readonly #fns: KernelFn[];
  #f32: Float32Array;
  #i32: Int32Array;
  #top = HEAP_BASE;
  #pool: WorkerPool | null = null;
  #threads = 1;
  readonly #workerUrl: URL | undefined;

  /**
   * Compiles and instantiates the kernels (synchronously: small module).
   * @param features What to use (from `probeFeatures`).
   * @param workerUrl The pool's worker script (default: worker.ts beside
   *   this module; tests pass a missing one to exercise the fallback).
   */
  constructor(features: WasmFeatures, workerUrl?: URL) {
    this.features = features;
    this.#workerUrl = workerUrl;
    this.memory = new WebAssembly.Memory({
      initial: 16,
      maximum: MAX_PAGES,
      shared: features.shared,
    } as WebAssembly.MemoryDescriptor);
    const defs = kernels(features.relaxed);
    this.#bytes = buildModule(defs, features.shared, MAX_PAGES);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(this.#bytes), {
      env: { mem: this.memory },
    });
    this.#fns = defs.map((d) => inst.exports[d.name] as KernelFn);
    this.#f32 = new Float32Array(this.memory.buffer);
    this.#i32 = new Int32Array(this.memory.buffer);
  }

  /**
   * Sets the thread count (1 = this thread only). Workers start lazily on
   * the next launch; without shared memory or Worker support it stays 1.
   */
  setThreads(n: number): void {
    this.#threads = Math.max(1, Math.floor(n));
    this.#pool?.resize(this.#threads - 1);
    if (
      this.#threads > 1 && !this.#pool && this.features.shared &&
      typeof Worker === "function"
    ) {
      this.#pool = new WorkerPool(
        this.#bytes,
        this.memory,
        this.#threads - 1,
        this.#workerUrl,
      );
    }
  }

  /** The configured thread count. */
  get threads(): number {
    return this.#pool && !this.#pool.broken ? this.#threads : 1;
  }

  /**
   * The pool's counters (null without a pool): workers ready, and units
   * they ran. Starts missing workers.
   */
  poolStats(): { ready: number; workerUnits: number } | null {
    if (!this.#pool || this.#pool.broken) return null;
    this.#pool.warm();
    return this.#pool.stats();
  }

  /** A float32 view of the whole memory (refreshed after growth). */
  get f32(): Float32Array {
    return this.#f32;
  }

  /** Drops every arena allocation (at the start of each op). */
  reset(): void {
    this.#top = HEAP_BASE;
  }

  /**
   * Reserves `floats` float32 slots in the arena, 64-byte aligned, growing
   * the memory when needed. Returns the float index (byte address / 4).
   */
  alloc(floats: number): number {
    const at = this.#top;
    this.#top = at + Math.ceil((floats * 4) / 64) * 64;
    const need = this.#top - this.memory.buffer.byteLength;
    if (need > 0) {
      this.memory.grow(Math.ceil(need / PAGE));
      this.#f32 = new Float32Array(this.memory.buffer);
      this.#i32 = new Int32Array(this.memory.buffer);
    }
    return at / 4;
  }

  /** `launch` with the parameters named by `names`, taken from `args`. */
  launchWith<N extends string>(
    id: number,
    units: number,
    names: readonly N[],
    args: Record<N, number>,
  ): void {
    this.launch(id, units, names.map((n) => args[n]));
  }

  /** An Int32Array view of the whole memory (refreshed after growth). */
  get i32(): Int32Array {
    return this.#i32;
  }

  /** Runs `units` units of kernel `id` with i32 parameters `args`. */
  launch(id: number, units: number, args: readonly number[]): void {
    const base = ARGS_AT / 4;
    for (let i = 0; i < args.length; i++) this.#i32[base + i] = args[i];
    const fn = this.#fns[id];
    if (units > 1 && this.#threads > 1 && this.#pool && !this.#pool.broken) {
      this.#pool.run(id, units, ARGS_AT, fn);
      return;
    }
    for (let u = 0; u < units; u++) fn(u, ARGS_AT);
  }
}
