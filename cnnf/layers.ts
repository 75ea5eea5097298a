/**
 * CNN-F feedback layers. Each has `forward` (bottom-up) and `feedback`
 * (top-down, never called `backward`: that word belongs to autograd), and
 * the stateful ones keep latent variables chosen in one pass for the other
 * (ReLU masks, pooling indices and signs), cleared by `reset()`.
 *
 * Latent tensors are held outside any `tidy` scope and freed on `reset()`
 * or when replaced. Masks and indices are constants for autograd; the
 * `hidden` signals stay on the tape, so gradients flow through the feedback
 * path as in the PyTorch reference.
 *
 * @module
 */

import { zeros } from "../tensor/creation.ts";
import { keep, tidy } from "../tensor/engine.ts";
import {
  avgPool2d,
  conv2d,
  convTranspose2d,
  maxPool2dWithIndices,
  maxUnpool2d,
  minPool2dWithIndices,
  upsampleNearest,
} from "../tensor/functional.ts";
import { fmt } from "../tensor/shape.ts";
import { INS_NORM_MAX_PLANE } from "../tensor/ops/norm.ts";
import {
  insNormBiasReluT,
  insNormT,
  matmulT,
  type Tensor,
} from "../tensor/tensor.ts";
import { kaimingUniform_, normal_ } from "../nn/init.ts";
import { Module } from "../nn/module.ts";

/** A layer with a bottom-up and a top-down pass. */
export interface FeedbackLayer {
  /** Bottom-up pass. */
  forward(x: Tensor): Tensor;
  /** Top-down pass. */
  feedback(z: Tensor): Tensor;
}

/** Holds a tensor outside every scope (a view that shares its data). */
function hold(t: Tensor): Tensor {
  return keep(t.reshape(t.shape));
}

/** Latent tensors of one layer, by field name. */
export type LatentSnapshot = Record<string, Tensor | null | readonly number[]>;

function copyRef(t: Tensor | null): Tensor | null {
  return t && !t.disposed ? hold(t) : null;
}

/** Replaces a held tensor, freeing the previous one. */
function swap(old: Tensor | null, next: Tensor | null): Tensor | null {
  old?.dispose();
  return next;
}

/**
 * Holder of a convolution weight, named `conv` in state dicts.
 * @example
 * ```ts
 * import { ConvWeight, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const w = new ConvWeight(randn([4, 1, 3, 3]));
 * assert.deepEqual(Object.keys(w.stateDict()), ["weight"]);
 * ```
 */
export class ConvWeight extends Module {
  /** Weight [out, in, kh, kw]. */
  weight: Tensor;
  /**
   * Wraps a weight tensor as a parameter.
   * @param weight The weight.
   */
  constructor(weight: Tensor) {
    super();
    this.weight = this.param(weight);
  }
}

/**
 * Conv2d with a tied transposed convolution for feedback: one parameter,
 * so the gradients of both passes add up.
 * @example
 * ```ts
 * import { FbConv2d, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const conv = new FbConv2d(1, 4, 3, { padding: 1 });
 * const h = conv.forward(randn([1, 1, 6, 6])); // conv
 * assert.deepEqual(conv.feedback(h).shape, [1, 1, 6, 6]); // tied transpose
 * ```
 */
export class FbConv2d extends Module implements FeedbackLayer {
  /** The weight holder (`<name>.conv.weight`). */
  readonly conv: ConvWeight;
  /** Stride. */
  readonly stride: number;
  /** Padding. */
  readonly padding: number;
  /**
   * Creates the layer; weight ~ N(0, 2 / (k*k*out)) as the reference.
   * @param inCh Input channels.
   * @param outCh Output channels.
   * @param k Kernel size.
   * @param o stride (default 1), padding (default 0).
   */
  constructor(
    inCh: number,
    outCh: number,
    k: number,
    o: { stride?: number; padding?: number } = {},
  ) {
    super();
    this.stride = o.stride ?? 1;
    this.padding = o.padding ?? 0;
    this.conv = new ConvWeight(
      normal_(zeros([outCh, inCh, k, k]), 0, Math.sqrt(2 / (k * k * outCh))),
    );
  }
  /** The weight. */
  get weight(): Tensor {
    return this.conv.weight;
  }
  /** conv2d. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, {
      stride: this.stride,
      padding: this.padding,
    });
  }
  /** conv_transpose2d with the same weight (output_padding 1 when strided). */
  feedback(z: Tensor): Tensor {
    return convTranspose2d(z, this.weight, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.stride > 1 ? 1 : 0,
    });
  }
}

