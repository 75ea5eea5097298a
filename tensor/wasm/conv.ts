/**
 * The convolutions on the WebAssembly GEMM, each one GEMM per chunk of
 * images over row-major patches (im2col) read in place or packed:
 *
 * - conv2d: Cᵀ [n*Ho*Wo, Co] = patchesᵀ @ weightᵀ, K = Ci*kh*kw, then a
 *   transpose back to [n, Co, Ho*Wo];
 * - weight gradient: Cᵀ [K, Co] += patches @ gyᵀ [n*Ho*Wo, Co], summed
 *   over chunks in order (so the reduction order is fixed);
 * - conv_transpose2d: C [K, n*Hy*Wy] = weightᵀ @ y, folded back (col2im).
 *
 * Putting Co along the 8-wide panels (not the 6-high strips) leaves no
 * padded tile rows for the usual Co = 16, 32, 64. Chunks hold at most
 * `convTuning.chunkFloats` patch values: that bounds the arena (and the
 * shared memory behind it) whatever the batch size, and keeps the patches
 * in cache between im2col and the GEMM.
 *
 * @module
 */

import type { Geom } from "../ops/conv_kernels.ts";
import {
  allocC,
  gemmRun,
  packedA,
  packedASize,
  packedB,
  packedBSize,
  packRows,
  rowMajor,
} from "./gemm.ts";
import { MR, NR } from "./gemm_kernel.ts";
import { COL2IM_ARGS, IM2COL_ARGS, TRANSPOSE_ARGS } from "./layout_kernels.ts";
import { KERNEL, type WasmRuntime } from "./runtime.ts";

/**
 * Upper bound on the patch floats of one chunk (4 MiB; tests lower it).
 * Small enough that the patches im2col writes are mostly still in cache
 * when the GEMM reads them (and C when col2im reads it), large enough that
 * every thread gets a real share of each chunk's GEMM: on 2 threads 4 MiB
 * was ~20% faster than both 1 MiB (one 32-channel 28x28 image per chunk:
 * short GEMMs the worker joins late) and 16 MiB chunks at CNN-F's shapes;
 * on one thread 1 MiB and 4 MiB were within noise.
 */
export const convTuning = { chunkFloats: 1 << 20 };

/** Images per chunk when each image contributes `perImage` floats. */
function chunkOf(nb: number, perImage: number): number {
  return Math.max(
    1,
    Math.min(nb, Math.floor(convTuning.chunkFloats / perImage)),
  );
}

/** Output columns [lo, hi) of kernel column j that land inside the image. */
function validCols(g: Geom, j: number): [number, number, number] {
  const iw0 = j * g.dw - g.pw;
  const lo = Math.min(g.wy, Math.max(0, Math.ceil(-iw0 / g.sw)));
  const hi = Math.max(lo, Math.min(g.wy, Math.ceil((g.wx - iw0) / g.sw)));
  return [iw0, lo, hi];
}

/**
 * Writes the patch-row table of `g` into the arena (5 i32 per row r =
 * (c, i, j): channel offset, ih0, iw0, lo, hi) and returns its float index.
 */
function patchTable(rt: WasmRuntime, g: Geom): number {
  const k = g.cx * g.kh * g.kw;
  const at = rt.alloc(k * 5);
  const t = rt.i32;
  let o = at;
  for (let c = 0; c < g.cx; c++) {
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++, o += 5) {
        const [iw0, lo, hi] = validCols(g, j);
        t[o] = c * g.hx * g.wx;
        t[o + 1] = i * g.dh - g.ph;
        t[o + 2] = iw0;
        t[o + 3] = lo;
        t[o + 4] = hi;
      }
    }
  }
  return at;
}

