/**
 * The Fashion-MNIST CNN-F adversarial training step the CPU scripts time
 * (`cpu_step.ts`, `cpu_step_profile.ts`): PGD-7 on the first pass, the
 * CNN-F loss, backward, clipped SGD, the loss read back, as in
 * cnnf_bench.ts. Call after `init`.
 */

import { LinfPGD } from "../attacks/pgd.ts";
import { cnnfTarget } from "../attacks/targets.ts";
import { CNNF } from "../cnnf/fmnist.ts";
import { SGD } from "../nn/optim.ts";
import { rand, readAll, tensor, tidy } from "../tensor/mod.ts";
import { trainStep } from "../train/step.ts";

/** A model, a batch of `nb` images and the step that trains on them. */
export function adversarialStep(nb: number): () => Promise<void> {
  const model = new CNNF({ ind: 2, cycles: 1 });
  const x = tidy(() => rand([nb, 1, 28, 28]));
  const y = tensor(Int32Array.from({ length: nb }, (_, i) => i % 10), [nb], {
    dtype: "int32",
  });
  const opt = new SGD(model.parameters(), {
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
  });
  return async () => {
    const target = cnnfTarget(model, "first", { decision: "first" });
    const pgd = new LinfPGD(target, { eps: 0.2, epsIter: 0.071, nbIter: 7 });
    const { adv } = await pgd.perturb(x, y);
    const stats = trainStep(model, opt, x, y, adv, {
      cleanParam: 0.1,
      mseParam: 0.1,
      gradClip: 0.5,
    });
    await readAll(stats);
    stats.forEach((t) => t.dispose());
    adv.dispose();
  };
}
