/**
 * Reduction primitives over a set of axes: sum, max, min (float32) and
 * argmax, argmin (one axis, int32 result). Keeping dimensions is a reshape
 * done by the caller.
 *
 * @module
 */

import { packUniforms } from "../../gpu/shaders/common.ts";
import {
  REDUCE_MAX_COUNT,
  REDUCE_WG,
  type ReduceMode,
  reduceSource,
} from "../../gpu/shaders/reduce.ts";
import { grid2d } from "../../gpu/shaders/common.ts";
import { fmt, MAX_RANK, type Shape, sizeOf, stridesOf } from "../shape.ts";
import type { GpuPlan, KernelArgs, OpDef, TensorInfo } from "./types.ts";

/** Attributes of a reduction: sorted, distinct, non-negative axes. */
export interface ReduceAttrs {
  /** Axes to reduce. */
  axes: readonly number[];
}

interface Split {
  keptShape: number[];
  keptStrides: number[];
  redShape: number[];
  redStrides: number[];
}

function split(shape: Shape, axes: readonly number[]): Split {
  const st = stridesOf(shape);
  const s: Split = {
    keptShape: [],
    keptStrides: [],
    redShape: [],
    redStrides: [],
  };
  shape.forEach((d, i) => {
    if (axes.includes(i)) {
      s.redShape.push(d);
      s.redStrides.push(st[i]);
    } else {
      s.keptShape.push(d);
      s.keptStrides.push(st[i]);
    }
  });
  return s;
}

function infer(
  mode: ReduceMode,
  inputs: TensorInfo[],
  a: ReduceAttrs,
): { shape: Shape; dtype: "float32" | "int32" } {
  const x = inputs[0];
  if (x.dtype !== "float32") {
    throw new Error(`${mode}: expected float32 input, got ${x.dtype}`);
  }
  if (x.shape.length > MAX_RANK) {
    throw new Error(`${mode}: rank ${x.shape.length} exceeds ${MAX_RANK}`);
  }
  for (const ax of a.axes) {
    if (!Number.isInteger(ax) || ax < 0 || ax >= x.shape.length) {
      throw new Error(
        `${mode}: axis ${ax} out of range for input ${fmt(x.shape)}`,
      );
    }
    if (mode !== "sum" && x.shape[ax] === 0) {
      throw new Error(
        `${mode}: cannot reduce empty axis ${ax} of ${fmt(x.shape)}`,
      );
    }
  }
  const count = a.axes.reduce((n, ax) => n * x.shape[ax], 1);
  if (count > REDUCE_MAX_COUNT) {
    throw new Error(
      `${mode}: reducing ${count} elements into one output exceeds the kernel limit of ${REDUCE_MAX_COUNT}; reduce in stages`,
    );
  }
  const arg = mode === "argmax" || mode === "argmin";
  if (arg && a.axes.length !== 1) {
    throw new Error(`${mode}: needs exactly one axis, got ${fmt(a.axes)}`);
  }
  return {
    shape: x.shape.filter((_, i) => !a.axes.includes(i)),
    dtype: arg ? "int32" : "float32",
  };
}

