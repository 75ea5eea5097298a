/**
 * Reverse-mode automatic differentiation: `backward`, functional `grad` and
 * `valueAndGrad`, `noGrad`, and finite-difference `gradcheck`.
 *
 * @example Gradient of a function of a tensor
 * ```ts
 * import { grad } from "@cnnf/webgpu/autograd";
 * import { tensor } from "@cnnf/webgpu/tensor";
 * import assert from "node:assert/strict";
 *
 * const [g] = grad((x) => x.mul(x).sum())(tensor([1, 2, 3]));
 * assert.deepEqual([...await g.data()], [2, 4, 6]);
 * ```
 *
 * @module
 */

export { grad, gradEnabled, noGrad, valueAndGrad } from "./grad.ts";
export {
  gradcheck,
  type GradcheckOptions,
  type GradcheckResult,
} from "./gradcheck.ts";
export type { Tensor } from "../tensor/tensor.ts";

// Types the signatures above mention, so this entry documents on its own.
export type { BackendName } from "../tensor/backend.ts";
export type { DType } from "../tensor/shape.ts";
export type { NestedArray } from "../tensor/tensor.ts";
export type { Shape } from "../tensor/shape.ts";
export type { TensorLike } from "../tensor/tensor.ts";
export type { TypedArray } from "../tensor/shape.ts";
