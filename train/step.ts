/**
 * One optimizer step of CNN-F training exactly as the CLI takes it: the
 * paper's CNN-F loss (adversarial when adversarial examples are given, the
 * clean loss otherwise), backward, gradient-norm clipping, the optimizer
 * and schedule steps. Pure computation, so the training loop, the
 * benchmarks and the browser demo all run the same step.
 *
 * @module
 */

import { cnnfAdvLoss, cnnfCleanLoss } from "../cnnf/loss.ts";
import type { CNNFBase } from "../cnnf/model.ts";
import { clipGradNorm, type Optimizer } from "../nn/optim.ts";
import type { LRScheduler } from "../nn/schedule.ts";
import { tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** The settings one step reads (fields of the training configuration). */
export interface StepSettings {
  /** Clean cross-entropy weight (adversarial loss only). */
  cleanParam: number;
  /** Reconstruction loss weight. */
  mseParam: number;
  /** Global gradient-norm clip (0: off). */
  gradClip: number;
}

/**
 * Takes one step on the batch `x`, `y` (and `adv`, its adversarial
 * examples, for adversarial training); resets the model's latent state.
 * Returns the detached loss and the number of clean predictions that hit
 * `y`, for the caller to read back (once) and dispose.
 */
export function trainStep(
  model: CNNFBase,
  opt: Optimizer,
  x: Tensor,
  y: Tensor,
  adv: Tensor | null,
  s: StepSettings,
  sched?: LRScheduler,
): [loss: Tensor, hits: Tensor] {
  const stats = tidy(() => {
    const r = adv
      ? cnnfAdvLoss(model, x, adv, y, {
        cleanParam: s.cleanParam,
        mseParam: s.mseParam,
      })
      : cnnfCleanLoss(model, x, y, { mseParam: s.mseParam });
    r.loss.backward();
    if (s.gradClip > 0) clipGradNorm(model.parameters(), s.gradClip);
    opt.step();
    sched?.step();
    opt.zeroGrad();
    const hits = r.cleanLogits.argmax(1).eq(y).sum();
    return [r.loss.detach(), hits];
  });
  model.reset();
  return [stats[0], stats[1]];
}
