/**
 * Creating tensors: from arrays and typed arrays, constant fills, ranges,
 * and seeded random draws that are identical on every backend.
 *
 * @module
 */

import type { BackendName } from "./backend.ts";
import {
  apply,
  backendObject,
  checkAlloc,
  fromData,
  takeRandom,
} from "./engine.ts";
import {
  checkNonNegInt,
  type DType,
  fmt,
  type Shape,
  sizeOf,
  type TypedArray,
} from "./shape.ts";
import type { NestedArray, Tensor } from "./tensor.ts";

/** Options for creating a tensor. */
export interface CreateOptions {
  /** Element type (default: float32, or int32 for an Int32Array). */
  dtype?: DType;
  /** Backend (default: the one chosen by `init`). */
  backend?: BackendName;
  /** Make a leaf that collects gradients. */
  requiresGrad?: boolean;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] ?? 0;
  }
  return shape;
}

function flattenInto(
  data: NestedArray,
  out: number[],
  shape: number[],
  d: number,
) {
  if (!Array.isArray(data)) {
    if (d !== shape.length) throw new Error("tensor: ragged nested array");
    out.push(data);
    return;
  }
  if (data.length !== shape[d]) throw new Error("tensor: ragged nested array");
  for (const x of data) flattenInto(x, out, shape, d + 1);
}

function checkShape(op: string, shape: Shape): void {
  shape.forEach((d) => checkNonNegInt(op, "dimension", d));
}

function checkDtype(op: string, dtype: unknown): void {
  if (dtype !== undefined && dtype !== "float32" && dtype !== "int32") {
    throw new Error(
      `${op}: unsupported dtype '${dtype}' (float32, int32)`,
    );
  }
}

function make(
  data: TypedArray,
  shape: Shape,
  o: CreateOptions,
  op: string,
): Tensor {
  const t = fromData(data, shape, o.backend, op);
  if (o.requiresGrad) {
    if (t.dtype !== "float32") {
      throw new Error("tensor: only float32 tensors can require grad");
    }
    t.requiresGrad = true;
  }
  return t;
}

/**
 * Creates a tensor from a number, nested arrays or a typed array.
 * @param data Values.
 * @param shape Shape (inferred from nested arrays when omitted).
 * @param options dtype, backend, requiresGrad.
 * @example
 * ```ts
 * import { tensor } from "@cnnf/webgpu/tensor";
 * import assert from "node:assert/strict";
 * const t = tensor([[1, 2], [3, 4]]);
 * assert.deepEqual(t.shape, [2, 2]);
 * ```
 */
export function tensor(
  data: NestedArray | TypedArray | readonly number[],
  shape?: Shape,
  options: CreateOptions = {},
): Tensor {
  checkDtype("tensor", options.dtype);
  let flat: TypedArray;
  let inferred: number[];
  const dtype = options.dtype ??
    (data instanceof Int32Array ? "int32" : "float32");
  if (data instanceof Float32Array || data instanceof Int32Array) {
    flat = data.constructor === (dtype === "int32" ? Int32Array : Float32Array)
      ? data
      : dtype === "int32"
      ? Int32Array.from(data)
      : Float32Array.from(data);
    inferred = [data.length];
  } else {
    inferred = inferShape(data as NestedArray);
    const vals: number[] = [];
    flattenInto(data as NestedArray, vals, inferred, 0);
    flat = dtype === "int32" ? Int32Array.from(vals) : Float32Array.from(vals);
  }
  const s = shape ?? inferred;
  checkShape("tensor", s);
  if (sizeOf(s) !== flat.length) {
    throw new Error(
      `tensor: ${flat.length} values do not fill shape ${fmt(s)} (${
        sizeOf(s)
      } elements)`,
    );
  }
  return make(flat, s, { ...options, dtype }, "tensor");
}

/**
 * A tensor filled with `value`.
 * @example
 * ```ts
 * import { full } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...await full([2], 7).data()], [7, 7]);
 * ```
 */
export function full(
  shape: Shape,
  value: number,
  options: CreateOptions = {},
): Tensor {
  return fill("full", shape, value, options);
}

function fill(
  op: string,
  shape: Shape,
  value: number,
  options: CreateOptions,
): Tensor {
  checkShape(op, shape);
  checkDtype(op, options.dtype);
  const n = sizeOf(shape);
  const dtype = options.dtype ?? "float32";
  // Before the host array: an over-limit size fails at once, naming op.
  checkAlloc(op, dtype, n, options.backend);
  const data = dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
  data.fill(value);
  return make(data, shape, options, op);
}

