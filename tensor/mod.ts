/**
 * Tensors on WebGPU or the CPU: creation, the op methods on `Tensor`, the
 * neural-network functions, backend selection and memory management.
 * Storage, backends and the op table are in `./internals`.
 *
 * @example Elementwise math and a reduction
 * ```ts
 * import { init, tensor } from "@cnnf/webgpu/tensor";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu" });
 * const x = tensor([[1, 2], [3, 4]]);
 * assert.deepEqual([...await x.mul(2).sum(1).data()], [6, 14]);
 * ```
 *
 * @module
 */

export type { BackendName, MemoryStats } from "./backend.ts";
export {
  type BackendChoice,
  currentBackend,
  init,
  type InitOptions,
  keep,
  manualSeed,
  memoryStats,
  probeWebGpu,
  readAll,
  rngState,
  setRngState,
  sync,
  tidy,
} from "./engine.ts";
export {
  arange,
  bernoulli,
  type CreateOptions,
  full,
  ones,
  rand,
  randn,
  randomAt,
  tensor,
  zeros,
  zerosLike,
} from "./creation.ts";
export { randint, type RandintOptions } from "./randint.ts";
export { step, type StepOutput, type StepResult } from "./step.ts";
export {
  avgPool2d,
  type AvgPoolOptions,
  concat,
  conv2d,
  type Conv2dOptions,
  convTranspose2d,
  type ConvTranspose2dOptions,
  crossEntropy,
  gather,
  logSoftmax,
  maxPool2d,
  maxPool2dWithIndices,
  maxUnpool2d,
  minPool2dWithIndices,
  mseLoss,
  oneHot,
  type Pair,
  type PoolOptions,
  type Reduction,
  softmax,
  split,
  stack,
  type UnpoolOptions,
  upsampleNearest,
  where,
} from "./functional.ts";
export { type NestedArray, Tensor, type TensorLike } from "./tensor.ts";
export type { DType, Shape, TypedArray } from "./shape.ts";
