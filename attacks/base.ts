/**
 * `AttackBase`: what every attack does around its algorithm. It protects
 * the model (eval mode, no parameter gradients, CNN-F latent state put
 * back), defaults the labels to the target's predictions, runs the
 * algorithm, judges success on the target's decision rule and reads the
 * success flags and query counts back in one transfer.
 *
 * @module
 */

import { readAll, tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  asTarget,
  checkBatch,
  decideLogits,
  forwardLogits,
  guarded,
  Stream,
  successMask,
} from "./_util.ts";
import type {
  Attack,
  AttackResult,
  CommonOptions,
  PredictFn,
  Target,
} from "./types.ts";

/** What an algorithm hands back to `AttackBase`. */
export interface Crafted {
  /** Adversarial inputs (ownership passes to the caller of `perturb`). */
  adv: Tensor;
  /**
   * Model evaluations per example: one number for all, a float32 device
   * tensor [N] (freed after reading), or host counts.
   */
  queries: number | Tensor | Int32Array;
}

/**
 * Base class of the attacks: options, protection and the final check.
 * @example
 * ```ts
 * import { AttackBase, type Crafted, init, Linear, rand, type Stream, type Tensor, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * // A custom attack: random sign noise of size ε.
 * class RandomSign extends AttackBase {
 *   readonly name = "random-sign";
 *   protected craft(x: Tensor, _y: Tensor, rng: Stream): Crafted {
 *     const u = rng.draw("uniform", x.shape, x.backend);
 *     const adv = x.add(u.sub(0.5).sign().mul(0.1)).clamp(-1, 1);
 *     u.dispose();
 *     return { adv, queries: 0 };
 *   }
 * }
 * await init({ backend: "cpu", seed: 0 });
 * const fc = new Linear(4, 2);
 * const r = await new RandomSign((v) => fc.forward(v)).perturb(rand([3, 4]), tensor([0, 1, 0], [3], { dtype: "int32" }));
 * assert.equal(r.success.length, 3);
 * ```
 */
export abstract class AttackBase implements Attack {
  /** Report name. */
  abstract readonly name: string;
  /** What is attacked. */
  readonly target: Target;
  /** Lower end of the input domain. */
  readonly clipMin: number;
  /** Upper end of the input domain. */
  readonly clipMax: number;
  /** Whether `y` holds target classes. */
  readonly targeted: boolean;
  /** Seed of the attack's random stream (undefined: the global stream). */
  readonly seed: number | undefined;

  /**
   * Stores the common options.
   * @param target A target, or a prediction function x → logits.
   * @param o clipMin, clipMax, targeted, seed.
   */
  constructor(target: Target | PredictFn, o: CommonOptions = {}) {
    this.target = asTarget(target);
    this.clipMin = o.clipMin ?? -1;
    this.clipMax = o.clipMax ?? 1;
    if (!(this.clipMin < this.clipMax)) {
      throw new Error(
        `attack: clipMin ${this.clipMin} must be below clipMax ${this.clipMax}`,
      );
    }
    this.targeted = o.targeted ?? false;
    this.seed = o.seed;
  }

  /**
   * Crafts adversarial examples for x with labels (or target classes) y.
   * @param x Clean inputs [N, ...] inside the clip range.
   * @param y int32 [N]; required when targeted, else defaults to the
   *   target's predictions on x (no label leaking, as advertorch).
   */
  async perturb(x: Tensor, y?: Tensor): Promise<AttackResult> {
    checkBatch(this.name, x, y);
    if (this.targeted && !y) {
      throw new Error(`${this.name}: a targeted attack needs target classes`);
    }
    // Off the tape: the algorithms never differentiate through x itself.
    const xd = x.detach();
    try {
      return await this.#guardedRun(xd, y);
    } finally {
      xd.dispose();
    }
  }

  /** Labels, the algorithm and the final check, inside the protection. */
  async #guardedRun(x: Tensor, y?: Tensor): Promise<AttackResult> {
    return await guarded(this.target.module, async () => {
      const labels = y ??
        tidy(() => forwardLogits(this.target, x).argmax(1));
      let crafted: Crafted;
      try {
        crafted = await this.craft(x, labels, new Stream(this.seed));
      } catch (e) {
        if (!y) labels.dispose();
        throw e;
      }
      const succ = tidy(() =>
        successMask(
          decideLogits(this.target, crafted.adv),
          labels,
          this.targeted,
        )
      );
      if (!y) labels.dispose();
      const q = crafted.queries;
      const reads = typeof q === "object" && !(q instanceof Int32Array)
        ? [succ, q]
        : [succ];
      // The input rides along the one read-back, to flag NaN inputs.
      const host = await readAll([...reads, x]);
      reads.forEach((t) => t.dispose());
      const n = x.shape[0];
      const xs = host[host.length - 1];
      const per = n ? xs.length / n : 0;
      let nonFinite = 0;
      for (let i = 0; i < n; i++) {
        for (let j = i * per; j < (i + 1) * per; j++) {
          if (!Number.isFinite(xs[j])) {
            nonFinite++;
            break;
          }
        }
      }
      const success = Uint8Array.from(host[0], (v) => (v ? 1 : 0));
      const queries = q instanceof Int32Array
        ? q
        : typeof q === "number"
        ? new Int32Array(n).fill(q)
        : Int32Array.from(host[1], (v) => Math.round(v));
      return { adv: crafted.adv, success, queries, nonFinite };
    });
  }

  /**
   * The algorithm: runs inside the protection, gets clean inputs, the
   * labels (or targets) and the attack's random stream.
   */
  protected abstract craft(
    x: Tensor,
    y: Tensor,
    rng: Stream,
  ): Crafted | Promise<Crafted>;
}
