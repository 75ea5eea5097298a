/**
 * Auto-PGD (Croce & Hein 2020), following AutoAttack's `autopgd_base.py`:
 * random start on the ε-sphere, step size 2ε halved per example at
 * checkpoints (after 22% of the iterations, then windows shrinking by 3% of
 * them down to 6%) when the loss rose in at most ρ·k of the last k steps or
 * neither the step was halved nor the best loss improved since the previous
 * checkpoint, restarting then from the best point; momentum 0.75. Tracks
 * the best-loss point and the last misclassified one; returns the latter
 * where the attack succeeded and x elsewhere.
 *
 * `APGD` ascends cross entropy or DLR (untargeted, or targeted with `y`
 * holding target classes); `APGDT` ascends the targeted DLR towards each of
 * the top-k other classes in turn (AutoAttack's APGD-T). Every step is
 * decided on the device; restarts and target classes after the first run
 * only on the still-robust examples, which costs one readback each.
 *
 * @module
 */

import { ones, tensor } from "../tensor/creation.ts";
import { keep as keepOut, readAll, tidy } from "../tensor/engine.ts";
import { where } from "../tensor/functional.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkCount,
  checkPositive,
  forwardLogits,
  headsLoss,
  l2Norm,
  linfNorm,
  lossGrad,
  perExampleShape,
  projectLinf,
  scatterRows,
  selectRows,
  type Stream,
} from "./_util.ts";
import { AttackBase, type Crafted } from "./base.ts";
import {
  ceLoss,
  dlrLoss,
  dlrTargetedLoss,
  labelLogit,
  maxOtherLogit,
  rankedClasses,
  topLogits,
} from "./losses.ts";
import type {
  CommonOptions,
  LossFn,
  PredictFn,
  Target,
  TargetOutput,
} from "./types.ts";

/** Options shared by `APGD` and `APGDT` (AutoAttack's names, camelCase). */
export interface APGDCommonOptions extends CommonOptions {
  /** Threat model (default "Linf"). */
  norm?: "Linf" | "L2";
  /** Radius (default 0.3 in [-1, 1] units, i.e. 0.15 on [0, 1]). */
  eps?: number;
  /** Iterations per run (default 100). */
  nIter?: number;
  /** Random restarts (default 1). */
  nRestarts?: number;
  /** Step-size decrease threshold ρ (default 0.75). */
  rho?: number;
}

/** Options of `APGD`. */
export interface APGDOptions extends APGDCommonOptions {
  /** Loss: "ce" or "dlr" (default "ce"), or a per-example function. */
  loss?: "ce" | "dlr" | LossFn;
}

/** Options of `APGDT`. */
export interface APGDTOptions extends APGDCommonOptions {
  /** Target classes tried, the 2nd to (k+1)-th ranked (default 9). */
  nTargetClasses?: number;
}

interface RunSpec {
  target: Target;
  x: Tensor;
  /** Labels success is checked against. */
  y: Tensor;
  /** Whether success means reaching y (else leaving it). */
  targeted: boolean;
  objective: (out: TargetOutput) => Tensor;
  norm: "Linf" | "L2";
  eps: number;
  nIter: number;
  rho: number;
  lo: number;
  hi: number;
  rng: Stream;
}

/** x / (‖x‖ + 1e-12) per example, in the attack's norm (AutoAttack's). */
function normalize(t: Tensor, norm: "Linf" | "L2"): Tensor {
  return tidy(() =>
    t.div((norm === "Linf" ? linfNorm(t) : l2Norm(t)).add(1e-12))
  );
}

/** AutoAttack's L2 projection: x + δ̂·min(ε, ‖δ‖), clipped. */
function projectL2aa(
  xa: Tensor,
  x: Tensor,
  eps: number,
  lo: number,
  hi: number,
): Tensor {
  return tidy(() => {
    const d = xa.sub(x);
    return x.add(normalize(d, "L2").mul(l2Norm(d).minimum(eps))).clamp(lo, hi);
  });
}

