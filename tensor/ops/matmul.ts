/**
 * Matrix multiplication: 2-D or batched 3-D, with optional transposed
 * operands so gradients need no transposing copies.
 *
 * @module
 */

import { fmt, type Shape } from "../shape.ts";
import { matmulT } from "../tensor.ts";
import type { KernelArgs, OpDef, TensorInfo } from "./types.ts";
import { matmulCpu, matmulGpu } from "./matmul_kernels.ts";

/** Attributes of `matmul`. */
export interface MatmulAttrs {
  /** Use the first operand transposed (its last two axes swapped). */
  transA: boolean;
  /** Use the second operand transposed. */
  transB: boolean;
}

/** Problem dimensions of a matmul, after transposes and broadcasting. */
export interface MatmulDims {
  /** Batch count of the output (1 for 2-D). */
  batch: number;
  /** Rows of the output. */
  m: number;
  /** Columns of the output. */
  n: number;
  /** Reduction length. */
  k: number;
  /** Whether the first operand has a batch axis (else shared). */
  aBatched: boolean;
  /** Whether the second operand has a batch axis (else shared). */
  bBatched: boolean;
}

/** Computes (and validates) the dimensions of a matmul. */
export function matmulDims(
  a: Shape,
  b: Shape,
  attrs: MatmulAttrs,
): MatmulDims {
  const ok = (s: Shape) => s.length === 2 || s.length === 3;
  if (!ok(a) || !ok(b)) {
    throw new Error(
      `matmul: operands must be 2-D or 3-D, got ${fmt(a)} and ${fmt(b)}`,
    );
  }
  const [ar, ac] = a.slice(-2);
  const [br, bc] = b.slice(-2);
  const [m, ka] = attrs.transA ? [ac, ar] : [ar, ac];
  const [kb, n] = attrs.transB ? [bc, br] : [br, bc];
  if (ka !== kb) {
    throw new Error(
      `matmul: inner dimensions differ: ${fmt(a)}${attrs.transA ? "ᵀ" : ""} @ ${
        fmt(b)
      }${attrs.transB ? "ᵀ" : ""} (${ka} vs ${kb})`,
    );
  }
  const ba = a.length === 3 ? a[0] : 1;
  const bb = b.length === 3 ? b[0] : 1;
  if (a.length === 3 && b.length === 3 && ba !== bb) {
    throw new Error(
      `matmul: batch sizes differ: ${fmt(a)} @ ${fmt(b)} (${ba} vs ${bb})`,
    );
  }
  return {
    batch: Math.max(ba, bb),
    m,
    n,
    k: ka,
    aBatched: a.length === 3,
    bBatched: b.length === 3,
  };
}

function infer(inputs: TensorInfo[], attrs: MatmulAttrs) {
  if (inputs.length !== 2) throw new Error("matmul: expected two inputs");
  const [a, b] = inputs;
  for (const t of inputs) {
    if (t.dtype !== "float32") {
      throw new Error(`matmul: expected float32 operands, got ${t.dtype}`);
    }
  }
  const d = matmulDims(a.shape, b.shape, attrs);
  const shape = a.shape.length === 3 || b.shape.length === 3
    ? [d.batch, d.m, d.n]
    : [d.m, d.n];
  return { shape, dtype: "float32" as const };
}

/** The matmul primitive, keyed by op name. */
export const matmulOps = {
  matmul: {
    infer,
    cpu: (ins, out, args: KernelArgs<MatmulAttrs>) =>
      matmulCpu(
        ins[0] as Float32Array,
        ins[1] as Float32Array,
        out as Float32Array,
        args,
      ),
    gpu: (args) => matmulGpu(args),
    saveInputs: true,
    grad: (g, c) => {
      const [a, b] = [c.inputs[0]!, c.inputs[1]!];
      const { transA, transB } = c.attrs;
      // C = op(A) op(B). dop(A) = G op(B)^T, dop(B) = op(A)^T G.
      let ga = null;
      let gb = null;
      if (c.needs[0]) {
        ga = transA
          ? matmulT(b, g, { transA: transB, transB: true })
          : matmulT(g, b, { transA: false, transB: !transB });
      }
      if (c.needs[1]) {
        gb = transB
          ? matmulT(g, a, { transA: true, transB: transA })
          : matmulT(a, g, { transA: !transA, transB: false });
      }
      return [ga, gb];
    },
  } as OpDef<MatmulAttrs>,
};
