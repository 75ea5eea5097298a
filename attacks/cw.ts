/**
 * Carlini-Wagner L2 (2017) with advertorch 0.2.3's semantics: optimise in
 * tanh space, adv = tanh(w₀ + δ)·(max − min)/2 + (max + min)/2 with
 * w₀ = atanh(0.999999·(2·(x − min)/(max − min) − 1)); Adam on δ (fresh per
 * binary-search step) minimises Σ c·max(z_y − max_{j≠y} z_j + κ, 0) +
 * ‖adv − x̃‖² (x̃ the tanh reconstruction of x; the hinge flipped when
 * targeted); per-example binary search on c (bisect once an upper bound
 * exists, else ×10); keeps the smallest-L2 success and returns x where
 * none was found. Abort-early compares the batch-total loss every
 * maxIterations/10 iterations, which is the only readback.
 *
 * @module
 */

import { full, zerosLike } from "../tensor/creation.ts";
import { readAll, tidy } from "../tensor/engine.ts";
import { oneHot, where } from "../tensor/functional.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkCount,
  checkPositive,
  gradOf,
  headsLoss,
  perExampleShape,
  type Stream,
} from "./_util.ts";
import { AttackBase, type Crafted } from "./base.ts";
import type { CommonOptions, PredictFn, Target } from "./types.ts";

/** Options of `CarliniWagnerL2` (advertorch's names and defaults). */
export interface CWOptions extends CommonOptions {
  /** Margin κ required of a success (default 0). */
  confidence?: number;
  /** Adam learning rate (default 0.01). */
  learningRate?: number;
  /** Binary-search steps over c (default 9). */
  binarySearchSteps?: number;
  /** Adam iterations per step (default 10000). */
  maxIterations?: number;
  /** Stop a step when the loss stalls (default true). */
  abortEarly?: boolean;
  /** Initial c (default 1e-3). */
  initialConst?: number;
}

const ONE_MINUS_EPS = 0.999999;
const TARGET_MULT = 10000;

/**
 * Carlini-Wagner L2 attack (advertorch `CarliniWagnerL2Attack`), a
 * minimum-norm attack: unbounded in L2, bounded by the clip range.
 * @example
 * ```ts
 * import { CarliniWagnerL2 } from "@cnnf/webgpu/attacks";
 * import { init, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu" });
 * const w = tensor([[1, -1], [-1, 1]]);
 * const cw = new CarliniWagnerL2((x) => x.matmul(w).mul(5), {
 *   maxIterations: 50, binarySearchSteps: 3, learningRate: 0.05,
 *   initialConst: 1,
 * });
 * const r = await cw.perturb(tensor([[0.3, 0.1]]), tensor([0], [1], { dtype: "int32" }));
 * console.log(r.success);
 * ```
 */
export class CarliniWagnerL2 extends AttackBase {
  /** Report name. */
  readonly name: string = "CW-L2";
  /** κ. */
  readonly confidence: number;
  /** Adam learning rate. */
  readonly learningRate: number;
  /** Binary-search steps. */
  readonly binarySearchSteps: number;
  /** Iterations per step. */
  readonly maxIterations: number;
  /** Abort-early flag. */
  readonly abortEarly: boolean;
  /** Initial c. */
  readonly initialConst: number;

  /**
   * Creates the attack.
   * @param target A target or a prediction function.
   * @param options confidence (0), learningRate (0.01), binarySearchSteps
   *   (9), maxIterations (10000), abortEarly (true), initialConst (1e-3),
   *   clip range, targeted.
   */
  constructor(target: Target | PredictFn, options: CWOptions = {}) {
    super(target, options);
    this.confidence = options.confidence ?? 0;
    this.learningRate = options.learningRate ?? 0.01;
    this.binarySearchSteps = options.binarySearchSteps ?? 9;
    this.maxIterations = options.maxIterations ?? 10000;
    this.abortEarly = options.abortEarly ?? true;
    this.initialConst = options.initialConst ?? 1e-3;
    checkPositive("CarliniWagnerL2", "confidence", this.confidence, true);
    checkPositive("CarliniWagnerL2", "learningRate", this.learningRate);
    checkCount("CarliniWagnerL2", "binarySearchSteps", this.binarySearchSteps);
    checkCount("CarliniWagnerL2", "maxIterations", this.maxIterations);
    checkPositive("CarliniWagnerL2", "initialConst", this.initialConst);
  }

