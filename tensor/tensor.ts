/**
 * `Tensor`: an n-dimensional float32 or int32 array on a backend, with
 * chainable ops that record on the autograd tape. Ops return at once; reading
 * values (`await t.data()`) is the only synchronisation point.
 *
 * @module
 */

// The one import against the layer order: `backward()` is a Tensor method,
// and a static import (used only at call time, so load order does not
// matter) makes it work whichever entry point was imported, where a
// registration done as a side effect of importing autograd/ did not.
import { computeGrads } from "../autograd/backward.ts";
import type { Storage } from "./backend.ts";
import { describeTensor } from "./inspect.ts";
import type { BackendName } from "./backend.ts";
import {
  apply,
  constant,
  readAll,
  releaseNode,
  type TapeNode,
  track,
} from "./engine.ts";
import type {
  ConvAttrs,
  ConvTransposeAttrs,
  ConvWeightGradAttrs,
} from "./ops/conv.ts";
import type { MatmulAttrs } from "./ops/matmul.ts";
import type { InsNormAttrs } from "./ops/norm.ts";
import type {
  AvgPoolAttrs,
  AvgPoolGradAttrs,
  PoolAttrs,
  UnpoolAttrs,
} from "./ops/pool.ts";
import {
  type DType,
  fmt,
  normAxes,
  normAxis,
  type Shape,
  sizeOf,
  type TypedArray,
} from "./shape.ts";

/** A tensor or a number (broadcast as a scalar of the tensor's dtype). */
export type TensorLike = Tensor | number;

/** Nested number arrays, as returned by `toArray()`. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array with reverse-mode autodiff.
 * @example Creating, computing, reading back and freeing
 * ```ts
 * import { init, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const x = tensor([[1, 2], [3, 4]]); // float32 [2, 2]
 * const y = x.mul(2).add(1).sum(1); // ops chain and return at once
 * // Three ways to read back, each one synchronisation:
 * assert.deepEqual([...await y.data()], [8, 16]); // flat typed array
 * assert.deepEqual(await y.toArray(), [8, 16]); // nested arrays
 * assert.equal(await y.sum().item(), 24); // one number
 * console.log(x); // Tensor(float32 [2, 2] cpu) [[1., 2.], [3., 4.]]
 * x.dispose(); // or `using x = ...`, or a tidy()/step() scope
 * y.dispose();
 * ```
 */
export class Tensor {
  /** The shape. */
  readonly shape: Shape;
  /** The element type. */
  readonly dtype: DType;
  /**
   * Refcounted data (shared by views); engine internal.
   * @ignore
   */
  storage: Storage;
  /**
   * The tape node that produced this tensor (null for leaves); engine
   * internal.
   * @ignore
   */
  node: TapeNode | null = null;
  /** Whether gradients are accumulated into `.grad` (leaves only). */
  requiresGrad: boolean;
  /** Accumulated gradient, filled by `backward()`. */
  grad: Tensor | null = null;
  #disposed = false;