/**
 * A tensor of zeros.
 * @example
 * ```ts
 * import { zeros } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const z = zeros([2, 3], { dtype: "int32" });
 * assert.deepEqual([z.dtype, z.shape], ["int32", [2, 3]]);
 * ```
 */
export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return fill("zeros", shape, 0, options);
}

/**
 * A tensor of ones.
 * @example
 * ```ts
 * import { ones } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.equal(await ones([4]).sum().item(), 4);
 * ```
 */
export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return fill("ones", shape, 1, options);
}

/**
 * A zero tensor shaped like `t` on its backend.
 * @example
 * ```ts
 * import { tensor, zerosLike } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const z = zerosLike(tensor([[1, 2]]));
 * assert.deepEqual(await z.toArray(), [[0, 0]]);
 * ```
 */
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, { dtype: t.dtype, backend: t.backend });
}

/**
 * start, start+step, ... below end (int32 when all arguments are integers).
 * @example
 * ```ts
 * import { arange } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...await arange(5).data()], [0, 1, 2, 3, 4]);
 * assert.equal(arange(0, 1, 0.25).dtype, "float32");
 * ```
 */
export function arange(
  start: number,
  end?: number,
  step = 1,
  options: CreateOptions = {},
): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error("arange: step must be non-zero");
  checkDtype("arange", options.dtype);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const ints = [start, end, step].every(Number.isInteger);
  const dtype = options.dtype ?? (ints ? "int32" : "float32");
  const data = dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return make(data, [n], { ...options, dtype }, "arange");
}

function draw(
  kind: "uniform" | "normal",
  shape: Shape,
  o: CreateOptions,
): Tensor {
  checkShape(kind === "uniform" ? "rand" : "randn", shape);
  const { seed, offset } = takeRandom(sizeOf(shape));
  const t = apply("random", [], { kind, shape, seed, offset });
  if (o.backend && t.backend !== o.backend) {
    t.dispose();
    throw new Error(
      `rand: backend '${o.backend}' is not the default; call init()`,
    );
  }
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

/**
 * Uniform [0, 1) draws from the global seeded stream.
 * @example
 * ```ts
 * import { init, rand } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 1 });
 * const u = await rand([100]).data();
 * assert.ok(u.every((v) => v >= 0 && v < 1));
 * ```
 */
export function rand(shape: Shape, options: CreateOptions = {}): Tensor {
  return draw("uniform", shape, options);
}

/**
 * Standard normal draws from the global seeded stream.
 * @example
 * ```ts
 * import { init, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 1 });
 * const a = await randn([3]).data();
 * await init({ backend: "cpu", seed: 1 });
 * assert.deepEqual(await randn([3]).data(), a); // same seed, same draw
 * ```
 */
export function randn(shape: Shape, options: CreateOptions = {}): Tensor {
  return draw("normal", shape, options);
}

/**
 * 1 with probability `p` (a number or a tensor of probabilities), else 0.
 * @example
 * ```ts
 * import { bernoulli, init } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const m = await bernoulli(0.5, [1000]).data();
 * const ones = [...m].reduce((s, v) => s + v, 0);
 * assert.ok(ones > 400 && ones < 600);
 * ```
 */
export function bernoulli(p: number | Tensor, shape?: Shape): Tensor {
  const s = typeof p === "number" ? shape : p.shape;
  if (!s) throw new Error("bernoulli: shape is required with a scalar p");
  if (typeof p === "number" && (p < 0 || p > 1)) {
    throw new Error(`bernoulli: p must be in [0, 1], got ${p}`);
  }
  const u = rand(s);
  const r = u.lt(p);
  u.dispose();
  return r;
}

/**
 * A random draw at an explicit stream position (reproducible anywhere).
 * @example
 * ```ts
 * import { randomAt } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * // The same stream position gives the same draw, whatever came before.
 * const a = await randomAt("normal", [4], 9, 100).data();
 * assert.deepEqual(await randomAt("normal", [4], 9, 100).data(), a);
 * ```
 */
export function randomAt(
  kind: "uniform" | "normal",
  shape: Shape,
  seed: number,
  offset: number,
  backend?: BackendName,
): Tensor {
  checkShape("random", shape);
  return apply(
    "random",
    [],
    { kind, shape, seed, offset },
    backendObject(backend),
  );
}
