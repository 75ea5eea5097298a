/**
 * A two-conv CNN-F on 1x12x12 images, built from the real feedback layers
 * (tied conv and linear, InsNorm, Bias, AdaReLU, AdaPool): the kernels of
 * the Fashion-MNIST model at a size that a software GPU runs hundreds of
 * steps of in seconds. Used by the long memory loops.
 */

import "../autograd/mod.ts";
import {
  AdaPool,
  AdaReLU,
  Bias,
  CNNFBase,
  FbConv2d,
  FbFlatten,
  FbLinear,
  type FeedbackResult,
  type ForwardResult,
  insNorm,
} from "../cnnf/mod.ts";
import { type Tensor, tidy } from "../tensor/mod.ts";

/** A two-conv CNN-F on 1x12x12 images (ind 0: it reconstructs the image). */
export class TinyCNNF extends CNNFBase {
  readonly conv1 = new FbConv2d(1, 4, 3, { padding: 1 });
  readonly ins1_bias = new Bias([1, 4, 1, 1]);
  readonly conv2 = new FbConv2d(4, 8, 3, { padding: 1 });
  readonly ins2_bias = new Bias([1, 8, 1, 1]);
  readonly fc1 = new FbLinear(8 * 6 * 6, 16);
  readonly fc1_bias = new Bias([1, 16]);
  readonly fc2 = new FbLinear(16, 4);
  readonly fc2_bias = new Bias([1, 4]);
  readonly relus = [new AdaReLU(0.1), new AdaReLU(0.1), new AdaReLU(0.1)];
  readonly pool = new AdaPool(2);
  readonly #flatten = new FbFlatten();

  constructor() {
    super({ cycles: 1, resParam: 0.1, ind: 0 });
  }
  forward(x: Tensor, options: { first?: boolean } = {}): ForwardResult {
    const [r1, r2, r3] = this.relus;
    return tidy(() => {
      let h = r1.forward(
        this.ins1_bias.forward(insNorm(this.conv1.forward(x))),
      );
      h = r2.forward(this.ins2_bias.forward(insNorm(this.conv2.forward(h))));
      const block1 = h;
      h = this.#flatten.forward(this.pool.forward(h));
      h = r3.forward(this.fc1_bias.forward(this.fc1.forward(h)));
      const logits = this.fc2_bias.forward(this.fc2.forward(h));
      return options.first ?? true
        ? { logits, feature: x, blocks: [block1] }
        : { logits };
    });
  }
  feedback(logits: Tensor): FeedbackResult {
    const [r1, r2, r3] = this.relus;
    return tidy(() => {
      let h = r3.feedback(this.fc2.feedback(logits));
      h = insNorm(this.#flatten.feedback(this.fc1.feedback(h)));
      h = r2.feedback(this.pool.feedback(h));
      const block1 = h;
      h = r1.feedback(insNorm(this.conv2.feedback(h)));
      return { recon: this.conv1.feedback(h), blocks: [block1] };
    });
  }
  latentLayers(): (AdaReLU | AdaPool)[] {
    return [...this.relus, this.pool];
  }
}
