/**
 * Pooling kernels: the CPU references and the WebGPU plans for arg-pooling,
 * the gather by pooling indices, unpooling (its adjoint), and average pooling
 * with its adjoint. The WGSL lives in `gpu/shaders/pool.ts`.
 *
 * Indices are flat positions ih * W + iw within each input plane. Unpooling
 * assumes, as PyTorch's `max_unpool2d` does, that each index comes from a
 * pooling with the same geometry, so it lies inside its own window: both
 * backends drop indices that do not (the GPU kernel only visits the windows
 * that contain a position). Overlapping windows that pick the same position
 * add up, which makes `unpool` the exact adjoint of `poolGather`.
 *
 * CPU kernels also run in float64 mode (a Float64Array behind the Float32Array
 * type) for gradient checks, so they never round to float32.
 *
 * @module
 */

import {
  avgPoolGradSource,
  avgPoolSource,
  poolArgSource,
  poolGatherSource,
  type PoolGeometry,
  poolUniforms,
  unpoolSource,
} from "../../gpu/shaders/pool.ts";
import { grid1d, WG_SIZE } from "../../gpu/shaders/common.ts";
import { wasmRuntime } from "../wasm/mod.ts";
import { poolArgWasm, poolArgWasmFits } from "../wasm/pooling.ts";
import { sizeOf, type TypedArray } from "../shape.ts";
import type { GpuPlan, KernelArgs } from "./types.ts";
import type {
  AvgPoolAttrs,
  AvgPoolGradAttrs,
  PoolArgAttrs,
  PoolAttrs,
  UnpoolAttrs,
} from "./pool.ts";

/** Plane sizes of a pooling: `planes` planes of h x w pooled to ho x wo. */
interface Dims {
  planes: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
}

const dims = (big: readonly number[], small: readonly number[]): Dims => ({
  planes: big[0] * big[1],
  h: big[2],
  w: big[3],
  ho: small[2],
  wo: small[3],
});

/** Input range [lo, hi) covered by window `o` along one axis. */
function span(
  o: number,
  k: number,
  s: number,
  pad: number,
  size: number,
): [number, number] {
  const start = o * s - pad;
  return [Math.max(start, 0), Math.min(start + k, size)];
}

/**
 * The windows' input ranges along one axis for all `n` outputs, as
 * [lo0, hi0, lo1, hi1, ...]: computed once per call rather than once per
 * pooled element (an allocation each, the kernels' main cost).
 */
function spans(
  n: number,
  k: number,
  s: number,
  pad: number,
  size: number,
): Int32Array {
  const t = new Int32Array(2 * n);
  for (let o = 0; o < n; o++) {
    const [lo, hi] = span(o, k, s, pad, size);
    t[2 * o] = lo;
    t[2 * o + 1] = hi;
  }
  return t;
}

function geometry(n: number, d: Dims, a: PoolAttrs): PoolGeometry {
  return {
    n,
    inSize: [d.h, d.w],
    outSize: [d.ho, d.wo],
    kernel: a.kernel,
    stride: a.stride,
    padding: a.padding,
  };
}

function plan(
  key: string,
  source: () => string,
  n: number,
  d: Dims,
  a: PoolAttrs,
): GpuPlan[] {
  return [{
    kernel: { key: `${key}:wg${WG_SIZE}`, source },
    uniforms: poolUniforms(geometry(n, d, a)),
    workgroups: grid1d(n),
  }];
}

/**
 * CPU arg-pool: int32 flat index of each window's max (or min) in its input
 * plane; padding is never selected and ties keep the first position in
 * row-major window order.
 */
