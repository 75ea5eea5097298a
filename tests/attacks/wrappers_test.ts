/**
 * EOT averages the loss (so the gradient) over random draws, BPDA gives a
 * non-differentiable function's exact value with the surrogate's gradient,
 * a transfer attack is judged on the victim, and `evaluate` batches a
 * dataset into per-attack, per-target robust accuracies and the worst case.
 */

import assert from "node:assert/strict";
import { grad } from "../../autograd/mod.ts";
import {
  bpda,
  eot,
  type EvalProgress,
  evaluate,
  FGSM,
  LinfPGD,
  predictTarget,
  TransferAttack,
} from "../../attacks/mod.ts";
import { crossEntropy, type Tensor, tensor, tidy } from "../../tensor/mod.ts";
import { assertClose, randomData, testBackends } from "../_util.ts";
import { images, SmallNet, take } from "./_models.ts";

testBackends(
  "EOT's loss gradient is the mean of the gradients over its draws",
  async () => {
    const net = new SmallNet(5);
    net.eval();
    const x = images(4, 2);
    const y = tensor([0, 1, 2, 3], [4], { dtype: "int32" });
    const shifts = [0.1, -0.2, 0.05].map((c) =>
      tensor(randomData(16, 40 + c * 100, -c, c), [1, 1, 4, 4])
    );
    let k = 0;
    const t = eot((v) => net.forward(v), {
      samples: 3,
      transform: (v) => v.add(shifts[k++ % 3]),
    });
    const [g] = grad((v) =>
      tidy(() => {
        const out = t.run(v);
        assert.equal(out.heads.length, 3);
        return out.heads.reduce(
          (s: Tensor | null, h, i) => {
            const l = crossEntropy(h, y, { reduction: "sum" }).mul(
              out.weights![i],
            );
            return s ? s.add(l) : l;
          },
          null,
        )!;
      })
    )(x);
    const mean = await take(g);
    const each = await Promise.all(shifts.map(async (s) => {
      const [gi] = grad((v) =>
        crossEntropy(net.forward(v.add(s)), y, { reduction: "sum" })
      )(x);
      return await take(gi);
    }));
    assertClose(
      mean,
      mean.map((_, i) => (each[0][i] + each[1][i] + each[2][i]) / 3),
      { atol: 1e-5, rtol: 1e-4 },
    );
  },
);

testBackends(
  "BPDA returns the wrapped function's value exactly and the surrogate's gradient",
  async () => {
    const round = (v: Tensor) => tidy(() => v.mul(4).add(0.5).sign().mul(0.25));
    const x = tensor([0.3, -0.7, 0.01, 0.9]);
    const q = bpda(round, { surrogate: (v) => v.mul(3) });
    assert.deepEqual(await take(q(x)), await take(round(x)));
    const [g] = grad((v) => q(v).sum())(x);
    assert.deepEqual(await take(g), [3, 3, 3, 3]);
  },
);

testBackends(
  "a transfer attack crafts on the source and is judged on the victim",
  async () => {
    const src = new SmallNet(5);
    const vic = new SmallNet(5);
    vic.eval();
    const x = images(6, 12);
    const y = tidy(() => vic.forward(x).argmax(1));
    const opts = { eps: 0.3, nbIter: 3, epsIter: 0.1, seed: 4 };
    const source = new LinfPGD(
      predictTarget((v) => src.forward(v), { module: src }),
      opts,
    );
    const tr = new TransferAttack(
      source,
      predictTarget((v) => vic.forward(v), { module: vic }),
    );
    const r = await tr.perturb(x, y);
    const alone = await source.perturb(x, y);
    assert.deepEqual(await take(r.adv.clone()), await take(alone.adv));
    const fooled = await take(tidy(() => vic.forward(r.adv).argmax(1).ne(y)));
    r.adv.dispose();
    assert.deepEqual([...r.success], fooled);
    assert.deepEqual([...r.queries], new Array(6).fill(3));
    assert.ok(tr.name.startsWith("transfer(LinfPGD"));
  },
);

testBackends(
  "evaluate reports robust accuracy per attack and target and the per-example worst case",
  async () => {
    const n = 10;
    const images = randomData(n * 6, 77, -1, 1);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const wa = tensor(randomData(18, 1, -1, 1), [6, 3]);
    const wb = tensor(randomData(18, 2, -1, 1), [6, 3]);
    const ta = predictTarget((v) => v.matmul(wa), { name: "a" });
    const tb = predictTarget((v) => v.matmul(wb), { name: "b" });
    const progress: EvalProgress[] = [];
    const pgd = (t: typeof ta) =>
      new LinfPGD(t, { eps: 0.2, nbIter: 3, epsIter: 0.1, randInit: false });
    const report = await evaluate({
      data: { images, labels, shape: [6] },
      targets: [ta, tb],
      attacks: [
        { name: "FGSM", create: (t) => new FGSM(t, { eps: 0.2 }) },
        { name: "PGD", create: pgd, limit: 7 },
      ],
      batchSize: 4,
      onProgress: (p) => progress.push(p),
    });
    assert.equal(report.examples, n);
    assert.deepEqual(
      report.results.map((c) => `${c.attack}/${c.target}/${c.examples}`),
      ["FGSM/a/10", "FGSM/b/10", "PGD/a/7", "PGD/b/7"],
    );
    // Each cell matches one full-batch run.
    const x = tensor(images, [n, 6]);
    const y = tensor(labels, [n], { dtype: "int32" });
    const direct = [
      await new FGSM(ta, { eps: 0.2 }).perturb(x, y),
      await new FGSM(tb, { eps: 0.2 }).perturb(x, y),
      await pgd(ta).perturb(x, y),
      await pgd(tb).perturb(x, y),
    ];
    const cleanA = await take(tidy(() => x.matmul(wa).argmax(1).eq(y)));
    const cleanB = await take(tidy(() => x.matmul(wb).argmax(1).eq(y)));
    assert.equal(report.clean[0].correct, cleanA.reduce((s, v) => s + v, 0));
    assert.equal(report.clean[1].correct, cleanB.reduce((s, v) => s + v, 0));
    let worst = 0;
    for (let i = 0; i < 7; i++) {
      if (cleanA[i] && cleanB[i] && direct.every((d) => !d.success[i])) worst++;
    }
    report.results.forEach((c, k) => {
      const robust = direct[k].success.slice(0, c.examples).reduce(
        (s, v) => s + 1 - v,
        0,
      );
      assert.equal(c.robust, robust, `${c.attack}/${c.target}`);
      assert.equal(c.robustAccuracy, robust / c.examples);
    });
    direct.forEach((d) => d.adv.dispose());
    assert.deepEqual(report.worstCase, {
      examples: 7,
      robust: worst,
      robustAccuracy: worst / 7,
    });
    const fgsmA = progress.filter((p) =>
      p.attack === "FGSM" && p.target === "a"
    );
    assert.deepEqual(fgsmA.map((p) => p.done), [4, 8, 10]);
    const pgdB = progress.filter((p) => p.attack === "PGD" && p.target === "b");
    assert.deepEqual(pgdB.map((p) => p.done), [4, 7]);
  },
);
