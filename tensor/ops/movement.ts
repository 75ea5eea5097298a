/**
 * Movement primitives: reshape (a view), permute, expand, slice, pad and
 * concat. All but reshape lower to one strided-copy kernel; their gradients
 * are each other (slice and pad, expand and sum).
 *
 * @module
 */

import {
  copyCpu,
  type CopyGeometry,
  copySource,
  copyUniforms,
} from "../../gpu/shaders/copy.ts";
import { grid1d, wgslType } from "../../gpu/shaders/common.ts";
import {
  broadcastStrides,
  checkNonNegInt,
  type DType,
  fmt,
  MAX_RANK,
  type Shape,
  sizeOf,
  stridesOf,
  type TypedArray,
} from "../shape.ts";
import { collapseAxes } from "./elementwise.ts";
import type { GpuPlan, OpDef, TensorInfo } from "./types.ts";
import { padT } from "../tensor.ts";

/**
 * Expand as runs when the collapsed broadcast is at most [rows, len]: each
 * row a `fill` (the input repeats along the run, e.g. [N, C, 1, 1] to
 * [N, C, H, W], the gradient of a spatial mean) or a `set` (the input is
 * contiguous along it). Several times faster than the general strided copy
 * on such short rows. Returns false for other patterns.
 */
function expandRuns(
  src: TypedArray,
  out: TypedArray,
  inShape: Shape,
  outShape: Shape,
): boolean {
  const c = collapseAxes(outShape, [broadcastStrides(inShape, outShape)]);
  const [st] = c.strides;
  if (c.shape.length === 0) {
    out.fill(src[0]);
    return true;
  }
  if (c.shape.length > 2) return false;
  const [rows, len] = c.shape.length === 2 ? c.shape : [1, c.shape[0]];
  const [s0, s1] = c.shape.length === 2 ? st : [0, st[0]];
  if (s1 === 0) {
    for (let r = 0, o = 0; r < rows; r++, o += len) {
      out.fill(src[r * s0], o, o + len);
    }
    return true;
  }
  if (s1 === 1) {
    for (let r = 0, o = 0; r < rows; r++, o += len) {
      const a = r * s0;
      out.set(src.subarray(a, a + len), o);
    }
    return true;
  }
  return false;
}

function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) {
    throw new Error(`${op}: rank ${shape.length} exceeds ${MAX_RANK}`);
  }
}

function copyPlan(dtype: DType, g: CopyGeometry, bind?: number[]): GpuPlan {
  const t = wgslType(dtype);
  return {
    kernel: { key: `copy:${t}`, source: () => copySource(t) },
    uniforms: copyUniforms(g),
    workgroups: grid1d(g.region.reduce((a, b) => a * b, 1)),
    bind,
  };
}

function oneInput(op: string, inputs: TensorInfo[]): TensorInfo {
  if (inputs.length !== 1) throw new Error(`${op}: expected one input`);
  checkRank(op, inputs[0].shape);
  return inputs[0];
}

/** Attributes of `reshape`. */
export interface ReshapeAttrs {
  /** New shape (same element count). */
  shape: Shape;
}
/** Attributes of `permute`. */
export interface PermuteAttrs {
  /** Output axis i is input axis perm[i]. */
  perm: readonly number[];
}
/** Attributes of `expand`. */
export interface ExpandAttrs {
  /** Target shape (broadcast-compatible). */
  shape: Shape;
}
/** Attributes of `slice`. */
export interface SliceAttrs {
  /** Start per axis. */
  begin: readonly number[];
  /** Extent per axis. */
  size: readonly number[];
}
/** Attributes of `pad`. */
export interface PadAttrs {
  /** Elements added before each axis. */
  before: readonly number[];
  /** Elements added after each axis. */
  after: readonly number[];
  /** Fill value. */
  value: number;
}
/** Attributes of `concat`. */
export interface ConcatAttrs {
  /** Axis to join along. */
  axis: number;
}

const geomPermute = (inShape: Shape, perm: readonly number[]) => {
  const st = stridesOf(inShape);
  const out = perm.map((p) => inShape[p]);
  return {
    region: out,
    srcShape: out,
    srcOffset: out.map(() => 0),
    srcStrides: perm.map((p) => st[p]),
    dstOffset: out.map(() => 0),
    dstStrides: stridesOf(out),
    padValue: 0,
  };
};