export function poolArgCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<PoolArgAttrs>,
): void {
  const x = ins[0];
  const { kernel: k, stride: s, padding: p, mode } = args.attrs;
  const d = dims(args.inShapes[0], args.outShape);
  // The common 2 x 2 window on the WebAssembly kernel (same indices).
  if (
    x instanceof Float32Array && out instanceof Int32Array &&
    out.length >= 4096 && poolArgWasmFits(k, s, p, d.wo)
  ) {
    const rt = wasmRuntime();
    if (rt) {
      poolArgWasm(rt, x, out, d.planes, d.h, d.w, d.ho, d.wo, mode);
      return;
    }
  }
  const sign = mode === "max" ? 1 : -1;
  const rs = spans(d.ho, k[0], s[0], p[0], d.h);
  const cs = spans(d.wo, k[1], s[1], p[1], d.w);
  const w = d.w;
  let i = 0;
  for (let plane = 0; plane < d.planes; plane++) {
    const base = plane * d.h * w;
    for (let oh = 0; oh < d.ho; oh++) {
      const r0 = rs[2 * oh], r1 = rs[2 * oh + 1];
      for (let ow = 0; ow < d.wo; ow++) {
        const c0 = cs[2 * ow], c1 = cs[2 * ow + 1];
        let arg = r0 * w + c0;
        let best = sign * x[base + arg];
        if (r1 - r0 === 2 && c1 - c0 === 2) {
          // The common whole 2 x 2 window, unrolled in the same visit order.
          const q = base + arg;
          const v1 = sign * x[q + 1];
          if (v1 > best) best = v1, arg = r0 * w + c0 + 1;
          const v2 = sign * x[q + w];
          if (v2 > best) best = v2, arg = (r0 + 1) * w + c0;
          const v3 = sign * x[q + w + 1];
          if (v3 > best) arg = (r0 + 1) * w + c0 + 1;
          out[i++] = arg;
          continue;
        }
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) {
            const q = r * w + c;
            const v = sign * x[base + q];
            if (v > best) {
              best = v;
              arg = q;
            }
          }
        }
        out[i++] = arg;
      }
    }
  }
}

/** GPU arg-pool (one thread per pooled element). */
export function poolArgGpu(args: KernelArgs<PoolArgAttrs>): GpuPlan[] {
  const mode = args.attrs.mode;
  return plan(
    `pool:arg:${mode}`,
    () => poolArgSource(mode),
    sizeOf(args.outShape),
    dims(args.inShapes[0], args.outShape),
    args.attrs,
  );
}

/**
 * CPU pool gather: out[n, c, o] = x[n, c, idx[n, c, o]] with plane-local
 * indices; an index outside the plane gives 0.
 */
export function poolGatherCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<PoolAttrs>,
): void {
  const [x, idx] = ins;
  const d = dims(args.inShapes[0], args.outShape);
  const hw = d.h * d.w;
  const per = d.ho * d.wo;
  for (let i = 0; i < out.length; i++) {
    const q = idx[i];
    if (q >= 0 && q < hw) out[i] = x[Math.floor(i / per) * hw + q];
  }
}

/** GPU pool gather (one thread per pooled element). */
export function poolGatherGpu(args: KernelArgs<PoolAttrs>): GpuPlan[] {
  return plan(
    "pool:gather",
    poolGatherSource,
    sizeOf(args.outShape),
    dims(args.inShapes[0], args.outShape),
    args.attrs,
  );
}

/**
 * CPU unpool: scatter-adds z[n, c, o] at idx[n, c, o] in an outSize plane of
 * zeros (indices outside their window are dropped, as on the GPU).
 */
export function unpoolCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<UnpoolAttrs>,
): void {
  const [z, idx] = ins;
  const { kernel: k, stride: s, padding: p } = args.attrs;
  const d = dims(args.outShape, args.inShapes[0]);
  const rs = spans(d.ho, k[0], s[0], p[0], d.h);
  const cs = spans(d.wo, k[1], s[1], p[1], d.w);
  const w = d.w;
  let i = 0;
  for (let plane = 0; plane < d.planes; plane++) {
    const base = plane * d.h * w;
    for (let oh = 0; oh < d.ho; oh++) {
      const r0 = rs[2 * oh], r1 = rs[2 * oh + 1];
      for (let ow = 0; ow < d.wo; ow++, i++) {
        const c0 = cs[2 * ow], c1 = cs[2 * ow + 1];
        const q = idx[i];
        const r = Math.floor(q / w);
        const c = q - r * w;
        if (r >= r0 && r < r1 && c >= c0 && c < c1) out[base + q] += z[i];
      }
    }
  }
}