  /**
   * Wraps storage (internal; use `tensor()`, `zeros()`, ... instead).
   * @param storage Data (ownership of one reference passes to the tensor).
   * @param shape Shape.
   * @param dtype Element type.
   * @param requiresGrad Whether it is a leaf that collects gradients.
   */
  constructor(
    storage: Storage,
    shape: Shape,
    dtype: DType,
    requiresGrad: boolean,
  ) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.requiresGrad = requiresGrad;
    track(this);
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }
  /** Backend holding the data. */
  get backend(): BackendName {
    return this.storage.backend.name;
  }
  /** Whether `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Releases this tensor's reference to its data and its tape node. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.storage.release();
    if (this.node) releaseNode(this.node);
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }
  /**
   * dtype, shape, backend and, when the values are on the host (the CPU
   * backend), a preview of them; never reads a GPU buffer back.
   * @example
   * ```ts
   * import { init, tensor } from "@cnnf/webgpu";
   * import assert from "node:assert/strict";
   *
   * await init({ backend: "cpu" });
   * assert.equal(String(tensor([[1, 2], [3, 4]])), "Tensor(float32 [2, 2] cpu) [[1., 2.], [3., 4.]]");
   * ```
   */
  toString(): string {
    return describeTensor(this);
  }
  /** Same as `dispose()`, so `using t = ...` works. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Copies the data to the host. */
  async data(): Promise<TypedArray> {
    return (await readAll([this]))[0];
  }
  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new Error(
        `item: tensor of shape ${fmt(this.shape)} is not a scalar`,
      );
    }
    return (await this.data())[0];
  }
  /** The data as nested arrays. */
  async toArray(): Promise<NestedArray> {
    const d = await this.data();
    const build = (axis: number, off: number): NestedArray => {
      if (axis === this.rank) return d[off];
      const step = sizeOf(this.shape.slice(axis + 1));
      return Array.from(
        { length: this.shape[axis] },
        (_, i) => build(axis + 1, off + i * step),
      );
    };
    return build(0, 0);
  }

  /** Computes gradients of this (scalar) tensor into the leaves' `.grad`. */
  backward(grad?: Tensor): void {
    computeGrads(this, { grad });
  }

  /** A tensor sharing this data, cut from the tape. */
  detach(): Tensor {
    return new Tensor(this.storage.retain(), this.shape, this.dtype, false);
  }
  /** A copy with its own storage (recorded on the tape). */
  clone(): Tensor {
    return apply("expand", [this], { shape: this.shape });
  }
  /**
   * Replaces this leaf's data with `src`'s (same shape and dtype), keeping
   * its identity, for optimizer updates.
   */
  assign(src: Tensor): this {
    if (
      src.dtype !== this.dtype || src.shape.length !== this.rank ||
      src.shape.some((d, i) => d !== this.shape[i])
    ) {
      throw new Error(
        `assign: source ${fmt(src.shape)} ${src.dtype} does not match ${
          fmt(this.shape)
        } ${this.dtype}`,
      );
    }
    if (src.storage.backend !== this.storage.backend) {
      throw new Error(
        `assign: source lives on ${src.backend}, target on ${this.backend}`,
      );
    }
    const s = src.storage.retain();
    this.storage.release();
    this.storage = s;
    return this;
  }

  #other(o: TensorLike): Tensor {
    return typeof o === "number"
      ? constant(o, this.dtype, this.storage.backend)
      : o;
  }
  #bin(
    op:
      | "add"
      | "sub"
      | "mul"
      | "div"
      | "pow"
      | "minimum"
      | "maximum"
      | "gt"
      | "ge"
      | "lt"
      | "le"
      | "eq"
      | "ne",
    o: TensorLike,
  ): Tensor {
    const b = this.#other(o);
    const r = apply(op, [this, b], {});
    if (b !== o) b.dispose();
    return r;
  }

  /** Elementwise sum (broadcasting). */
  add(o: TensorLike): Tensor {
    return this.#bin("add", o);
  }
  /** Elementwise difference. */
  sub(o: TensorLike): Tensor {
    return this.#bin("sub", o);
  }
  /** Elementwise product. */
  mul(o: TensorLike): Tensor {
    return this.#bin("mul", o);
  }
  /** Elementwise quotient. */
  div(o: TensorLike): Tensor {
    return this.#bin("div", o);
  }
  /** Elementwise power. */
  pow(o: TensorLike): Tensor {
    return this.#bin("pow", o);
  }
  /** Elementwise minimum. */
  minimum(o: TensorLike): Tensor {
    return this.#bin("minimum", o);
  }
  /** Elementwise maximum. */
  maximum(o: TensorLike): Tensor {
    return this.#bin("maximum", o);
  }
  /** 1 where this > o, else 0 (float32). */
  gt(o: TensorLike): Tensor {
    return this.#bin("gt", o);
  }
  /** 1 where this >= o. */
  ge(o: TensorLike): Tensor {
    return this.#bin("ge", o);
  }
  /** 1 where this < o. */
  lt(o: TensorLike): Tensor {
    return this.#bin("lt", o);
  }
  /** 1 where this <= o. */
  le(o: TensorLike): Tensor {
    return this.#bin("le", o);
  }
  /** 1 where this == o. */
  eq(o: TensorLike): Tensor {
    return this.#bin("eq", o);
  }
  /** 1 where this != o. */
  ne(o: TensorLike): Tensor {
    return this.#bin("ne", o);
  }

  /** Negation. */
  neg(): Tensor {
    return apply("neg", [this], {});
  }
  /** e^x. */
  exp(): Tensor {
    return apply("exp", [this], {});
  }
  /** Natural logarithm. */
  log(): Tensor {
    return apply("log", [this], {});
  }
  /** Square root. */
  sqrt(): Tensor {
    return apply("sqrt", [this], {});
  }
  /** Absolute value. */
  abs(): Tensor {
    return apply("abs", [this], {});
  }
  /** Sign (-1, 0, 1); gradient zero. */
  sign(): Tensor {
    return apply("sign", [this], {});
  }
  /** max(x, 0). */
  relu(): Tensor {
    return apply("relu", [this], {});
  }
  /** Logistic sigmoid. */
  sigmoid(): Tensor {
    return apply("sigmoid", [this], {});
  }
  /** Hyperbolic tangent. */
  tanh(): Tensor {
    return apply("tanh", [this], {});
  }
  /** Sine. */
  sin(): Tensor {
    return apply("sin", [this], {});
  }
  /** Cosine. */
  cos(): Tensor {
    return apply("cos", [this], {});
  }
  /** x * x. */
  square(): Tensor {
    return this.mul(this);
  }
  /** Clamps into [min, max] (either may be omitted). */
  clamp(min?: number, max?: number): Tensor {
    const lo = min ?? -Infinity;
    const hi = max ?? Infinity;
    if (lo > hi) throw new Error(`clamp: min ${lo} is greater than max ${hi}`);
    return apply("clamp", [this], { min: lo, max: hi });
  }
  /** Converts to another dtype (float to int truncates toward zero). */
  cast(dtype: DType): Tensor {
    if (dtype !== "float32" && dtype !== "int32") {
      throw new Error(`cast: unknown dtype '${dtype}' (float32, int32)`);
    }
    return apply("cast", [this], { dtype });
  }

  /** Sum over axes (all by default). */
  sum(axes?: number | readonly number[], keepdim = false): Tensor {
    return this.#reduce("sum", axes, keepdim);
  }
  /** Mean over axes (all by default). */
  mean(axes?: number | readonly number[], keepdim = false): Tensor {
    const ax = normAxes("mean", axes, this.rank);
    const n = ax.reduce((a, i) => a * this.shape[i], 1);
    const s = this.#reduce("sum", ax, keepdim);
    const r = s.div(n);
    s.dispose();
    return r;
  }
  /** Maximum over axes. */
  max(axes?: number | readonly number[], keepdim = false): Tensor {
    return this.#reduce("max", axes, keepdim);
  }
  /** Minimum over axes. */
  min(axes?: number | readonly number[], keepdim = false): Tensor {
    return this.#reduce("min", axes, keepdim);
  }
  /** Index of the maximum along an axis (int32; first on ties). */
  argmax(axis = -1, keepdim = false): Tensor {
    return this.#reduce("argmax", axis, keepdim);
  }
  /** Index of the minimum along an axis (int32; first on ties). */
  argmin(axis = -1, keepdim = false): Tensor {
    return this.#reduce("argmin", axis, keepdim);
  }
  /**
   * Variance over axes with Bessel's correction by default (as PyTorch).
   * @param options `correction`: 1 for unbiased, 0 for population.
   */
  var(
    axes?: number | readonly number[],
    options: { keepdim?: boolean; correction?: number } = {},
  ): Tensor {
    const ax = normAxes("var", axes, this.rank);
    const n = ax.reduce((a, i) => a * this.shape[i], 1);
    const mu = this.mean(ax, true);
    const d = this.sub(mu);
    const sq = d.mul(d);
    const s = sq.sum(ax, options.keepdim ?? false);
    const r = s.div(Math.max(n - (options.correction ?? 1), 0));
    for (const t of [mu, d, sq, s]) t.dispose();
    return r;
  }
  #reduce(
    op: "sum" | "max" | "min" | "argmax" | "argmin",
    axes: number | readonly number[] | undefined,
    keepdim: boolean,
  ): Tensor {
    const ax = normAxes(op, axes, this.rank);
    const r = apply(op, [this], { axes: ax });
    if (!keepdim) return r;
    const out = r.reshape(this.shape.map((d, i) => (ax.includes(i) ? 1 : d)));
    r.dispose();
    return out;
  }
  /** Sums broadcast axes away so the result has `shape`. */
  sumTo(shape: Shape): Tensor {
    if (
      shape.length === this.rank && shape.every((d, i) => d === this.shape[i])
    ) {
      return this.reshape(shape);
    }
    const lead = this.rank - shape.length;
    if (lead < 0) {
      throw new Error(
        `sumTo: cannot reduce ${fmt(this.shape)} to ${fmt(shape)}`,
      );
    }
    const axes: number[] = [];
    for (let i = 0; i < this.rank; i++) {
      if (i < lead) axes.push(i);
      else if (shape[i - lead] === 1 && this.shape[i] !== 1) axes.push(i);
      else if (shape[i - lead] !== this.shape[i]) {
        throw new Error(
          `sumTo: cannot reduce ${fmt(this.shape)} to ${fmt(shape)}`,
        );
      }
    }
    const s = apply("sum", [this], { axes });
    const r = s.reshape(shape);
    s.dispose();
    return r;
  }

  /** Same data, new shape (one entry may be -1). Shares storage. */
  reshape(shape: readonly number[]): Tensor {
    const s = [...shape];
    const free = s.indexOf(-1);
    if (free >= 0) {
      const rest = s.reduce((a, d, i) => (i === free ? a : a * d), 1);
      if (s.lastIndexOf(-1) !== free || rest === 0 || this.size % rest !== 0) {
        throw new Error(
          `reshape: cannot reshape ${fmt(this.shape)} to ${fmt(shape)}`,
        );
      }
      s[free] = this.size / rest;
    }
    return apply("reshape", [this], { shape: s });
  }
  /** Alias of `reshape`. */
  view(shape: readonly number[]): Tensor {
    return this.reshape(shape);
  }
  /** Flattens axes start..end (inclusive) into one. */
  flatten(start = 0, end = -1): Tensor {
    if (this.rank === 0) return this.reshape([1]);
    const s = normAxis("flatten", start, this.rank);
    const e = normAxis("flatten", end, this.rank);
    const mid = this.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
    return this.reshape([
      ...this.shape.slice(0, s),
      mid,
      ...this.shape.slice(e + 1),
    ]);
  }
  /** Inserts an axis of size 1. */
  unsqueeze(axis: number): Tensor {
    const a = normAxis("unsqueeze", axis, this.rank + 1);
    const s = [...this.shape];
    s.splice(a, 0, 1);
    return this.reshape(s);
  }
  /** Removes axes of size 1 (all, or the one given). */
  squeeze(axis?: number): Tensor {
    if (axis === undefined) {
      return this.reshape(this.shape.filter((d) => d !== 1));
    }
    const a = normAxis("squeeze", axis, this.rank);
    if (this.shape[a] !== 1) return this.reshape(this.shape);
    return this.reshape(this.shape.filter((_, i) => i !== a));
  }
  /** Reorders axes: output axis i is input axis perm[i]. */
  permute(perm: readonly number[]): Tensor {
    return apply("permute", [this], {
      perm: perm.map((p) => (p < 0 ? p + this.rank : p)),
    });
  }
  /** Swaps two axes (default: the last two). */
  transpose(a = -2, b = -1): Tensor {
    const x = normAxis("transpose", a, this.rank);
    const y = normAxis("transpose", b, this.rank);
    const perm = [...Array(this.rank).keys()];
    [perm[x], perm[y]] = [perm[y], perm[x]];
    return this.permute(perm);
  }
  /** Broadcasts to `shape` (-1 keeps a dimension), copying. */
  expand(shape: readonly number[]): Tensor {
    const off = shape.length - this.rank;
    const s = shape.map((
      d,
      i,
    ) => (d === -1 && i >= off ? this.shape[i - off] : d));
    return apply("expand", [this], { shape: s });
  }
  /** The block starting at `begin` with extent `size` (-1: to the end). */
  slice(begin: readonly number[], size: readonly number[]): Tensor {
    if (begin.length !== this.rank || size.length !== this.rank) {
      throw new Error(
        `slice: begin [${begin}] and size [${size}] must have ${this.rank} entries for ${
          fmt(this.shape)
        }`,
      );
    }
    const sz = size.map((d, i) => (d === -1 ? this.shape[i] - begin[i] : d));
    return apply("slice", [this], { begin: [...begin], size: sz });
  }
  /** `length` entries of `axis` starting at `start` (as torch.narrow). */
  narrow(axis: number, start: number, length: number): Tensor {
    const a = normAxis("narrow", axis, this.rank);
    const begin = this.shape.map((_, i) => (i === a ? start : 0));
    const size = this.shape.map((d, i) => (i === a ? length : d));
    return this.slice(begin, size);
  }
  /**
   * Pads with a constant. `widths[i]` = [before, after] for axis i; fewer
   * entries pad the trailing axes.
   */
  pad(widths: readonly (readonly [number, number])[], value = 0): Tensor {
    if (widths.length > this.rank) {
      throw new Error(
        `pad: ${widths.length} widths for a rank-${this.rank} tensor`,
      );
    }
    const off = this.rank - widths.length;
    const before = this.shape.map((_, i) => (i < off ? 0 : widths[i - off][0]));
    const after = this.shape.map((_, i) => (i < off ? 0 : widths[i - off][1]));
    return padT(this, { before, after, value });
  }
  /** Matrix product (2-D or batched 3-D). */
  matmul(o: Tensor): Tensor {
    return matmulT(this, o, { transA: false, transB: false });
  }
}

