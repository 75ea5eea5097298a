/**
 * Neural-network functions in PyTorch's shapes and conventions: convolution,
 * pooling, upsampling, gather and one-hot, softmax and the losses. All are
 * composites of primitives except where a primitive exists.
 *
 * @module
 */

import { tidy } from "./engine.ts";
import { arange } from "./creation.ts";
import { checkClassLabels } from "./labels.ts";
import { fmt, normAxis } from "./shape.ts";
import {
  avgPool2dT,
  concatT,
  conv2dT,
  convTranspose2dT,
  poolGatherT,
  type Tensor,
  type TensorLike,
  unpoolT,
  whereT,
} from "./tensor.ts";
import { apply } from "./engine.ts";

/** A size given as one number or a [height, width] pair. */
export type Pair = number | readonly [number, number];

const pair = (v: Pair | undefined, dflt: number): [number, number] =>
  v === undefined
    ? [dflt, dflt]
    : typeof v === "number"
    ? [v, v]
    : [v[0], v[1]];

/** Options of `conv2d`. */
export interface Conv2dOptions {
  /** Stride (default 1). */
  stride?: Pair;
  /** Zero padding (default 0). */
  padding?: Pair;
  /** Dilation (default 1). */
  dilation?: Pair;
  /** Per-output-channel bias [Cout]. */
  bias?: Tensor;
}

function addBias(y: Tensor, bias: Tensor | undefined, op: string): Tensor {
  if (!bias) return y;
  if (bias.rank !== 1 || bias.shape[0] !== y.shape[1]) {
    throw new Error(
      `${op}: bias ${fmt(bias.shape)} does not match ${
        y.shape[1]
      } output channels`,
    );
  }
  return tidy(() => y.add(bias.reshape([1, -1, 1, 1])));
}

/**
 * 2-D convolution of x [N, Cin, H, W] with weight [Cout, Cin, kh, kw].
 * @example
 * ```ts
 * import { conv2d, ones } from "@cnnf/webgpu/tensor";
 * import assert from "node:assert/strict";
 * const y = conv2d(ones([1, 1, 4, 4]), ones([2, 1, 3, 3]), { padding: 1 });
 * assert.deepEqual(y.shape, [1, 2, 4, 4]);
 * ```
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  options: Conv2dOptions = {},
): Tensor {
  const y = conv2dT(x, weight, {
    stride: pair(options.stride, 1),
    padding: pair(options.padding, 0),
    dilation: pair(options.dilation, 1),
  });
  if (!options.bias) return y;
  const r = addBias(y, options.bias, "conv2d");
  y.dispose();
  return r;
}

/** Options of `convTranspose2d`. */
export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra size on the far side of the output (default 0). */
  outputPadding?: Pair;
}

/**
 * Transposed convolution of x [N, Cin, H, W] with weight [Cin, Cout, kh, kw]
 * (PyTorch's layout): the input-gradient of `conv2d` with that weight.
 * @example
 * ```ts
 * import { convTranspose2d, ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * // [N, Cin, H, W] with weight [Cin, Cout, kH, kW]
 * const y = convTranspose2d(ones([1, 2, 3, 3]), ones([2, 4, 2, 2]), { stride: 2 });
 * assert.deepEqual(y.shape, [1, 4, 6, 6]);
 * ```
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const y = convTranspose2dT(x, weight, {
    stride: pair(options.stride, 1),
    padding: pair(options.padding, 0),
    dilation: pair(options.dilation, 1),
    outputPadding: pair(options.outputPadding, 0),
  });
  if (!options.bias) return y;
  const r = addBias(y, options.bias, "convTranspose2d");
  y.dispose();
  return r;
}

/** Options of the pooling functions. */
export interface PoolOptions {
  /** Window size. */
  kernelSize: Pair;
  /** Stride (default: the window size). */
  stride?: Pair;
  /** Implicit padding (default 0). */
  padding?: Pair;
}

function poolGeom(o: PoolOptions) {
  const kernel = pair(o.kernelSize, 1);
  return {
    kernel,
    stride: pair(o.stride ?? kernel, 1),
    padding: pair(o.padding, 0),
  };
}

