/**
 * The convolutions on the WebAssembly GEMM, each one GEMM over a chunk of
 * images (not one per image), with the patches gathered straight into the
 * packed panel layout (im2col fused with packing):
 *
 * - conv2d: C [Co, n*Ho*Wo] = weight [Co, K] @ patches, K = Ci*kh*kw;
 * - weight gradient: C [Co, K] += gy [Co, n*Ho*Wo] @ patchesᵀ, summed over
 *   chunks in order (so the reduction order is fixed);
 * - conv_transpose2d: C [K, n*Hy*Wy] = weightᵀ @ y, folded back (col2im).
 *
 * Chunks hold at most `convTuning.chunkFloats` patch values so the arena (and the
 * shared memory behind it) stays bounded whatever the batch size.
 *
 * @module
 */

import type { Geom } from "../ops/conv_kernels.ts";
import {
  allocC,
  gemmRun,
  packAStrided,
  packedA,
  packedASize,
  packedB,
  packedBSize,
  rowMajor,
} from "./gemm.ts";
import { MR, NR } from "./gemm_kernel.ts";
import type { WasmRuntime } from "./runtime.ts";

/** Upper bound on the patch floats of one chunk (16 MiB; tests lower it). */
export const convTuning = { chunkFloats: 1 << 22 };

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
 * Unfolds images [n0, n0 + nc) into the row-major patch matrix at `dst[at]`
 * of row length `ld`: row r = (c, i, j), column (image, oh, ow).
 */
function im2col(
  x: Float32Array,
  g: Geom,
  n0: number,
  nc: number,
  dst: Float32Array,
  at: number,
  ld: number,
): void {
  const { hx, wx, wy, sw } = g;
  const hw = g.hy * wy;
  let r = 0;
  for (let c = 0; c < g.cx; c++) {
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++, r++) {
        const [iw0, lo, hi] = validCols(g, j);
        for (let n = 0; n < nc; n++) {
          const xOff = ((n0 + n) * g.cx + c) * hx * wx;
          let o = at + r * ld + n * hw;
          for (let oh = 0; oh < g.hy; oh++, o += wy) {
            const ih = oh * g.sh - g.ph + i * g.dh;
            if (ih < 0 || ih >= hx) {
              dst.fill(0, o, o + wy);
              continue;
            }
            const src = xOff + ih * wx + iw0;
            let ow = 0;
            for (; ow < lo; ow++) dst[o + ow] = 0;
            if (sw === 1) {
              for (; ow < hi; ow++) dst[o + ow] = x[src + ow];
            } else {
              for (; ow < hi; ow++) dst[o + ow] = x[src + ow * sw];
            }
            for (; ow < wy; ow++) dst[o + ow] = 0;
          }
        }
      }
    }
  }
}

/**
 * Packs the row-major [rows, cols] matrix at `src` as the B operand of a
 * product with it transposed (B[p, j] = M[j, p]): panels of NR rows.
 */
function packTransposed(
  f: Float32Array,
  src: number,
  rows: number,
  cols: number,
  at: number,
): void {
  for (let r0 = 0; r0 < rows; r0 += NR) {
    const base = at + (r0 / NR) * cols * NR;
    const n = Math.min(NR, rows - r0);
    for (let l = 0; l < NR; l++) {
      let d = base + l;
      if (l >= n) {
        for (let q = 0; q < cols; q++, d += NR) f[d] = 0;
        continue;
      }
      let s = src + (r0 + l) * cols;
      for (let q = 0; q < cols; q++, d += NR) f[d] = f[s++];
    }
  }
}