/** 1 where the example is not (yet) a success, float32 [N]. */
function stillRobust(logits: Tensor, y: Tensor, targeted: boolean): Tensor {
  return tidy(() => {
    const pred = logits.argmax(1);
    return targeted ? pred.ne(y) : pred.eq(y);
  });
}

/**
 * One APGD run on the device: returns, per example, whether it is still
 * robust (float 0/1 [N]) and the last adversarial iterate found.
 */
function singleRun(s: RunSpec): { robust: Tensor; bestAdv: Tensor } {
  const { x, eps, norm, lo, hi } = s;
  const n = x.shape[0];
  const pe = perExampleShape(x);
  const nIter2 = Math.max(Math.floor(0.22 * s.nIter), 1);
  const nIterMin = Math.max(Math.floor(0.06 * s.nIter), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * s.nIter), 1);
  const st: Record<string, Tensor> = {};
  const set = (k: string, t: Tensor) => {
    st[k]?.dispose();
    st[k] = t;
  };
  const lossSteps: Tensor[] = [];
  try {
    set(
      "xAdv",
      tidy(() => {
        const t = norm === "Linf"
          ? s.rng.uniform(x.shape, x.backend, -1, 1)
          : s.rng.draw("normal", x.shape, x.backend);
        return x.add(normalize(t, norm).mul(eps)).clamp(lo, hi);
      }),
    );
    const first = lossGrad(s.target, st.xAdv, s.objective);
    set("grad", first.grad);
    set("gradBest", tidy(() => first.grad.clone()));
    set("robust", stillRobust(first.logits, s.y, s.targeted));
    first.logits.dispose();
    set("lossBest", first.loss);
    set("xBest", tidy(() => st.xAdv.clone()));
    set("xBestAdv", tidy(() => st.xAdv.clone()));
    set("xAdvOld", tidy(() => st.xAdv.clone()));
    set("step", tidy(() => ones(pe, { backend: x.backend }).mul(2 * eps)));
    set("lossBestLastCheck", tidy(() => st.lossBest.clone()));
    set("reducedLastCheck", ones([n], { backend: x.backend }));
    let k = nIter2;
    let counter3 = 0;
    for (let i = 0; i < s.nIter; i++) {
      const a = i > 0 ? 0.75 : 1;
      const next = tidy(() => {
        const { xAdv, xAdvOld, grad, step } = st;
        const grad2 = xAdv.sub(xAdvOld);
        const proj = (t: Tensor) =>
          norm === "Linf"
            ? projectLinf(t, x, eps, lo, hi)
            : projectL2aa(t, x, eps, lo, hi);
        const dir = norm === "Linf" ? grad.sign() : normalize(grad, "L2");
        let x1 = proj(xAdv.add(step.mul(dir)));
        x1 = xAdv.add(x1.sub(xAdv).mul(a)).add(grad2.mul(1 - a));
        return proj(x1);
      });
      set("xAdvOld", st.xAdv);
      st.xAdv = next;
      const lg = lossGrad(s.target, st.xAdv, s.objective);
      set("grad", lg.grad);
      lossSteps.push(lg.loss);
      tidy(() => {
        const pred = stillRobust(lg.logits, s.y, s.targeted);
        set("robust", st.robust.minimum(pred));
        set(
          "xBestAdv",
          where(pred.eq(0).reshape(pe), st.xAdv, st.xBestAdv),
        );
        const imp = lg.loss.gt(st.lossBest);
        const impX = imp.reshape(pe);
        set("xBest", where(impX, st.xAdv, st.xBest));
        set("gradBest", where(impX, st.grad, st.gradBest));
        set("lossBest", where(imp, lg.loss, st.lossBest));
        for (
          const key of ["robust", "xBestAdv", "xBest", "gradBest", "lossBest"]
        ) {
          keepOut(st[key]);
        }
      });
      lg.logits.dispose();
      counter3++;
      if (counter3 === k) {
        tidy(() => {
          let count: Tensor | null = null;
          for (let c = 0; c < k; c++) {
            const cur = lossSteps[i - c];
            // AutoAttack reads loss_steps[-1] (still zero) before step 0.
            const prev = i - c - 1 >= 0 ? lossSteps[i - c - 1] : null;
            const up = prev ? cur.gt(prev) : cur.gt(0);
            count = count ? count.add(up) : up;
          }
          const osc = count!.le(k * s.rho);
          const noImpr = st.reducedLastCheck.neg().add(1).mul(
            st.lossBestLastCheck.ge(st.lossBest),
          );
          const fl = osc.maximum(noImpr);
          const flX = fl.reshape(pe);
          set("reducedLastCheck", fl);
          set("lossBestLastCheck", st.lossBest.clone());
          set("step", where(flX, st.step.mul(0.5), st.step));
          set("xAdv", where(flX, st.xBest, st.xAdv));
          set("grad", where(flX, st.gradBest, st.grad));
          for (
            const key of [
              "reducedLastCheck",
              "lossBestLastCheck",
              "step",
              "xAdv",
              "grad",
            ]
          ) keepOut(st[key]);
        });
        k = Math.max(k - sizeDecr, nIterMin);
        counter3 = 0;
      }
    }
    const out = { robust: st.robust, bestAdv: st.xBestAdv };
    delete st.robust;
    delete st.xBestAdv;
    return out;
  } finally {
    for (const t of Object.values(st)) t.dispose();
    for (const t of lossSteps) t.dispose();
  }
}

