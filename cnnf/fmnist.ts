/**
 * The Fashion-MNIST CNN-F: 4 convolutions and 3 fully connected layers with
 * instance norm, biases, AdaReLU and AdaPool, reconstructing to the image
 * (ind 0), the first conv block (1) or the second (2).
 *
 * @module
 */

import { tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { fmt } from "../tensor/shape.ts";
import {
  AdaPool,
  AdaReLU,
  Bias,
  FbConv2d,
  FbFlatten,
  FbLinear,
  insNorm,
  normBiasReLU,
} from "./layers.ts";
import { CNNFBase, type FeedbackResult, type ForwardResult } from "./model.ts";

/** Options of the Fashion-MNIST CNN-F. */
export interface CNNFOptions {
  /** Classes (default 10). */
  numClasses?: number;
  /** Reconstruction target: 0 image, 1 conv block 1, 2 conv block 2 (default 2). */
  ind?: number;
  /** Feedback cycles; 0 gives the plain CNN (default 1). */
  cycles?: number;
  /** Residual step (default 0.1). */
  resParam?: number;
}

/**
 * CNN-F for 1x28x28 inputs (the paper's Fashion-MNIST model).
 * @example
 * ```ts
 * import { CNNF, init, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const model = new CNNF({ ind: 2, cycles: 1, resParam: 0.1 });
 * model.eval();
 * const x = randn([2, 1, 28, 28]);
 * assert.deepEqual(model.runFirst(x).shape, [2, 10]); // the plain CNN's pass
 * assert.deepEqual(model.runAverage(x).shape, [2, 10]); // mean over cycles
 * model.dispose();
 * ```
 */
export class CNNF extends CNNFBase {
  /** conv 1→16. */
  readonly conv1: FbConv2d;
  /** Bias after conv1. */
  readonly ins1_bias: Bias;
  /** conv 16→32. */
  readonly conv2: FbConv2d;
  /** Bias after conv2. */
  readonly ins2_bias: Bias;
  /** conv 32→32. */
  readonly conv3: FbConv2d;
  /** Bias after conv3. */
  readonly ins3_bias: Bias;
  /** conv 32→64. */
  readonly conv4: FbConv2d;
  /** Bias after conv4. */
  readonly ins4_bias: Bias;
  /** fc 3136→1000. */
  readonly fc1: FbLinear;
  /** Bias after fc1. */
  readonly fc1_bias: Bias;
  /** fc 1000→128. */
  readonly fc2: FbLinear;
  /** Bias after fc2. */
  readonly fc2_bias: Bias;
  /** fc 128→classes. */
  readonly fc3: FbLinear;
  /** Bias after fc3. */
  readonly fc3_bias: Bias;
  /** AdaReLUs 1..6. */
  readonly relus: AdaReLU[];
  /** AdaPools after conv3 and conv4. */
  readonly pools: AdaPool[];
  readonly #flatten = new FbFlatten();

  /**
   * Builds the model (weights from the global seeded stream).
   * @param o numClasses, ind, cycles, resParam.
   */
  constructor(o: CNNFOptions = {}) {
    const ind = o.ind ?? 2;
    if (![0, 1, 2].includes(ind)) {
      throw new Error(`CNNF: ind must be 0, 1 or 2, got ${ind}`);
    }
    super({ cycles: o.cycles ?? 1, resParam: o.resParam ?? 0.1, ind });
    const nc = o.numClasses ?? 10;
    const conv = (i: number, out: number) =>
      new FbConv2d(i, out, 3, { padding: 1 });
    this.conv1 = conv(1, 16);
    this.ins1_bias = new Bias([1, 16, 1, 1]);
    this.conv2 = conv(16, 32);
    this.ins2_bias = new Bias([1, 32, 1, 1]);
    this.conv3 = conv(32, 32);
    this.ins3_bias = new Bias([1, 32, 1, 1]);
    this.conv4 = conv(32, 64);
    this.ins4_bias = new Bias([1, 64, 1, 1]);
    this.fc1 = new FbLinear(3136, 1000);
    this.fc1_bias = new Bias([1, 1000]);
    this.fc2 = new FbLinear(1000, 128);
    this.fc2_bias = new Bias([1, 128]);
    this.fc3 = new FbLinear(128, nc);
    this.fc3_bias = new Bias([1, nc]);
    this.relus = Array.from({ length: 6 }, () => new AdaReLU(this.resParam));
    this.pools = [new AdaPool(2), new AdaPool(2)];
  }

  /** Bottom-up pass. */
  forward(x: Tensor, options: { first?: boolean } = {}): ForwardResult {
    const first = options.first ?? true;
    const ind = this.ind;
    const [r1, r2, r3, r4, r5, r6] = this.relus;
    const block = (h: Tensor, c: FbConv2d, b: Bias, r: AdaReLU) =>
      normBiasReLU(c.forward(h), b, r);
    return tidy(() => {
      if (
        first &&
        (x.rank !== 4 || x.shape[1] !== 1 || x.shape[2] !== 28 ||
          x.shape[3] !== 28)
      ) {
        throw new Error(
          `CNNF: input must be [N, 1, 28, 28], got ${fmt(x.shape)}`,
        );
      }
      let h = x;
      let feature: Tensor | undefined;
      if (first && ind === 0) feature = h;
      if (ind === 0 || first) h = block(h, this.conv1, this.ins1_bias, r1);
      if (first && ind === 1) feature = h;
      if (ind <= 1 || first) h = block(h, this.conv2, this.ins2_bias, r2);
      if (first && ind === 2) feature = h;
      h = block(h, this.conv3, this.ins3_bias, r3);
      const block1 = h;
      h = this.pools[0].forward(h);
      h = block(h, this.conv4, this.ins4_bias, r4);
      const block2 = h;
      h = this.pools[1].forward(h);
      h = this.#flatten.forward(h);
      h = r5.forward(this.fc1_bias.forward(this.fc1.forward(h)));
      h = r6.forward(this.fc2_bias.forward(this.fc2.forward(h)));
      const logits = this.fc3_bias.forward(this.fc3.forward(h));
      return first ? { logits, feature, blocks: [block1, block2] } : { logits };
    });
  }

  /** Top-down pass from logits (biases skipped). */
  feedback(logits: Tensor): FeedbackResult {
    const [r1, r2, r3, r4, r5, r6] = this.relus;
    return tidy(() => {
      let h = this.fc3.feedback(logits);
      h = r6.feedback(h);
      h = this.fc2.feedback(h);
      h = r5.feedback(h);
      h = this.fc1.feedback(h);
      h = this.#flatten.feedback(h);
      h = insNorm(h);
      h = this.pools[1].feedback(h);
      h = r4.feedback(h);
      const block2 = h;
      h = this.conv4.feedback(h);
      h = insNorm(h);
      h = this.pools[0].feedback(h);
      h = r3.feedback(h);
      const block1 = h;
      h = this.conv3.feedback(h);
      if (this.ind <= 1) {
        h = this.conv2.feedback(r2.feedback(insNorm(h)));
      }
      if (this.ind === 0) {
        h = this.conv1.feedback(r1.feedback(insNorm(h)));
      }
      return { recon: h, blocks: [block1, block2] };
    });
  }

  /** The AdaReLUs and AdaPools. */
  latentLayers(): (AdaReLU | AdaPool)[] {
    return [...this.relus, ...this.pools];
  }
}
