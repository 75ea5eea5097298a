/**
 * One-step gradient attacks with advertorch 0.2.3's semantics: FGSM
 * (`GradientSignAttack`: x + ε·sign(∇), L∞) and FGM (`GradientAttack`:
 * x + ε·∇/‖∇‖₂, L2), both clipped to the input domain, with no random
 * start; the loss is summed cross entropy, negated when targeted.
 *
 * @module
 */

import { tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkPositive,
  headsLoss,
  l2Norm,
  lossGrad,
  type Stream,
} from "./_util.ts";
import { AttackBase, type Crafted } from "./base.ts";
import { type LossName, resolveLoss } from "./losses.ts";
import type { CommonOptions, LossFn, PredictFn, Target } from "./types.ts";

/** Options of `FGSM` and `FGM`. */
export interface FGSMOptions extends CommonOptions {
  /** Step size, the perturbation's L∞ (FGSM) or L2 (FGM) norm (default 0.3). */
  eps?: number;
  /** Per-example loss (default "ce": cross entropy, summed over the batch). */
  loss?: LossName | LossFn;
}

/**
 * Shared body of the one-step attacks: one gradient, one step.
 * @example
 * ```ts
 * import { FGM, FGSM, OneStep } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const f = (x: import("@cnnf/webgpu").Tensor) => x.flatten(1);
 * assert.ok(new FGSM(f, { eps: 0.1 }) instanceof OneStep);
 * assert.ok(new FGM(f, { eps: 0.1 }) instanceof OneStep);
 * ```
 */
export abstract class OneStep extends AttackBase {
  /** Perturbation size. */
  readonly eps: number;
  readonly #loss: LossFn;

  /**
   * Stores the options.
   * @param target A target or a prediction function.
   * @param o eps, loss and the common options.
   */
  constructor(target: Target | PredictFn, o: FGSMOptions) {
    super(target, o);
    this.eps = o.eps ?? 0.3;
    checkPositive(this.constructor.name, "eps", this.eps, true);
    this.#loss = resolveLoss(o.loss);
  }

  /** The unit step direction from the gradient. */
  protected abstract direction(grad: Tensor): Tensor;

  /** One gradient at x, one step of size eps, clipped. */
  protected craft(x: Tensor, y: Tensor, _rng: Stream): Crafted {
    const sign = this.targeted ? -1 : 1;
    const adv = tidy(() => {
      const { grad } = lossGrad(this.target, x, (out) => {
        const l = headsLoss(out, y, this.#loss);
        return sign === 1 ? l : l.neg();
      });
      return x.add(this.direction(grad).mul(this.eps)).clamp(
        this.clipMin,
        this.clipMax,
      );
    });
    return { adv, queries: 1 };
  }
}

/**
 * Fast gradient sign method (advertorch `GradientSignAttack`):
 * x_adv = clip(x + ε·sign(∇ₓ ℓ)), with ℓ negated when targeted.
 * @example
 * ```ts
 * import { FGSM } from "@cnnf/webgpu/attacks";
 * import { init, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu" });
 * const w = tensor([[1, -1], [-2, 2]]);
 * const attack = new FGSM((x) => x.matmul(w), { eps: 0.1 });
 * const x = tensor([[0.5, 0.2]]);
 * const { adv, success } = await attack.perturb(x, tensor([0], [1], { dtype: "int32" }));
 * console.log(await adv.data(), success);
 * ```
 */
export class FGSM extends OneStep {
  /** Report name. */
  readonly name: string = "FGSM";
  /**
   * Creates the attack.
   * @param target A target or a prediction function.
   * @param options eps (default 0.3), loss, clip range, targeted.
   */
  constructor(target: Target | PredictFn, options: FGSMOptions = {}) {
    super(target, options);
  }
  /** sign(∇). */
  protected direction(grad: Tensor): Tensor {
    return grad.sign();
  }
}

/**
 * Fast gradient method in L2 (advertorch `GradientAttack`):
 * x_adv = clip(x + ε·∇/max(‖∇‖₂, 1e-6)).
 * @example
 * ```ts
 * import { FGM, init, Linear, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const fc = new Linear(4, 3);
 * const x = tensor([[0.1, 0.2, 0.3, 0.4]]);
 * const { adv } = await new FGM((v) => fc.forward(v), { eps: 0.5, clipMin: -1, clipMax: 1 })
 *   .perturb(x, tensor([1], [1], { dtype: "int32" }));
 * const norm = Math.sqrt(await adv.sub(x).pow(2).sum().item());
 * assert.ok(norm <= 0.5 + 1e-5); // an L2 step of length ε (before clipping)
 * ```
 */
export class FGM extends OneStep {
  /** Report name. */
  readonly name: string = "FGM";
  /**
   * Creates the attack.
   * @param target A target or a prediction function.
   * @param options eps (default 0.3), loss, clip range, targeted.
   */
  constructor(target: Target | PredictFn, options: FGSMOptions = {}) {
    super(target, options);
  }
  /** ∇ / max(‖∇‖₂, 1e-6) per example. */
  protected direction(grad: Tensor): Tensor {
    return tidy(() => grad.div(l2Norm(grad).maximum(1e-6)));
  }
}
