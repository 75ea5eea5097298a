/**
 * The CIFAR-10 CNN-F: a pre-activation Wide ResNet (depth 6n+4, widen
 * factor k) whose blocks run top-down through tied transposed convolutions,
 * with shortcut convolutions where the width changes.
 *
 * @module
 */

import { tidy } from "../tensor/engine.ts";
import { fmt } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "../nn/module.ts";
import {
  AdaReLU,
  Bias,
  FbAvgPool,
  FbConv2d,
  FbFlatten,
  FbLinear,
  insNorm,
  normBiasReLU,
} from "./layers.ts";
import { CNNFBase, type FeedbackResult, type ForwardResult } from "./model.ts";

/**
 * A pre-activation basic block with feedback.
 * @example
 * ```ts
 * import { BasicBlock, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const block = new BasicBlock(16, 32, 2, 0.1); // in, out, stride, resParam
 * assert.deepEqual(block.forward(randn([1, 16, 8, 8])).shape, [1, 32, 4, 4]);
 * ```
 */
export class BasicBlock extends Module {
  /** Bias after the first InsNorm. */
  readonly ins1_bias: Bias;
  /** First 3x3 conv (strided). */
  readonly conv1: FbConv2d;
  /** Bias after the second InsNorm. */
  readonly ins2_bias: Bias;
  /** Second 3x3 conv. */
  readonly conv2: FbConv2d;
  /** 1x1 shortcut conv when the width changes, else null. */
  readonly conv_shortcut: FbConv2d | null;
  /** AdaReLUs 1 and 2. */
  readonly relus: [AdaReLU, AdaReLU];

  /**
   * Builds the block.
   * @param inP Input channels.
   * @param outP Output channels.
   * @param stride Stride of the first conv and the shortcut.
   * @param res Residual step of the AdaReLUs.
   */
  constructor(inP: number, outP: number, stride: number, res: number) {
    super();
    this.ins1_bias = new Bias([1, inP, 1, 1]);
    this.conv1 = new FbConv2d(inP, outP, 3, { stride, padding: 1 });
    this.ins2_bias = new Bias([1, outP, 1, 1]);
    this.conv2 = new FbConv2d(outP, outP, 3, { padding: 1 });
    this.conv_shortcut = inP === outP
      ? null
      : new FbConv2d(inP, outP, 1, { stride });
    this.relus = [new AdaReLU(res), new AdaReLU(res)];
  }

  /** Bottom-up. */
  forward(x: Tensor): Tensor {
    const [r1, r2] = this.relus;
    return tidy(() => {
      const pre = normBiasReLU(x, this.ins1_bias, r1);
      const h = normBiasReLU(this.conv1.forward(pre), this.ins2_bias, r2);
      const out = this.conv2.forward(h);
      return this.conv_shortcut
        ? this.conv_shortcut.forward(pre).add(out)
        : x.add(out);
    });
  }

  /** Top-down. */
  feedback(z: Tensor): Tensor {
    const [r1, r2] = this.relus;
    return tidy(() => {
      let h = insNorm(this.conv2.feedback(z));
      h = r2.feedback(h);
      h = insNorm(this.conv1.feedback(h));
      if (this.conv_shortcut) h = this.conv_shortcut.feedback(z).add(h);
      h = r1.feedback(h);
      return this.conv_shortcut ? h : z.add(h);
    });
  }

  /** Clears the AdaReLUs. */
  reset(): void {
    this.relus.forEach((r) => r.reset());
  }
}

/**
 * A group of basic blocks (`blockN.layer.i` in state dicts).
 * @example
 * ```ts
 * import { BlockGroup, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const group = new BlockGroup(2, 16, 16, 1, 0.1); // 2 blocks of 16 channels
 * assert.equal(group.layer.length, 2);
 * assert.ok(Object.keys(group.stateDict())[0].startsWith("layer.0."));
 * ```
 */
export class BlockGroup extends Module {
  /** The blocks. */
  readonly layer: BasicBlock[];
  /**
   * Builds n blocks; the first changes width and stride.
   * @param n Block count.
   * @param inP Input channels.
   * @param outP Output channels.
   * @param stride Stride of the first block.
   * @param res Residual step.
   */
  constructor(
    n: number,
    inP: number,
    outP: number,
    stride: number,
    res: number,
  ) {
    super();
    this.layer = Array.from(
      { length: n },
      (_, i) =>
        new BasicBlock(i === 0 ? inP : outP, outP, i === 0 ? stride : 1, res),
    );
  }
}

/** Options of the Wide ResNet CNN-F. */
export interface WideResNetOptions {
  /** Depth, 6n + 4 (reference 40). */
  depth?: number;
  /** Widen factor k (reference 2). */
  widenFactor?: number;
  /** Classes (default 10). */
  numClasses?: number;
  /** Reconstruction target: basic blocks of group 1 (0 = the image; reference 5). */
  ind?: number;
  /** Feedback cycles (reference 2; 0 = plain CNN). */
  cycles?: number;
  /** Residual step (default 0.1). */
  resParam?: number;
}

