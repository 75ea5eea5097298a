/**
 * Per-example attack losses on logits [N, C] with int32 labels [N]: cross
 * entropy, advertorch's marginal loss, Carlini-Wagner's margin, AutoAttack's
 * DLR and targeted DLR. All are differentiable composites; the sorted
 * logits DLR needs come from repeated max-and-mask (no sort primitive).
 *
 * @module
 */

import { tidy } from "../tensor/engine.ts";
import { crossEntropy, oneHot, where } from "../tensor/functional.ts";
import { fmt } from "../tensor/shape.ts";
import { checkClassLabels } from "../tensor/labels.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { LossFn } from "./types.ts";

/** Stands in for -inf when masking logits out of a max. */
const MASKED = -3e38;

function check(op: string, logits: Tensor, labels: Tensor): void {
  checkClassLabels(op, logits, labels);
}

/**
 * Per-example cross entropy (reduction "none").
 * @example
 * ```ts
 * import { ceLoss } from "@cnnf/webgpu/attacks";
 * import { tensor } from "@cnnf/webgpu";
 * const l = ceLoss(tensor([[2, 0]]), tensor([0], [1], { dtype: "int32" }));
 * console.log(await l.data()); // ≈ [0.127]
 * ```
 */
export function ceLoss(logits: Tensor, labels: Tensor): Tensor {
  check("ceLoss", logits, labels);
  return crossEntropy(logits, labels, { reduction: "none" });
}

/**
 * The logit of each example's label: z[i, y_i], shape [N].
 * @example
 * ```ts
 * import { tensor } from "@cnnf/webgpu";
 * import { labelLogit } from "@cnnf/webgpu/attacks";
 * import assert from "node:assert/strict";
 * const z = labelLogit(tensor([[1, 5, 2]]), tensor([1], [1], { dtype: "int32" }));
 * assert.deepEqual([...await z.data()], [5]);
 * ```
 */
export function labelLogit(logits: Tensor, labels: Tensor): Tensor {
  check("labelLogit", logits, labels);
  return tidy(() => logits.mul(oneHot(labels, logits.shape[1])).sum(1));
}

/**
 * The largest logit other than the label's: max_{j≠y} z[i, j], shape [N].
 * @example
 * ```ts
 * import { tensor } from "@cnnf/webgpu";
 * import { maxOtherLogit } from "@cnnf/webgpu/attacks";
 * import assert from "node:assert/strict";
 * const z = maxOtherLogit(tensor([[1, 5, 2]]), tensor([1], [1], { dtype: "int32" }));
 * assert.deepEqual([...await z.data()], [2]);
 * ```
 */
export function maxOtherLogit(logits: Tensor, labels: Tensor): Tensor {
  check("maxOtherLogit", logits, labels);
  return tidy(() =>
    where(oneHot(labels, logits.shape[1]), MASKED, logits).max(1)
  );
}

/**
 * The k largest logits of each row in descending order, as k tensors [N]
 * (ties count separately, as a sort would). Differentiable.
 * @example
 * ```ts
 * import { tensor } from "@cnnf/webgpu";
 * import { topLogits } from "@cnnf/webgpu/attacks";
 * import assert from "node:assert/strict";
 * const [a, b] = topLogits(tensor([[1, 5, 2]]), 2);
 * assert.deepEqual([await a.item(), await b.item()], [5, 2]);
 * ```
 */
export function topLogits(logits: Tensor, k: number): Tensor[] {
  if (logits.rank !== 2) {
    throw new Error(
      `topLogits: logits must be [N, C], got ${fmt(logits.shape)}`,
    );
  }
  const c = logits.shape[1];
  if (!Number.isInteger(k) || k < 1 || k > c) {
    throw new Error(`topLogits: k must be in [1, ${c}], got ${k}`);
  }
  return tidy(() => {
    const out: Tensor[] = [];
    let cur = logits;
    for (let i = 0; i < k; i++) {
      out.push(cur.max(1));
      if (i < k - 1) cur = where(oneHot(cur.argmax(1), c), MASKED, cur);
    }
    return out;
  });
}

/**
 * The class indices of each row sorted by decreasing logit, as `k` int32
 * tensors [N] (the first is the prediction). Not differentiable.
 * @example
 * ```ts
 * import { tensor } from "@cnnf/webgpu";
 * import { rankedClasses } from "@cnnf/webgpu/attacks";
 * import assert from "node:assert/strict";
 * const [first, second] = rankedClasses(tensor([[1, 5, 2]]), 2);
 * assert.deepEqual([await first.item(), await second.item()], [1, 2]);
 * ```
 */
