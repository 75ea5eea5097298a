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

/** A module with a one-tensor forward. */
export abstract class Layer extends Module {
  /** Applies the layer. */
  abstract forward(x: Tensor): Tensor;
}

function biasInit(b: Tensor, weightShape: readonly number[]): Tensor {
  const { fanIn } = fans(weightShape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform_(b, -bound, bound);
}

/** y = x Wᵀ + b, weight [out, in]. */
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

/** 2-D convolution, weight [out, in, kh, kw]. */
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

/** 2-D transposed convolution, weight [in, out, kh, kw] (PyTorch's layout). */
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

/** Geometry shared by the pooling layers. */
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

/** Max pooling. */
export class MaxPool2d extends Pool2d {
  /** Pools. */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

/** Average pooling (padding counted in the divisor, as PyTorch's default). */
export class AvgPool2d extends Pool2d {
  /** Pools. */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.options);
  }
}

/** Nearest-neighbour upsampling by an integer factor. */
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

/** Flattens all axes after the first. */
export class Flatten extends Layer {
  /** Flattens [N, ...] to [N, prod(...)]. */
  forward(x: Tensor): Tensor {
    return x.flatten(1);
  }
}

/** ReLU. */
export class ReLU extends Layer {
  /** max(x, 0). */
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** Inverted dropout: zeroes with probability p in training, scales by 1/(1-p). */
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

/** Runs layers in order. */
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
