/**
 * Three SGD steps of a small CNN-F on seeded random data, written against
 * the library's namespace so the very same code runs in Deno (on `web.ts`)
 * and in Node.js (on the esbuild bundle): the test bundles this file on its
 * own (the library import is type-only) and compares the losses.
 */

import type * as Lib from "../../web.ts";

/** Trains three steps on the CPU backend; returns the three losses. */
export async function trainThreeSteps(lib: typeof Lib): Promise<number[]> {
  await lib.init({ backend: "cpu", seed: 11 });
  const model = new lib.CNNF({ ind: 2, cycles: 1, resParam: 0.1 });
  const opt = new lib.optim.SGD(model.parameters(), {
    lr: 0.05,
    momentum: 0.9,
  });
  const x = lib.rand([2, 1, 28, 28]);
  const labels = lib.tensor([3, 1], [2], { dtype: "int32" });
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const loss = lib.crossEntropy(model.runAverage(x), labels);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    loss.dispose();
  }
  return losses;
}
