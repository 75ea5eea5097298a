/**
 * An AutoAttack-style cascade (Croce & Hein 2020). The `standard` version
 * runs APGD-CE (100 iterations), APGD-T (9 target classes × 100
 * iterations) and Square (5000 queries, L∞ only); FAB-T is not included.
 * Each attack only sees the examples every earlier attack failed on, so an
 * example counts as robust only if it was classified correctly and every
 * attack failed: the per-example worst case. `individual` runs every attack
 * on all the correctly classified examples instead and takes the minimum.
 *
 * ε is in the model's input units: AutoAttack's ε on [0, 1] images is half
 * of it on CNN-F's [-1, 1] inputs.
 *
 * @module
 */

import { readAll, tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  asTarget,
  checkBatch,
  decideLogits,
  guarded,
  scatterRows,
  selectRows,
  successMask,
} from "./_util.ts";
import { APGD, APGDT } from "./apgd.ts";
import { Square } from "./square.ts";
import type {
  Attack,
  AttackResult,
  CommonOptions,
  PredictFn,
  Target,
} from "./types.ts";

/** Attacks a cascade can run (AutoAttack's names). */
export type AutoAttackName = "apgd-ce" | "apgd-dlr" | "apgd-t" | "square";

/** Options of `AutoAttack`. */
export interface AutoAttackOptions extends Omit<CommonOptions, "targeted"> {
  /** Threat model (default "Linf"). */
  norm?: "Linf" | "L2";
  /** Radius in input units (default 0.3). */
  eps?: number;
  /** "standard" (default) or "custom" (then `attacks` is used). */
  version?: "standard" | "custom";
  /** The attacks of a custom cascade, in order. */
  attacks?: AutoAttackName[];
  /** APGD iterations (default 100). */
  nIter?: number;
  /** APGD-T target classes (default 9, capped at classes − 1). */
  nTargetClasses?: number;
  /** Square's query budget (default 5000). */
  nQueries?: number;
  /** Called after each attack of the cascade. */
  onProgress?: (p: CascadeStage) => void;
}

/** What one attack of the cascade did. */
export interface CascadeStage {
  /** The attack's name. */
  name: string;
  /** Examples it attacked (robust so far). */
  attacked: number;
  /** Of those, the ones it fooled. */
  fooled: number;
  /** Examples robust after it, out of the batch. */
  robustAfter: number;
  /** Wall time in seconds. */
  seconds: number;
}

/** What `AutoAttack.perturb` returns. */
export interface AutoAttackResult extends AttackResult {
  /** 1 where the clean input was classified correctly. */
  cleanCorrect: Uint8Array;
  /** 1 where every attack failed on a correctly classified example. */
  robust: Uint8Array;
  /**
   * Per example: the index of the attack that fooled it, -1 if robust, -2
   * if misclassified before any attack.
   */
  fooledBy: Int32Array;
  /** Per-attack summaries, in cascade order. */
  stages: CascadeStage[];
}

/** What `AutoAttack.individual` returns. */
export interface IndividualResult {
  /** 1 where the clean input was classified correctly. */
  cleanCorrect: Uint8Array;
  /** Per attack name: 1 where it left the example robust. */
  robustBy: Record<string, Uint8Array>;
  /** The per-example minimum over the attacks. */
  robust: Uint8Array;
}

/**
 * The cascade. It satisfies `Attack`, so `evaluate` can run it like any
 * other attack.
 * @example
 * ```ts
 * import { AutoAttack } from "@cnnf/webgpu/attacks";
 * import { init, rand, type Tensor, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const w = rand([16, 4]).sub(0.5);
 * const predict = (x: Tensor) => x.reshape([x.shape[0], 16]).matmul(w);
 * const aa = new AutoAttack(predict, { eps: 0.1, nIter: 10, nQueries: 20, nTargetClasses: 3 });
 * const x = rand([3, 1, 4, 4]);
 * const r = await aa.perturb(x, tensor([0, 1, 2], [3], { dtype: "int32" }));
 * console.log(r.robust, r.stages.map((s) => s.name));
 * ```
 */
export class AutoAttack implements Attack {
  /** Report name. */
  readonly name: string;
  /** What is attacked. */
  readonly target: Target;
  /** Attacks run, in order. */
  readonly attackNames: AutoAttackName[];
  readonly #o: AutoAttackOptions;

  /**
   * Creates the cascade.
   * @param target A target or a prediction function.
   * @param options norm, eps, version, attacks, nIter, nTargetClasses,
   *   nQueries, clip range, seed (0), onProgress.
   */
  constructor(target: Target | PredictFn, options: AutoAttackOptions = {}) {
    this.target = asTarget(target);
    this.#o = { seed: 0, ...options };
    const version = options.version ?? "standard";
    const norm = options.norm ?? "Linf";
    if (version === "custom") {
      if (!options.attacks?.length) {
        throw new Error("AutoAttack: a custom version needs `attacks`");
      }
      this.attackNames = [...options.attacks];
    } else if (version === "standard") {
      this.attackNames = norm === "Linf"
        ? ["apgd-ce", "apgd-t", "square"]
        : ["apgd-ce", "apgd-t"];
    } else {
      throw new Error(
        `AutoAttack: unknown version '${version}' (standard, custom)`,
      );
    }
    for (const a of this.attackNames) {
      if (!["apgd-ce", "apgd-dlr", "apgd-t", "square"].includes(a)) {
        throw new Error(`AutoAttack: unknown attack '${a}'`);
      }
      if (a === "square" && norm !== "Linf") {
        throw new Error("AutoAttack: Square is implemented for Linf only");
      }
    }
    this.name = `AutoAttack-${version}`;
  }

