/**
 * A WebGPU tensor library with reverse-mode autodiff for Deno: WGSL compute
 * kernels on the GPU, a pure-TypeScript CPU backend as reference and
 * fallback, and the building blocks of CNN-F (convolutional networks with
 * recurrent generative feedback) and adversarial robustness research.
 *
 * This root module is what a user writes code with: tensors and their ops,
 * autograd, memory scopes, layers and `optim`, CNN-F models and losses,
 * attacks, and `save`/`load` of weights. Engine and backend internals (the
 * op table, storage, the tape, backends) are in `./internals` for people
 * extending the library; datasets are in `./data`, training runs in
 * `./train`.
 *
 * A training step runs inside `tidy`, which frees every tensor the step made
 * except the ones it returns, so a loop of steps keeps memory flat.
 *
 * @example One training step that cannot leak
 * ```ts
 * import { crossEntropy, init, optim, randn, tensor, tidy } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const w = randn([4, 3], { requiresGrad: true });
 * const opt = new optim.SGD([w], { lr: 0.1 });
 * const x = tensor([[1, 2, 3, 4]]);
 * const labels = tensor([2], [1], { dtype: "int32" });
 * const loss = tidy(() => {
 *   const l = crossEntropy(x.matmul(w), labels);
 *   l.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   return l;
 * });
 * assert.ok(Number.isFinite(await loss.item()));
 * loss.dispose();
 * ```
 *
 * @module
 */

// Tensors: creation, the Tensor class, element types.
export { type NestedArray, Tensor, type TensorLike } from "./tensor/tensor.ts";
export type { DType, Shape, TypedArray } from "./tensor/shape.ts";
export {
  arange,
  bernoulli,
  type CreateOptions,
  full,
  ones,
  rand,
  randn,
  tensor,
  zeros,
  zerosLike,
} from "./tensor/creation.ts";
export { randint, type RandintOptions } from "./tensor/randint.ts";

// Functional ops and the two training losses.
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
} from "./tensor/functional.ts";

// Backend choice, seeding, memory.
export type { BackendName, MemoryStats } from "./tensor/backend.ts";
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
} from "./tensor/engine.ts";
export { step, type StepOutput, type StepResult } from "./tensor/step.ts";

// Autograd.
export { grad, gradEnabled, noGrad, valueAndGrad } from "./autograd/grad.ts";
export {
  gradcheck,
  type GradcheckOptions,
  type GradcheckResult,
} from "./autograd/gradcheck.ts";

// Layers, initialisers, optimizers and schedules, saving weights.
export { type LoadOptions, Module } from "./nn/module.ts";
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
} from "./nn/layers.ts";
export { constant_, kaimingUniform_, normal_, uniform_ } from "./nn/init.ts";
export * as optim from "./nn/optim.ts";
export {
  LRScheduler,
  type ScheduleKind,
  type ScheduleOptions,
} from "./nn/schedule.ts";
export { load, save, type SaveOptions } from "./train/save.ts";

// CNN-F models and their losses.
export {
  CNNFBase,
  type FeedbackResult,
  type ForwardResult,
} from "./cnnf/model.ts";
export { CNNF, type CNNFOptions } from "./cnnf/fmnist.ts";
export {
  WideResNet as CNNFWideResNet,
  type WideResNetOptions as CNNFWideResNetOptions,
} from "./cnnf/wrn.ts";
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
} from "./cnnf/layers.ts";
export { BasicBlock, BlockGroup } from "./cnnf/wrn.ts";
export {
  cnnfAdvLoss,
  cnnfCleanLoss,
  type CNNFLossOptions,
  type CNNFLossResult,
} from "./cnnf/loss.ts";

// Adversarial attacks and robust evaluation.
export type {
  Attack,
  AttackResult,
  CommonOptions,
  LossFn,
  PredictFn,
  Target,
  TargetOutput,
} from "./attacks/types.ts";
export { AttackBase, type Crafted } from "./attacks/base.ts";
export { Stream } from "./attacks/_util.ts";
export {
  dlrLoss,
  dlrTargetedLoss,
  type LossName,
  marginLoss,
} from "./attacks/losses.ts";
export { FGM, FGSM, type FGSMOptions, OneStep } from "./attacks/fgsm.ts";
export { L2PGD, LinfPGD, PGDBase, type PGDOptions } from "./attacks/pgd.ts";
export { LinfSPSA, type SPSAOptions } from "./attacks/spsa.ts";
export {
  APGD,
  APGDBase,
  type APGDCommonOptions,
  type APGDOptions,
  APGDT,
  type APGDTOptions,
  type Round,
} from "./attacks/apgd.ts";
export { Square, type SquareOptions } from "./attacks/square.ts";
export { CarliniWagnerL2, type CWOptions } from "./attacks/cw.ts";
export {
  bpda,
  type BPDAOptions,
  eot,
  type EOTOptions,
} from "./attacks/wrappers.ts";
export { TransferAttack } from "./attacks/transfer.ts";
export {
  type CNNFAttackMode,
  type CNNFDecision,
  cnnfTarget,
  type CNNFTargetOptions,
} from "./attacks/targets.ts";
export {
  AutoAttack,
  type AutoAttackName,
  type AutoAttackOptions,
  type AutoAttackResult,
  type CascadeStage,
  type IndividualResult,
} from "./attacks/autoattack.ts";
export {
  type EvalAttack,
  type EvalCell,
  type EvalDataset,
  type EvalProgress,
  type EvalReport,
  evaluate,
  type EvaluateOptions,
} from "./attacks/evaluate.ts";

// Errors a user may catch.
export {
  GpuAllocationError,
  GpuKernelError,
  ShaderCompileError,
} from "./gpu/errors.ts";
export type { AdapterSummary } from "./gpu/runtime.ts";