/** One APGD run's objective over the rows it attacks. */
export interface Round {
  /** Per-example objective [rows] from a target output. */
  objective: (out: TargetOutput) => Tensor;
  /** Frees what the round made. */
  dispose(): void;
}

/**
 * The shared driver: rounds over the still-robust examples.
 * @example
 * ```ts
 * import { APGD, APGDBase, APGDT } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const f = (x: import("@cnnf/webgpu").Tensor) => x.flatten(1);
 * assert.ok(new APGD(f) instanceof APGDBase && new APGDT(f) instanceof APGDBase);
 * ```
 */
export abstract class APGDBase extends AttackBase {
  /** Threat model. */
  readonly norm: "Linf" | "L2";
  /** Radius. */
  readonly eps: number;
  /** Iterations per run. */
  readonly nIter: number;
  /** Restarts. */
  readonly nRestarts: number;
  /** Step-size decrease threshold. */
  readonly rho: number;

  /**
   * Stores the options (seed 0 unless given, as AutoAttack).
   * @param target A target or a prediction function.
   * @param o APGD options.
   */
  constructor(target: Target | PredictFn, o: APGDCommonOptions) {
    super(target, { seed: 0, ...o });
    this.norm = o.norm ?? "Linf";
    if (this.norm !== "Linf" && this.norm !== "L2") {
      throw new Error(`APGD: norm must be "Linf" or "L2", got ${this.norm}`);
    }
    this.eps = o.eps ?? 0.3;
    this.nIter = o.nIter ?? 100;
    this.nRestarts = o.nRestarts ?? 1;
    this.rho = o.rho ?? 0.75;
    checkPositive("APGD", "eps", this.eps, true);
    checkCount("APGD", "nIter", this.nIter);
    checkCount("APGD", "nRestarts", this.nRestarts);
    checkPositive("APGD", "rho", this.rho);
  }

  /** Number of runs. */
  protected abstract roundCount(): number;
  /** Prepares per-call state from the clean inputs; returns its cleanup. */
  protected abstract setup(x: Tensor): () => void;
  /** The objective of run `r` on the rows attacked (labels `ys`). */
  protected abstract round(
    r: number,
    ys: Tensor,
    rows: readonly number[] | null,
  ): Round;