const geomExpand = (inShape: Shape, out: Shape): CopyGeometry => ({
  region: out,
  srcShape: out,
  srcOffset: out.map(() => 0),
  srcStrides: broadcastStrides(inShape, out),
  dstOffset: out.map(() => 0),
  dstStrides: stridesOf(out),
  padValue: 0,
});

const geomSlice = (inShape: Shape, a: SliceAttrs): CopyGeometry => ({
  region: a.size,
  srcShape: inShape,
  srcOffset: a.begin,
  srcStrides: stridesOf(inShape),
  dstOffset: a.size.map(() => 0),
  dstStrides: stridesOf(a.size),
  padValue: 0,
});

const geomPad = (inShape: Shape, out: Shape, a: PadAttrs): CopyGeometry => ({
  region: out,
  srcShape: inShape,
  srcOffset: a.before.map((b) => -b),
  srcStrides: stridesOf(inShape),
  dstOffset: out.map(() => 0),
  dstStrides: stridesOf(out),
  padValue: a.value,
});

function geomConcat(ins: Shape[], out: Shape, axis: number): CopyGeometry[] {
  let off = 0;
  return ins.map((s) => {
    const g: CopyGeometry = {
      region: s,
      srcShape: s,
      srcOffset: s.map(() => 0),
      srcStrides: stridesOf(s),
      dstOffset: s.map((_, d) => (d === axis ? off : 0)),
      dstStrides: stridesOf(out),
      padValue: 0,
    };
    off += s[axis];
    return g;
  });
}