  /** tanh space back to the domain. */
  #rescale(w: Tensor): Tensor {
    const span = this.clipMax - this.clipMin;
    return tidy(() => w.tanh().add(1).mul(0.5 * span).add(this.clipMin));
  }

  /** The binary search over c, each step a fresh Adam run. */
  protected async craft(
    x: Tensor,
    y: Tensor,
    _rng: Stream,
  ): Promise<Crafted> {
    const n = x.shape[0];
    const pe = perExampleShape(x);
    const axes = x.shape.slice(1).map((_, i) => i + 1);
    const lo = this.clipMin;
    const span = this.clipMax - lo;
    const kappa = this.confidence;
    const targeted = this.targeted;
    const be = { backend: x.backend };
    const s: Record<string, Tensor> = {};
    const set = (k: string, t: Tensor) => {
      s[k]?.dispose();
      s[k] = t;
    };
    set(
      "xAtanh",
      tidy(() => {
        const u = x.sub(lo).div(span).clamp(0, 1).mul(2).sub(1)
          .mul(ONE_MINUS_EPS);
        return u.add(1).log().sub(u.neg().add(1).log()).mul(0.5);
      }),
    );
    set("xRec", this.#rescale(s.xAtanh));
    set("lower", full([n], 0, be));
    set("upper", full([n], 1e10, be));
    set("c", full([n], this.initialConst, be));
    set("finalL2", full([n], 1e10, be));
    set("finalAdv", tidy(() => x.clone()));
    const repeat = this.binarySearchSteps >= 10;
    const every = Math.floor(this.maxIterations / 10) || 1;
    let iterations = 0;
    try {
      for (let outer = 0; outer < this.binarySearchSteps; outer++) {
        set("delta", zerosLike(x));
        set("m", zerosLike(x));
        set("v", zerosLike(x));
        set("curL2", full([n], 1e10, be));
        set("curSucc", full([n], 0, be));
        if (repeat && outer === this.binarySearchSteps - 1) {
          set("c", tidy(() => s.upper.clone()));
        }
        let prevLoss = 1e6;
        for (let ii = 0; ii < this.maxIterations; ii++) {
          iterations++;
          const r = gradOf(s.delta, (dv) => {
            const adv = this.#rescale(dv.add(s.xAtanh));
            const out = this.target.run(adv);
            const z = out.logits;
            const hinge = headsLoss(out, y, (h, yy) => {
              const oh = oneHot(yy, h.shape[1]);
              const real = h.mul(oh).sum(1);
              const other = h.mul(oh.neg().add(1)).sub(oh.mul(TARGET_MULT))
                .max(1);
              return (targeted ? other.sub(real) : real.sub(other))
                .add(kappa).relu();
            });
            const l2 = adv.sub(s.xRec).square().sum(axes);
            return {
              objective: s.c.mul(hinge).add(l2),
              aux: { adv, z, l2 },
            };
          });
          const t = ii + 1;
          const lr = this.learningRate;
          const upd = tidy(() => {
            const g = r.grad;
            const m = s.m.mul(0.9).add(g.mul(0.1));
            const v = s.v.mul(0.999).add(g.square().mul(0.001));
            const denom = v.sqrt().div(Math.sqrt(1 - 0.999 ** t)).add(1e-8);
            const delta = s.delta.sub(m.div(denom).mul(lr / (1 - 0.9 ** t)));
            return { m, v, delta };
          });
          set("m", upd.m);
          set("v", upd.v);
          set("delta", upd.delta);
          r.grad.dispose();
          let stop = false;
          if (this.abortEarly && ii % every === 0) {
            const total = tidy(() => r.objective.sum());
            const [lv] = await readAll([total]);
            total.dispose();
            if (lv[0] > prevLoss * ONE_MINUS_EPS) stop = true;
            else prevLoss = lv[0];
          }
          if (!stop) {
            const next = tidy(() => {
              const { adv, z, l2 } = r.aux;
              const oh = oneHot(y, z.shape[1]);
              const adj = z.add(oh.mul(targeted ? -kappa : kappa));
              const pred = adj.argmax(1);
              const ok = targeted ? pred.eq(y) : pred.ne(y);
              const cur = l2.lt(s.curL2).mul(ok);
              const fin = l2.lt(s.finalL2).mul(ok);
              return {
                curL2: where(cur, l2, s.curL2),
                curSucc: s.curSucc.maximum(cur),
                finalL2: where(fin, l2, s.finalL2),
                finalAdv: where(fin.reshape(pe), adv, s.finalAdv),
              };
            });
            for (const [k, t2] of Object.entries(next)) set(k, t2);
          }
          r.objective.dispose();
          for (const t2 of Object.values(r.aux)) t2.dispose();
          if (stop) break;
        }
        const nb = tidy(() => {
          const ok = s.curSucc;
          const upper = where(ok, s.upper.minimum(s.c), s.upper);
          const lower = where(ok, s.lower, s.lower.maximum(s.c));
          const bounded = upper.lt(1e9);
          const mid = lower.add(upper).div(2);
          const c = where(bounded, mid, where(ok, s.c, s.c.mul(10)));
          return { upper, lower, c };
        });
        for (const [k, t2] of Object.entries(nb)) set(k, t2);
      }
      const adv = s.finalAdv;
      delete s.finalAdv;
      return { adv, queries: iterations };
    } finally {
      for (const t of Object.values(s)) t.dispose();
    }
  }
}
