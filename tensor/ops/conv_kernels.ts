/**
 * Convolution kernels: im2col + blocked GEMM on the CPU, implicit GEMM in
 * WGSL, for conv2d, its transpose and its weight gradient.
 *
 * @module
 */

import type { TypedArray } from "../shape.ts";
import type { GpuPlan, KernelArgs } from "./types.ts";
import type {
  ConvAttrs,
  ConvTransposeAttrs,
  ConvWeightGradAttrs,
} from "./conv.ts";

const todo = (name: string): never => {
  throw new Error(`${name}: kernel not implemented yet`);
};

/** CPU conv2d. */
export function conv2dCpu(
  _ins: TypedArray[],
  _out: TypedArray,
  _args: KernelArgs<ConvAttrs>,
): void {
  todo("conv2d");
}
/** GPU conv2d. */
export function conv2dGpu(_args: KernelArgs<ConvAttrs>): GpuPlan[] {
  return todo("conv2d");
}
/** CPU conv_transpose2d. */
export function convTranspose2dCpu(
  _ins: TypedArray[],
  _out: TypedArray,
  _args: KernelArgs<ConvTransposeAttrs>,
): void {
  todo("convTranspose2d");
}
/** GPU conv_transpose2d. */
export function convTranspose2dGpu(
  _args: KernelArgs<ConvTransposeAttrs>,
): GpuPlan[] {
  return todo("convTranspose2d");
}
/** CPU conv2d weight gradient. */
export function convWeightGradCpu(
  _ins: TypedArray[],
  _out: TypedArray,
  _args: KernelArgs<ConvWeightGradAttrs>,
): void {
  todo("conv2dWeightGrad");
}
/** GPU conv2d weight gradient. */
export function convWeightGradGpu(
  _args: KernelArgs<ConvWeightGradAttrs>,
): GpuPlan[] {
  return todo("conv2dWeightGrad");
}
