/**
 * The shape of a primitive op declaration. Each primitive is declared once:
 * shape rule and validation, CPU reference kernel, WebGPU plan, gradient rule
 * written with tensor ops, and what the tape must keep for that rule.
 *
 * @module
 */

import type { KernelSpec } from "../../gpu/runtime.ts";
import type { DType, Shape, TypedArray } from "../shape.ts";
import type { Tensor } from "../tensor.ts";

/** Shape and dtype of an op input, as the shape rule sees it. */
export interface TensorInfo {
  /** Shape of the input. */
  readonly shape: Shape;
  /** Dtype of the input. */
  readonly dtype: DType;
}

/** Everything a kernel needs besides the data. */
export interface KernelArgs<A> {
  /** Input shapes. */
  inShapes: Shape[];
  /** Input dtypes. */
  inDtypes: DType[];
  /** Output shape. */
  outShape: Shape;
  /** Output dtype. */
  outDtype: DType;
  /** Op attributes. */
  attrs: A;
}

/** One GPU dispatch of an op: kernel, uniforms, grid, bound inputs. */
export interface GpuPlan {
  /** The kernel. */
  kernel: KernelSpec;
  /** Uniform block contents. */
  uniforms?: ArrayBuffer;
  /** Workgroup counts. */
  workgroups: [number, number, number];
  /** Indices of the inputs to bind (default: all), before the output. */
  bind?: number[];
  /**
   * Exact buffer list, overriding `bind`: input indices, "out", or
   * `{ scratch: k }` for the k-th scratch buffer of the program.
   */
  buffers?: (number | "out" | { scratch: number })[];
}

/**
 * Several dispatches sharing temporary buffers (e.g. split-K partial sums):
 * `scratch` gives each buffer's size in 4-byte elements; they come from the
 * pool and return to it after the last dispatch.
 */
export interface GpuProgram {
  /** Scratch buffer sizes (elements). */
  scratch: number[];
  /** Dispatches in order. */
  plans: GpuPlan[];
}

/** What a gradient rule receives. */
export interface GradCtx<A> {
  /** Saved inputs (undefined for those the op does not save). */
  inputs: (Tensor | undefined)[];
  /** Saved output, when the op saves it. */
  output: Tensor | undefined;
  /** Input shapes. */
  inShapes: Shape[];
  /** Input dtypes. */
  inDtypes: DType[];
  /** Which inputs need a gradient. */
  needs: boolean[];
  /** Op attributes. */
  attrs: A;
}

/** A primitive op. */
export interface OpDef<A = Record<string, never>> {
  /** Shape rule: validates inputs and attributes, returns the output. */
  infer(inputs: TensorInfo[], attrs: A): { shape: Shape; dtype: DType };
  /** CPU reference kernel; `out` is zero-filled. */
  cpu(inputs: TypedArray[], out: TypedArray, args: KernelArgs<A>): void;
  /** WebGPU dispatches (a program when they need scratch buffers). */
  gpu(args: KernelArgs<A>): GpuPlan[] | GpuProgram;
  /**
   * Gradient rule: one entry per input (null when none). Returned gradients
   * may have a broadcast shape; the engine sums them back to the input's.
   * Absent for non-differentiable ops.
   */
  grad?: (g: Tensor, ctx: GradCtx<A>) => (Tensor | null)[];
  /** Inputs the gradient rule reads (true = all). */
  saveInputs?: boolean | boolean[];
  /** Whether the gradient rule reads the output. */
  saveOutput?: boolean;
}