/**
 * Wide ResNet CNN-F for 3x32x32 inputs.
 * @example
 * ```ts
 * import { CNNFWideResNet, init, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const wrn = new CNNFWideResNet({ depth: 10, widenFactor: 1, ind: 0, cycles: 1 });
 * assert.deepEqual(wrn.runAverage(randn([1, 3, 32, 32])).shape, [1, 10]);
 * wrn.dispose();
 * ```
 */
export class WideResNet extends CNNFBase {
  /** Stem conv 3→16. */
  readonly conv1: FbConv2d;
  /** Group 1 (stride 1). */
  readonly block1: BlockGroup;
  /** Group 2 (stride 2). */
  readonly block2: BlockGroup;
  /** Group 3 (stride 2). */
  readonly block3: BlockGroup;
  /** Bias of the head's InsNorm. */
  readonly ins1_bias: Bias;
  /** Classifier. */
  readonly fc: FbLinear;
  /** Classifier bias. */
  readonly fc_bias: Bias;
  /** Head AdaReLU. */
  readonly relu: AdaReLU;
  readonly #pool = new FbAvgPool(8);
  readonly #flatten = new FbFlatten();

  /**
   * Builds the model.
   * @param o depth, widenFactor, numClasses, ind, cycles, resParam.
   */
  constructor(o: WideResNetOptions = {}) {
    const depth = o.depth ?? 40;
    if ((depth - 4) % 6 !== 0 || depth < 10) {
      throw new Error(`WideResNet: depth must be 6n+4 (n >= 1), got ${depth}`);
    }
    const n = (depth - 4) / 6;
    const ind = o.ind ?? 0;
    if (!Number.isInteger(ind) || ind < 0 || ind > n) {
      throw new Error(`WideResNet: ind must be in 0..${n}, got ${ind}`);
    }
    super({ cycles: o.cycles ?? 2, resParam: o.resParam ?? 0.1, ind });
    const k = o.widenFactor ?? 2;
    const ch = [16, 16 * k, 32 * k, 64 * k];
    const res = this.resParam;
    this.conv1 = new FbConv2d(3, ch[0], 3, { padding: 1 });
    this.block1 = new BlockGroup(n, ch[0], ch[1], 1, res);
    this.block2 = new BlockGroup(n, ch[1], ch[2], 2, res);
    this.block3 = new BlockGroup(n, ch[2], ch[3], 2, res);
    this.ins1_bias = new Bias([1, ch[3], 1, 1]);
    this.fc = new FbLinear(ch[3], o.numClasses ?? 10);
    this.fc_bias = new Bias([1, o.numClasses ?? 10]);
    this.relu = new AdaReLU(res);
  }

  /** Bottom-up pass. */
  forward(x: Tensor, options: { first?: boolean } = {}): ForwardResult {
    const first = options.first ?? true;
    const ind = this.ind;
    return tidy(() => {
      if (
        first &&
        (x.rank !== 4 || x.shape[1] !== 3 || x.shape[2] !== 32 ||
          x.shape[3] !== 32)
      ) {
        throw new Error(
          `WideResNet: input must be [N, 3, 32, 32], got ${fmt(x.shape)}`,
        );
      }
      let h = x;
      let feature: Tensor | undefined = first && ind === 0 ? x : undefined;
      if (ind === 0 || first) h = this.conv1.forward(h);
      this.block1.layer.forEach((b, i) => {
        if (ind === 0 || first || i + 1 > ind) h = b.forward(h);
        if (first && ind > 0 && i + 1 === ind) feature = h;
      });
      const b1 = h;
      for (const b of this.block2.layer) h = b.forward(h);
      const b2 = h;
      for (const b of this.block3.layer) h = b.forward(h);
      const b3 = h;
      h = normBiasReLU(h, this.ins1_bias, this.relu);
      h = this.#flatten.forward(this.#pool.forward(h));
      const logits = this.fc_bias.forward(this.fc.forward(h));
      return first ? { logits, feature, blocks: [b1, b2, b3] } : { logits };
    });
  }

  /** Top-down pass from logits. */
  feedback(logits: Tensor): FeedbackResult {
    return tidy(() => {
      let h = this.#flatten.feedback(this.fc.feedback(logits));
      h = this.relu.feedback(insNorm(this.#pool.feedback(h)));
      const b3 = h;
      for (const b of [...this.block3.layer].reverse()) h = b.feedback(h);
      const b2 = h;
      for (const b of [...this.block2.layer].reverse()) h = b.feedback(h);
      const b1 = h;
      const n = this.block1.layer.length;
      const keep = this.ind === 0 ? n : n - this.ind;
      [...this.block1.layer].reverse().forEach((b, i) => {
        if (i < keep) h = b.feedback(h);
      });
      if (this.ind === 0) h = this.conv1.feedback(h);
      return { recon: h, blocks: [b1, b2, b3] };
    });
  }

  /** Every AdaReLU. */
  latentLayers(): AdaReLU[] {
    const blocks = [this.block1, this.block2, this.block3].flatMap((g) =>
      g.layer
    );
    return [this.relu, ...blocks.flatMap((b) => b.relus)];
  }
}
