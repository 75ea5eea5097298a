/**
 * Shapes, strides and broadcasting rules shared by every op and backend.
 *
 * @module
 */

/** A tensor's shape: one non-negative integer per axis. */
export type Shape = readonly number[];

/** Element type: float32 for values, int32 for labels and indices. */
export type DType = "float32" | "int32";

/** The typed array backing a dtype. */
export type TypedArray = Float32Array | Int32Array;

/** Largest rank the kernels support. */
export const MAX_RANK = 8;

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Formats a shape as `[2, 3]` for error messages. */
export function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Whether two shapes are equal. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * NumPy/PyTorch broadcast of several shapes.
 * @throws {Error} naming the op and the shapes when they do not broadcast.
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new Error(
          `${op}: shapes ${shapes.map(fmt).join(" and ")} do not broadcast`,
        );
      }
    }
  }
  return out;
}

/**
 * Strides for reading `shape` as if broadcast to `target`: 0 on broadcast
 * axes, padded on the left to the target's rank.
 */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  const off = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    out[off + i] = shape[i] === 1 && target[off + i] !== 1 ? 0 : own[i];
  }
  return out;
}

/** Normalises a possibly negative axis; throws naming the op when invalid. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** Normalises a list of axes (undefined = all), sorted and de-duplicated. */
export function normAxes(
  op: string,
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === "number" ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(op, a, rank)))];
  return out.sort((x, y) => x - y);
}

/** Checks that a value is a non-negative integer, naming the op and field. */
export function checkNonNegInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new Error(`${op}: ${name} must be a non-negative integer, got ${v}`);
  }
}

/** Checks that a value is a positive integer, naming the op and field. */
export function checkPosInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`${op}: ${name} must be a positive integer, got ${v}`);
  }
}

/** Allocates a typed array of the dtype. */
export function allocTyped(dtype: DType, n: number): TypedArray {
  return dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
}