/** GPU unpool in gather form (one thread per unpooled element, no atomics). */
export function unpoolGpu(args: KernelArgs<UnpoolAttrs>): GpuPlan[] {
  return plan(
    "pool:unpool",
    unpoolSource,
    sizeOf(args.outShape),
    dims(args.outShape, args.inShapes[0]),
    args.attrs,
  );
}

/** Divisor of window (oh, ow): kh * kw, or its count of unpadded positions. */
function divisor(
  includePad: boolean,
  a: PoolAttrs,
  rows: [number, number],
  cols: [number, number],
): number {
  return includePad
    ? a.kernel[0] * a.kernel[1]
    : (rows[1] - rows[0]) * (cols[1] - cols[0]);
}

/**
 * CPU average pool; padding counts as zeros, and in the divisor only when
 * `countIncludePad` is set (as PyTorch).
 */
export function avgPoolCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<AvgPoolAttrs>,
): void {
  const x = ins[0];
  const a = args.attrs;
  const d = dims(args.inShapes[0], args.outShape);
  let i = 0;
  for (let plane = 0; plane < d.planes; plane++) {
    const base = plane * d.h * d.w;
    for (let oh = 0; oh < d.ho; oh++) {
      const rows = span(oh, a.kernel[0], a.stride[0], a.padding[0], d.h);
      for (let ow = 0; ow < d.wo; ow++) {
        const cols = span(ow, a.kernel[1], a.stride[1], a.padding[1], d.w);
        let acc = 0;
        for (let r = rows[0]; r < rows[1]; r++) {
          for (let c = cols[0]; c < cols[1]; c++) acc += x[base + r * d.w + c];
        }
        out[i++] = acc / divisor(a.countIncludePad, a, rows, cols);
      }
    }
  }
}

/** GPU average pool (one thread per pooled element). */
export function avgPoolGpu(args: KernelArgs<AvgPoolAttrs>): GpuPlan[] {
  const inc = args.attrs.countIncludePad;
  return plan(
    `pool:avg:${inc ? "incl" : "excl"}`,
    () => avgPoolSource(inc),
    sizeOf(args.outShape),
    dims(args.inShapes[0], args.outShape),
    args.attrs,
  );
}

/**
 * CPU average-pool backward: spreads g[n, c, o] / divisor(o) over window o of
 * an inSize plane of zeros (the adjoint of `avgPoolCpu`).
 */
export function avgPoolGradCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<AvgPoolGradAttrs>,
): void {
  const g = ins[0];
  const a = args.attrs;
  const d = dims(args.outShape, args.inShapes[0]);
  let i = 0;
  for (let plane = 0; plane < d.planes; plane++) {
    const base = plane * d.h * d.w;
    for (let oh = 0; oh < d.ho; oh++) {
      const rows = span(oh, a.kernel[0], a.stride[0], a.padding[0], d.h);
      for (let ow = 0; ow < d.wo; ow++) {
        const cols = span(ow, a.kernel[1], a.stride[1], a.padding[1], d.w);
        const v = g[i++] / divisor(a.countIncludePad, a, rows, cols);
        for (let r = rows[0]; r < rows[1]; r++) {
          for (let c = cols[0]; c < cols[1]; c++) out[base + r * d.w + c] += v;
        }
      }
    }
  }
}

/** GPU average-pool backward in gather form (one thread per input element). */
export function avgPoolGradGpu(args: KernelArgs<AvgPoolGradAttrs>): GpuPlan[] {
  const inc = args.attrs.countIncludePad;
  return plan(
    `pool:avggrad:${inc ? "incl" : "excl"}`,
    () => avgPoolGradSource(inc),
    sizeOf(args.outShape),
    dims(args.outShape, args.inShapes[0]),
    args.attrs,
  );
}