/**
 * Linear without bias; feedback multiplies by the same weight untransposed.
 * @example
 * ```ts
 * import { FbLinear, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const fc = new FbLinear(8, 3);
 * const z = fc.forward(randn([2, 8]));
 * assert.deepEqual(fc.feedback(z).shape, [2, 8]); // z W, the tied weight
 * ```
 */
export class FbLinear extends Module implements FeedbackLayer {
  /** Weight [out, in]. */
  weight: Tensor;
  /**
   * Creates the layer with PyTorch's default Linear initialisation.
   * @param inF Input features.
   * @param outF Output features.
   */
  constructor(inF: number, outF: number) {
    super();
    this.weight = this.param(kaimingUniform_(zeros([outF, inF])));
  }
  /** x Wᵀ. */
  forward(x: Tensor): Tensor {
    return matmulT(x, this.weight, { transA: false, transB: true });
  }
  /** z W. */
  feedback(z: Tensor): Tensor {
    return z.matmul(this.weight);
  }
}

/**
 * A learnable bias added bottom-up and skipped top-down.
 * @example
 * ```ts
 * import { Bias, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const b = new Bias([1, 3, 1, 1]); // zeros, a parameter
 * assert.equal(await b.forward(ones([2, 3, 4, 4])).sum().item(), 96);
 * ```
 */
export class Bias extends Module implements FeedbackLayer {
  /** Bias, shaped to broadcast: [1, C, 1, 1] or [1, F]. */
  bias: Tensor;
  /**
   * Creates a zero bias.
   * @param shape [1, C, 1, 1] for feature maps or [1, F] for vectors.
   */
  constructor(shape: number[]) {
    super();
    this.bias = this.param(zeros(shape));
  }
  /** x + b. */
  forward(x: Tensor): Tensor {
    return x.add(this.bias);
  }
  /** Identity (a copy). */
  feedback(z: Tensor): Tensor {
    return z.clone();
  }
}

/** The reference's InsNorm epsilon. */
const INS_EPS = 1e-8;

/**
 * x / sqrt(mean over H, W of x² + 1e-8), per sample and channel (one
 * fused primitive with a fused gradient).
 * @example
 * ```ts
 * import { insNorm, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const y = await insNorm(tensor([3, 4, 3, 4], [1, 1, 2, 2])).data();
 * assert.ok(y.every((v, i) => Math.abs(v - [3, 4, 3, 4][i] / Math.sqrt(12.5)) < 1e-4));
 * ```
 */
export function insNorm(x: Tensor): Tensor {
  if (x.rank !== 4) {
    throw new Error(`insNorm: input must be [N, C, H, W], got ${fmt(x.shape)}`);
  }
  // One fused primitive (forward and backward): the composed form made a
  // dozen passes over the feature map, a large part of the CPU step. Planes
  // beyond the fused kernels' limit (millions of values) take the composed
  // form, whose reductions go further.
  if (x.shape[2] * x.shape[3] > INS_NORM_MAX_PLANE) {
    return tidy(() => x.div(x.square().mean([2, 3], true).add(INS_EPS).sqrt()));
  }
  return insNormT(x, { eps: INS_EPS });
}

/**
 * InsNorm, Bias and AdaReLU in a row, as CNN-F's blocks apply them. On a
 * first pass (the AdaReLU has no hidden signal) they run as one fused
 * primitive, max(insNorm(x) + bias, 0), and the mask is output > 0, which
 * is x + bias > 0 as before; otherwise the three layers run in turn.
 * @example
 * ```ts
 * import { AdaReLU, Bias, insNorm, randn } from "@cnnf/webgpu";
 * import { normBiasReLU } from "./layers.ts";
 * import assert from "node:assert/strict";
 * const x = randn([2, 3, 5, 5]);
 * const [b, r] = [new Bias([1, 3, 1, 1]), new AdaReLU()];
 * const y = await normBiasReLU(x, b, r).data();
 * const ref = await insNorm(x).relu().data();
 * assert.ok(y.every((v, i) => Math.abs(v - ref[i]) < 1e-5));
 * assert.deepEqual([...await r.mask!.data()], [...y].map((v) => v > 0 ? 1 : 0));
 * r.reset();
 * ```
 */