/**
 * Max pool returning values and int32 argmax indices (flat in each H*W plane).
 * @example
 * ```ts
 * import { maxPool2dWithIndices, maxUnpool2d, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 5, 2, 3, 4, 0, 8, 6, 7, 1, 2, 3, 0, 9, 4, 5], [1, 1, 4, 4]);
 * const { output, indices } = maxPool2dWithIndices(x, { kernelSize: 2 });
 * assert.deepEqual(await output.toArray(), [[[[5, 8], [9, 5]]]]);
 * const back = maxUnpool2d(output, indices, { kernelSize: 2 });
 * assert.deepEqual(back.shape, [1, 1, 4, 4]);
 * ```
 */
export function maxPool2dWithIndices(
  x: Tensor,
  options: PoolOptions,
): { output: Tensor; indices: Tensor } {
  const g = poolGeom(options);
  const indices = apply("poolArg", [x], { ...g, mode: "max" });
  return { output: poolGatherT(x, indices, g), indices };
}

/**
 * Min pool (= -maxpool(-x), first index on ties) with argmin indices.
 * @example
 * ```ts
 * import { minPool2dWithIndices } from "@cnnf/webgpu/internals";
 * import { tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const { output } = minPool2dWithIndices(tensor([4, 2, 3, 1], [1, 1, 2, 2]), { kernelSize: 2 });
 * assert.equal(await output.item(), 1);
 * ```
 */
export function minPool2dWithIndices(
  x: Tensor,
  options: PoolOptions,
): { output: Tensor; indices: Tensor } {
  const g = poolGeom(options);
  const indices = apply("poolArg", [x], { ...g, mode: "min" });
  return { output: poolGatherT(x, indices, g), indices };
}

/**
 * 2-D max pooling.
 * @example
 * ```ts
 * import { maxPool2d, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
 * assert.equal(await maxPool2d(x, { kernelSize: 2 }).item(), 4);
 * ```
 */
export function maxPool2d(x: Tensor, options: PoolOptions): Tensor {
  const { output, indices } = maxPool2dWithIndices(x, options);
  indices.dispose();
  return output;
}

/** Options of `maxUnpool2d`. */
export interface UnpoolOptions extends PoolOptions {
  /** Spatial output size [H, W] (default: the pooling's inverse size). */
  outputSize?: readonly [number, number];
}

/**
 * Inverse of max pooling: places x's values at `indices` (from
 * `maxPool2dWithIndices` with the same geometry), zeros elsewhere.
 * @example
 * ```ts
 * import { maxPool2dWithIndices, maxUnpool2d, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 2, 4, 3], [1, 1, 2, 2]);
 * const { output, indices } = maxPool2dWithIndices(x, { kernelSize: 2 });
 * const y = maxUnpool2d(output, indices, { kernelSize: 2 });
 * assert.deepEqual([...await y.data()], [0, 0, 4, 0]);
 * ```
 */
export function maxUnpool2d(
  x: Tensor,
  indices: Tensor,
  options: UnpoolOptions,
): Tensor {
  const g = poolGeom(options);
  const outSize = options.outputSize ?? [
    (x.shape[2] - 1) * g.stride[0] - 2 * g.padding[0] + g.kernel[0],
    (x.shape[3] - 1) * g.stride[1] - 2 * g.padding[1] + g.kernel[1],
  ];
  return unpoolT(x, indices, { ...g, outSize: [outSize[0], outSize[1]] });
}

/** Options of `avgPool2d`. */
export interface AvgPoolOptions extends PoolOptions {
  /** Count padding zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
}

/**
 * 2-D average pooling.
 * @example
 * ```ts
 * import { avgPool2d, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const x = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
 * assert.equal(await avgPool2d(x, { kernelSize: 2 }).item(), 2.5);
 * ```
 */
export function avgPool2d(x: Tensor, options: AvgPoolOptions): Tensor {
  return avgPool2dT(x, {
    ...poolGeom(options),
    countIncludePad: options.countIncludePad ?? true,
  });
}

/**
 * Nearest-neighbour upsampling of [N, C, H, W] by an integer factor.
 * @example
 * ```ts
 * import { tensor, upsampleNearest } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const y = upsampleNearest(tensor([1, 2], [1, 1, 1, 2]), 2);
 * assert.deepEqual(await y.toArray(), [[[[1, 1, 2, 2], [1, 1, 2, 2]]]]);
 * ```
 */
export function upsampleNearest(x: Tensor, scale: Pair): Tensor {
  const [sh, sw] = pair(scale, 1);
  if (x.rank !== 4) {
    throw new Error(`upsampleNearest: input must be 4-D, got ${fmt(x.shape)}`);
  }
  if (!Number.isInteger(sh) || !Number.isInteger(sw) || sh < 1 || sw < 1) {
    throw new Error(
      `upsampleNearest: scale must be a positive integer, got [${sh}, ${sw}]`,
    );
  }
  const [n, c, h, w] = x.shape;
  return tidy(() =>
    x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, sh, w, sw]).reshape([
      n,
      c,
      h * sh,
      w * sw,
    ])
  );
}

