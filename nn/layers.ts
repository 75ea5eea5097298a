/**
 * Standard layers with PyTorch's parameter names, shapes and default
 * initialisation: Linear, Conv2d, ConvTranspose2d, pooling, Upsample,
 * Flatten, Dropout, ReLU and Sequential.
 *
 * @module
 */

import { bernoulli, zeros } from "../tensor/creation.ts";
import { tidy } from "../tensor/engine.ts";
import {
  avgPool2d,
  conv2d,
  convTranspose2d,
  maxPool2d,
  type Pair,
  type PoolOptions,
  upsampleNearest,
} from "../tensor/functional.ts";
import { matmulT, type Tensor } from "../tensor/tensor.ts";
import { fans, kaimingUniform_, uniform_ } from "./init.ts";
import { Module } from "./module.ts";

/**
 * A module with a one-tensor forward.
 * @example
 * ```ts
 * import { Layer, type Tensor, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * class Square extends Layer {
 *   forward(x: Tensor): Tensor {
 *     return x.mul(x);
 *   }
 * }
 * assert.deepEqual([...await new Square().forward(tensor([3])).data()], [9]);
 * ```
 */
export abstract class Layer extends Module {
  /** Applies the layer. */
  abstract forward(x: Tensor): Tensor;
}

function biasInit(b: Tensor, weightShape: readonly number[]): Tensor {
  const { fanIn } = fans(weightShape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform_(b, -bound, bound);
}

/**
 * y = x Wᵀ + b, weight [out, in].
 * @example
 * ```ts
 * import { Linear, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const fc = new Linear(4, 2); // weight [2, 4], bias [2], PyTorch's init
 * assert.deepEqual(fc.forward(randn([3, 4])).shape, [3, 2]);
 * ```
 */
export class Linear extends Layer {
  /** Weight [out, in]. */
  weight: Tensor;
  /** Bias [out], or null. */
  bias: Tensor | null;
  /**
   * Creates the layer with PyTorch's default initialisation.
   * @param inFeatures Input size.
   * @param outFeatures Output size.
   * @param options bias (default true).
   */
  constructor(
    inFeatures: number,
    outFeatures: number,
    options: { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.param(kaimingUniform_(zeros([outFeatures, inFeatures])));
    this.bias = options.bias === false
      ? null
      : this.param(biasInit(zeros([outFeatures]), this.weight.shape));
  }
  /** Applies the layer to x [..., in]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const flat = x.rank === 2 ? x : x.reshape([-1, x.shape[x.rank - 1]]);
      let y = matmulT(flat, this.weight, { transA: false, transB: true });
      if (this.bias) y = y.add(this.bias);
      return x.rank === 2 ? y : y.reshape([...x.shape.slice(0, -1), -1]);
    });
  }
}

/** Options of the convolution layers. */
export interface ConvLayerOptions {
  /** Stride (default 1). */
  stride?: Pair;
  /** Padding (default 0). */
  padding?: Pair;
  /** Dilation (default 1). */
  dilation?: Pair;
  /** Learnable bias (default true). */
  bias?: boolean;
}

const pair = (
  v: Pair,
): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

/**
 * 2-D convolution, weight [out, in, kh, kw].
 * @example
 * ```ts
 * import { Conv2d, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const conv = new Conv2d(1, 8, 3, { padding: 1 });
 * assert.deepEqual(conv.forward(randn([2, 1, 28, 28])).shape, [2, 8, 28, 28]);
 * ```
 */
export class Conv2d extends Layer {
  /** Weight [out, in, kh, kw]. */
  weight: Tensor;
  /** Bias [out], or null. */
  bias: Tensor | null;
  /** Geometry. */
  readonly options: ConvLayerOptions;
  /**
   * Creates the layer with PyTorch's default initialisation.
   * @param inChannels Input channels.
   * @param outChannels Output channels.
   * @param kernelSize Kernel size.
   * @param options stride, padding, dilation, bias.
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Pair,
    options: ConvLayerOptions = {},
  ) {
    super();
    const [kh, kw] = pair(kernelSize);
    this.options = options;
    this.weight = this.param(
      kaimingUniform_(zeros([outChannels, inChannels, kh, kw])),
    );
    this.bias = options.bias === false
      ? null
      : this.param(biasInit(zeros([outChannels]), this.weight.shape));
  }
  /** Applies the convolution. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, {
      ...this.options,
      bias: this.bias ?? undefined,
    });
  }
}

/**
 * 2-D transposed convolution, weight [in, out, kh, kw] (PyTorch's layout).
 * @example
 * ```ts
 * import { ConvTranspose2d, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const up = new ConvTranspose2d(8, 1, 2, { stride: 2 });
 * assert.deepEqual(up.forward(randn([1, 8, 7, 7])).shape, [1, 1, 14, 14]);
 * ```
 */
export class ConvTranspose2d extends Layer {
  /** Weight [in, out, kh, kw]. */
  weight: Tensor;
  /** Bias [out], or null. */
  bias: Tensor | null;
  /** Geometry. */
  readonly options: ConvLayerOptions & { outputPadding?: Pair };
  /**
   * Creates the layer with PyTorch's default initialisation.
   * @param inChannels Input channels.
   * @param outChannels Output channels.
   * @param kernelSize Kernel size.
   * @param options stride, padding, outputPadding, dilation, bias.
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Pair,
    options: ConvLayerOptions & { outputPadding?: Pair } = {},
  ) {
    super();
    const [kh, kw] = pair(kernelSize);
    this.options = options;
    this.weight = this.param(
      kaimingUniform_(zeros([inChannels, outChannels, kh, kw])),
    );
    this.bias = options.bias === false
      ? null
      : this.param(biasInit(zeros([outChannels]), this.weight.shape));
  }
  /** Applies the transposed convolution. */
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, {
      ...this.options,
      bias: this.bias ?? undefined,
    });
  }
}

/**
 * Geometry shared by the pooling layers.
 * @example
 * ```ts
 * import { AvgPool2d, MaxPool2d, Pool2d } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * for (const p of [new MaxPool2d(2), new AvgPool2d(2)]) assert.ok(p instanceof Pool2d);
 * ```
 */
export abstract class Pool2d extends Layer {
  /** Window geometry (stride defaults to the window). */
  readonly options: PoolOptions;
  /**
   * Creates the layer.
   * @param kernelSize Window size.
   * @param options stride, padding.
   */
  constructor(
    kernelSize: Pair,
    options: { stride?: Pair; padding?: Pair } = {},
  ) {
    super();
    this.options = { kernelSize, ...options };
  }
}

/**
 * Max pooling.
 * @example
 * ```ts
 * import { MaxPool2d, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual(new MaxPool2d(2).forward(ones([1, 3, 8, 8])).shape, [1, 3, 4, 4]);
 * ```
 */
export class MaxPool2d extends Pool2d {
  /** Pools. */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

/**
 * Average pooling (padding counted in the divisor, as PyTorch's default).
 * @example
 * ```ts
 * import { AvgPool2d, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.equal(await new AvgPool2d(2).forward(ones([1, 1, 2, 2])).item(), 1);
 * ```
 */
export class AvgPool2d extends Pool2d {
  /** Pools. */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.options);
  }
}

/**
 * Nearest-neighbour upsampling by an integer factor.
 * @example
 * ```ts
 * import { ones, Upsample } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual(new Upsample(2).forward(ones([1, 1, 3, 3])).shape, [1, 1, 6, 6]);
 * ```
 */
export class Upsample extends Layer {
  /** Scale factor. */
  readonly scale: Pair;
  /**
   * Creates the layer.
   * @param scale Integer scale factor.
   */
  constructor(scale: Pair) {
    super();
    this.scale = scale;
  }
  /** Upsamples. */
  forward(x: Tensor): Tensor {
    return upsampleNearest(x, this.scale);
  }
}

/**
 * Flattens all axes after the first.
 * @example
 * ```ts
 * import { Flatten, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual(new Flatten().forward(ones([2, 3, 4])).shape, [2, 12]);
 * ```
 */
export class Flatten extends Layer {
  /** Flattens [N, ...] to [N, prod(...)]. */
  forward(x: Tensor): Tensor {
    return x.flatten(1);
  }
}

/**
 * ReLU.
 * @example
 * ```ts
 * import { ReLU, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...await new ReLU().forward(tensor([-1, 2])).data()], [0, 2]);
 * ```
 */
export class ReLU extends Layer {
  /** max(x, 0). */
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/**
 * Inverted dropout: zeroes with probability p in training, scales by 1/(1-p).
 * @example
 * ```ts
 * import { Dropout, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const d = new Dropout(0.5);
 * d.eval(); // identity in evaluation mode
 * assert.equal(await d.forward(ones([4])).sum().item(), 4);
 * ```
 */
export class Dropout extends Layer {
  /** Drop probability. */
  readonly p: number;
  /**
   * Creates the layer.
   * @param p Drop probability in [0, 1).
   */
  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p < 1)) {
      throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
    }
    this.p = p;
  }
  /** Applies dropout in training mode; identity in eval mode. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x.clone();
    return tidy(() => x.mul(bernoulli(1 - this.p, x.shape)).div(1 - this.p));
  }
}

/**
 * Runs layers in order.
 * @example
 * ```ts
 * import { Flatten, Linear, ReLU, Sequential, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const mlp = new Sequential(new Flatten(), new Linear(784, 32), new ReLU(), new Linear(32, 10));
 * assert.deepEqual(mlp.forward(randn([5, 1, 28, 28])).shape, [5, 10]);
 * assert.deepEqual(Object.keys(mlp.stateDict()), ["1.weight", "1.bias", "3.weight", "3.bias"]);
 * ```
 */
export class Sequential extends Layer {
  /** The layers (named 0, 1, ... in state dicts). */
  readonly layers: Layer[];
  /**
   * Creates the container.
   * @param layers Layers in order.
   */
  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
  }
  /** Direct children named by index, as PyTorch's Sequential. */
  override namedChildren(): [string, Module][] {
    return this.layers.map((l, i) => [String(i), l]);
  }
  /** Applies every layer. */
  forward(x: Tensor): Tensor {
    return tidy(() => this.layers.reduce((h, l) => l.forward(h), x));
  }
}