// `console.log(t)` and `Deno.inspect(t)` show a summary, not the internal
// storage and tape handles; set on the prototype so the method needs no
// computed class member (and stays out of the documented surface).
Object.defineProperty(Tensor.prototype, Symbol.for("Deno.customInspect"), {
  value(this: Tensor): string {
    return describeTensor(this);
  },
});

/** `pad` primitive. */
export function padT(
  x: Tensor,
  a: { before: readonly number[]; after: readonly number[]; value?: number },
): Tensor {
  return apply("pad", [x], {
    before: a.before,
    after: a.after,
    value: a.value ?? 0,
  });
}
/** `matmul` primitive with transpose flags. */
export function matmulT(a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  return apply("matmul", [a, b], attrs);
}
/** Elementwise select: `a` where cond != 0, else `b`. */
export function whereT(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const ref = typeof a === "number" ? (typeof b === "number" ? cond : b) : a;
  const dtype = typeof a === "number" && typeof b === "number"
    ? "float32"
    : ref.dtype;
  const ta = typeof a === "number"
    ? constant(a, dtype, cond.storage.backend)
    : a;
  const tb = typeof b === "number"
    ? constant(b, dtype, cond.storage.backend)
    : b;
  const r = apply("where", [cond, ta, tb], {});
  if (ta !== a) ta.dispose();
  if (tb !== b) tb.dispose();
  return r;
}
/** `concat` primitive. */
export function concatT(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error("concat: no inputs");
  return apply("concat", xs, { axis: normAxis("concat", axis, xs[0].rank) });
}
/** `conv2d` primitive. */
export function conv2dT(x: Tensor, w: Tensor, a: ConvAttrs): Tensor {
  return apply("conv2d", [x, w], a);
}
/** `convTranspose2d` primitive. */
export function convTranspose2dT(
  y: Tensor,
  w: Tensor,
  a: ConvTransposeAttrs,
): Tensor {
  return apply("convTranspose2d", [y, w], a);
}
/** `conv2dWeightGrad` primitive. */
export function conv2dWeightGradT(
  x: Tensor,
  gy: Tensor,
  a: ConvWeightGradAttrs,
): Tensor {
  return apply("conv2dWeightGrad", [x, gy], a);
}
/** `poolGather` primitive. */
export function poolGatherT(x: Tensor, idx: Tensor, a: PoolAttrs): Tensor {
  return apply("poolGather", [x, idx], a);
}
/** `unpool` primitive. */
export function unpoolT(z: Tensor, idx: Tensor, a: UnpoolAttrs): Tensor {
  return apply("unpool", [z, idx], a);
}
/** `avgPool2d` primitive. */
export function avgPool2dT(x: Tensor, a: AvgPoolAttrs): Tensor {
  return apply("avgPool2d", [x], a);
}
/** `avgPool2dGrad` primitive. */
export function avgPool2dGradT(g: Tensor, a: AvgPoolGradAttrs): Tensor {
  return apply("avgPool2dGrad", [g], a);
}
/** `insNorm` primitive (CNN-F's instance norm over H, W). */
export function insNormT(x: Tensor, a: InsNormAttrs): Tensor {
  return apply("insNorm", [x], a);
}
/**
 * `insNormGrad` primitive: the adjoint of `insNorm` at `x`, applied to `g`
 * zeroed where `gate` (when given) is not positive.
 */
export function insNormGradT(
  g: Tensor,
  x: Tensor,
  a: InsNormAttrs,
  gate?: Tensor,
): Tensor {
  return apply("insNormGrad", gate ? [g, x, gate] : [g, x], a);
}
/** `insNormBiasRelu` primitive: max(insNorm(x) + bias, 0), bias [1, C, 1, 1]. */
export function insNormBiasReluT(
  x: Tensor,
  bias: Tensor,
  a: InsNormAttrs,
): Tensor {
  return apply("insNormBiasRelu", [x, bias], a);
}
