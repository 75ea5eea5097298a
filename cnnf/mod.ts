/**
 * CNN-F: convolutional networks with recurrent generative feedback (Huang
 * et al., NeurIPS 2020). Feedback layers, the Fashion-MNIST model and the
 * Wide ResNet with feedback, inference over cycles, the adversarial-training
 * loss, and checkpoints under the PyTorch reference's names.
 *
 * @example Averaged logits over one feedback cycle
 * ```ts
 * import { CNNF } from "@cnnf/webgpu/cnnf";
 * import { init, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const model = new CNNF({ ind: 2, cycles: 1 });
 * const logits = model.runAverage(randn([2, 1, 28, 28]));
 * assert.deepEqual(logits.shape, [2, 10]);
 * ```
 *
 * @module
 */

export {
  AdaPool,
  AdaReLU,
  Bias,
  ConvWeight,
  FbAvgPool,
  FbConv2d,
  FbFlatten,
  FbLinear,
  type FeedbackLayer,
  insNorm,
  type LatentSnapshot,
} from "./layers.ts";
export { CNNFBase, type FeedbackResult, type ForwardResult } from "./model.ts";
export { CNNF, type CNNFOptions } from "./fmnist.ts";
export {
  BasicBlock,
  BlockGroup,
  WideResNet,
  type WideResNetOptions,
} from "./wrn.ts";
export {
  cnnfAdvLoss,
  cnnfCleanLoss,
  type CNNFLossOptions,
  type CNNFLossResult,
} from "./loss.ts";
export { loadReferenceStateDict, referenceStateDict } from "./checkpoint.ts";

// Types the signatures above mention, so this entry documents on its own.
export type { Tensor } from "../tensor/tensor.ts";
export type { Module } from "../nn/module.ts";
export type { HostTensor } from "../nn/safetensors.ts";
export type { BackendName } from "../tensor/backend.ts";
export type { DType } from "../tensor/shape.ts";
export type { LoadOptions } from "../nn/module.ts";
export type { NestedArray } from "../tensor/tensor.ts";
export type { Shape } from "../tensor/shape.ts";
export type { TensorLike } from "../tensor/tensor.ts";
export type { TypedArray } from "../tensor/shape.ts";
