/**
 * Projected gradient descent with advertorch 0.2.3's semantics (the
 * attack CNN-F was trained and evaluated with): `LinfPGD` (sign steps,
 * clamp to the ε-box then to the domain) and `L2PGD` (normalised steps,
 * domain clamp then L2 shrink). Loss: summed cross entropy by default,
 * negated when targeted; the last iterate is returned (no best-iterate
 * tracking, no early stop), as in advertorch.
 *
 * @module
 */

import { zerosLike } from "../tensor/creation.ts";
import { tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkCount,
  checkPositive,
  headsLoss,
  l2Norm,
  lossGrad,
  rdiv,
  type Stream,
} from "./_util.ts";
import { AttackBase, type Crafted } from "./base.ts";
import { type LossName, resolveLoss } from "./losses.ts";
import type {
  CommonOptions,
  LossFn,
  PredictFn,
  Target,
  TargetOutput,
} from "./types.ts";

/** Options of `LinfPGD` and `L2PGD` (advertorch's names and defaults). */
export interface PGDOptions extends CommonOptions {
  /** Radius of the ball (default 0.3). */
  eps?: number;
  /** Iterations (default 40). */
  nbIter?: number;
  /** Step size (default 0.01). */
  epsIter?: number;
  /** Random start inside the ball (default true). */
  randInit?: boolean;
  /** Per-example loss (default "ce", summed over the batch). */
  loss?: LossName | LossFn;
}

/**
 * Shared option handling of the two PGD flavours.
 * @example
 * ```ts
 * import { L2PGD, LinfPGD, PGDBase } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const f = (x: import("@cnnf/webgpu").Tensor) => x.flatten(1);
 * assert.ok(new LinfPGD(f) instanceof PGDBase && new L2PGD(f) instanceof PGDBase);
 * ```
 */
export abstract class PGDBase extends AttackBase {
  /** Radius. */
  readonly eps: number;
  /** Iterations. */
  readonly nbIter: number;
  /** Step size. */
  readonly epsIter: number;
  /** Random start. */
  readonly randInit: boolean;
  readonly #loss: LossFn;

  /**
   * Stores the options.
   * @param target A target or a prediction function.
   * @param o PGD options.
   */
  constructor(target: Target | PredictFn, o: PGDOptions) {
    super(target, o);
    this.eps = o.eps ?? 0.3;
    this.nbIter = o.nbIter ?? 40;
    this.epsIter = o.epsIter ?? 0.01;
    this.randInit = o.randInit ?? true;
    checkPositive("PGD", "eps", this.eps, true);
    checkPositive("PGD", "epsIter", this.epsIter, true);
    if (this.nbIter !== 0) checkCount("PGD", "nbIter", this.nbIter);
    this.#loss = resolveLoss(o.loss);
  }

