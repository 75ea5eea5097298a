/**
 * Pooling kernels (CPU reference and WGSL).
 *
 * @module
 */

import type { TypedArray } from "../shape.ts";
import type { GpuPlan, KernelArgs } from "./types.ts";
import type {
  AvgPoolAttrs,
  AvgPoolGradAttrs,
  PoolArgAttrs,
  PoolAttrs,
  UnpoolAttrs,
} from "./pool.ts";

const todo = (name: string): never => {
  throw new Error(`${name}: kernel not implemented yet`);
};

/** CPU arg-pool. */
export function poolArgCpu(
  _i: TypedArray[],
  _o: TypedArray,
  _a: KernelArgs<PoolArgAttrs>,
): void {
  todo("poolArg");
}
/** GPU arg-pool. */
export function poolArgGpu(_a: KernelArgs<PoolArgAttrs>): GpuPlan[] {
  return todo("poolArg");
}
/** CPU pool gather. */
export function poolGatherCpu(
  _i: TypedArray[],
  _o: TypedArray,
  _a: KernelArgs<PoolAttrs>,
): void {
  todo("poolGather");
}
/** GPU pool gather. */
export function poolGatherGpu(_a: KernelArgs<PoolAttrs>): GpuPlan[] {
  return todo("poolGather");
}
/** CPU unpool. */
export function unpoolCpu(
  _i: TypedArray[],
  _o: TypedArray,
  _a: KernelArgs<UnpoolAttrs>,
): void {
  todo("unpool");
}
/** GPU unpool. */
export function unpoolGpu(_a: KernelArgs<UnpoolAttrs>): GpuPlan[] {
  return todo("unpool");
}
/** CPU average pool. */
export function avgPoolCpu(
  _i: TypedArray[],
  _o: TypedArray,
  _a: KernelArgs<AvgPoolAttrs>,
): void {
  todo("avgPool2d");
}
/** GPU average pool. */
export function avgPoolGpu(_a: KernelArgs<AvgPoolAttrs>): GpuPlan[] {
  return todo("avgPool2d");
}
/** CPU average-pool backward. */
export function avgPoolGradCpu(
  _i: TypedArray[],
  _o: TypedArray,
  _a: KernelArgs<AvgPoolGradAttrs>,
): void {
  todo("avgPool2dGrad");
}
/** GPU average-pool backward. */
export function avgPoolGradGpu(_a: KernelArgs<AvgPoolGradAttrs>): GpuPlan[] {
  return todo("avgPool2dGrad");
}