/** Unfolds the nc images at `xin` into the row-major patches at `col`. */
function im2col(
  rt: WasmRuntime,
  g: Geom,
  table: number,
  xin: number,
  nc: number,
  col: number,
  ld: number,
): void {
  rt.launchWith(KERNEL.im2col, g.cx * g.kh * g.kw, IM2COL_ARGS, {
    x: xin * 4,
    dst: col * 4,
    ldBytes: ld * 4,
    nc,
    imgFloats: g.cx * g.hx * g.wx,
    hx: g.hx,
    wx: g.wx,
    hy: g.hy,
    wy: g.wy,
    sh: g.sh,
    sw: g.sw,
    table: table * 4,
  });
}

/**
 * Copies images [n0, n0 + nc) of `t` [nb, channels, hw] into the arena at
 * float index `dst` as [channels, (image, pixel)]: each image's plane of a
 * channel side by side, the layout the GEMMs take the output gradient in.
 */
function channelRows(
  f: Float32Array,
  t: Float32Array,
  n0: number,
  nc: number,
  channels: number,
  hw: number,
  dst: number,
): void {
  const cols = nc * hw;
  for (let co = 0; co < channels; co++) {
    for (let n = 0; n < nc; n++) {
      const src = ((n0 + n) * channels + co) * hw;
      f.set(t.subarray(src, src + hw), dst + co * cols + n * hw);
    }
  }
}

/**
 * conv2d of x [nb, Ci, H, W] with weight [Co, Ci, kh, kw] into `out`, as
 * Cᵀ [(image, pixel), Co] = patchesᵀ @ weightᵀ: the patches [K, pixels]
 * serve in place as A stored transposed, and Co (a multiple of 8 in CNNs)
 * runs along the panels, so no tile row is padding (C [Co, pixels] had 36
 * rows for Co = 32); a transpose kernel turns Cᵀ back into [image, Co,
 * pixel] for one block copy out.
 */
export function conv2dWasm(
  rt: WasmRuntime,
  x: Float32Array,
  w: Float32Array,
  out: Float32Array,
  g: Geom,
): void {
  const k = g.cx * g.kh * g.kw;
  const hw = g.hy * g.wy;
  const img = g.cx * g.hx * g.wx;
  const chunk = chunkOf(g.nb, k * hw);
  rt.reset();
  const table = patchTable(rt, g);
  const wraw = rt.alloc(g.cy * k);
  const bp = rt.alloc(packedBSize(k, g.cy));
  const xin = rt.alloc(chunk * img);
  const col = rt.alloc(k * chunk * hw + MR);
  const c = allocC(rt, chunk * hw, g.cy);
  const yb = rt.alloc(chunk * g.cy * hw);
  rt.f32.set(w.subarray(0, g.cy * k), wraw);
  packRows(rt, wraw, k, g.cy, k, bp, NR);
  const groups = Math.ceil(g.cy / 4);
  for (let n0 = 0; n0 < g.nb; n0 += chunk) {
    const nc = Math.min(chunk, g.nb - n0);
    const cols = nc * hw;
    rt.f32.set(x.subarray(n0 * img, (n0 + nc) * img), xin);
    im2col(rt, g, table, xin, nc, col, cols);
    gemmRun(
      rt,
      rowMajor(col, cols, true),
      packedB(bp, k),
      c,
      cols,
      g.cy,
      k,
      false,
    );
    rt.launchWith(KERNEL.transpose, nc * groups, TRANSPOSE_ARGS, {
      src: c.at * 4,
      ldBytes: c.ldc * 4,
      dst: yb * 4,
      rows: hw,
      cols: g.cy,
      groups,
    });
    const n = nc * g.cy * hw;
    out.set(rt.f32.subarray(yb, yb + n), n0 * g.cy * hw);
  }
}

