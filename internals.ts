/**
 * Engine and backend internals, for people extending the library: the
 * primitive op table's types, refcounted storage, the backends, the autograd
 * tape, the attack building blocks and the lower-level checkpoint codecs.
 * Code written against the library's public surface imports the root
 * module instead; these names may change between minor versions.
 *
 * @example Counting live buffers of the CPU backend directly
 * ```ts
 * import { CpuBackend } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 *
 * const cpu = new CpuBackend();
 * const handle = cpu.alloc("float32", 4);
 * assert.equal(cpu.stats().liveBuffers, 1);
 * cpu.free(handle);
 * ```
 *
 * @module
 */

export {
  type Backend,
  CpuBackend,
  Storage,
  WebGpuBackend,
} from "./tensor/backend.ts";
export type {
  GpuPlan,
  GpuProgram,
  GradCtx,
  KernelArgs,
  OpDef,
  TensorInfo,
} from "./tensor/ops/types.ts";
export { type TapeNode, webgpuBackend } from "./tensor/engine.ts";
export { randomAt } from "./tensor/creation.ts";
export { minPool2dWithIndices } from "./tensor/functional.ts";
export {
  computeGrads,
  type GradOptions,
  releaseGraph,
} from "./autograd/backward.ts";
export { fans } from "./nn/init.ts";
export { Optimizer } from "./nn/optim.ts";
export {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
} from "./nn/safetensors.ts";
export { fromHost, toHost } from "./nn/state.ts";
export {
  loadReferenceStateDict,
  referenceStateDict,
} from "./cnnf/checkpoint.ts";
export { asTarget, predictTarget, Stream } from "./attacks/_util.ts";
export {
  ceLoss,
  labelLogit,
  maxOtherLogit,
  rankedClasses,
  topLogits,
} from "./attacks/losses.ts";
export { spsaGradient, type SPSAGradientOptions } from "./attacks/spsa.ts";
export { squarePSelection } from "./attacks/square.ts";
export {
  type AdapterClass,
  type AdapterInfoRecord,
  bucketSize,
  BufferPool,
  type BufferPoolOptions,
  classifyAdapter,
  type Dispatch,
  formatBytes,
  GpuAllocationError,
  GpuRuntime,
  type KernelSpec,
  type PoolStats,
  requestAdapter,
  type RuntimeStats,
  summarizeAdapter,
} from "./gpu/mod.ts";

// Public types the signatures above mention, so this entry documents alone.
export type { NestedArray, Tensor, TensorLike } from "./tensor/tensor.ts";
export type { DType, Shape, TypedArray } from "./tensor/shape.ts";
export type { BackendName, MemoryStats } from "./tensor/backend.ts";
export type { Pair, PoolOptions } from "./tensor/functional.ts";
export type { LoadOptions, Module } from "./nn/module.ts";
export type { PredictFn, Target, TargetOutput } from "./attacks/types.ts";
export type { AdapterSummary } from "./gpu/runtime.ts";