  /** The runs, each on the examples still robust. */
  protected async craft(x: Tensor, y: Tensor, rng: Stream): Promise<Crafted> {
    const n = x.shape[0];
    const pe = perExampleShape(x);
    let robust = tidy(() =>
      stillRobust(forwardLogits(this.target, x), y, this.targeted)
    );
    let adv = tidy(() => x.clone());
    let queries = tidy(() => robust.mul(0));
    const cleanup = this.setup(x);
    try {
      for (let r = 0; r < this.roundCount(); r++) {
        // The first run attacks every row and merges under the robust
        // mask; later runs shrink the batch to the robust rows.
        let rows: number[] | null = null;
        if (r > 0) {
          const [flags] = await readAll([robust]);
          rows = [];
          flags.forEach((v, i) => v && rows!.push(i));
          if (rows.length === 0) break;
          if (rows.length === n) rows = null;
        }
        const xs = rows ? selectRows(x, rows) : x;
        const ys = rows ? selectRows(y, rows) : y;
        const round = this.round(r, ys, rows);
        try {
          const res = singleRun({
            target: this.target,
            x: xs,
            y: ys,
            targeted: this.targeted,
            objective: round.objective,
            norm: this.norm,
            eps: this.eps,
            nIter: this.nIter,
            rho: this.rho,
            lo: this.clipMin,
            hi: this.clipMax,
            rng,
          });
          const next = tidy(() => {
            const robustNow = rows
              ? scatterRows(
                robust.reshape([-1, 1]),
                res.robust.reshape([-1, 1]),
                rows,
              ).reshape([n])
              : res.robust;
            const bestAdv = rows
              ? scatterRows(adv, res.bestAdv, rows)
              : res.bestAdv;
            const fooled = robust.mul(robustNow.neg().add(1));
            let spent: Tensor;
            if (rows) {
              const h = new Float32Array(n);
              for (const i of rows) h[i] = this.nIter + 1;
              spent = tensor(h, [n], { backend: x.backend });
            } else spent = robust.mul(this.nIter + 1);
            return {
              adv: where(fooled.reshape(pe), bestAdv, adv),
              robust: robust.minimum(robustNow),
              queries: queries.add(spent),
            };
          });
          res.robust.dispose();
          res.bestAdv.dispose();
          adv.dispose();
          robust.dispose();
          queries.dispose();
          ({ adv, robust, queries } = next);
        } finally {
          round.dispose();
          if (rows) {
            xs.dispose();
            ys.dispose();
          }
        }
      }
    } finally {
      cleanup();
      robust.dispose();
    }
    return { adv, queries };
  }
}

/**
 * Targeted DLR without true labels: −(max_{j≠t} z_j − z_t) /
 * (z_π1 − (z_π3 + z_π4)/2 + 1e-12).
 */
function dlrTowards(z: Tensor, t: Tensor): Tensor {
  return tidy(() => {
    const [z1, , z3, z4] = topLogits(z, 4);
    const num = maxOtherLogit(z, t).sub(labelLogit(z, t));
    return num.neg().div(z1.sub(z3.add(z4).mul(0.5)).add(1e-12));
  });
}

/**
 * APGD with cross entropy or DLR (AutoAttack's `APGDAttack`; "apgd-ce" and
 * "apgd-dlr"). Targeted mode (`y` = target classes) descends the target's
 * cross entropy, or ascends a targeted DLR in which the strongest other
 * class stands in for the unknown true label.
 * @example
 * ```ts
 * import { APGD } from "@cnnf/webgpu/attacks";
 * import { init, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu" });
 * const w = tensor([[1, -1, 0], [-1, 1, 0.5]]);
 * const apgd = new APGD((x) => x.matmul(w), { eps: 0.5, nIter: 10 });
 * const r = await apgd.perturb(tensor([[0.2, 0.1]]), tensor([0], [1], { dtype: "int32" }));
 * console.log(r.success);
 * ```
 */
export class APGD extends APGDBase {
  /** Report name. */
  readonly name: string;
  readonly #loss: LossFn;