function cpu(
  mode: ReduceMode,
  x: ArrayLike<number>,
  out: { [i: number]: number },
  args: KernelArgs<ReduceAttrs>,
): void {
  const s = split(args.inShapes[0], args.attrs.axes);
  const nOut = sizeOf(s.keptShape);
  const nRed = sizeOf(s.redShape);
  // The reduced axes often end in a trailing block (a full sum, a row max,
  // the H, W of an [N, C, H, W] or the N, H, W of a bias gradient): the
  // elements of that block are one contiguous run of `run` values, and only
  // the reduced axes before it need an offset table. The order of visits is
  // the row-major order of the reduced axes either way.
  const axes = args.attrs.axes;
  const rank = args.inShapes[0].length;
  let tail = 0;
  while (
    tail < axes.length && axes[axes.length - 1 - tail] === rank - 1 - tail
  ) tail++;
  const run = sizeOf(s.redShape.slice(s.redShape.length - tail));
  const nHead = run ? nRed / run : 0;
  const headShape = s.redShape.slice(0, s.redShape.length - tail);
  const headStrides = s.redStrides.slice(0, s.redShape.length - tail);
  const redOff = new Int32Array(nHead);
  const rc = new Array<number>(headShape.length).fill(0);
  for (let r = 0; r < nHead; r++) {
    let off = 0;
    rc.forEach((c, d) => (off += c * headStrides[d]));
    redOff[r] = off;
    for (let d = rc.length - 1; d >= 0; d--) {
      if (++rc[d] < headShape[d]) break;
      rc[d] = 0;
    }
  }
  const kc = new Array<number>(s.keptShape.length).fill(0);
  const sign = mode === "max" || mode === "argmax" ? 1 : -1;
  for (let o = 0; o < nOut; o++) {
    let base = 0;
    kc.forEach((c, d) => (base += c * s.keptStrides[d]));
    if (mode === "sum") {
      let acc = 0;
      if (run === 1) {
        for (let h = 0; h < nHead; h++) acc += x[base + redOff[h]];
      } else {for (let h = 0; h < nHead; h++) {
          const p = base + redOff[h];
          for (let j = 0; j < run; j++) acc += x[p + j];
        }}
      out[o] = acc;
    } else {
      let best = -Infinity;
      let idx = -1;
      for (let h = 0, r = 0; h < nHead; h++) {
        const p = base + redOff[h];
        for (let j = 0; j < run; j++, r++) {
          const v = sign * x[p + j];
          if (v > best || (idx < 0 && v === v)) {
            best = v;
            idx = r;
          }
        }
      }
      out[o] = mode === "max" || mode === "min"
        ? sign * best
        : Math.max(idx, 0);
    }
    for (let d = kc.length - 1; d >= 0; d--) {
      if (++kc[d] < s.keptShape[d]) break;
      kc[d] = 0;
    }
  }
}

function gpu(mode: ReduceMode, args: KernelArgs<ReduceAttrs>): GpuPlan[] {
  const s = split(args.inShapes[0], args.attrs.axes);
  const nOut = sizeOf(s.keptShape);
  const words = new Array<number>(37).fill(0);
  words[0] = nOut;
  words[1] = s.keptShape.length;
  words[2] = s.redShape.length;
  words[3] = sizeOf(s.redShape);
  const put = (base: number, v: number[]) =>
    v.forEach((x, i) => (words[base + i] = x));
  put(4, s.keptShape);
  put(12, s.keptStrides);
  put(20, s.redShape);
  put(28, s.redStrides);
  // Identity of max/min, where every reduced value is NaN (as the CPU).
  words[36] = mode === "min" || mode === "argmin" ? Infinity : -Infinity;
  return [{
    kernel: {
      key: `reduce:${mode}:wg${REDUCE_WG}`,
      source: () => reduceSource(mode),
    },
    uniforms: packUniforms(words, new Set([36])),
    workgroups: grid2d(nOut),
  }];
}

function make(mode: ReduceMode): OpDef<ReduceAttrs> {
  return {
    infer: (inputs, a) => infer(mode, inputs, a),
    cpu: (ins, out, args) => cpu(mode, ins[0], out, args),
    gpu: (args) => gpu(mode, args),
  };
}

const keepShape = (shape: Shape, axes: readonly number[]) =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d));

const extremumGrad: OpDef<ReduceAttrs>["grad"] = (g, c) => {
  // Ties share the gradient equally (as torch.amax / torch.amin do).
  const x = c.inputs[0]!;
  const ks = keepShape(c.inShapes[0], c.attrs.axes);
  const y = c.output!.reshape(ks);
  const m = x.eq(y);
  const count = m.sum(c.attrs.axes, true);
  return [m.div(count).mul(g.reshape(ks))];
};

/** The reduction primitives, keyed by op name. */
export const reduceOps = {
  sum: {
    ...make("sum"),
    grad: (g, c) => [
      g.reshape(keepShape(c.inShapes[0], c.attrs.axes)).expand(c.inShapes[0]),
    ],
  } as OpDef<ReduceAttrs>,
  max: {
    ...make("max"),
    saveInputs: true,
    saveOutput: true,
    grad: extremumGrad,
  } as OpDef<ReduceAttrs>,
  min: {
    ...make("min"),
    saveInputs: true,
    saveOutput: true,
    grad: extremumGrad,
  } as OpDef<ReduceAttrs>,
  argmax: make("argmax"),
  argmin: make("argmin"),
};