/** Weight gradient [Co, Ci, kh, kw] of x [nb, Ci, H, W] and gy. */
export function convWeightGradWasm(
  rt: WasmRuntime,
  x: Float32Array,
  gy: Float32Array,
  out: Float32Array,
  g: Geom,
): void {
  const k = g.cx * g.kh * g.kw;
  const hw = g.hy * g.wy;
  const img = g.cx * g.hx * g.wx;
  const chunk = chunkOf(g.nb, Math.max(k, g.cy) * hw);
  rt.reset();
  const table = patchTable(rt, g);
  const xin = rt.alloc(chunk * img);
  const gyRows = rt.alloc(g.cy * chunk * hw);
  // Cᵀ [K, Co] = patches @ gyᵀ: K (a multiple of 6 for 3 x 3 kernels over
  // 2^n channels) runs along the strips and Co (a multiple of 8) along the
  // panels, so no tile is padding; C [Co, K] had 36 rows for Co = 32.
  const ap = rt.alloc(packedASize(k, chunk * hw));
  const col = rt.alloc(k * chunk * hw);
  const bp = rt.alloc(packedBSize(chunk * hw, g.cy));
  const c = allocC(rt, k, g.cy);
  for (let n0 = 0; n0 < g.nb; n0 += chunk) {
    const nc = Math.min(chunk, g.nb - n0);
    const kk = nc * hw;
    const f = rt.f32;
    f.set(x.subarray(n0 * img, (n0 + nc) * img), xin);
    // gy as [Co, (image, pixel)], then packed into panels.
    channelRows(f, gy, n0, nc, g.cy, hw, gyRows);
    packRows(rt, gyRows, kk, g.cy, kk, bp, NR);
    im2col(rt, g, table, xin, nc, col, kk);
    packRows(rt, col, kk, k, kk, ap, MR);
    gemmRun(rt, packedA(ap, kk), packedB(bp, kk), c, k, g.cy, kk, n0 > 0);
  }
  const mem = rt.f32;
  for (let j = 0; j < k; j++) {
    const src = c.at + j * c.ldc;
    for (let co = 0; co < g.cy; co++) out[co * k + j] += mem[src + co];
  }
}

/** conv_transpose2d of y [nb, Co, Hy, Wy] with weight [Co, Ci, kh, kw]. */
export function convTranspose2dWasm(
  rt: WasmRuntime,
  y: Float32Array,
  w: Float32Array,
  out: Float32Array,
  g: Geom,
): void {
  const k = g.cx * g.kh * g.kw;
  const hw = g.hy * g.wy;
  const img = g.cx * g.hx * g.wx;
  const chunk = chunkOf(g.nb, Math.max(k, g.cy, img / hw) * hw);
  rt.reset();
  const table = patchTable(rt, g);
  // weightᵀ: the stored [Co, K] is A transposed, read in place.
  const wa = rt.alloc(g.cy * k + MR);
  rt.f32.set(w.subarray(0, g.cy * k), wa);
  const yb = rt.alloc(g.cy * chunk * hw + NR);
  const c = allocC(rt, k, chunk * hw);
  const img0 = rt.alloc(chunk * img);
  for (let n0 = 0; n0 < g.nb; n0 += chunk) {
    const nc = Math.min(chunk, g.nb - n0);
    const cols = nc * hw;
    const f = rt.f32;
    // B [Co, (image, pixel)]: each image's [Co, hw] block side by side.
    channelRows(f, y, n0, nc, g.cy, hw, yb);
    gemmRun(
      rt,
      rowMajor(wa, k, true),
      rowMajor(yb, cols, false),
      c,
      k,
      cols,
      g.cy,
      false,
    );
    rt.f32.fill(0, img0, img0 + nc * img);
    rt.launchWith(KERNEL.col2im, nc * g.cx, COL2IM_ARGS, {
      col: c.at * 4,
      ldBytes: c.ldc * 4,
      out: img0 * 4,
      cx: g.cx,
      hx: g.hx,
      wx: g.wx,
      hy: g.hy,
      wy: g.wy,
      sh: g.sh,
      sw: g.sw,
      taps: g.kh * g.kw,
      table: table * 4,
      rows3: g.kw === 3 && g.sw === 1 && g.dw === 1 ? 1 : 0,
    });
    out.set(rt.f32.subarray(img0, img0 + nc * img), n0 * img);
  }
}
