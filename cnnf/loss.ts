/**
 * The CNN-F adversarial-training loss for one batch, as the reference's
 * `train_adv`: cross entropy on the clean and adversarial halves after every
 * pass, plus reconstruction losses pulling the adversarial half's
 * reconstructions toward the clean half's features (gradients flow into
 * both sides).
 *
 * @module
 */

import { tidy } from "../tensor/engine.ts";
import { concat, crossEntropy, mseLoss, split } from "../tensor/functional.ts";
import { fmt } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { CNNFBase } from "./model.ts";

/** Weights of the loss terms. */
export interface CNNFLossOptions {
  /** Weight of the clean cross entropy (λ_clean; reference 0.1 / 0.05). */
  cleanParam?: number;
  /** Weight of the reconstruction losses (λ_mse; reference 0.1). */
  mseParam?: number;
  /** Cycles (default: the model's). */
  cycles?: number;
  /** Drop the clean cross-entropy terms (the reference's `--clean no`). */
  noClean?: boolean;
}

/** The loss and the clean half's logits of the last pass. */
export interface CNNFLossResult {
  /** Scalar loss. */
  loss: Tensor;
  /** Clean logits [B, classes] of the last pass (for accuracy). */
  cleanLogits: Tensor;
}

/**
 * Computes the adversarial-training loss of a batch.
 * @param model A CNN-F model in training mode.
 * @param clean Clean inputs [B, ...].
 * @param adv Adversarial inputs, same shape.
 * @param labels int32 labels [B].
 * @example
 * ```ts
 * import { CNNF, cnnfAdvLoss, init, rand, randint } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const model = new CNNF({ ind: 2, cycles: 1 });
 * const x = rand([2, 1, 28, 28]).mul(2).sub(1);
 * const adv = x.add(0.1).clamp(-1, 1); // normally from an attack
 * const { loss, cleanLogits } = cnnfAdvLoss(model, x, adv, randint(0, 10, [2]), {
 *   cleanParam: 0.1, mseParam: 0.1,
 * });
 * loss.backward();
 * assert.deepEqual(cleanLogits.shape, [2, 10]);
 * ```
 */
export function cnnfAdvLoss(
  model: CNNFBase,
  clean: Tensor,
  adv: Tensor,
  labels: Tensor,
  options: CNNFLossOptions = {},
): CNNFLossResult {
  if (clean.shape.join() !== adv.shape.join()) {
    throw new Error(
      `cnnfAdvLoss: clean ${fmt(clean.shape)} and adversarial ${
        fmt(adv.shape)
      } batches differ`,
    );
  }
  const c = options.cycles ?? model.cycles;
  const lc = options.cleanParam ?? 1;
  const lm = options.mseParam ?? 1;
  const b = clean.shape[0];
  return tidy(() => {
    const ce = (logits: Tensor) => {
      const [lcl, lad] = split(logits, [b, b], 0);
      const term = options.noClean
        ? crossEntropy(lad, labels).div(c + 1)
        : crossEntropy(lcl, labels).mul(lc).add(crossEntropy(lad, labels)).div(
          2 * (c + 1),
        );
      return { term, lcl };
    };
    model.reset();
    const first = model.forward(concat([clean, adv], 0), { first: true });
    let f = first.feature!;
    const targets = [f, ...first.blocks!].map((t) => split(t, [b, b], 0)[0]);
    let { term: loss, lcl: cleanLogits } = ce(first.logits);
    let logits = first.logits;
    for (let i = 0; i < c; i++) {
      const fb = model.feedback(logits);
      const recons = [fb.recon, ...fb.blocks];
      let mse = mseLoss(split(recons[0], [b, b], 0)[1], targets[0]);
      for (let j = 1; j < recons.length; j++) {
        mse = mse.add(mseLoss(split(recons[j], [b, b], 0)[1], targets[j]));
      }
      loss = loss.add(mse.mul(lm / (recons.length * c)));
      f = f.add(fb.recon.sub(f).mul(model.resParam));
      logits = model.forward(f, { first: false }).logits;
      const r = ce(logits);
      loss = loss.add(r.term);
      cleanLogits = r.lcl;
    }
    return { loss, cleanLogits };
  });
}

/**
 * The standard-training (clean data) loss of a batch: cross entropy after
 * every pass divided by (cycles + 1), plus λ_mse/(B·cycles) times the
 * reconstruction losses of each cycle against the first pass's features.
 * With cycles = 0 it is plain cross entropy (the CNN baseline).
 * @param model A CNN-F model in training mode.
 * @param x Inputs [B, ...].
 * @param labels int32 labels [B].
 * @example
 * ```ts
 * import { CNNF, cnnfCleanLoss, init, randint, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const model = new CNNF({ ind: 2, cycles: 1 });
 * const { loss } = cnnfCleanLoss(model, randn([2, 1, 28, 28]), randint(0, 10, [2]));
 * assert.ok(Number.isFinite(await loss.item()));
 * ```
 */
export function cnnfCleanLoss(
  model: CNNFBase,
  x: Tensor,
  labels: Tensor,
  options: { mseParam?: number; cycles?: number } = {},
): CNNFLossResult {
  const c = options.cycles ?? model.cycles;
  const lm = options.mseParam ?? 1;
  return tidy(() => {
    model.reset();
    const first = model.forward(x, { first: true });
    let f = first.feature!;
    const targets = [f, ...first.blocks!];
    let logits = first.logits;
    let loss = crossEntropy(logits, labels).div(c + 1);
    for (let i = 0; i < c; i++) {
      const fb = model.feedback(logits);
      const recons = [fb.recon, ...fb.blocks];
      let mse = mseLoss(recons[0], targets[0]);
      for (let j = 1; j < recons.length; j++) {
        mse = mse.add(mseLoss(recons[j], targets[j]));
      }
      loss = loss.add(mse.mul(lm / (recons.length * c)));
      f = f.add(fb.recon.sub(f).mul(model.resParam));
      logits = model.forward(f, { first: false }).logits;
      loss = loss.add(crossEntropy(logits, labels).div(c + 1));
    }
    return { loss, cleanLogits: logits };
  });
}