export function normBiasReLU(x: Tensor, bias: Bias, relu: AdaReLU): Tensor {
  const b = bias.bias;
  if (
    relu.hidden || x.rank !== 4 || b.rank !== 4 ||
    x.shape[2] * x.shape[3] > INS_NORM_MAX_PLANE
  ) {
    return relu.forward(bias.forward(insNorm(x)));
  }
  return tidy(() => {
    const y = insNormBiasReluT(x, b, { eps: INS_EPS });
    relu.mask = swap(relu.mask, hold(y.gt(0)));
    return y;
  });
}

/**
 * Flattens [N, C, H, W] to [N, CHW], remembering the shape for feedback.
 * @example
 * ```ts
 * import { FbFlatten, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const f = new FbFlatten();
 * const z = f.forward(ones([2, 3, 4, 4]));
 * assert.deepEqual(f.feedback(z).shape, [2, 3, 4, 4]);
 * ```
 */
export class FbFlatten implements FeedbackLayer {
  #shape: readonly number[] | null = null;
  /** Flattens. */
  forward(x: Tensor): Tensor {
    this.#shape = x.shape;
    return x.flatten(1);
  }
  /** Restores the remembered shape (batch from z). */
  feedback(z: Tensor): Tensor {
    if (!this.#shape) {
      throw new Error("Flatten.feedback: no forward pass to undo");
    }
    return z.reshape([z.shape[0], ...this.#shape.slice(1)]);
  }
}

/**
 * AdaReLU with residual updates (the reference's resReLU). forward: with no
 * hidden signal, mask = x > 0; otherwise x ← x + res (hidden − x) and mask =
 * x·hidden > 0. Output x·mask. feedback(z): hidden = z, output z·mask.
 * @example
 * ```ts
 * import { AdaReLU, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const r = new AdaReLU();
 * const y = await r.forward(tensor([-1, 2])).data();
 * assert.deepEqual([...y].map((v) => v + 0), [0, 2]);
 * // Feedback gates by the mask of the bottom-up pass.
 * const fb = await r.feedback(tensor([5, 5])).data();
 * assert.deepEqual([...fb].map((v) => v + 0), [0, 5]); // + 0 turns -0 into 0
 * r.reset();
 * ```
 */
export class AdaReLU implements FeedbackLayer {
  /** Residual step toward the hidden signal. */
  readonly res: number;
  /** Current mask (float 0/1), or null after reset. */
  mask: Tensor | null = null;
  /** Current hidden signal, or null after reset. */
  hidden: Tensor | null = null;
  /**
   * Creates the layer.
   * @param res Residual step (reference 0.1).
   */
  constructor(res = 0.1) {
    this.res = res;
  }
  /** Bottom-up pass; sets the mask. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let xx = x;
      let m: Tensor;
      if (!this.hidden) m = x.gt(0);
      else {
        xx = x.add(this.hidden.sub(x).mul(this.res));
        m = xx.mul(this.hidden).gt(0);
      }
      this.mask = swap(this.mask, hold(m));
      return xx.mul(m);
    });
  }
  /** Top-down pass; sets hidden. */
  feedback(z: Tensor): Tensor {
    if (!this.mask) {
      throw new Error("AdaReLU.feedback: no forward pass set the mask");
    }
    if (z.shape.join() !== this.mask.shape.join()) {
      throw new Error(
        `AdaReLU.feedback: input ${fmt(z.shape)} does not match mask ${
          fmt(this.mask.shape)
        }`,
      );
    }
    this.hidden = swap(this.hidden, hold(z));
    return z.mul(this.mask);
  }
  /** Clears the latent state. */
  reset(): void {
    this.mask = swap(this.mask, null);
    this.hidden = swap(this.hidden, null);
  }
  /** A snapshot of the latent state (views that share the data). */
  snapshot(): LatentSnapshot {
    return { mask: copyRef(this.mask), hidden: copyRef(this.hidden) };
  }
  /** Restores a snapshot (taking ownership of its tensors). */
  restore(s: LatentSnapshot): void {
    this.mask = swap(this.mask, (s.mask as Tensor | null) ?? null);
    this.hidden = swap(this.hidden, (s.hidden as Tensor | null) ?? null);
  }
}

/**
 * AdaPool (2x2 max pooling with feedback). forward: with no hidden signal,
 * max pool (keeping argmax indices); otherwise pos·maxpool + neg·minpool
 * with pos = hidden > 0, neg = hidden < 0. feedback(z): hidden = z; unpool z
 * to the argmax positions, or unpool(z·pos, argmax) + unpool(z·neg, argmin)
 * once sign masks exist.
 * @example
 * ```ts
 * import { AdaPool, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const p = new AdaPool(2);
 * const y = p.forward(tensor([1, -4, 2, 3], [1, 1, 2, 2]));
 * assert.deepEqual(y.shape, [1, 1, 1, 1]);
 * assert.deepEqual(p.feedback(y).shape, [1, 1, 2, 2]); // unpooled to the argmax
 * p.reset();
 * ```
 */
export class AdaPool implements FeedbackLayer {
  /** Window (and stride). */
  readonly kernel: number;
  /** Argmax indices. */
  posInd: Tensor | null = null;
  /** Argmin indices. */
  negInd: Tensor | null = null;
  /** hidden > 0 mask. */
  posState: Tensor | null = null;
  /** hidden < 0 mask. */
  negState: Tensor | null = null;
  /** The feedback signal. */
  hidden: Tensor | null = null;
  #inShape: readonly number[] | null = null;
  /**
   * Creates the layer.
   * @param kernel Window size and stride (reference 2).
   */
  constructor(kernel = 2) {
    this.kernel = kernel;
  }
  /** Bottom-up pass. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const opts = { kernelSize: this.kernel };
      if (!this.#inShape || !this.hidden) this.#inShape = x.shape;
      const mx = maxPool2dWithIndices(x, opts);
      this.posInd = swap(this.posInd, keep(mx.indices));
      if (!this.hidden) return mx.output;
      const mn = minPool2dWithIndices(x, opts);
      this.negInd = swap(this.negInd, keep(mn.indices));
      this.posState = swap(this.posState, hold(this.hidden.gt(0)));
      this.negState = swap(this.negState, hold(this.hidden.lt(0)));
      return this.posState!.mul(mx.output).add(this.negState!.mul(mn.output));
    });
  }
  /** Top-down pass. */
  feedback(z: Tensor): Tensor {
    if (!this.posInd || !this.#inShape) {
      throw new Error("AdaPool.feedback: no forward pass set the indices");
    }
    this.hidden = swap(this.hidden, hold(z));
    const size: [number, number] = [this.#inShape[2], this.#inShape[3]];
    const opts = { kernelSize: this.kernel, outputSize: size };
    return tidy(() => {
      if (!this.posState || !this.negState) {
        return maxUnpool2d(z, this.posInd!, opts);
      }
      return maxUnpool2d(z.mul(this.posState), this.posInd!, opts)
        .add(maxUnpool2d(z.mul(this.negState), this.negInd!, opts));
    });
  }
  /** Clears the latent state. */
  reset(): void {
    for (const k of POOL_STATE) this[k] = swap(this[k], null);
  }
  /** A snapshot of the latent state (views that share the data). */
  snapshot(): LatentSnapshot {
    const s: LatentSnapshot = { inShape: this.#inShape };
    for (const k of POOL_STATE) s[k] = copyRef(this[k]);
    return s;
  }
  /** Restores a snapshot (taking ownership of its tensors). */
  restore(s: LatentSnapshot): void {
    for (const k of POOL_STATE) {
      this[k] = swap(this[k], (s[k] as Tensor | null) ?? null);
    }
    this.#inShape = (s.inShape as readonly number[] | null) ?? null;
  }
}

/**
 * Average pooling bottom-up, nearest upsampling top-down.
 * @example
 * ```ts
 * import { FbAvgPool, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const p = new FbAvgPool(2);
 * const y = p.forward(ones([1, 1, 4, 4]));
 * assert.deepEqual(p.feedback(y).shape, [1, 1, 4, 4]);
 * ```
 */
export class FbAvgPool implements FeedbackLayer {
  /** Window, stride and upsampling factor. */
  readonly kernel: number;
  /**
   * Creates the layer.
   * @param kernel Window size (and upsampling factor).
   */
  constructor(kernel: number) {
    this.kernel = kernel;
  }
  /** Average pool. */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, { kernelSize: this.kernel });
  }
  /** Nearest upsample. */
  feedback(z: Tensor): Tensor {
    return upsampleNearest(z, this.kernel);
  }
}

const POOL_STATE = [
  "posInd",
  "negInd",
  "posState",
  "negState",
  "hidden",
] as const;
