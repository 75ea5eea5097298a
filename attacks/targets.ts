/**
 * CNN-F attack targets: what the gradient goes through, kept apart from the
 * decision rule success is judged on (the reference evaluates its
 * first-pass and end-to-end attacks against the averaged logits).
 *
 * - `first`: the plain first pass (the reference's `forward_adv`).
 * - `e2eLast`: the unrolled cycles, last logits (`run_cycles_adv`).
 * - `e2eAvg`: the unrolled cycles, averaged logits: the target that matches
 *   the `average` decision rule, which the reference's e2e attack missed.
 * - `multiExit`: the loss summed over every pass's logits.
 *
 * Each runs the model from a reset state, so it is a pure function of x,
 * and `feedbackGrad: "identity"` swaps the gradient of the feedback update
 * h ← h + r·(recon − h) for the identity (a BPDA surrogate; the forward
 * values are unchanged). Test-time `cycles` can be swept.
 *
 * @module
 */

import type { CNNFBase } from "../cnnf/model.ts";
import { tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Target } from "./types.ts";

/** Which logits a CNN-F attack differentiates. */
export type CNNFAttackMode = "first" | "e2eLast" | "e2eAvg" | "multiExit";

/** CNN-F's decision rules. */
export type CNNFDecision = "average" | "last" | "first";

/** Options of `cnnfTarget`. */
export interface CNNFTargetOptions {
  /** The deployed decision rule success is judged on (default "average"). */
  decision?: CNNFDecision;
  /** Test-time feedback cycles (default: the model's). */
  cycles?: number;
  /**
   * Gradient of the feedback update: "full" (exact, default) or "identity"
   * (BPDA through h ← h + r·(recon − h)).
   */
  feedbackGrad?: "full" | "identity";
}

/** Logits of every pass; the feedback update's gradient optionally cut. */
function passes(
  model: CNNFBase,
  x: Tensor,
  cycles: number,
  identity: boolean,
): Tensor[] {
  if (!identity || cycles === 0) return model.runAll(x, cycles);
  return tidy(() => {
    model.reset();
    const first = model.forward(x, { first: true });
    const outs = [first.logits];
    let f = first.feature!;
    for (let c = 0; c < cycles; c++) {
      const r = model.feedback(outs[outs.length - 1]).recon;
      f = f.add(r.sub(f).mul(model.resParam).detach());
      outs.push(model.forward(f, { first: false }).logits);
    }
    return outs;
  });
}

function combine(outs: Tensor[], rule: CNNFDecision): Tensor {
  if (rule === "first") return outs[0];
  if (rule === "last") return outs[outs.length - 1];
  return tidy(() => {
    let s = outs[0];
    for (const o of outs.slice(1)) s = s.add(o);
    return outs.length === 1 ? s.clone() : s.div(outs.length);
  });
}

/**
 * A target on a CNN-F model.
 * @param model The model (protected during attacks: eval mode, no
 *   parameter gradients, latent state restored).
 * @param mode What the gradient goes through (default "e2eAvg").
 * @param options decision rule, test-time cycles, feedback gradient.
 * @example
 * ```ts
 * import { cnnfTarget } from "@cnnf/webgpu/attacks";
 * import { CNNF } from "@cnnf/webgpu/cnnf";
 * import { init, randn } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const t = cnnfTarget(new CNNF({ cycles: 1 }), "multiExit");
 * const out = t.run(randn([2, 1, 28, 28]));
 * console.log(out.heads.length); // 2: first pass and one cycle
 * ```
 */
export function cnnfTarget(
  model: CNNFBase,
  mode: CNNFAttackMode = "e2eAvg",
  options: CNNFTargetOptions = {},
): Target {
  const decision = options.decision ?? "average";
  if (!["average", "last", "first"].includes(decision)) {
    throw new Error(
      `cnnfTarget: unknown decision '${decision}' (average, last, first)`,
    );
  }
  if (!["first", "e2eLast", "e2eAvg", "multiExit"].includes(mode)) {
    throw new Error(
      `cnnfTarget: unknown mode '${mode}' (first, e2eLast, e2eAvg, multiExit)`,
    );
  }
  const cyclesOf = () => options.cycles ?? model.cycles;
  const identity = (options.feedbackGrad ?? "full") === "identity";
  const suffix = identity ? "+bpda" : "";
  return {
    name: `${mode}${suffix}`,
    module: model,
    run(x) {
      return tidy(() => {
        if (mode === "first") {
          const [z0] = model.runAll(x, 0);
          return { heads: [z0], logits: z0 };
        }
        const outs = passes(model, x, cyclesOf(), identity);
        const logits = combine(outs, decision);
        if (mode === "multiExit") return { heads: outs, logits };
        const head = combine(outs, mode === "e2eLast" ? "last" : "average");
        return { heads: [head], logits };
      });
    },
    decide(x) {
      return tidy(() => {
        if (decision === "first") return model.runAll(x, 0)[0];
        return combine(model.runAll(x, cyclesOf()), decision);
      });
    },
  };
}