  /** Builds one attack of the cascade for a batch with `classes` classes. */
  #make(name: AutoAttackName, classes: number): Attack {
    const o = this.#o;
    const common = {
      norm: o.norm ?? "Linf",
      eps: o.eps ?? 0.3,
      nIter: o.nIter ?? 100,
      clipMin: o.clipMin,
      clipMax: o.clipMax,
      seed: o.seed,
    };
    switch (name) {
      case "apgd-ce":
        return new APGD(this.target, { ...common, loss: "ce" });
      case "apgd-dlr":
        return new APGD(this.target, { ...common, loss: "dlr" });
      case "apgd-t":
        return new APGDT(this.target, {
          ...common,
          nTargetClasses: Math.min(o.nTargetClasses ?? 9, classes - 1),
        });
      case "square":
        return new Square(this.target, {
          eps: common.eps,
          nQueries: o.nQueries ?? 5000,
          pInit: 0.8,
          clipMin: o.clipMin,
          clipMax: o.clipMax,
          seed: o.seed,
        });
    }
  }

  /** Clean correctness (host) and the number of classes. */
  async #clean(x: Tensor, y: Tensor): Promise<[Uint8Array, number]> {
    const z = decideLogits(this.target, x);
    const classes = z.shape[1];
    const ok = tidy(() => successMask(z, y, false).neg().add(1));
    z.dispose();
    const [h] = await readAll([ok]);
    ok.dispose();
    return [Uint8Array.from(h, (v) => (v ? 1 : 0)), classes];
  }

  /**
   * Runs the cascade.
   * @param x Clean inputs [N, ...].
   * @param y int32 labels [N] (default: the decision's predictions).
   */
  async perturb(x: Tensor, y?: Tensor): Promise<AutoAttackResult> {
    checkBatch(this.name, x, y);
    return await guarded(this.target.module, async () => {
      const labels = y ??
        tidy(() => decideLogits(this.target, x).argmax(1));
      try {
        return await this.#cascade(x, labels);
      } finally {
        if (!y) labels.dispose();
      }
    });
  }

  async #cascade(x: Tensor, y: Tensor): Promise<AutoAttackResult> {
    const n = x.shape[0];
    const [cleanCorrect, classes] = await this.#clean(x, y);
    const fooledBy = Int32Array.from(cleanCorrect, (v) => (v ? -1 : -2));
    const queries = new Int32Array(n);
    const stages: CascadeStage[] = [];
    let adv = tidy(() => x.clone());
    try {
      for (let s = 0; s < this.attackNames.length; s++) {
        const rows: number[] = [];
        fooledBy.forEach((v, i) => v === -1 && rows.push(i));
        if (rows.length === 0) break;
        const t0 = performance.now();
        const all = rows.length === n;
        const xs = all ? x : selectRows(x, rows);
        const ys = all ? y : selectRows(y, rows);
        let r: AttackResult;
        try {
          r = await this.#make(this.attackNames[s], classes).perturb(xs, ys);
        } finally {
          if (!all) {
            xs.dispose();
            ys.dispose();
          }
        }
        const local: number[] = [];
        r.success.forEach((v, j) => {
          queries[rows[j]] += r.queries[j];
          if (v) local.push(j);
        });
        if (local.length) {
          const next = tidy(() =>
            scatterRows(
              adv,
              selectRows(r.adv, local),
              local.map((j) => rows[j]),
            )
          );
          adv.dispose();
          adv = next;
          for (const j of local) fooledBy[rows[j]] = s;
        }
        r.adv.dispose();
        const stage: CascadeStage = {
          name: this.attackNames[s],
          attacked: rows.length,
          fooled: local.length,
          robustAfter: rows.length - local.length,
          seconds: (performance.now() - t0) / 1000,
        };
        stages.push(stage);
        this.#o.onProgress?.(stage);
      }
    } catch (e) {
      adv.dispose();
      throw e;
    }
    const robust = Uint8Array.from(fooledBy, (v) => (v === -1 ? 1 : 0));
    return {
      adv,
      success: Uint8Array.from(robust, (v) => 1 - v),
      queries,
      cleanCorrect,
      robust,
      fooledBy,
      stages,
    };
  }

  /**
   * Runs every attack on all correctly classified examples (AutoAttack's
   * `run_standard_evaluation_individual`) and takes the per-example
   * minimum.
   * @param x Clean inputs [N, ...].
   * @param y int32 labels [N].
   */
  async individual(x: Tensor, y: Tensor): Promise<IndividualResult> {
    checkBatch(this.name, x, y);
    return await guarded(this.target.module, async () => {
      const [cleanCorrect, classes] = await this.#clean(x, y);
      const robustBy: Record<string, Uint8Array> = {};
      for (const name of this.attackNames) {
        const r = await this.#make(name, classes).perturb(x, y);
        r.adv.dispose();
        robustBy[name] = Uint8Array.from(
          r.success,
          (v, i) => (v || !cleanCorrect[i] ? 0 : 1),
        );
      }
      const robust = Uint8Array.from(
        cleanCorrect,
        (c, i) => (c && this.attackNames.every((a) => robustBy[a][i]) ? 1 : 0),
      );
      return { cleanCorrect, robustBy, robust };
    });
  }
}