/**
 * One-hot encoding of int32 labels: shape [...labels.shape, numClasses].
 * @example
 * ```ts
 * import { oneHot, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const y = tensor([2, 0], [2], { dtype: "int32" });
 * assert.deepEqual(await oneHot(y, 3).toArray(), [[0, 0, 1], [1, 0, 0]]);
 * ```
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  if (labels.dtype !== "int32") {
    throw new Error(`oneHot: labels must be int32, got ${labels.dtype}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(
      `oneHot: numClasses must be a positive integer, got ${numClasses}`,
    );
  }
  return tidy(() => {
    const classes = arange(0, numClasses, 1, { backend: labels.backend });
    return labels.unsqueeze(-1).eq(classes);
  });
}

/**
 * Picks entries of x along `axis` at int32 `indices` (torch.gather);
 * indices has x's rank and shape except along `axis`.
 * @example
 * ```ts
 * import { gather, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const x = tensor([[10, 11, 12], [20, 21, 22]]);
 * const idx = tensor([[2], [0]], [2, 1], { dtype: "int32" });
 * assert.deepEqual(await gather(x, idx, 1).toArray(), [[12], [20]]);
 * ```
 */
export function gather(x: Tensor, indices: Tensor, axis: number): Tensor {
  const a = normAxis("gather", axis, x.rank);
  if (indices.dtype !== "int32") {
    throw new Error(`gather: indices must be int32, got ${indices.dtype}`);
  }
  if (
    indices.rank !== x.rank ||
    indices.shape.some((d, i) => i !== a && d !== x.shape[i])
  ) {
    throw new Error(
      `gather: indices ${fmt(indices.shape)} do not match input ${
        fmt(x.shape)
      } outside axis ${a}`,
    );
  }
  return tidy(() => {
    const c = x.shape[a];
    const classes = arange(0, c, 1, { backend: x.backend })
      .reshape(
        x.shape.map((_, i) => (i === a ? c : 1)).toSpliced(a, 0, 1),
      );
    const mask = indices.unsqueeze(a + 1).eq(classes);
    return x.unsqueeze(a).mul(mask).sum(a + 1);
  });
}

/**
 * log(softmax(x)) along an axis, computed stably.
 * @example
 * ```ts
 * import { logSoftmax, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const l = await logSoftmax(tensor([0, 0])).data();
 * assert.ok(Math.abs(l[0] - Math.log(0.5)) < 1e-6);
 * ```
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis("logSoftmax", axis, x.rank);
  return tidy(() => {
    const m = x.detach().max(a, true);
    const s = x.sub(m);
    return s.sub(s.exp().sum(a, true).log());
  });
}

/**
 * Softmax along an axis.
 * @example
 * ```ts
 * import { softmax, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const p = await softmax(tensor([[1, 1, 1, 1]])).data();
 * assert.ok(p.every((v) => Math.abs(v - 0.25) < 1e-6));
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return tidy(() => logSoftmax(x, axis).exp());
}

/** How a loss reduces over the batch. */
export type Reduction = "mean" | "sum" | "none";

function reduce(v: Tensor, r: Reduction, op: string): Tensor {
  if (r === "none") return v;
  if (r === "sum") return v.sum();
  if (r === "mean") return v.mean();
  throw new Error(`${op}: unknown reduction '${r}' (mean, sum, none)`);
}

