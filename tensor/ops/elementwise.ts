/**
 * Elementwise primitives: one line of CPU code, one WGSL expression and a
 * gradient rule each, expanded into op declarations by `unary`/`binary`.
 * Binary and ternary ops broadcast like NumPy.
 *
 * @module
 */

import {
  elementwiseSource,
  elementwiseUniforms,
} from "../../gpu/shaders/elementwise.ts";
import { grid1d, wgslType } from "../../gpu/shaders/common.ts";
import {
  broadcastShapes,
  broadcastStrides,
  type DType,
  sameShape,
  type Shape,
  sizeOf,
  type TypedArray,
} from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { whereT } from "../tensor.ts";
import type {
  GpuPlan,
  GradCtx,
  KernelArgs,
  OpDef,
  TensorInfo,
} from "./types.ts";

type Fn = (a: number, b: number, c: number, s0: number, s1: number) => number;
type Grad<A> = (g: Tensor, ctx: GradCtx<A>) => (Tensor | null)[];

interface EwSpec<A> {
  arity: 1 | 2 | 3;
  cpu: Fn;
  wgsl: string;
  grad?: Grad<A>;
  saveInputs?: boolean | boolean[];
  saveOutput?: boolean;
  /** Input dtype rule: "float" (all float32), "same" (all equal), "any". */
  inputs?: "float" | "same" | "any" | "where";
  /** Output dtype: fixed, or that of the first input. */
  out?: DType | ((attrs: A) => DType);
  /** Scalar attributes passed to the kernel as s0, s1. */
  scalars?: (attrs: A) => [number, number];
}

/** A compiled CPU loop: inputs, output, output shape, input strides, scalars. */
type Loop = (
  ins: TypedArray[],
  out: TypedArray,
  shape: number[],
  strides: number[][],
  s0: number,
  s1: number,
) => void;

/**
 * Compiles `fn` into a loop specialised for one op. The function's source is
 * inlined into a fresh function, so V8 sees one monomorphic call site per op
 * (a shared loop calling many different closures is several times slower).
 * The loop walks the collapsed output shape with a tight innermost loop,
 * and that loop comes in one variant per pattern of inner strides: each
 * input either contiguous along it (stride 1) or constant along it (stride
 * 0: a scalar, a per-channel value against [N, C, H*W], a per-row value),
 * where the constant is read once per run. Only other strides take the
 * generic strided loop. Every variant applies `fn` to the same operands in
 * the same order, so the results are the same bits.
 */
function compileLoop(fn: Fn, arity: number): Loop {
  const ks = [0, 1, 2].slice(0, arity);
  const pad = arity < 3 ? ", 0".repeat(3 - arity) : "";
  // One inner loop per stride pattern (bit k set: input k has stride 1).
  const variants: string[] = [];
  for (let m = 0; m < 1 << arity; m++) {
    const cond = ks.map((k) => `i${k} === ${(m >> k) & 1}`).join(" && ");
    const consts = ks.filter((k) => !((m >> k) & 1))
      .map((k) => `const v${k} = x${k}[p${k}];`).join(" ");
    const operand = (k: number) => (m >> k) & 1 ? `x${k}[p${k} + j]` : `v${k}`;
    variants.push(`if (${cond}) {
    ${consts}
    for (let j = 0; j < inner; j++) {
      out[o + j] = f(${ks.map(operand).join(", ")}${pad}, s0, s1);
    }
  } else `);
  }
  const body = `
const f = ${fn.toString()};
const [x0, x1, x2] = ins;
const st0 = strides[0] || [], st1 = strides[1] || [], st2 = strides[2] || [];
const rank = shape.length;
const inner = rank ? shape[rank - 1] : 1;
const i0 = rank ? st0[rank - 1] : 0, i1 = rank ? st1[rank - 1] : 0, i2 = rank ? st2[rank - 1] : 0;
const n = out.length;
if (${ks.map((k) => `i${k} === 1`).join(" && ") || "true"} && rank <= 1) {
  for (let i = 0; i < n; i++) out[i] = f(${
    ks.map((k) => `x${k}[i]`).join(", ")
  }${pad}, s0, s1);
  return;
}
const coord = new Array(Math.max(rank - 1, 0)).fill(0);
let o0 = 0, o1 = 0, o2 = 0, o = 0;
const outer = inner ? n / inner : 0;
for (let q = 0; q < outer; q++) {
  const p0 = o0, p1 = o1, p2 = o2;
  ${variants.join("")}{
    let r0 = p0, r1 = p1, r2 = p2;
    for (let j = 0; j < inner; j++) {
      out[o + j] = f(${ks.map((k) => `x${k}[r${k}]`).join(", ")}${pad}, s0, s1);
      r0 += i0; r1 += i1; r2 += i2;
    }
  }
  o += inner;
  for (let d = rank - 2; d >= 0; d--) {
    coord[d]++;
    o0 += st0[d] || 0; o1 += st1[d] || 0; o2 += st2[d] || 0;
    if (coord[d] < shape[d]) break;
    o0 -= (st0[d] || 0) * coord[d]; o1 -= (st1[d] || 0) * coord[d]; o2 -= (st2[d] || 0) * coord[d];
    coord[d] = 0;
  }
}`;
  return new Function(
    "ins",
    "out",
    "shape",
    "strides",
    "s0",
    "s1",
    body,
  ) as Loop;
}

