/**
 * The gradient-free attacks: SPSA's estimate points along the true gradient
 * of a smooth function, SPSA follows advertorch's Adam and projection
 * rules, and Square only ever makes forward queries without recording,
 * counts them per example and respects its budget.
 */

import assert from "node:assert/strict";
import { grad, gradEnabled } from "../../autograd/mod.ts";
import {
  LinfSPSA,
  spsaGradient,
  Square,
  squarePSelection,
  Stream,
} from "../../attacks/mod.ts";
import { type Tensor, tensor, tidy } from "../../tensor/mod.ts";
import { assertClose, randomData, testBackends } from "../_util.ts";
import { images, SmallNet, take } from "./_models.ts";

/** A smooth per-example function of [N, 1, 3, 4] inputs. */
function smooth(x: Tensor): Tensor {
  return tidy(() => {
    const f = x.reshape([x.shape[0], 12]);
    const c = tensor(randomData(12, 3, -1, 1), [12]);
    return f.mul(c).sin().sum(1).add(f.square().sum(1).mul(0.3));
  });
}

function cosine(a: number[], b: number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

testBackends(
  "SPSA's gradient estimate has cosine similarity above 0.9 with the true gradient",
  async () => {
    const x = tensor(randomData(3 * 12, 8, -1, 1), [3, 1, 3, 4]);
    const [g] = grad((v) => smooth(v).sum())(x);
    const est = spsaGradient(smooth, x, {
      delta: 0.01,
      nbSample: 512,
      maxBatchSize: 96,
      rng: new Stream(4),
    });
    const truth = await take(g);
    const approx = await take(est);
    for (let i = 0; i < 3; i++) {
      const c = cosine(
        approx.slice(i * 12, (i + 1) * 12),
        truth.slice(i * 12, (i + 1) * 12),
      );
      assert.ok(c > 0.9, `example ${i}: cosine ${c}`);
    }
  },
);

testBackends(
  "SPSA chunks its samples, shares each direction across the batch and follows torch's Adam",
  async () => {
    // f(x) = Σ a·x is linear, so every estimate is exact: Σ_s (a·v_s) v_s /
    // S, and the first bias-corrected Adam step moves by lr·sign(ĝ).
    const a = tensor([0.5, -1, 2, 0.25], [4]);
    const calls: number[] = [];
    const predict = (x: Tensor) => {
      calls.push(x.shape[0]);
      assert.equal(gradEnabled(), false);
      return tidy(() => {
        const s = x.reshape([x.shape[0], 4]).mul(a).sum(1, true);
        return s.mul(tensor([[1, 0]]));
      });
    };
    const x = tensor([0, 0, 0, 0, 0.1, 0.2, 0.3, 0.4], [2, 1, 2, 2]);
    const y = tensor([1, 1], [2], { dtype: "int32" });
    const spsa = new LinfSPSA(predict, {
      eps: 0.5,
      lr: 0.01,
      nbIter: 1,
      nbSample: 10,
      maxBatchSize: 4,
      loss: "margin",
      seed: 9,
    });
    const r = await spsa.perturb(x, y);
    // Samples 4 + 4 + 2, each evaluated at x + δv and x − δv on both images.
    assert.deepEqual(calls, [8, 8, 8, 8, 4, 4, 2]);
    assert.deepEqual([...r.queries], [20, 20]);
    const d = await take(tidy(() => r.adv.sub(x)));
    r.adv.dispose();
    for (const v of d) {
      assert.ok(Math.abs(Math.abs(v) - 0.01) < 1e-6 || v === 0);
    }
    // Both images share the directions: their moves are identical.
    assertClose(d.slice(0, 4), d.slice(4), { atol: 1e-6, rtol: 0 });
  },
);

testBackends(
  "Square only makes forward queries without recording, counts them and respects its budget",
  async () => {
    const net = new SmallNet(5);
    net.eval();
    const x = images(10, 21);
    const y = tidy(() => net.forward(x).argmax(1));
    let seen = 0;
    const predict = (v: Tensor) => {
      assert.equal(gradEnabled(), false, "Square recorded a gradient");
      assert.equal(v.requiresGrad, false);
      assert.equal(v.node, null);
      seen += v.shape[0];
      return net.forward(v);
    };
    const budget = 30;
    const sq = new Square(predict, {
      eps: 0.08,
      nQueries: budget,
      checkEvery: 1,
    });
    const r = await sq.perturb(x, y);
    r.adv.dispose();
    for (let i = 0; i < 10; i++) {
      assert.ok(r.queries[i] >= 1 && r.queries[i] <= budget);
      if (!r.success[i]) assert.equal(r.queries[i], budget);
    }
    // Clean check, success check after the run and the final decision:
    // three passes over the batch; every other forward is a counted query.
    const total = r.queries.reduce((s, v) => s + v, 0);
    assert.equal(seen, total + 3 * 10);
    assert.ok(r.success.some((s) => s) && r.success.some((s) => !s));
  },
);

testBackends(
  "Square's window fraction follows AutoAttack's schedule",
  () => {
    const p = (i: number) => squarePSelection(i, 0.8, 5000, false);
    assert.equal(p(0), 0.8);
    assert.equal(p(10), 0.8);
    assert.equal(p(11), 0.4);
    assert.equal(p(51), 0.2);
    assert.equal(p(201), 0.1);
    assert.equal(p(4001), 0.8 / 128);
    assert.equal(p(9000), 0.8 / 512);
    assert.equal(squarePSelection(100, 0.8, 1000, true), 0.8 / 16);
  },
);
