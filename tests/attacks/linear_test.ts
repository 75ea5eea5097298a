/**
 * On a binary linear classifier (margin w·x + b) the worst-case
 * perturbations are known in closed form: in L∞, −ε·sign(w) lowers the
 * margin by ε‖w‖₁; in L2, −ε·w/‖w‖₂ lowers it by ε‖w‖₂. The one-step and
 * iterative attacks must reach them.
 */

import assert from "node:assert/strict";
import {
  APGD,
  CarliniWagnerL2,
  FGM,
  FGSM,
  L2PGD,
  LinfPGD,
} from "../../attacks/mod.ts";
import { tensor } from "../../tensor/mod.ts";
import { assertClose, randomData, testBackends } from "../_util.ts";
import { linearBinary, take } from "./_models.ts";

const W = [0.8, -1.5, 0.3, 2.1, -0.4, 1.1, -0.9];
const B = 0.05;
const D = W.length;
const N = 5;
const L1 = W.reduce((s, v) => s + Math.abs(v), 0);
const L2 = Math.sqrt(W.reduce((s, v) => s + v * v, 0));
const wide = { clipMin: -10, clipMax: 10 };

function batch() {
  const x = tensor(randomData(N * D, 11, -0.5, 0.5), [N, D]);
  const y = tensor(new Int32Array(N), [N], { dtype: "int32" });
  return { x, y };
}

function margins(xs: number[]): number[] {
  return Array.from({ length: N }, (_, i) => {
    let m = B;
    for (let j = 0; j < D; j++) m += W[j] * xs[i * D + j];
    return m;
  });
}

async function deltaOf(
  run: Promise<{ adv: import("../../tensor/mod.ts").Tensor }>,
  x: import("../../tensor/mod.ts").Tensor,
): Promise<{ delta: number[]; adv: number[] }> {
  const { adv } = await run;
  const a = Array.from(await adv.data());
  const xs = Array.from(await x.data());
  adv.dispose();
  return { delta: a.map((v, i) => v - xs[i]), adv: a };
}

const linfOpt = (eps: number) =>
  Array.from({ length: N * D }, (_, i) => -eps * Math.sign(W[i % D]));
const l2Opt = (eps: number) =>
  Array.from({ length: N * D }, (_, i) => (-eps * W[i % D]) / L2);

testBackends(
  "FGSM moves every input by -eps·sign(w): the margin drops by eps·||w||_1",
  async () => {
    const { x, y } = batch();
    const eps = 0.13;
    const f = linearBinary(W, B);
    const { delta, adv } = await deltaOf(
      new FGSM(f, { eps, ...wide }).perturb(x, y),
      x,
    );
    assertClose(delta, linfOpt(eps), { atol: 1e-6, rtol: 0 });
    const before = margins(await take(x.clone()));
    const after = margins(adv);
    assertClose(
      after.map((m, i) => before[i] - m),
      new Array(N).fill(eps * L1),
      { atol: 1e-5, rtol: 1e-5 },
    );
  },
);

testBackends(
  "L∞ PGD from a random start ends on the vertex -eps·sign(w)",
  async () => {
    const { x, y } = batch();
    const eps = 0.2;
    const pgd = new LinfPGD(linearBinary(W, B), {
      eps,
      epsIter: eps / 4,
      nbIter: 12,
      seed: 5,
      ...wide,
    });
    const { delta } = await deltaOf(pgd.perturb(x, y), x);
    assertClose(delta, linfOpt(eps), { atol: 1e-6, rtol: 0 });
  },
);

testBackends(
  "targeted L∞ PGD towards class 1 takes the same optimal direction",
  async () => {
    const { x } = batch();
    const t = tensor(new Int32Array(N).fill(1), [N], { dtype: "int32" });
    const eps = 0.1;
    const pgd = new LinfPGD(linearBinary(W, B), {
      eps,
      epsIter: eps / 3,
      nbIter: 8,
      targeted: true,
      ...wide,
    });
    const { delta } = await deltaOf(pgd.perturb(x, t), x);
    assertClose(delta, linfOpt(eps), { atol: 1e-6, rtol: 0 });
  },
);

