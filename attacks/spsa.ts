/**
 * L∞ SPSA (Uesato et al. 2018) with advertorch 0.2.3's semantics: the
 * gradient of the per-example objective is estimated from central
 * differences along Rademacher directions (one direction per sample index,
 * shared by every image of the batch), in chunks of `maxBatchSize` samples
 * so the model sees at most maxBatchSize·N images at once; torch-style Adam
 * (β = 0.9, 0.999, ε 1e-8) moves the perturbation from zero, which is
 * clamped in place to the ε-box and the domain after every step while
 * Adam's moments carry on. The objective is minimised: the loss when
 * targeted, its negation otherwise; the default loss is advertorch's
 * `MarginalLoss`. Only forward passes, without recording.
 *
 * @module
 */

import { noGrad } from "../autograd/grad.ts";
import { zerosLike } from "../tensor/creation.ts";
import { tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { checkCount, checkPositive, headsLoss, Stream } from "./_util.ts";
import { AttackBase, type Crafted } from "./base.ts";
import { ceLoss, marginLoss } from "./losses.ts";
import type { CommonOptions, LossFn, PredictFn, Target } from "./types.ts";

/** Options of `spsaGradient`. */
export interface SPSAGradientOptions {
  /** Finite-difference step (default 0.01). */
  delta?: number;
  /** Directions sampled (default 128). */
  nbSample?: number;
  /** Directions evaluated per model call (default 64). */
  maxBatchSize?: number;
  /** Random stream (default: the global stream). */
  rng?: Stream;
}

/**
 * SPSA estimate of the gradient of a per-example function:
 * ĝ = (1/S) Σ_s [f(x + δv_s) − f(x − δv_s)] / (2δ) · v_s, with Rademacher
 * v_s of one image's shape shared across the batch (advertorch's
 * `spsa_grad` summed over chunks). Runs without recording.
 * @param f Per-example function: a batch [M, ...] to values [M].
 * @param x Points [N, ...].
 * @param options delta, nbSample, maxBatchSize, rng.
 * @example
 * ```ts
 * import { spsaGradient } from "@cnnf/webgpu/attacks";
 * import { init, type Tensor, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const f = (x: Tensor) => x.square().sum(1);
 * const g = spsaGradient(f, tensor([[1, -2, 0.5]]), { nbSample: 256 });
 * console.log(await g.data()); // ≈ [2, -4, 1]
 * ```
 */
export function spsaGradient(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  options: SPSAGradientOptions = {},
): Tensor {
  const delta = options.delta ?? 0.01;
  const nbSample = options.nbSample ?? 128;
  const maxBatch = options.maxBatchSize ?? 64;
  checkPositive("spsaGradient", "delta", delta);
  checkCount("spsaGradient", "nbSample", nbSample);
  checkCount("spsaGradient", "maxBatchSize", maxBatch);
  const rng = options.rng ?? new Stream();
  const n = x.shape[0];
  const item = x.shape.slice(1);
  const d = x.size / n;
  return noGrad(() =>
    tidy(() => {
      let acc: Tensor | null = null;
      for (let done = 0; done < nbSample; done += maxBatch) {
        const b = Math.min(maxBatch, nbSample - done);
        const v = rng.signs([b, 1, ...item], x.backend);
        const xs = x.unsqueeze(0);
        const flat = [b * n, ...item];
        const fp = f(xs.add(v.mul(delta)).reshape(flat)).reshape([b, n]);
        const fm = f(xs.sub(v.mul(delta)).reshape(flat)).reshape([b, n]);
        const part = fp.sub(fm).transpose().matmul(v.reshape([b, d]));
        acc = acc ? acc.add(part) : part;
      }
      return acc!.div(2 * delta * nbSample).reshape(x.shape);
    })
  );
}

/** Options of `LinfSPSA` (advertorch's names and defaults). */
export interface SPSAOptions extends CommonOptions {
  /** L∞ radius (default 0.3). */
  eps?: number;
  /** Finite-difference step (default 0.01). */
  delta?: number;
  /** Adam learning rate (default 0.01). */
  lr?: number;
  /** Iterations (default 1). */
  nbIter?: number;
  /** Directions per gradient estimate (default 128). */
  nbSample?: number;
  /** Directions per model call (default 64). */
  maxBatchSize?: number;
  /** Per-example loss: "margin" (default, advertorch's) or "ce", or a function. */
  loss?: "margin" | "ce" | LossFn;
}

/**
 * L∞ SPSA attack (advertorch `LinfSPSAAttack`). Costs 2·nbSample forward
 * evaluations per example and iteration.
 * @example CNN-F's SPSA settings
 * ```ts
 * import { cnnfTarget, LinfSPSA } from "@cnnf/webgpu/attacks";
 * import { CNNF } from "@cnnf/webgpu/cnnf";
 * import { init, rand, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const model = new CNNF({ cycles: 1 });
 * const spsa = new LinfSPSA(cnnfTarget(model, "first"), {
 *   eps: 0.2, delta: 0.01, lr: 0.01, nbIter: 1, nbSample: 4, maxBatchSize: 4,
 *   loss: "ce",
 * });
 * const x = rand([1, 1, 28, 28]).mul(2).sub(1);
 * const r = await spsa.perturb(x, tensor([0], [1], { dtype: "int32" }));
 * console.log(r.queries); // [8]
 * ```
 */
export class LinfSPSA extends AttackBase {
  /** Report name. */
  readonly name: string = "LinfSPSA";
  /** Radius. */
  readonly eps: number;
  /** Finite-difference step. */
  readonly delta: number;
  /** Adam learning rate. */
  readonly lr: number;
  /** Iterations. */
  readonly nbIter: number;
  /** Directions per estimate. */
  readonly nbSample: number;
  /** Directions per model call. */
  readonly maxBatchSize: number;
  readonly #loss: LossFn;

  /**
   * Creates the attack.
   * @param target A target or a prediction function (only forward passes).
   * @param options eps (0.3), delta (0.01), lr (0.01), nbIter (1),
   *   nbSample (128), maxBatchSize (64), loss ("margin"), clip range,
   *   targeted, seed.
   */
  constructor(target: Target | PredictFn, options: SPSAOptions = {}) {
    super(target, options);
    this.eps = options.eps ?? 0.3;
    this.delta = options.delta ?? 0.01;
    this.lr = options.lr ?? 0.01;
    this.nbIter = options.nbIter ?? 1;
    this.nbSample = options.nbSample ?? 128;
    this.maxBatchSize = options.maxBatchSize ?? 64;
    checkPositive("LinfSPSA", "eps", this.eps, true);
    checkPositive("LinfSPSA", "delta", this.delta);
    checkPositive("LinfSPSA", "lr", this.lr, true);
    checkCount("LinfSPSA", "nbIter", this.nbIter);
    checkCount("LinfSPSA", "nbSample", this.nbSample);
    checkCount("LinfSPSA", "maxBatchSize", this.maxBatchSize);
    const loss = options.loss ?? "margin";
    if (typeof loss === "function") this.#loss = loss;
    else if (loss === "margin") this.#loss = marginLoss;
    else if (loss === "ce") this.#loss = ceLoss;
    else {
      throw new Error(`LinfSPSA: loss must be "margin" or "ce", got ${loss}`);
    }
  }

  /** nbIter Adam steps on the SPSA estimate from δ = 0. */
  protected craft(x: Tensor, y: Tensor, rng: Stream): Crafted {
    const n = x.shape[0];
    const sign = this.targeted ? 1 : -1;
    // f on a stack of b copies of the batch: labels repeat per copy.
    const f = (xs: Tensor) =>
      tidy(() => {
        const copies = xs.shape[0] / n;
        const ys = y.unsqueeze(0).expand([copies, n]).reshape([copies * n]);
        const l = headsLoss(this.target.run(xs), ys, this.#loss);
        return sign === 1 ? l : l.neg();
      });
    const [b1, b2] = [0.9, 0.999];
    let dx = zerosLike(x);
    let m = zerosLike(x);
    let v = zerosLike(x);
    for (let t = 1; t <= this.nbIter; t++) {
      const next = tidy(() => {
        const g = spsaGradient(f, x.add(dx), {
          delta: this.delta,
          nbSample: this.nbSample,
          maxBatchSize: this.maxBatchSize,
          rng,
        });
        const m2 = m.mul(b1).add(g.mul(1 - b1));
        const v2 = v.mul(b2).add(g.square().mul(1 - b2));
        const bc1 = 1 - b1 ** t;
        const bc2 = 1 - b2 ** t;
        const denom = v2.sqrt().div(Math.sqrt(bc2)).add(1e-8);
        const stepped = dx.sub(m2.div(denom).mul(this.lr / bc1));
        const clamped = x.add(stepped.clamp(-this.eps, this.eps)).clamp(
          this.clipMin,
          this.clipMax,
        ).sub(x);
        return { dx: clamped, m: m2, v: v2 };
      });
      for (const old of [dx, m, v]) old.dispose();
      ({ dx, m, v } = next);
    }
    const adv = tidy(() => x.add(dx).clamp(this.clipMin, this.clipMax));
    for (const t of [dx, m, v]) t.dispose();
    return { adv, queries: 2 * this.nbSample * this.nbIter };
  }
}
