/**
 * Typed errors raised by the WebGPU layer, so a failing kernel surfaces as an
 * exception that names the kernel instead of a validation dump on the console.
 *
 * @module
 */

/**
 * A WebGPU validation or out-of-memory error raised while running a kernel.
 * @example
 * ```ts
 * import { GpuKernelError } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const e = new GpuKernelError("gemm:64x64", "buffer too large");
 * assert.ok(e instanceof Error);
 * assert.equal(e.kernel, "gemm:64x64");
 * ```
 */
export class GpuKernelError extends Error {
  /** Name (pipeline-cache key) of the kernel that failed. */
  readonly kernel: string;
  /**
   * Creates the error.
   * @param kernel The kernel's cache key.
   * @param message The message WebGPU reported.
   */
  constructor(kernel: string, message: string) {
    super(`WebGPU error in kernel '${kernel}': ${message}`);
    this.name = "GpuKernelError";
    this.kernel = kernel;
  }
}

/**
 * A buffer request over the device's limits, refused before anything was
 * created (so the device and the pool stay usable).
 * @example
 * ```ts
 * import { GpuAllocationError } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const e = new GpuAllocationError("matmul", 3 * 2 ** 30, 2 ** 31, "maxBufferSize");
 * assert.equal(e.limitName, "maxBufferSize");
 * assert.match(e.message, /^matmul: cannot allocate 3 GiB .* maxBufferSize of 2 GiB/);
 * ```
 */
export class GpuAllocationError extends Error {
  /** The op that asked for the buffer. */
  readonly op: string;
  /** Bytes asked for. */
  readonly bytes: number;
  /** The limit's value in bytes. */
  readonly limit: number;
  /** The limit's name, e.g. "maxStorageBufferBindingSize". */
  readonly limitName: string;
  /**
   * Creates the error.
   * @param op The op that asked.
   * @param bytes Bytes asked for.
   * @param limit The limit in bytes.
   * @param limitName The limit's WebGPU name.
   */
  constructor(op: string, bytes: number, limit: number, limitName: string) {
    super(
      `${op}: cannot allocate ${
        formatBytes(bytes)
      } (${bytes} bytes) on WebGPU: over the device's ${limitName} of ${
        formatBytes(limit)
      } (${limit} bytes)`,
    );
    this.name = "GpuAllocationError";
    this.op = op;
    this.bytes = bytes;
    this.limit = limit;
    this.limitName = limitName;
  }
}

/**
 * "1.5 GiB"-style rendering of a byte count.
 * @example
 * ```ts
 * import { formatBytes } from "@cnnf/webgpu/gpu";
 * import assert from "node:assert/strict";
 * assert.equal(formatBytes(512), "512 bytes");
 * assert.equal(formatBytes(1.5 * 2 ** 30), "1.5 GiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} bytes` : `${+v.toFixed(2)} ${units[u]}`;
}

/**
 * A WGSL shader that failed to compile; the message shows the line.
 * @example
 * ```ts
 * import { ShaderCompileError } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * try {
 *   throw new ShaderCompileError("relu", "line 3: unknown identifier 'y'");
 * } catch (e) {
 *   assert.ok(e instanceof ShaderCompileError && e.kernel === "relu");
 * }
 * ```
 */
export class ShaderCompileError extends Error {
  /** Name of the kernel whose shader failed. */
  readonly kernel: string;
  /**
   * Creates the error.
   * @param kernel The kernel's cache key.
   * @param message The compiler's messages with the offending lines.
   */
  constructor(kernel: string, message: string) {
    super(`WGSL compile error in kernel '${kernel}':\n${message}`);
    this.name = "ShaderCompileError";
    this.kernel = kernel;
  }
}