testBackends(
  "FGM and L2 PGD reach -eps·w/||w||_2: the margin drops by eps·||w||_2",
  async () => {
    const { x, y } = batch();
    const eps = 0.37;
    const f = linearBinary(W, B);
    const fgm = await deltaOf(new FGM(f, { eps, ...wide }).perturb(x, y), x);
    assertClose(fgm.delta, l2Opt(eps), { atol: 1e-6, rtol: 1e-5 });
    const pgd = await deltaOf(
      new L2PGD(f, { eps, epsIter: 0.1, nbIter: 6, randInit: false, ...wide })
        .perturb(x, y),
      x,
    );
    assertClose(pgd.delta, l2Opt(eps), { atol: 1e-6, rtol: 1e-5 });
    const before = margins(await take(x.clone()));
    assertClose(
      margins(pgd.adv).map((m, i) => before[i] - m),
      new Array(N).fill(eps * L2),
      { atol: 1e-5, rtol: 1e-5 },
    );
  },
);

testBackends(
  "L2 PGD from advertorch's random start converges to the optimal margin drop",
  async () => {
    const { x, y } = batch();
    const eps = 0.3;
    const pgd = new L2PGD(linearBinary(W, B), {
      eps,
      epsIter: 0.1,
      nbIter: 60,
      seed: 2,
      ...wide,
    });
    const { adv } = await deltaOf(pgd.perturb(x, y), x);
    const before = margins(await take(x.clone()));
    const drop = margins(adv).map((m, i) => before[i] - m);
    for (const d of drop) {
      assert.ok(d <= eps * L2 + 1e-5, `drop ${d} beyond the optimum`);
      assert.ok(d >= 0.999 * eps * L2, `drop ${d} short of ${eps * L2}`);
    }
  },
);

testBackends(
  "APGD lands on the L∞ vertex for the examples it flips and returns x for the rest",
  async () => {
    const { x, y } = batch();
    const before = margins(await take(x.clone()));
    const eps = 0.05;
    const kinds = before.map((m) => m > 0 && m < eps * L1);
    assert.ok(kinds.some((k) => k) && before.some((m) => m > eps * L1));
    const apgd = new APGD(linearBinary(W, B), { eps, nIter: 10, ...wide });
    const r = await apgd.perturb(x, y);
    const { delta } = await deltaOf(Promise.resolve(r), x);
    for (let i = 0; i < N; i++) {
      const flips = before[i] > 0 && before[i] < eps * L1;
      assert.equal(r.success[i], before[i] > 0 ? (flips ? 1 : 0) : 1);
      const row = delta.slice(i * D, (i + 1) * D);
      const want = flips ? linfOpt(eps).slice(0, D) : new Array(D).fill(0);
      assertClose(row, want, { atol: 1e-6, rtol: 0 }, `example ${i}`);
    }
  },
);

testBackends(
  "Carlini-Wagner L2 finds the nearest boundary point, |margin|/||w||_2 away",
  async () => {
    const x = tensor(randomData(4 * D, 4, -0.3, 0.3), [4, D]);
    const m = margins(await take(x.clone())).slice(0, 4);
    const y = tensor(m.map((v) => (v > 0 ? 0 : 1)), [4], { dtype: "int32" });
    const cw = new CarliniWagnerL2(linearBinary(W, B), {
      learningRate: 0.01,
      maxIterations: 300,
      binarySearchSteps: 6,
      initialConst: 1,
      clipMin: -1,
      clipMax: 1,
    });
    const r = await cw.perturb(x, y);
    const { delta } = await deltaOf(Promise.resolve(r), x);
    for (let i = 0; i < 4; i++) {
      const dist = Math.hypot(...delta.slice(i * D, (i + 1) * D));
      const opt = Math.abs(m[i]) / L2;
      assert.equal(r.success[i], 1, `example ${i} not fooled`);
      assert.ok(dist >= opt * 0.999, `dist ${dist} below optimum ${opt}`);
      assert.ok(dist <= opt * 1.15, `dist ${dist} far above optimum ${opt}`);
    }
  },
);
