/**
 * Matmul kernels: cache-blocked CPU reference and tiled WGSL GEMM.
 *
 * @module
 */

import type { GpuPlan, KernelArgs } from "./types.ts";
import type { MatmulAttrs } from "./matmul.ts";

/** CPU matmul. */
export function matmulCpu(
  _a: Float32Array,
  _b: Float32Array,
  _out: Float32Array,
  _args: KernelArgs<MatmulAttrs>,
): void {
  throw new Error("matmul: CPU kernel not implemented yet");
}

/** GPU matmul plan. */
export function matmulGpu(_args: KernelArgs<MatmulAttrs>): GpuPlan[] {
  throw new Error("matmul: GPU kernel not implemented yet");
}
