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