/**
 * Merges adjacent axes that every input walks contiguously (or broadcasts
 * along together), so a bias add over [N, C, H, W] becomes a loop over
 * [N, C, H*W] with a long innermost run.
 */
export function collapseAxes(
  shape: Shape,
  strides: number[][],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outSt: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 &&
      strides.every((st, k) => outSt[k][last] === st[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      strides.forEach((st, k) => (outSt[k][last] = st[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((st, k) => outSt[k].push(st[d]));
    }
  }
  return { shape: outShape, strides: outSt };
}

/** Runs `fn` over broadcast inputs on the CPU (the reference semantics). */
export function cpuBroadcast(
  ins: TypedArray[],
  inShapes: Shape[],
  out: TypedArray,
  outShape: Shape,
  fn: (a: number, b: number, c: number) => number,
): void {
  const st = inShapes.map((s) => broadcastStrides(s, outShape));
  const c = collapseAxes(outShape, st);
  compileLoop(fn as Fn, ins.length)(ins, out, c.shape, c.strides, 0, 0);
}

function checkInputs(
  name: string,
  rule: string,
  inputs: TensorInfo[],
): void {
  const dts = inputs.map((t) => t.dtype);
  if (rule === "float") {
    inputs.forEach((t, i) => {
      if (t.dtype !== "float32") {
        throw new Error(
          `${name}: expected float32 input${
            inputs.length > 1 ? ` ${i}` : ""
          }, got ${t.dtype}`,
        );
      }
    });
  } else if (rule === "same" && dts.some((d) => d !== dts[0])) {
    throw new Error(`${name}: input dtypes differ (${dts.join(" vs ")})`);
  } else if (rule === "where" && dts[1] !== dts[2]) {
    throw new Error(`${name}: value dtypes differ (${dts[1]} vs ${dts[2]})`);
  }
}

function makeOp<A>(name: string, spec: EwSpec<A>): OpDef<A> {
  const rule = spec.inputs ?? "float";
  let loop: Loop | undefined;
  const outDtype = (attrs: A, ins: { dtype: DType }[]): DType =>
    typeof spec.out === "function"
      ? spec.out(attrs)
      : spec.out ?? ins[rule === "where" ? 1 : 0].dtype;
  return {
    infer(inputs, attrs) {
      if (inputs.length !== spec.arity) {
        throw new Error(`${name}: expected ${spec.arity} inputs`);
      }
      checkInputs(name, rule, inputs);
      const shape = spec.arity === 1
        ? inputs[0].shape
        : broadcastShapes(name, ...inputs.map((t) => t.shape));
      return { shape, dtype: outDtype(attrs, inputs) };
    },
    cpu(ins, out, args: KernelArgs<A>) {
      const [s0, s1] = spec.scalars ? spec.scalars(args.attrs) : [0, 0];
      loop ??= compileLoop(spec.cpu, spec.arity);
      const st = args.inShapes.map((s) => broadcastStrides(s, args.outShape));
      const c = collapseAxes(args.outShape, st);
      loop(ins, out, c.shape, c.strides, s0, s1);
    },
    gpu(args) {
      const n = sizeOf(args.outShape);
      const contiguous = args.inShapes.every((s) =>
        sameShape(s, args.outShape)
      );
      const inTypes = args.inDtypes.map(wgslType);
      const outType = wgslType(args.outDtype);
      const key = `ew:${name}:${inTypes.join(",")}>${outType}${
        contiguous ? ":c" : ""
      }`;
      const [s0, s1] = spec.scalars ? spec.scalars(args.attrs) : [0, 0];
      const strides = contiguous
        ? []
        : args.inShapes.map((s) => broadcastStrides(s, args.outShape));
      return [{
        kernel: {
          key,
          source: () =>
            elementwiseSource(inTypes, outType, spec.wgsl, contiguous),
        },
        uniforms: elementwiseUniforms(
          n,
          contiguous ? [] : args.outShape,
          strides,
          s0,
          s1,
          args.inShapes.length,
        ),
        workgroups: grid1d(n),
      }];
    },
    grad: spec.grad,
    saveInputs: spec.saveInputs,
    saveOutput: spec.saveOutput,
  };
}

type NoAttrs = Record<string, never>;

const mask = (cond: string) => `select(0.0, 1.0, ${cond})`;

/** Attributes of `clamp`. */
export interface ClampAttrs {
  /** Lower bound (-Infinity for none). */
  min: number;
  /** Upper bound (Infinity for none). */
  max: number;
}

/** Attributes of `cast`. */
export interface CastAttrs {
  /** Target dtype. */
  dtype: DType;
}

const cmp = (name: string, f: Fn, op: string): OpDef<NoAttrs> =>
  makeOp<NoAttrs>(name, {
    arity: 2,
    inputs: "same",
    out: "float32",
    cpu: f,
    wgsl: mask(`a ${op} b`),
  });

/** The elementwise primitives, keyed by op name. */
export const elementwiseOps = {
  neg: makeOp<NoAttrs>("neg", {
    arity: 1,
    cpu: (a) => -a,
    wgsl: "-a",
    grad: (g) => [g.neg()],
  }),
  exp: makeOp<NoAttrs>("exp", {
    arity: 1,
    cpu: (a) => Math.exp(a),
    wgsl: "exp(a)",
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!)],
  }),
  log: makeOp<NoAttrs>("log", {
    arity: 1,
    cpu: (a) => Math.log(a),
    wgsl: "log(a)",
    saveInputs: true,
    grad: (g, c) => [g.div(c.inputs[0]!)],
  }),
  sqrt: makeOp<NoAttrs>("sqrt", {
    arity: 1,
    cpu: (a) => Math.sqrt(a),
    wgsl: "sqrt(a)",
    saveOutput: true,
    grad: (g, c) => [g.div(c.output!.mul(2))],
  }),
  abs: makeOp<NoAttrs>("abs", {
    arity: 1,
    cpu: (a) => Math.abs(a),
    wgsl: "abs(a)",
    saveInputs: true,
    grad: (g, c) => [g.mul(c.inputs[0]!.sign())],
  }),
  sign: makeOp<NoAttrs>("sign", {
    arity: 1,
    cpu: (a) => (a > 0 ? 1 : a < 0 ? -1 : 0),
    wgsl: "sign(a)",
    grad: () => [null],
  }),
  relu: makeOp<NoAttrs>("relu", {
    arity: 1,
    cpu: (a) => (a > 0 ? a : 0),
    wgsl: "max(a, 0.0)",
    saveInputs: true,
    grad: (g, c) => [g.mul(c.inputs[0]!.gt(0))],
  }),
  sigmoid: makeOp<NoAttrs>("sigmoid", {
    arity: 1,
    cpu: (a) => 1 / (1 + Math.exp(-a)),
    wgsl: "sigmoidf(a)",
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!).mul(c.output!.neg().add(1))],
  }),
  tanh: makeOp<NoAttrs>("tanh", {
    arity: 1,
    cpu: (a) => Math.tanh(a),
    wgsl: "tanhf(a)",
    saveOutput: true,
    grad: (g, c) => [g.mul(c.output!.mul(c.output!).neg().add(1))],
  }),
  sin: makeOp<NoAttrs>("sin", {
    arity: 1,
    cpu: (a) => Math.sin(a),
    wgsl: "sinf(a)",
    saveInputs: true,
    grad: (g, c) => [g.mul(c.inputs[0]!.cos())],
  }),
  cos: makeOp<NoAttrs>("cos", {
    arity: 1,
    cpu: (a) => Math.cos(a),
    wgsl: "cosf(a)",
    saveInputs: true,
    grad: (g, c) => [g.mul(c.inputs[0]!.sin()).neg()],
  }),
  clamp: makeOp<ClampAttrs>("clamp", {
    arity: 1,
    cpu: (a, _b, _c, lo, hi) => Math.min(Math.max(a, lo), hi),
    wgsl: "min(max(a, s0), s1)",
    scalars: (a) => [a.min, a.max],
    saveInputs: true,
    grad: (g, c) => {
      const x = c.inputs[0]!;
      return [g.mul(x.ge(c.attrs.min).mul(x.le(c.attrs.max)))];
    },
  }),
  cast: makeOp<CastAttrs>("cast", {
    arity: 1,
    inputs: "any",
    out: (a) => a.dtype,
    cpu: (a) => a,
    wgsl: "OUT(a)",
  }),
  add: makeOp<NoAttrs>("add", {
    arity: 2,
    cpu: (a, b) => a + b,
    wgsl: "a + b",
    grad: (g) => [g, g],
  }),
  sub: makeOp<NoAttrs>("sub", {
    arity: 2,
    cpu: (a, b) => a - b,
    wgsl: "a - b",
    grad: (g) => [g, g.neg()],
  }),
  mul: makeOp<NoAttrs>("mul", {
    arity: 2,
    cpu: (a, b) => a * b,
    wgsl: "a * b",
    saveInputs: true,
    grad: (g, c) => [
      c.needs[0] ? g.mul(c.inputs[1]!) : null,
      c.needs[1] ? g.mul(c.inputs[0]!) : null,
    ],
  }),
  div: makeOp<NoAttrs>("div", {
    arity: 2,
    cpu: (a, b) => a / b,
    wgsl: "a / b",
    saveInputs: true,
    grad: (g, c) => {
      const [a, b] = [c.inputs[0]!, c.inputs[1]!];
      return [
        c.needs[0] ? g.div(b) : null,
        c.needs[1] ? g.mul(a).div(b.mul(b)).neg() : null,
      ];
    },
  }),
  pow: makeOp<NoAttrs>("pow", {
    arity: 2,
    cpu: (a, b) => Math.pow(a, b),
    wgsl: "powf(a, b)",
    saveInputs: true,
    saveOutput: true,
    grad: (g, c) => {
      const [a, b] = [c.inputs[0]!, c.inputs[1]!];
      return [
        c.needs[0] ? g.mul(b).mul(a.pow(b.sub(1))) : null,
        // d/db a^b = a^b log a; PyTorch defines it as 0 where a == 0.
        c.needs[1]
          ? whereT(a.eq(0), 0, g.mul(c.output!).mul(a.abs().log()))
          : null,
      ];
    },
  }),
  minimum: makeOp<NoAttrs>("minimum", {
    arity: 2,
    cpu: (a, b) => (a < b ? a : b),
    wgsl: "min(a, b)",
    saveInputs: true,
    grad: (g, c) => {
      const [a, b] = [c.inputs[0]!, c.inputs[1]!];
      const wa = a.lt(b).add(a.eq(b).mul(0.5));
      return [g.mul(wa), g.mul(wa.neg().add(1))];
    },
  }),
  maximum: makeOp<NoAttrs>("maximum", {
    arity: 2,
    cpu: (a, b) => (a > b ? a : b),
    wgsl: "max(a, b)",
    saveInputs: true,
    grad: (g, c) => {
      const [a, b] = [c.inputs[0]!, c.inputs[1]!];
      const wa = a.gt(b).add(a.eq(b).mul(0.5));
      return [g.mul(wa), g.mul(wa.neg().add(1))];
    },
  }),
  gt: cmp("gt", (a, b) => Number(a > b), ">"),
  ge: cmp("ge", (a, b) => Number(a >= b), ">="),
  lt: cmp("lt", (a, b) => Number(a < b), "<"),
  le: cmp("le", (a, b) => Number(a <= b), "<="),
  eq: cmp("eq", (a, b) => Number(a === b), "=="),
  ne: cmp("ne", (a, b) => Number(a !== b), "!="),
  where: makeOp<NoAttrs>("where", {
    arity: 3,
    inputs: "where",
    cpu: (c, a, b) => (c !== 0 ? a : b),
    wgsl: "select(c, b, a != A0)",
    saveInputs: [true, false, false],
    grad: (g, c) => {
      const cond = c.inputs[0]!;
      return [null, whereT(cond, g, 0), whereT(cond, 0, g)];
    },
  }),
};

// `cast` and `where` need the concrete WGSL types; patch their expressions.
const castGpu = elementwiseOps.cast.gpu;
elementwiseOps.cast.gpu = (args) =>
  (castGpu(args) as GpuPlan[]).map((p) => ({
    ...p,
    kernel: {
      ...p.kernel,
      source: () =>
        elementwiseSource(
          [wgslType(args.inDtypes[0])],
          wgslType(args.outDtype),
          `${wgslType(args.outDtype)}(a)`,
          p.kernel.key.endsWith(":c"),
        ),
    },
  }));
const whereGpu = elementwiseOps.where.gpu;
elementwiseOps.where.gpu = (args) =>
  (whereGpu(args) as GpuPlan[]).map((p) => ({
    ...p,
    kernel: {
      ...p.kernel,
      source: () =>
        elementwiseSource(
          args.inDtypes.map(wgslType),
          wgslType(args.outDtype),
          `select(c, b, a != ${wgslType(args.inDtypes[0])}(0))`,
          p.kernel.key.endsWith(":c"),
        ),
    },
  }));

/** Names of the elementwise primitives. */
export type ElementwiseOp = keyof typeof elementwiseOps;