/**
 * Cross entropy of logits [N, C] against int32 class indices [N] — the
 * training loss (`torch.nn.functional.cross_entropy`). The mean over the
 * batch by default; `{ reduction: "none" }` gives the per-example losses
 * that attacks maximise. Labels outside [0, C), non-int32 labels and a
 * length mismatch are errors.
 * @param options reduction: "mean" (default), "sum" or "none".
 * @example Mean and per-example losses
 * ```ts
 * import { crossEntropy, init, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu" });
 * const logits = tensor([[2, 0, 0], [0, 0, 2]]);
 * const y = tensor([0, 2], [2], { dtype: "int32" });
 * const each = await crossEntropy(logits, y, { reduction: "none" }).data();
 * const mean = await crossEntropy(logits, y).item();
 * assert.ok(Math.abs(mean - (each[0] + each[1]) / 2) < 1e-6);
 * assert.throws(
 *   () => crossEntropy(logits, tensor([0, 3], [2], { dtype: "int32" })),
 *   /label 3 is out of range for 3 classes/,
 * );
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: { reduction?: Reduction } = {},
): Tensor {
  checkClassLabels("crossEntropy", logits, labels);
  return tidy(() => {
    const logp = logSoftmax(logits, 1);
    const picked = logp.mul(oneHot(labels, logits.shape[1])).sum(1);
    return reduce(picked.neg(), options.reduction ?? "mean", "crossEntropy");
  });
}

/**
 * Mean squared error (same shapes; reduction "mean" by default).
 * @example
 * ```ts
 * import { mseLoss, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.equal(await mseLoss(tensor([1, 2]), tensor([1, 4])).item(), 2);
 * ```
 */
export function mseLoss(
  a: Tensor,
  b: Tensor,
  options: { reduction?: Reduction } = {},
): Tensor {
  if (a.shape.join() !== b.shape.join()) {
    throw new Error(
      `mseLoss: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`,
    );
  }
  return tidy(() => {
    const d = a.sub(b);
    return reduce(d.mul(d), options.reduction ?? "mean", "mseLoss");
  });
}

/**
 * `a` where cond is non-zero, else `b` (broadcasting).
 * @example
 * ```ts
 * import { tensor, where } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const x = tensor([-1, 2, -3]);
 * assert.deepEqual([...await where(x.gt(0), x, 0).data()], [0, 2, 0]);
 * ```
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return whereT(cond, a, b);
}

/**
 * Joins tensors along an existing axis.
 * @example
 * ```ts
 * import { concat, ones, zeros } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual(concat([ones([2, 3]), zeros([1, 3])], 0).shape, [3, 3]);
 * ```
 */
export function concat(xs: Tensor[], axis = 0): Tensor {
  return concatT(xs, axis);
}

/**
 * Joins tensors along a new axis.
 * @example
 * ```ts
 * import { ones, stack } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual(stack([ones([3]), ones([3])]).shape, [2, 3]);
 * ```
 */
export function stack(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error("stack: no inputs");
  const a = normAxis("stack", axis, xs[0].rank + 1);
  return tidy(() => concatT(xs.map((x) => x.unsqueeze(a)), a));
}

/**
 * Splits along an axis into pieces of the given sizes (or n equal parts).
 * @example
 * ```ts
 * import { arange, split } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const [a, b] = split(arange(5), [2, 3]);
 * assert.deepEqual([...await b.data()], [2, 3, 4]);
 * assert.equal(a.size, 2);
 * ```
 */
export function split(
  x: Tensor,
  sizes: number | readonly number[],
  axis = 0,
): Tensor[] {
  const a = normAxis("split", axis, x.rank);
  const len = x.shape[a];
  let parts: number[];
  if (typeof sizes === "number") {
    if (!Number.isInteger(sizes) || sizes < 1 || len % sizes !== 0) {
      throw new Error(
        `split: cannot split axis ${a} of ${
          fmt(x.shape)
        } into ${sizes} equal parts`,
      );
    }
    parts = new Array(sizes).fill(len / sizes);
  } else parts = [...sizes];
  if (parts.reduce((s, v) => s + v, 0) !== len) {
    throw new Error(
      `split: sizes [${parts}] do not add up to ${len} (axis ${a} of ${
        fmt(x.shape)
      })`,
    );
  }
  let off = 0;
  return parts.map((p) => {
    const r = x.narrow(a, off, p);
    off += p;
    return r;
  });
}
