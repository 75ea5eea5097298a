/**
 * Adversarial attacks for robustness research, with the semantics of
 * advertorch 0.2.3 (FGSM, L∞/L2 PGD, L∞ SPSA, Carlini-Wagner L2) and
 * AutoAttack (APGD-CE/DLR, APGD-T, Square, the standard cascade), adaptive
 * wrappers (EOT, BPDA), transfer attacks, CNN-F attack targets (first pass,
 * end-to-end last or averaged logits, the multi-exit loss) and a batched
 * robust-accuracy evaluation.
 *
 * An attack takes a `Target` (or any prediction function x → logits) and
 * `perturb(x, y)` returns the adversarial inputs, per-example success on
 * the target's decision rule and per-example query counts, reading back
 * once. Attacks never touch parameters or their gradients; a model behind
 * a target is put in eval mode for the attack's duration and its mode and
 * CNN-F latent state are put back after. ε, step sizes and the clip range
 * are in the model's input units; the default range is CNN-F's [-1, 1].
 *
 * @example The reference evaluation's PGD on a CNN-F
 * ```ts
 * import { cnnfTarget, LinfPGD } from "@cnnf/webgpu/attacks";
 * import { CNNF } from "@cnnf/webgpu/cnnf";
 * import { init, rand, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const model = new CNNF({ ind: 2, cycles: 1 });
 * const x = rand([2, 1, 28, 28]).mul(2).sub(1);
 * const y = tensor([3, 7], [2], { dtype: "int32" });
 * for (const mode of ["first", "e2eAvg"] as const) {
 *   const pgd = new LinfPGD(cnnfTarget(model, mode), {
 *     eps: 0.2, epsIter: 0.071, nbIter: 2,
 *   });
 *   const { adv, success, queries } = await pgd.perturb(x, y);
 *   const gap = await adv.sub(x).abs().max().item();
 *   assert.ok(gap <= 0.2 + 1e-6);
 *   console.log(mode, success, queries);
 *   adv.dispose();
 * }
 * ```
 *
 * @module
 */

export type {
  Attack,
  AttackResult,
  CommonOptions,
  LossFn,
  PredictFn,
  Target,
  TargetOutput,
} from "./types.ts";
export { AttackBase, type Crafted } from "./base.ts";
export { asTarget, predictTarget, Stream } from "./_util.ts";
export {
  ceLoss,
  dlrLoss,
  dlrTargetedLoss,
  labelLogit,
  type LossName,
  marginLoss,
  maxOtherLogit,
  rankedClasses,
  topLogits,
} from "./losses.ts";
export { FGM, FGSM, type FGSMOptions, OneStep } from "./fgsm.ts";
export { L2PGD, LinfPGD, PGDBase, type PGDOptions } from "./pgd.ts";
export {
  LinfSPSA,
  spsaGradient,
  type SPSAGradientOptions,
  type SPSAOptions,
} from "./spsa.ts";
export {
  APGD,
  APGDBase,
  type APGDCommonOptions,
  type APGDOptions,
  APGDT,
  type APGDTOptions,
  type Round,
} from "./apgd.ts";
export { Square, type SquareOptions, squarePSelection } from "./square.ts";
export { CarliniWagnerL2, type CWOptions } from "./cw.ts";
export { bpda, type BPDAOptions, eot, type EOTOptions } from "./wrappers.ts";
export { TransferAttack } from "./transfer.ts";
export {
  type CNNFAttackMode,
  type CNNFDecision,
  cnnfTarget,
  type CNNFTargetOptions,
} from "./targets.ts";
export {
  AutoAttack,
  type AutoAttackName,
  type AutoAttackOptions,
  type AutoAttackResult,
  type CascadeStage,
  type IndividualResult,
} from "./autoattack.ts";
export {
  type EvalAttack,
  type EvalCell,
  type EvalDataset,
  type EvalProgress,
  type EvalReport,
  evaluate,
  type EvaluateOptions,
} from "./evaluate.ts";

// Types the signatures above mention, so this entry documents on its own.
export type { Tensor } from "../tensor/tensor.ts";
export type { Shape } from "../tensor/shape.ts";
export type { Module } from "../nn/module.ts";
export type { CNNFBase } from "../cnnf/model.ts";
export type { AdaPool } from "../cnnf/layers.ts";
export type { AdaReLU } from "../cnnf/layers.ts";
export type { BackendName } from "../tensor/backend.ts";
export type { DType } from "../tensor/shape.ts";
export type { FeedbackResult } from "../cnnf/model.ts";
export type { ForwardResult } from "../cnnf/model.ts";
export type { LatentSnapshot } from "../cnnf/layers.ts";
export type { LoadOptions } from "../nn/module.ts";
export type { NestedArray } from "../tensor/tensor.ts";
export type { TensorLike } from "../tensor/tensor.ts";
export type { TypedArray } from "../tensor/shape.ts";
export type { FeedbackLayer } from "../cnnf/layers.ts";
