/**
 * Strength and reporting on a small MLP trained in the test (300 SGD steps
 * on synthetic blobs, on the CPU): APGD with PGD's iteration budget is at
 * least as strong as PGD, and the AutoAttack cascade reports the
 * per-example worst case over its attacks.
 */

import assert from "node:assert/strict";
import { APGD, AutoAttack, LinfPGD } from "../../attacks/mod.ts";
import { tensor, tidy } from "../../tensor/mod.ts";
import { testBackends } from "../_util.ts";
import { blobs, mlpPredict, take, trainedMlp } from "./_models.ts";

function data(n: number, seed: number) {
  const { x, y } = blobs(n, seed);
  return {
    x: tensor(x, [n, 1, 4, 4]),
    y: tensor(y, [n], { dtype: "int32" }),
  };
}

const robustCount = (s: Uint8Array) => s.reduce((a, v) => a + 1 - v, 0);

testBackends(
  "APGD is at least as strong as PGD with the same iteration budget on a trained MLP",
  async (b) => {
    const f = mlpPredict(await trainedMlp(b));
    const { x, y } = data(48, 31);
    const clean = await take(tidy(() => f(x).argmax(1).eq(y)));
    const acc = clean.reduce((s, v) => s + v, 0) / clean.length;
    assert.ok(acc > 0.9, `the MLP did not train: clean accuracy ${acc}`);
    let [sumP, sumA] = [0, 0];
    for (const eps of [0.1, 0.25, 0.3]) {
      const steps = 10;
      const pgd = await new LinfPGD(f, {
        eps,
        nbIter: steps,
        epsIter: (2.5 * eps) / steps,
        seed: 3,
      }).perturb(x, y);
      const apgd = await new APGD(f, { eps, nIter: steps }).perturb(x, y);
      pgd.adv.dispose();
      apgd.adv.dispose();
      const rp = robustCount(pgd.success);
      const ra = robustCount(apgd.success);
      assert.ok(ra <= rp, `eps ${eps}: APGD robust ${ra} > PGD robust ${rp}`);
      sumP += rp;
      sumA += ra;
    }
    assert.ok(sumA < sumP, `APGD (${sumA}) never beat PGD (${sumP})`);
  },
);

testBackends(
  "the standard cascade reports per example the worst case over APGD-CE, APGD-T and Square",
  async (b) => {
    const f = mlpPredict(await trainedMlp(b));
    const { x: hx, y: hy } = blobs(40, 37);
    const all = data(40, 37);
    // Keep the correctly classified examples, so the first attack sees the
    // same batch in the cascade and alone.
    const ok = await take(tidy(() => f(all.x).argmax(1).eq(all.y)));
    const rows = ok.flatMap((v, i) => (v ? [i] : []));
    const x = tensor(
      Float32Array.from(
        rows.flatMap((i) => [...hx.subarray(i * 16, i * 16 + 16)]),
      ),
      [rows.length, 1, 4, 4],
    );
    const y = tensor(Int32Array.from(rows, (i) => hy[i]), [rows.length], {
      dtype: "int32",
    });
    const n = rows.length;
    const eps = 0.25;
    const opts = { eps, nIter: 8, nQueries: 80, nTargetClasses: 2 };
    const aa = new AutoAttack(f, opts);
    const r = await aa.perturb(x, y);
    assert.deepEqual(aa.attackNames, ["apgd-ce", "apgd-t", "square"]);
    // Robust exactly where no stage fooled the example.
    for (let i = 0; i < n; i++) {
      assert.equal(r.cleanCorrect[i], 1);
      assert.equal(r.robust[i], r.fooledBy[i] === -1 ? 1 : 0);
      assert.equal(r.success[i], 1 - r.robust[i]);
    }
    // Stage bookkeeping: each stage attacked what the previous left.
    let left = n;
    for (const s of r.stages) {
      assert.equal(s.attacked, left);
      left = s.robustAfter;
    }
    assert.equal(left, robustCount(r.success));
    // The returned inputs fool the model where the cascade says so.
    const pred = await take(tidy(() => f(r.adv).argmax(1).eq(y)));
    pred.forEach((v, i) => assert.equal(v, r.robust[i]));
    r.adv.dispose();
    // Alone on the same batch, APGD-CE fools exactly the first stage's set.
    const ce = await new APGD(f, { eps, nIter: 8 }).perturb(x, y);
    ce.adv.dispose();
    ce.success.forEach((s, i) => assert.equal(s, r.fooledBy[i] === 0 ? 1 : 0));
    // Individually: robust is the minimum over the attacks.
    const ind = await aa.individual(x, y);
    for (let i = 0; i < n; i++) {
      const min = Math.min(
        ...aa.attackNames.map((a) => ind.robustBy[a][i]),
      );
      assert.equal(ind.robust[i], min);
    }
    assert.ok(r.stages[0].fooled > 0, "APGD-CE fooled nothing");
    assert.ok(
      robustCount(r.success) <= robustCount(ce.success),
      "the cascade is weaker than its first attack",
    );
  },
);