export function rankedClasses(logits: Tensor, k: number): Tensor[] {
  if (logits.rank !== 2) {
    throw new Error(
      `rankedClasses: logits must be [N, C], got ${fmt(logits.shape)}`,
    );
  }
  const c = logits.shape[1];
  if (!Number.isInteger(k) || k < 1 || k > c) {
    throw new Error(`rankedClasses: k must be in [1, ${c}], got ${k}`);
  }
  return tidy(() => {
    const out: Tensor[] = [];
    let cur = logits.detach();
    for (let i = 0; i < k; i++) {
      const idx = cur.argmax(1);
      out.push(idx);
      if (i < k - 1) cur = where(oneHot(idx, c), MASKED, cur);
    }
    return out;
  });
}

/**
 * advertorch's `MarginalLoss`: max_{j≠y} z_j − z_y per example. Positive
 * once the example is misclassified.
 * @example
 * ```ts
 * import { marginLoss, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * // max other logit minus the label's, per example
 * const m = marginLoss(tensor([[3, 1, 2]]), tensor([0], [1], { dtype: "int32" }));
 * assert.deepEqual([...await m.data()], [-1]);
 * ```
 */
export function marginLoss(logits: Tensor, labels: Tensor): Tensor {
  return tidy(() =>
    maxOtherLogit(logits, labels).sub(labelLogit(logits, labels))
  );
}

/**
 * AutoAttack's difference-of-logits-ratio loss:
 * −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12), π sorting the logits in
 * decreasing order. Invariant to shifting and scaling the logits. Needs at
 * least 3 classes.
 * @example
 * ```ts
 * import { dlrLoss, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const l = dlrLoss(tensor([[4, 2, 0]]), tensor([0], [1], { dtype: "int32" }));
 * assert.equal(await l.item(), -0.5); // -(4 - 2) / (4 - 0)
 * ```
 */
export function dlrLoss(logits: Tensor, labels: Tensor): Tensor {
  check("dlrLoss", logits, labels);
  if (logits.shape[1] < 3) {
    throw new Error(
      `dlrLoss: needs at least 3 classes, got ${logits.shape[1]}`,
    );
  }
  return tidy(() => {
    const [z1, , z3] = topLogits(logits, 3);
    const num = labelLogit(logits, labels).sub(maxOtherLogit(logits, labels));
    return num.neg().div(z1.sub(z3).add(1e-12));
  });
}

/**
 * AutoAttack's targeted DLR loss for APGD-T:
 * −(z_y − z_t) / (z_π1 − (z_π3 + z_π4) / 2 + 1e-12). Ascending it pushes
 * the target's logit above the label's. Needs at least 4 classes.
 * @example
 * ```ts
 * import { dlrTargetedLoss, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const int = (v: number) => tensor([v], [1], { dtype: "int32" });
 * const l = dlrTargetedLoss(tensor([[4, 2, 1, 0]]), int(0), int(1));
 * assert.ok(Number.isFinite(await l.item()));
 * ```
 */
export function dlrTargetedLoss(
  logits: Tensor,
  labels: Tensor,
  targets: Tensor,
): Tensor {
  check("dlrTargetedLoss", logits, labels);
  check("dlrTargetedLoss", logits, targets);
  if (logits.shape[1] < 4) {
    throw new Error(
      `dlrTargetedLoss: needs at least 4 classes, got ${logits.shape[1]}`,
    );
  }
  return tidy(() => {
    const [z1, , z3, z4] = topLogits(logits, 4);
    const num = labelLogit(logits, labels).sub(labelLogit(logits, targets));
    return num.neg().div(z1.sub(z3.add(z4).mul(0.5)).add(1e-12));
  });
}

/** Loss names the gradient attacks accept. */
export type LossName = "ce" | "margin" | "dlr";

/** Resolves a loss name (or passes a function through). */
export function resolveLoss(loss: LossName | LossFn | undefined): LossFn {
  if (typeof loss === "function") return loss;
  switch (loss ?? "ce") {
    case "ce":
      return ceLoss;
    case "margin":
      return marginLoss;
    case "dlr":
      return dlrLoss;
    default:
      throw new Error(`attack: unknown loss '${loss}' (ce, margin, dlr)`);
  }
}