  /** The objective ascended: the loss, or its negation when targeted. */
  protected objective(y: Tensor): (out: TargetOutput) => Tensor {
    return (out) => {
      const l = headsLoss(out, y, this.#loss);
      return this.targeted ? l.neg() : l;
    };
  }

  /** The starting perturbation (already inside ball and domain). */
  protected abstract init(x: Tensor, rng: Stream): Tensor;
  /** One step of the perturbation given the gradient. */
  protected abstract step(x: Tensor, delta: Tensor, grad: Tensor): Tensor;

  /** nbIter steps from the (random) start; the last iterate. */
  protected craft(x: Tensor, y: Tensor, rng: Stream): Crafted {
    const objective = this.objective(y);
    let delta = this.randInit ? this.init(x, rng) : zerosLike(x);
    for (let k = 0; k < this.nbIter; k++) {
      const next = tidy(() => {
        const { grad } = lossGrad(this.target, x.add(delta), objective);
        return this.step(x, delta, grad);
      });
      delta.dispose();
      delta = next;
    }
    const adv = tidy(() => x.add(delta).clamp(this.clipMin, this.clipMax));
    delta.dispose();
    return { adv, queries: this.nbIter };
  }
}

/**
 * L∞ projected gradient descent (advertorch `LinfPGDAttack`): δ₀ ~ U(−ε, ε)
 * clipped to the domain; then δ ← δ + eps_iter·sign(∇), clamp to [−ε, ε],
 * then to the domain; returns clip(x + δ) of the last iterate.
 * @example CNN-F's evaluation PGD on the first pass
 * ```ts
 * import { cnnfTarget, LinfPGD } from "@cnnf/webgpu/attacks";
 * import { CNNF } from "@cnnf/webgpu/cnnf";
 * import { init, rand, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const model = new CNNF({ ind: 2, cycles: 1 });
 * const pgd = new LinfPGD(cnnfTarget(model, "first"), {
 *   eps: 0.2, epsIter: 0.071, nbIter: 1,
 * });
 * const x = rand([1, 1, 28, 28]).mul(2).sub(1);
 * const { adv } = await pgd.perturb(x, tensor([3], [1], { dtype: "int32" }));
 * console.log(adv.shape);
 * ```
 */
export class LinfPGD extends PGDBase {
  /** Report name. */
  readonly name: string = "LinfPGD";
  /**
   * Creates the attack.
   * @param target A target or a prediction function.
   * @param options eps (0.3), nbIter (40), epsIter (0.01), randInit
   *   (true), loss ("ce"), clip range ([-1, 1]), targeted, seed.
   */
  constructor(target: Target | PredictFn, options: PGDOptions = {}) {
    super(target, options);
  }
  /** U(−ε, ε), then clipped to the domain. */
  protected init(x: Tensor, rng: Stream): Tensor {
    return tidy(() => {
      const d = rng.uniform(x.shape, x.backend, -1, 1).mul(this.eps);
      return x.add(d).clamp(this.clipMin, this.clipMax).sub(x);
    });
  }
  /** Sign step, ε-box, domain. */
  protected step(x: Tensor, delta: Tensor, grad: Tensor): Tensor {
    return tidy(() => {
      const d = delta.add(grad.sign().mul(this.epsIter)).clamp(
        -this.eps,
        this.eps,
      );
      return x.add(d).clamp(this.clipMin, this.clipMax).sub(x);
    });
  }
}

/**
 * L2 projected gradient descent (advertorch `L2PGDAttack`): δ₀ uniform
 * over the domain minus x, scaled into the ball, clipped; then
 * δ ← δ + eps_iter·∇/max(‖∇‖₂, 1e-6), domain clamp, then scale into the
 * ball; returns clip(x + δ) of the last iterate.
 * @example
 * ```ts
 * import { init, L2PGD, Linear, rand, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const fc = new Linear(8, 3);
 * const x = rand([2, 8]);
 * const pgd = new L2PGD((v) => fc.forward(v), { eps: 0.5, epsIter: 0.2, nbIter: 5 });
 * const { adv } = await pgd.perturb(x, tensor([0, 2], [2], { dtype: "int32" }));
 * const d = await adv.sub(x).pow(2).sum(1).sqrt().max().item();
 * assert.ok(d <= 0.5 + 1e-5);
 * ```
 */
export class L2PGD extends PGDBase {
  /** Report name. */
  readonly name: string = "L2PGD";
  /**
   * Creates the attack.
   * @param target A target or a prediction function.
   * @param options eps (0.3), nbIter (40), epsIter (0.01), randInit
   *   (true), loss ("ce"), clip range ([-1, 1]), targeted, seed.
   */
  constructor(target: Target | PredictFn, options: PGDOptions = {}) {
    super(target, options);
  }
  /** δ · min(ε/‖δ‖₂, 1) (advertorch's `clamp_by_pnorm`). */
  #shrink(delta: Tensor): Tensor {
    return tidy(() =>
      delta.mul(rdiv(this.eps, l2Norm(delta).maximum(1e-30)).minimum(1))
    );
  }
  /** Uniform over the domain minus x, shrunk into the ball, clipped. */
  protected init(x: Tensor, rng: Stream): Tensor {
    return tidy(() => {
      const u = rng.uniform(x.shape, x.backend, this.clipMin, this.clipMax);
      const d = this.#shrink(u.sub(x));
      return x.add(d).clamp(this.clipMin, this.clipMax).sub(x);
    });
  }
  /** Normalised step, domain clamp, then the L2 shrink. */
  protected step(x: Tensor, delta: Tensor, grad: Tensor): Tensor {
    return tidy(() => {
      const g = grad.div(l2Norm(grad).maximum(1e-6));
      const d = delta.add(g.mul(this.epsIter));
      return this.#shrink(x.add(d).clamp(this.clipMin, this.clipMax).sub(x));
    });
  }
}
