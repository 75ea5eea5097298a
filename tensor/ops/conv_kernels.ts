/**
 * Convolution kernels for conv2d, its transpose and its weight gradient.
 *
 * On the CPU each image is unfolded (im2col) into a scratch matrix of patches
 * and multiplied with the blocked GEMM; the transpose multiplies into such a
 * matrix and folds it back with a scatter-add (col2im). On WebGPU all three
 * are implicit GEMMs on the tiled template of `gpu/shaders/gemm.ts` (which
 * also holds their WGSL loaders), gathering the patches on the fly (the
 * transpose as a gather over the output pixels, so no atomics are needed).
 * The weight gradient reduces over K = N*Ho*Wo, long and feeding a small
 * output, so it is the one that usually takes the split-K path of
 * `gemmProgram`; the others split only for unusually deep inputs.
 *
 * Names follow conv2d: the "x side" is the image convolved (channels cx,
 * size hx x wx) and the "y side" its result (cy, hy x wy), whichever of the
 * two a kernel reads or writes.
 *
 * @module
 */

import {
  CONV_FIELDS,
  type ConvField,
  type ConvKind,
  convSpec,
  gemmTile,
} from "../../gpu/shaders/gemm.ts";
import type { TypedArray } from "../shape.ts";
import type { GpuPlan, GpuProgram, KernelArgs } from "./types.ts";
import type {
  ConvAttrs,
  ConvTransposeAttrs,
  ConvWeightGradAttrs,
} from "./conv.ts";
import { gemmCpu, gemmProgram } from "./matmul_kernels.ts";
import { wasmRuntime } from "../wasm/mod.ts";
import {
  conv2dWasm,
  convTranspose2dWasm,
  convWeightGradWasm,
} from "../wasm/conv.ts";

type Floats = Float32Array | Float64Array;

/** Geometry of one convolution, from conv2d's point of view. */
export type Geom = Record<ConvField, number>;

/** The geometry of x-side shape `x`, y-side shape `y` and `kernel`. */
function geom(
  x: readonly number[],
  y: readonly number[],
  kernel: readonly number[],
  a: ConvAttrs,
): Geom {
  const v = [
    x[0],
    ...x.slice(1),
    ...y.slice(1),
    ...kernel,
    ...a.stride,
    ...a.padding,
    ...a.dilation,
  ];
  return Object.fromEntries(CONV_FIELDS.map((f, i) => [f, v[i]])) as Geom;
}

/** A zeroed scratch array of the same element type as `like`. */
function scratchLike(like: TypedArray, n: number): Floats {
  return new (like.constructor as Float32ArrayConstructor)(n);
}

/**
 * Output columns [lo, hi) whose tap at kernel column `j` lands inside the
 * image (iw = iw0 + ow * sw with iw0 = j * dw - pw); the rest read padding.
 */
function validCols(g: Geom, j: number): [number, number, number] {
  const iw0 = j * g.dw - g.pw;
  const lo = Math.min(g.wy, Math.max(0, Math.ceil(-iw0 / g.sw)));
  const hi = Math.max(lo, Math.min(g.wy, Math.ceil((g.wx - iw0) / g.sw)));
  return [iw0, lo, hi];
}

/**
 * Unfolds image `x[xOff..]` into the patch matrix `col` [cx*kh*kw, hy*wy]:
 * row (c, i, j), column (oh, ow) holds x[c, oh*sh-ph+i*dh, ow*sw-pw+j*dw].
 */
function im2col(x: Floats, xOff: number, g: Geom, col: Floats): void {
  const { hx, wx, wy, sw } = g;
  let o = 0;
  for (let c = 0; c < g.cx; c++) {
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++) {
        const [iw0, lo, hi] = validCols(g, j);
        for (let oh = 0; oh < g.hy; oh++, o += wy) {
          const ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= hx) {
            col.fill(0, o, o + wy);
            continue;
          }
          const src = xOff + (c * hx + ih) * wx + iw0;
          let ow = 0;
          for (; ow < lo; ow++) col[o + ow] = 0;
          for (; ow < hi; ow++) col[o + ow] = x[src + ow * sw];
          for (; ow < wy; ow++) col[o + ow] = 0;
        }
      }
    }
  }
}

/** Adds the patch matrix `col` back onto image `out[off..]` (col2im). */
function col2im(col: Floats, g: Geom, out: Floats, off: number): void {
  const { hx, wx, wy, sw } = g;
  let o = 0;
  for (let c = 0; c < g.cx; c++) {
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++) {
        const [iw0, lo, hi] = validCols(g, j);
        for (let oh = 0; oh < g.hy; oh++, o += wy) {
          const ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= hx) continue;
          const dst = off + (c * hx + ih) * wx + iw0;
          for (let ow = lo; ow < hi; ow++) out[dst + ow * sw] += col[o + ow];
        }
      }
    }
  }
}

/** Whether the patch matrix of `g` is the image itself (1x1, no stride). */
const identityPatches = (g: Geom) =>
  g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 &&
  g.pw === 0;

/** The wasm runtime when every array is float32 (not float64 mode). */
function wasmFor(...arrays: unknown[]) {
  return arrays.every((a) => a instanceof Float32Array) ? wasmRuntime() : null;
}

