/**
 * Transfer attacks: adversarial examples crafted on a source model (the
 * reference's CNN baseline, CNN-F's own first pass, an ensemble) and judged
 * on a victim's decision rule, as the reference's "transfer" column.
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
  successMask,
} from "./_util.ts";
import type { Attack, AttackResult, PredictFn, Target } from "./types.ts";

/**
 * Crafts with `source` (any attack, on its own target) and reports success
 * on `victim`. The victim is protected like an attacked model while it is
 * evaluated.
 * @example PGD crafted on the plain CNN, evaluated on CNN-F
 * ```ts
 * import { cnnfTarget, LinfPGD, TransferAttack } from "@cnnf/webgpu/attacks";
 * import { CNNF } from "@cnnf/webgpu/cnnf";
 * import { init, rand, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const cnn = new CNNF({ ind: 2, cycles: 0 });
 * const cnnf = new CNNF({ ind: 2, cycles: 1 });
 * const source = new LinfPGD(cnnfTarget(cnn, "first", { decision: "first" }), {
 *   eps: 0.2, epsIter: 0.071, nbIter: 1,
 * });
 * const transfer = new TransferAttack(source, cnnfTarget(cnnf, "e2eAvg"));
 * const x = rand([1, 1, 28, 28]).mul(2).sub(1);
 * const r = await transfer.perturb(x, tensor([1], [1], { dtype: "int32" }));
 * console.log(r.success);
 * ```
 */
export class TransferAttack implements Attack {
  /** Report name. */
  readonly name: string;
  /** The victim. */
  readonly target: Target;
  /** The attack that crafts the examples. */
  readonly source: Attack;

  /**
   * Creates the attack.
   * @param source Crafting attack (on the source model).
   * @param victim Target (or prediction function) success is judged on.
   */
  constructor(source: Attack, victim: Target | PredictFn) {
    this.source = source;
    this.target = asTarget(victim);
    this.name = `transfer(${source.name}@${source.target.name})`;
  }

  /**
   * Crafts on the source, judges on the victim.
   * @param x Clean inputs.
   * @param y Labels (or target classes for a targeted source attack).
   */
  async perturb(x: Tensor, y?: Tensor): Promise<AttackResult> {
    checkBatch(this.name, x, y);
    const targeted = (this.source as { targeted?: boolean }).targeted ?? false;
    const crafted = await this.source.perturb(x, y);
    try {
      return await guarded(this.target.module, async () => {
        const labels = y ??
          tidy(() => decideLogits(this.target, x).argmax(1));
        const succ = tidy(() =>
          successMask(decideLogits(this.target, crafted.adv), labels, targeted)
        );
        if (!y) labels.dispose();
        const [s] = await readAll([succ]);
        succ.dispose();
        return {
          adv: crafted.adv,
          success: Uint8Array.from(s, (v) => (v ? 1 : 0)),
          queries: crafted.queries,
        };
      });
    } catch (e) {
      crafted.adv.dispose();
      throw e;
    }
  }
}
