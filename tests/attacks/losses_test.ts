/**
 * The attack losses on hand-checked logits: cross entropy, the marginal
 * loss, DLR and targeted DLR (including ties), sorted logits and ranked
 * classes.
 */

import assert from "node:assert/strict";
import {
  ceLoss,
  dlrLoss,
  dlrTargetedLoss,
  marginLoss,
  rankedClasses,
  topLogits,
} from "../../attacks/mod.ts";
import { grad } from "../../autograd/mod.ts";
import { tensor } from "../../tensor/mod.ts";
import { assertClose, testBackends } from "../_util.ts";
import { take } from "./_models.ts";

const Z = [[3, 1, 2, 0.5], [0, 4, 4, 1]];
const tol = { atol: 1e-6, rtol: 1e-6 };

testBackends("DLR and targeted DLR match AutoAttack's formulas", async () => {
  const z = tensor(Z);
  const y = tensor([0, 2], [2], { dtype: "int32" });
  const t = tensor([3, 0], [2], { dtype: "int32" });
  // Row 0: −(3 − 2)/(3 − 1); row 1: the label ties the best other class.
  assertClose(await take(dlrLoss(z, y)), [-0.5, 0], tol);
  assertClose(
    await take(dlrTargetedLoss(z, y, t)),
    [-2.5 / (3 - 0.75), -4 / (4 - 0.5)],
    tol,
  );
  assert.throws(
    () =>
      dlrTargetedLoss(
        tensor([[1, 2, 3]]),
        tensor([0], [1], { dtype: "int32" }),
        tensor([1], [1], { dtype: "int32" }),
      ),
    /at least 4 classes/,
  );
});

testBackends("margin and cross entropy per example", async () => {
  const z = tensor(Z);
  const y = tensor([0, 2], [2], { dtype: "int32" });
  assertClose(await take(marginLoss(z, y)), [-1, 0], tol);
  const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
  assertClose(
    await take(ceLoss(z, y)),
    [lse(Z[0]) - 3, lse(Z[1]) - 4],
    { atol: 1e-5, rtol: 1e-5 },
  );
});

testBackends(
  "sorted logits and ranked classes count ties separately",
  async () => {
    const z = tensor(Z);
    const top = topLogits(z, 3);
    const vals = await Promise.all(top.map(take));
    assert.deepEqual(vals, [[3, 4], [2, 4], [1, 1]]);
    const ranks = await Promise.all(rankedClasses(z, 4).map(take));
    assert.deepEqual(ranks, [[0, 1], [2, 2], [1, 3], [3, 0]]);
  },
);

testBackends(
  "DLR is differentiable and invariant to shifting and scaling",
  async () => {
    const y = tensor([0, 2], [2], { dtype: "int32" });
    const base = await take(dlrLoss(tensor(Z), y));
    const moved = await take(
      dlrLoss(tensor(Z.map((r) => r.map((v) => 2.5 * v - 7))), y),
    );
    assertClose(moved, base, { atol: 1e-5, rtol: 1e-5 });
    const [g] = grad((z) => dlrLoss(z, y).sum())(tensor(Z));
    const gv = await take(g);
    // Row 0: d/dz of −(z0 − z2)/(z0 − z1) at (3, 1, 2) is (−0.25, −0.25, 0.5).
    assertClose(gv.slice(0, 4), [-0.25, -0.25, 0.5, 0], tol);
  },
);