/** conv2d of x [nb, Ci, H, W] with weight [Co, Ci, kh, kw] into `out`. */
export function conv2dWasm(
  rt: WasmRuntime,
  x: Float32Array,
  w: Float32Array,
  out: Float32Array,
  g: Geom,
): void {
  const k = g.cx * g.kh * g.kw;
  const hw = g.hy * g.wy;
  const chunk = chunkOf(g.nb, k * hw);
  rt.reset();
  const ap = rt.alloc(packedASize(g.cy, k));
  const col = rt.alloc(k * chunk * hw + NR);
  const c = allocC(rt, g.cy, chunk * hw);
  packAStrided(g.cy, k, w, 0, k, 1)(rt.f32, ap);
  for (let n0 = 0; n0 < g.nb; n0 += chunk) {
    const nc = Math.min(chunk, g.nb - n0);
    const cols = nc * hw;
    im2col(x, g, n0, nc, rt.f32, col, cols);
    gemmRun(
      rt,
      packedA(ap, k),
      rowMajor(col, cols, false),
      c,
      g.cy,
      cols,
      k,
      false,
    );
    const mem = rt.f32;
    for (let co = 0; co < g.cy; co++) {
      const src = c.at + co * c.ldc;
      for (let n = 0; n < nc; n++) {
        const s = src + n * hw;
        out.set(mem.subarray(s, s + hw), ((n0 + n) * g.cy + co) * hw);
      }
    }
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
  const chunk = chunkOf(g.nb, Math.max(k, g.cy) * hw);
  rt.reset();
  const ap = rt.alloc(packedASize(g.cy, chunk * hw));
  const col = rt.alloc(k * chunk * hw);
  const bp = rt.alloc(packedBSize(chunk * hw, k));
  const c = allocC(rt, g.cy, k);
  for (let n0 = 0; n0 < g.nb; n0 += chunk) {
    const nc = Math.min(chunk, g.nb - n0);
    const kk = nc * hw;
    const f = rt.f32;
    // A [Co, (image, pixel)] from gy [nb, Co, hw], strips of MR rows.
    for (let s = 0; s < Math.ceil(g.cy / MR); s++) {
      for (let r = 0; r < MR; r++) {
        const co = s * MR + r;
        let d = ap + s * kk * MR + r;
        if (co >= g.cy) {
          for (let p = 0; p < kk; p++, d += MR) f[d] = 0;
          continue;
        }
        for (let n = 0; n < nc; n++) {
          let src = ((n0 + n) * g.cy + co) * hw;
          for (let p = 0; p < hw; p++, d += MR) f[d] = gy[src++];
        }
      }
    }
    im2col(x, g, n0, nc, f, col, kk);
    packTransposed(f, col, k, kk, bp);
    gemmRun(rt, packedA(ap, kk), packedB(bp, kk), c, g.cy, k, kk, n0 > 0);
  }
  const mem = rt.f32;
  for (let co = 0; co < g.cy; co++) {
    const src = c.at + co * c.ldc;
    const dst = co * k;
    for (let j = 0; j < k; j++) out[dst + j] += mem[src + j];
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
  const chunk = chunkOf(g.nb, Math.max(k, g.cy) * hw);
  rt.reset();
  // weightᵀ: the stored [Co, K] is A transposed, read in place.
  const wa = rt.alloc(g.cy * k + MR);
  rt.f32.set(w.subarray(0, g.cy * k), wa);
  const yb = rt.alloc(g.cy * chunk * hw + NR);
  const c = allocC(rt, k, chunk * hw);
  for (let n0 = 0; n0 < g.nb; n0 += chunk) {
    const nc = Math.min(chunk, g.nb - n0);
    const cols = nc * hw;
    const f = rt.f32;
    // B [Co, (image, pixel)]: each image's [Co, hw] block side by side.
    for (let co = 0; co < g.cy; co++) {
      for (let n = 0; n < nc; n++) {
        const src = ((n0 + n) * g.cy + co) * hw;
        f.set(y.subarray(src, src + hw), yb + co * cols + n * hw);
      }
    }
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
    const mem = rt.f32;
    for (let n = 0; n < nc; n++) {
      col2im(mem, c.at + n * hw, c.ldc, g, out, (n0 + n) * g.cx * g.hx * g.wx);
    }
  }
}

/** Adds patch rows (stride `ld`, from `at`) onto image `out[off..]`. */
function col2im(
  col: Float32Array,
  at: number,
  ld: number,
  g: Geom,
  out: Float32Array,
  off: number,
): void {
  const { hx, wx, wy, sw } = g;
  let r = 0;
  for (let c = 0; c < g.cx; c++) {
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++, r++) {
        const [iw0, lo, hi] = validCols(g, j);
        for (let oh = 0; oh < g.hy; oh++) {
          const ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= hx) continue;
          const dst = off + (c * hx + ih) * wx + iw0;
          const src = at + r * ld + oh * wy;
          for (let ow = lo; ow < hi; ow++) out[dst + ow * sw] += col[src + ow];
        }
      }
    }
  }
}