/** CPU conv2d: per image, weight [Co, K] @ im2col(x) [K, Ho*Wo]. */
export function conv2dCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<ConvAttrs>,
): void {
  const [x, w] = ins as Floats[];
  const g = geom(
    args.inShapes[0],
    args.outShape,
    args.inShapes[1].slice(2),
    args.attrs,
  );
  const rt = wasmFor(x, w, out);
  if (rt) {
    return conv2dWasm(
      rt,
      x as Float32Array,
      w as Float32Array,
      out as Float32Array,
      g,
    );
  }
  const k = g.cx * g.kh * g.kw;
  const hw = g.hy * g.wy;
  const direct = identityPatches(g);
  const col = direct ? null : scratchLike(out, k * hw);
  for (let n = 0; n < g.nb; n++) {
    const xOff = n * g.cx * g.hx * g.wx;
    if (col) im2col(x, xOff, g, col);
    gemmCpu(
      g.cy,
      hw,
      k,
      w,
      0,
      false,
      col ?? x,
      col ? 0 : xOff,
      false,
      out as Floats,
      n * g.cy * hw,
    );
  }
}

/**
 * CPU conv_transpose2d: per image, weightᵀ [Ci*kh*kw, Co] @ y [Co, Hy*Wy]
 * into a patch matrix, folded back onto the output with col2im.
 */
export function convTranspose2dCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<ConvTransposeAttrs>,
): void {
  const [y, w] = ins as Floats[];
  const g = geom(
    args.outShape,
    args.inShapes[0],
    args.inShapes[1].slice(2),
    args.attrs,
  );
  const rt = wasmFor(y, w, out);
  if (rt) {
    return convTranspose2dWasm(
      rt,
      y as Float32Array,
      w as Float32Array,
      out as Float32Array,
      g,
    );
  }
  const k = g.cx * g.kh * g.kw;
  const hw = g.hy * g.wy;
  const col = scratchLike(out, k * hw);
  for (let n = 0; n < g.nb; n++) {
    col.fill(0);
    gemmCpu(k, hw, g.cy, w, 0, true, y, n * g.cy * hw, false, col, 0);
    col2im(col, g, out as Floats, n * g.cx * g.hx * g.wx);
  }
}

/** CPU weight gradient: sum over images of gy [Co, Ho*Wo] @ im2col(x)ᵀ. */
export function convWeightGradCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<ConvWeightGradAttrs>,
): void {
  const [x, gy] = ins as Floats[];
  const g = geom(
    args.inShapes[0],
    args.inShapes[1],
    args.attrs.kernel,
    args.attrs,
  );
  const rt = wasmFor(x, gy, out);
  if (rt) {
    return convWeightGradWasm(
      rt,
      x as Float32Array,
      gy as Float32Array,
      out as Float32Array,
      g,
    );
  }
  const k = g.cx * g.kh * g.kw;
  const hw = g.hy * g.wy;
  const direct = identityPatches(g);
  const col = direct ? null : scratchLike(out, k * hw);
  for (let n = 0; n < g.nb; n++) {
    const xOff = n * g.cx * g.hx * g.wx;
    if (col) im2col(x, xOff, g, col);
    gemmCpu(
      g.cy,
      k,
      hw,
      gy,
      n * g.cy * hw,
      false,
      col ?? x,
      col ? 0 : xOff,
      true,
      out as Floats,
      0,
    );
  }
}

// --- WebGPU: implicit GEMM ------------------------------------------------

/** The GEMM dispatches of convolution `kind` (M x N x K) over `g`. */
function plan(
  kind: ConvKind,
  g: Geom,
  [m, n, k]: [number, number, number],
  vecA: boolean,
): GpuPlan[] | GpuProgram {
  return gemmProgram(
    convSpec(kind, vecA),
    gemmTile(m, n, k),
    { m, n, k, batch: 1 },
    CONV_FIELDS.map((f) => g[f]),
    `gemm:${kind}:${vecA ? "v" : "s"}`,
    kind,
  );
}

/**
 * WebGPU conv2d: C [Co, N*Ho*Wo] = weight [Co, Ci*kh*kw] @ patches(x),
 * with the weight read as vec4 when Ci*kh*kw is a multiple of 4.
 */
export function conv2dGpu(
  args: KernelArgs<ConvAttrs>,
): GpuPlan[] | GpuProgram {
  const [x, w] = args.inShapes;
  const g = geom(x, args.outShape, w.slice(2), args.attrs);
  const k = g.cx * g.kh * g.kw;
  return plan("conv2d", g, [g.cy, g.nb * g.hy * g.wy, k], k % 4 === 0);
}

/**
 * WebGPU conv_transpose2d as a gather: C [Ci, N*Ho*Wo] = weightᵀ
 * [Ci, Co*kh*kw] @ B, where B picks the y pixel each tap came from (zero
 * where the stride does not divide), so no atomics are needed.
 */
export function convTranspose2dGpu(
  args: KernelArgs<ConvTransposeAttrs>,
): GpuPlan[] | GpuProgram {
  const [y, w] = args.inShapes;
  const g = geom(args.outShape, y, w.slice(2), args.attrs);
  const dims: [number, number, number] = [
    g.cx,
    g.nb * g.hx * g.wx,
    g.cy * g.kh * g.kw,
  ];
  return plan("convTranspose2d", g, dims, false);
}

/**
 * WebGPU weight gradient: C [Co, Ci*kh*kw] = gy [Co, N*Ho*Wo] @
 * patches(x)ᵀ, with gy read as vec4 when Ho*Wo is a multiple of 4.
 */
export function convWeightGradGpu(
  args: KernelArgs<ConvWeightGradAttrs>,
): GpuPlan[] | GpuProgram {
  const [x, gy] = args.inShapes;
  const g = geom(x, gy, args.attrs.kernel, args.attrs);
  const hw = g.hy * g.wy;
  const dims: [number, number, number] = [
    g.cy,
    g.cx * g.kh * g.kw,
    g.nb * hw,
  ];
  return plan("conv2dWeightGrad", g, dims, hw % 4 === 0);
}