/** The movement primitives, keyed by op name. */
export const movementOps = {
  reshape: {
    infer(inputs, a) {
      const x = oneInput("reshape", inputs);
      checkRank("reshape", a.shape);
      a.shape.forEach((d) => checkNonNegInt("reshape", "dimension", d));
      if (sizeOf(a.shape) !== sizeOf(x.shape)) {
        throw new Error(
          `reshape: cannot reshape ${fmt(x.shape)} (${
            sizeOf(x.shape)
          } elements) to ${fmt(a.shape)} (${sizeOf(a.shape)} elements)`,
        );
      }
      return { shape: a.shape, dtype: x.dtype };
    },
    cpu(ins, out) {
      out.set(ins[0]);
    },
    gpu(args) {
      const n = sizeOf(args.outShape);
      return [copyPlan(args.outDtype, geomExpand([n], [n]))];
    },
    grad: (g, c) => [g.reshape(c.inShapes[0])],
  } as OpDef<ReshapeAttrs>,
  permute: {
    infer(inputs, a) {
      const x = oneInput("permute", inputs);
      const r = x.shape.length;
      const ok = a.perm.length === r &&
        [...a.perm].sort((p, q) => p - q).every((p, i) => p === i);
      if (!ok) {
        throw new Error(
          `permute: [${a.perm.join(", ")}] is not a permutation of ${r} axes`,
        );
      }
      return { shape: a.perm.map((p) => x.shape[p]), dtype: x.dtype };
    },
    cpu(ins, out, args) {
      copyCpu(ins[0], out, geomPermute(args.inShapes[0], args.attrs.perm));
    },
    gpu: (args) => [
      copyPlan(args.outDtype, geomPermute(args.inShapes[0], args.attrs.perm)),
    ],
    grad: (g, c) => {
      const inv = new Array<number>(c.attrs.perm.length);
      c.attrs.perm.forEach((p, i) => (inv[p] = i));
      return [g.permute(inv)];
    },
  } as OpDef<PermuteAttrs>,
  expand: {
    infer(inputs, a) {
      const x = oneInput("expand", inputs);
      checkRank("expand", a.shape);
      const off = a.shape.length - x.shape.length;
      const bad = off < 0 ||
        x.shape.some((d, i) => d !== 1 && d !== a.shape[off + i]);
      if (bad) {
        throw new Error(
          `expand: cannot expand ${fmt(x.shape)} to ${fmt(a.shape)}`,
        );
      }
      return { shape: a.shape, dtype: x.dtype };
    },
    cpu(ins, out, args) {
      if (!expandRuns(ins[0], out, args.inShapes[0], args.outShape)) {
        copyCpu(ins[0], out, geomExpand(args.inShapes[0], args.outShape));
      }
    },
    gpu: (args) => [
      copyPlan(args.outDtype, geomExpand(args.inShapes[0], args.outShape)),
    ],
    grad: (g, c) => [g.sumTo(c.inShapes[0])],
  } as OpDef<ExpandAttrs>,
  slice: {
    infer(inputs, a) {
      const x = oneInput("slice", inputs);
      const r = x.shape.length;
      if (a.begin.length !== r || a.size.length !== r) {
        throw new Error(
          `slice: begin ${fmt(a.begin)} and size ${
            fmt(a.size)
          } must have ${r} entries for input ${fmt(x.shape)}`,
        );
      }
      x.shape.forEach((d, i) => {
        checkNonNegInt("slice", "begin", a.begin[i]);
        checkNonNegInt("slice", "size", a.size[i]);
        if (a.begin[i] + a.size[i] > d) {
          throw new Error(
            `slice: range ${a.begin[i]}..${
              a.begin[i] + a.size[i]
            } exceeds axis ${i} of ${fmt(x.shape)}`,
          );
        }
      });
      return { shape: [...a.size], dtype: x.dtype };
    },
    cpu(ins, out, args) {
      copyCpu(ins[0], out, geomSlice(args.inShapes[0], args.attrs));
    },
    gpu: (args) => [
      copyPlan(args.outDtype, geomSlice(args.inShapes[0], args.attrs)),
    ],
    grad: (g, c) => {
      const s = c.inShapes[0];
      const a = c.attrs;
      return [
        padT(g, {
          before: a.begin,
          after: s.map((d, i) => d - a.begin[i] - a.size[i]),
        }),
      ];
    },
  } as OpDef<SliceAttrs>,
  pad: {
    infer(inputs, a) {
      const x = oneInput("pad", inputs);
      const r = x.shape.length;
      if (a.before.length !== r || a.after.length !== r) {
        throw new Error(
          `pad: need ${r} before/after entries for ${fmt(x.shape)}`,
        );
      }
      a.before.forEach((v) => checkNonNegInt("pad", "padding", v));
      a.after.forEach((v) => checkNonNegInt("pad", "padding", v));
      return {
        shape: x.shape.map((d, i) => d + a.before[i] + a.after[i]),
        dtype: x.dtype,
      };
    },
    cpu(ins, out, args) {
      copyCpu(
        ins[0],
        out,
        geomPad(args.inShapes[0], args.outShape, args.attrs),
      );
    },
    gpu: (args) => [
      copyPlan(
        args.outDtype,
        geomPad(args.inShapes[0], args.outShape, args.attrs),
      ),
    ],
    grad: (g, c) => [g.slice(c.attrs.before, c.inShapes[0])],
  } as OpDef<PadAttrs>,
  concat: {
    infer(inputs, a) {
      if (inputs.length === 0) throw new Error("concat: no inputs");
      const first = inputs[0];
      checkRank("concat", first.shape);
      const r = first.shape.length;
      if (!Number.isInteger(a.axis) || a.axis < 0 || a.axis >= r) {
        throw new Error(`concat: axis ${a.axis} out of range for rank ${r}`);
      }
      let total = 0;
      for (const t of inputs) {
        const ok = t.shape.length === r &&
          t.shape.every((d, i) => i === a.axis || d === first.shape[i]);
        if (!ok) {
          throw new Error(
            `concat: shapes ${
              inputs.map((s) => fmt(s.shape)).join(", ")
            } differ outside axis ${a.axis}`,
          );
        }
        if (t.dtype !== first.dtype) {
          throw new Error(
            `concat: dtypes differ (${t.dtype} vs ${first.dtype})`,
          );
        }
        total += t.shape[a.axis];
      }
      const shape = [...first.shape];
      shape[a.axis] = total;
      return { shape, dtype: first.dtype };
    },
    cpu(ins, out, args) {
      const gs = geomConcat(args.inShapes, args.outShape, args.attrs.axis);
      gs.forEach((g, i) => copyCpu(ins[i], out, g));
    },
    gpu: (args) =>
      geomConcat(args.inShapes, args.outShape, args.attrs.axis)
        .map((g, i) => ({ g, i }))
        .filter(({ g }) => sizeOf(g.region) > 0)
        .map(({ g, i }) => copyPlan(args.outDtype, g, [i])),
    grad: (g, c) => {
      let off = 0;
      return c.inShapes.map((s, i) => {
        const begin = s.map((_, d) => (d === c.attrs.axis ? off : 0));
        off += s[c.attrs.axis];
        return c.needs[i] ? g.slice(begin, s) : null;
      });
    },
  } as OpDef<ConcatAttrs>,
};
