/**
 * Neural-network building blocks: `Module` with PyTorch-style named
 * parameters and state dicts, layers, initialisers, optimizers (SGD, Adam),
 * gradient clipping, learning-rate schedules and the safetensors format.
 *
 * @example A linear layer and one SGD step
 * ```ts
 * import { Linear, optim } from "@cnnf/webgpu/nn";
 * import { crossEntropy, init, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const fc = new Linear(4, 3);
 * const opt = new optim.SGD(fc.parameters(), { lr: 0.1, momentum: 0.9 });
 * const loss = crossEntropy(fc.forward(tensor([[1, 2, 3, 4]])), tensor([1], [1], { dtype: "int32" }));
 * loss.backward();
 * opt.step();
 * assert.deepEqual(Object.keys(fc.stateDict()), ["weight", "bias"]);
 * ```
 *
 * @module
 */

export { type LoadOptions, Module } from "./module.ts";
export {
  AvgPool2d,
  Conv2d,
  type ConvLayerOptions,
  ConvTranspose2d,
  Dropout,
  Flatten,
  Layer,
  Linear,
  MaxPool2d,
  Pool2d,
  ReLU,
  Sequential,
  Upsample,
} from "./layers.ts";
export { constant_, fans, kaimingUniform_, normal_, uniform_ } from "./init.ts";
export * as optim from "./optim.ts";
export {
  LRScheduler,
  type ScheduleKind,
  type ScheduleOptions,
} from "./schedule.ts";
export {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
} from "./safetensors.ts";
export { fromHost, toHost } from "./state.ts";
export { crossEntropy, mseLoss, type Reduction } from "../tensor/functional.ts";

// Types the signatures above mention, so this entry documents on its own.
export type { Tensor } from "../tensor/tensor.ts";
export type { BackendName } from "../tensor/backend.ts";
export type { Pair, PoolOptions } from "../tensor/functional.ts";
export type { DType } from "../tensor/shape.ts";
export type { NestedArray } from "../tensor/tensor.ts";
export type { Shape } from "../tensor/shape.ts";
export type { TensorLike } from "../tensor/tensor.ts";
export type { TypedArray } from "../tensor/shape.ts";
