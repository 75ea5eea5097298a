/**
 * NaN or infinite inputs make any success flag meaningless (a NaN logit
 * decides any class); attacks say how many examples had them instead of
 * reporting a silent success.
 */

import assert from "node:assert/strict";
import { FGSM, LinfPGD } from "../../attacks/mod.ts";
import { tensor } from "../../tensor/mod.ts";
import { randomData, testBackends } from "../_util.ts";
import { linearBinary } from "./_models.ts";

testBackends(
  "attacks count the examples whose input holds NaN or infinity",
  async () => {
    const f = linearBinary([0.8, -1.5, 0.3], 0.05);
    const xs = randomData(4 * 3, 5, -0.5, 0.5);
    xs[1] = NaN; // example 0
    xs[7] = Infinity; // example 2
    const x = tensor(xs, [4, 3]);
    const y = tensor(new Int32Array(4), [4], { dtype: "int32" });
    for (
      const attack of [
        new FGSM(f, { eps: 0.1 }),
        new LinfPGD(f, { eps: 0.1, epsIter: 0.05, nbIter: 2 }),
      ]
    ) {
      const r = await attack.perturb(x, y);
      r.adv.dispose();
      assert.equal(r.nonFinite, 2, attack.name);
    }
    const clean = tensor(randomData(4 * 3, 6, -0.5, 0.5), [4, 3]);
    const r = await new FGSM(f, { eps: 0.1 }).perturb(clean, y);
    r.adv.dispose();
    assert.equal(r.nonFinite, 0);
    for (const t of [x, y, clean]) t.dispose();
  },
);