  /**
   * Creates the attack.
   * @param target A target or a prediction function.
   * @param options norm ("Linf"), eps (0.3), nIter (100), nRestarts (1),
   *   rho (0.75), loss ("ce"), clip range, targeted, seed (0).
   */
  constructor(target: Target | PredictFn, options: APGDOptions = {}) {
    super(target, options);
    const loss = options.loss ?? "ce";
    if (typeof loss === "function") {
      this.#loss = loss;
      this.name = "APGD";
      return;
    }
    if (loss !== "ce" && loss !== "dlr") {
      throw new Error(`APGD: loss must be "ce" or "dlr", got ${loss}`);
    }
    this.name = `APGD-${loss.toUpperCase()}`;
    this.#loss = loss === "ce"
      ? (this.targeted ? (z, t) => tidy(() => ceLoss(z, t).neg()) : ceLoss)
      : (this.targeted ? dlrTowards : dlrLoss);
  }

  /** `nRestarts` runs. */
  protected roundCount(): number {
    return this.nRestarts;
  }
  /** Nothing to prepare. */
  protected setup(_x: Tensor): () => void {
    return () => {};
  }
  /** The loss on the rows' labels (or targets). */
  protected round(_r: number, ys: Tensor): Round {
    return {
      objective: (out) => headsLoss(out, ys, this.#loss),
      dispose() {},
    };
  }
}

/**
 * APGD on the targeted DLR loss (AutoAttack's `APGDAttack_targeted`,
 * "apgd-t"): for each of the 2nd..(k+1)-th classes ranked by the clean
 * logits, `nRestarts` runs towards it on the still-robust examples. Success
 * is misclassification, as in AutoAttack.
 * @example
 * ```ts
 * import { APGDT, init, Linear, rand, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const fc = new Linear(8, 4);
 * const x = rand([2, 8]);
 * const attack = new APGDT((v) => fc.forward(v), { eps: 0.1, nIter: 5, nTargetClasses: 2 });
 * const { adv } = await attack.perturb(x, tensor([0, 1], [2], { dtype: "int32" }));
 * assert.ok(await adv.sub(x).abs().max().item() <= 0.1 + 1e-6);
 * ```
 */
export class APGDT extends APGDBase {
  /** Report name. */
  readonly name: string = "APGD-T";
  /** Target classes tried. */
  readonly nTargetClasses: number;
  #ranked: Tensor[] = [];

  /**
   * Creates the attack.
   * @param target A target or a prediction function.
   * @param options norm ("Linf"), eps (0.3), nIter (100), nRestarts (1),
   *   rho (0.75), nTargetClasses (9), clip range, seed (0).
   */
  constructor(target: Target | PredictFn, options: APGDTOptions = {}) {
    if (options.targeted) {
      throw new Error("APGDT: picks its own targets; use APGD for targeted");
    }
    super(target, options);
    this.nTargetClasses = options.nTargetClasses ?? 9;
    checkCount("APGDT", "nTargetClasses", this.nTargetClasses);
  }

  /** Target classes × restarts. */
  protected roundCount(): number {
    return this.nTargetClasses * this.nRestarts;
  }
  /** Ranks the classes by the clean logits. */
  protected setup(x: Tensor): () => void {
    this.#ranked = tidy(() => {
      const z = forwardLogits(this.target, x);
      if (this.nTargetClasses + 1 > z.shape[1]) {
        throw new Error(
          `APGDT: ${this.nTargetClasses} target classes need more than ${
            z.shape[1]
          } classes`,
        );
      }
      return rankedClasses(z, this.nTargetClasses + 1);
    });
    return () => {
      this.#ranked.forEach((t) => t.dispose());
      this.#ranked = [];
    };
  }
  /** Targeted DLR towards the class ranked 2 + ⌊r / nRestarts⌋. */
  protected round(
    r: number,
    ys: Tensor,
    rows: readonly number[] | null,
  ): Round {
    const col = this.#ranked[1 + Math.floor(r / this.nRestarts)];
    const t = rows ? selectRows(col, rows) : col;
    return {
      objective: (out) =>
        headsLoss(out, ys, (z, yy) => dlrTargetedLoss(z, yy, t)),
      dispose() {
        if (rows) t.dispose();
      },
    };
  }
}
