/**
 * How a tensor prints (`console.log(t)`, `Deno.inspect(t)`, `String(t)`):
 * dtype, shape and backend, and a value preview only when the values are
 * already on the host (the CPU backend). Printing never reads a GPU buffer
 * back: that would be a hidden synchronisation, and `await t.data()` says
 * where one happens.
 *
 * @module
 */

import { sizeOf } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Elements shown per axis before eliding with "...". */
const EDGE = 3;

function num(v: number, int: boolean): string {
  if (int) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return `${v}.`;
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6)
    ? v.toExponential(3)
    : String(Number(v.toPrecision(4)));
}

function preview(
  data: ArrayLike<number>,
  shape: readonly number[],
  int: boolean,
): string {
  const rec = (axis: number, off: number): string => {
    if (axis === shape.length) return num(data[off], int);
    const n = shape[axis];
    const stride = sizeOf(shape.slice(axis + 1));
    const idx = n > 2 * EDGE
      ? [
        ...Array.from({ length: EDGE }, (_, i) => i),
        -1,
        ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i),
      ]
      : Array.from({ length: n }, (_, i) => i);
    const parts = idx.map((i) =>
      i < 0 ? "..." : rec(axis + 1, off + i * stride)
    );
    return `[${parts.join(", ")}]`;
  };
  return rec(0, 0);
}

/** One-line description of a tensor, with values when they are on the host. */
export function describeTensor(t: Tensor): string {
  const head = `Tensor(${t.dtype} [${t.shape.join(", ")}] ${t.backend}${
    t.requiresGrad ? " requiresGrad" : ""
  })`;
  if (t.disposed) return `${head} <disposed>`;
  const h = t.storage.handle;
  if (
    ArrayBuffer.isView(h) && !(h instanceof DataView) && t.storage.alive
  ) {
    return `${head} ${
      preview(h as unknown as ArrayLike<number>, t.shape, t.dtype === "int32")
    }`;
  }
  return `${head} <on ${t.backend}; await t.data() to read>`;
}
