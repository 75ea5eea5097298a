/**
 * What every CNN-F model shares: the inference loop over cycles (first pass,
 * then feedback and a residual step toward the reconstruction, then a
 * bottom-up pass from `ind`), and its entry points.
 *
 * @module
 */

import { tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "../nn/module.ts";
import type { AdaPool, AdaReLU, LatentSnapshot } from "./layers.ts";

/** Output of a bottom-up pass. */
export interface ForwardResult {
  /** Class logits [N, classes]. */
  logits: Tensor;
  /** The feature at `ind` (the image when ind = 0); first pass only. */
  feature?: Tensor;
  /** Block outputs (block1, block2, [block3]); first pass only. */
  blocks?: Tensor[];
}

/** Output of a top-down pass. */
export interface FeedbackResult {
  /** Reconstruction at `ind` (the image when ind = 0). */
  recon: Tensor;
  /** Block reconstructions (block1, block2, [block3]). */
  blocks: Tensor[];
}

/**
 * Base of the CNN-F models.
 * @example
 * ```ts
 * import { CNNF, type CNNFBase, init, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const model: CNNFBase = new CNNF({ cycles: 2 });
 * const outs = model.runAll(randn([1, 1, 28, 28])); // logits after each pass
 * assert.equal(outs.length, 3);
 * model.reset(); // frees the latent state (masks, pooling indices)
 * ```
 */
export abstract class CNNFBase extends Module {
  /** Feedback cycles (0: the plain CNN). */
  cycles: number;
  /** Residual step toward reconstructions. */
  readonly resParam: number;
  /** Where reconstructions land (0: the image). */
  readonly ind: number;

  /**
   * Sets the shared settings.
   * @param o cycles, resParam, ind.
   */
  constructor(o: { cycles: number; resParam: number; ind: number }) {
    super();
    if (!Number.isInteger(o.cycles) || o.cycles < 0) {
      throw new Error(
        `CNN-F: cycles must be a non-negative integer, got ${o.cycles}`,
      );
    }
    this.cycles = o.cycles;
    this.resParam = o.resParam;
    this.ind = o.ind;
  }

  /** Bottom-up pass; `first` runs from the image, else from the feature at `ind`. */
  abstract forward(x: Tensor, options?: { first?: boolean }): ForwardResult;
  /** Top-down pass from logits. */
  abstract feedback(logits: Tensor): FeedbackResult;
  /** Every layer with latent state, in a fixed order. */
  abstract latentLayers(): (AdaReLU | AdaPool)[];

  /** Clears every layer's latent state. */
  reset(): void {
    for (const l of this.latentLayers()) l.reset();
  }

  /**
   * Snapshots the latent state, so code that runs the model (an attack) can
   * put it back afterwards with `restoreLatent`.
   */
  saveLatent(): LatentSnapshot[] {
    return this.latentLayers().map((l) => l.snapshot());
  }

  /** Restores a `saveLatent` snapshot (taking ownership of it). */
  restoreLatent(s: LatentSnapshot[]): void {
    const layers = this.latentLayers();
    if (s.length !== layers.length) {
      throw new Error(
        `restoreLatent: snapshot has ${s.length} layers, model ${layers.length}`,
      );
    }
    layers.forEach((l, i) => l.restore(s[i]));
  }

  /**
   * Runs the first pass and `cycles` feedback cycles; returns the logits of
   * every pass (length cycles + 1), differentiable end to end.
   */
  runAll(x: Tensor, cycles: number = this.cycles): Tensor[] {
    return tidy(() => {
      this.reset();
      const first = this.forward(x, { first: true });
      const outs = [first.logits];
      let f = first.feature!;
      for (let c = 0; c < cycles; c++) {
        const r = this.feedback(outs[outs.length - 1]).recon;
        f = f.add(r.sub(f).mul(this.resParam));
        outs.push(this.forward(f, { first: false }).logits);
      }
      return outs;
    });
  }

  /** Logits of the plain first pass (the reference's `forward_adv`). */
  runFirst(x: Tensor): Tensor {
    return tidy(() => {
      this.reset();
      return this.forward(x, { first: true }).logits;
    });
  }

  /** Logits of the last cycle (the reference's `run_cycles[_adv]`). */
  runCycles(x: Tensor): Tensor {
    return tidy(() => {
      const outs = this.runAll(x);
      return outs[outs.length - 1];
    });
  }

  /** Mean of the logits of all passes (the reference's `run_average`). */
  runAverage(x: Tensor): Tensor {
    return tidy(() => {
      const outs = this.runAll(x);
      let s = outs[0];
      for (const o of outs.slice(1)) s = s.add(o);
      return s.div(outs.length);
    });
  }

  /** Frees the latent state, every parameter and every buffer. */
  override dispose(): void {
    this.reset();
    super.dispose();
  }
}
