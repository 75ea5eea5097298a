/**
 * GEMM on the WebAssembly runtime: operands are copied into the arena and
 * either read in place (a row-major matrix whose rows run along K serves as
 * B, or as A when stored transposed) or packed by the `packRows` kernel (A
 * in strips of MR rows, B in panels of NR columns, zero-padded, K whole so
 * the kernel can block it). The kernel fills a padded C in the arena and the
 * caller reads C out in the layout it needs (a plain matrix, a
 * convolution's [N, C, H, W], col2im).
 *
 * @module
 */

import { GEMM_ARGS, KC, MR, NR } from "./gemm_kernel.ts";
import { KERNEL, type WasmRuntime } from "./runtime.ts";
import { PACK_ARGS } from "./layout_kernels.ts";

/**
 * An operand in the arena as the kernel reads it: float index `at`, then
 * per step along K `step` floats, per strip (A) or panel (B) `stride`
 * floats. Packed A is (MR, k * MR), packed B (NR, k * NR); a row-major
 * [K, ld] matrix serves directly as B (ld, NR) or, for A stored
 * transposed, as A (ld, MR): the last strip or panel then reads a few
 * floats past its edge, into C's padding, so the caller reserves MR or NR
 * floats of slack after it.
 */
export interface Operand {
  /** Float index of element (0, 0). */
  at: number;
  /** Floats between consecutive k. */
  step: number;
  /** Floats between consecutive strips or panels. */
  stride: number;
}

/** Packed A of an m x k operand at `at`. */
export const packedA = (at: number, k: number): Operand => ({
  at,
  step: MR,
  stride: k * MR,
});
/** Packed B of a k x n operand at `at`. */
export const packedB = (at: number, k: number): Operand => ({
  at,
  step: NR,
  stride: k * NR,
});
/** Row-major [K, ld] at `at` read as A (transposed storage) or B. */
export const rowMajor = (at: number, ld: number, asA: boolean): Operand => ({
  at,
  step: ld,
  stride: asA ? MR : NR,
});

/** Floats of a packed A (m x k). */
export const packedASize = (m: number, k: number) => Math.ceil(m / MR) * MR * k;
/** Floats of a packed B (k x n). */
export const packedBSize = (k: number, n: number) => Math.ceil(n / NR) * NR * k;

/** C of an m x n GEMM in the arena: float index and row stride. */
export interface OutC {
  /** Float index of C[0, 0]. */
  at: number;
  /** Row stride in floats (n rounded up to NR). */
  ldc: number;
}

/** Reserves C for an m x n GEMM. */
export function allocC(rt: WasmRuntime, m: number, n: number): OutC {
  const ldc = Math.ceil(n / NR) * NR;
  return { at: rt.alloc(Math.ceil(m / MR) * MR * ldc), ldc };
}

/**
 * C = A B (or C += A B with `accumulate`) for operands already in the
 * arena. Work is cut into units of strips x panels, at most 64 x 32 (a B
 * block of KC x 256 floats stays in L2), finer while each thread would get
 * fewer than eight (units are claimed dynamically, so the last one decides
 * the balance: 13 units on 2 threads lose 8%, 26 none); tiny products run
 * as one unit on this thread.
 */
export function gemmRun(
  rt: WasmRuntime,
  a: Operand,
  b: Operand,
  c: OutC,
  m: number,
  n: number,
  k: number,
  accumulate: boolean,
): void {
  if (m === 0 || n === 0 || k === 0) return;
  const strips = Math.ceil(m / MR);
  const panels = Math.ceil(n / NR);
  const threads = m * n * k < 1 << 18 ? 1 : rt.threads;
  let ppu = Math.min(panels, 32);
  let spu = Math.min(strips, 64);
  const units = () => Math.ceil(strips / spu) * Math.ceil(panels / ppu);
  while (threads > 1 && units() < 8 * threads && (ppu > 2 || spu > 2)) {
    if (ppu >= spu && ppu > 2) ppu = Math.ceil(ppu / 2);
    else spu = Math.ceil(spu / 2);
  }
  const args: Record<(typeof GEMM_ARGS)[number], number> = {
    ap: a.at * 4,
    aStep: a.step * 4,
    aStrip: a.stride * 4,
    bp: b.at * 4,
    bStep: b.step * 4,
    bPanel: b.stride * 4,
    c: c.at * 4,
    k,
    strips,
    panels,
    stripsPerUnit: spu,
    panelsPerUnit: ppu,
    ldcBytes: c.ldc * 4,
    accumulate: accumulate ? 1 : 0,
    unitsAcross: Math.ceil(panels / ppu),
    // Even blocks: K = 288 runs as one block, not 256 + 32.
    kc: Math.ceil(k / Math.ceil(k / KC)),
  };
  rt.launch(KERNEL.gemm, units(), GEMM_ARGS.map((x) => args[x]));
}

/**
 * Packs rows of the row-major [rows, ld] matrix at float index `src` (its
 * first `cols` columns) into blocks of `h` rows at `dst`: packed A strips
 * when h = MR, packed B panels of a transposed operand when h = NR.
 */
export function packRows(
  rt: WasmRuntime,
  src: number,
  ld: number,
  rows: number,
  cols: number,
  dst: number,
  h: number,
): void {
  rt.launchWith(KERNEL.packRows, Math.ceil(rows / h), PACK_ARGS, {
    src: src * 4,
    ldBytes: ld * 4,
    rows,
    cols,
    dst: dst * 4,
    h,
  });
}

/**
 * Copies one GEMM operand with `len` rows or columns (m of A, n of B) along
 * K into the arena: read in place when stored [K, len] (`alongK`), else
 * stored [len, K] and packed into blocks of `h` (MR: A strips, NR: B
 * panels).
 */
function operand(
  rt: WasmRuntime,
  src: Float32Array,
  off: number,
  k: number,
  len: number,
  alongK: boolean,
  h: number,
): Operand {
  if (alongK) {
    const at = rt.alloc(k * len + h);
    rt.f32.set(src.subarray(off, off + k * len), at);
    return rowMajor(at, len, h === MR);
  }
  const raw = rt.alloc(len * k);
  rt.f32.set(src.subarray(off, off + len * k), raw);
  const at = rt.alloc(Math.ceil(len / h) * h * k);
  packRows(rt, raw, k, len, k, at, h);
  return { at, step: h, stride: k * h };
}

/**
 * C (m x n, row-major at `cOff` of `c`) += op(A) op(B) through the wasm
 * kernel; the same contract as the JavaScript `gemmCpu`.
 */
export function gemmWasm(
  rt: WasmRuntime,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  aOff: number,
  transA: boolean,
  b: Float32Array,
  bOff: number,
  transB: boolean,
  c: Float32Array,
  cOff: number,
): void {
  if (m === 0 || n === 0 || k === 0) return;
  rt.reset();
  const opA = operand(rt, a, aOff, k, m, transA, MR);
  const opB = operand(rt, b, bOff, k, n, !transB, NR);
  // C goes in and the kernel adds onto it (accumulate): block copies both
  // ways instead of a JavaScript loop adding element by element.
  const out = allocC(rt, m, n);
  const f = rt.f32;
  if (out.ldc === n) f.set(c.subarray(cOff, cOff + m * n), out.at);
  else {
    for (let i = 0; i < m; i++) {
      const src = cOff + i * n;
      f.set(c.subarray(src, src + n), out.at + i * out.ldc);
    }
  }
  gemmRun(rt, opA, opB, out, m, n, k, true);
  const g = rt.f32;
  if (out.ldc === n) c.set(g.subarray(out.at, out.at + m * n), cOff);
  else {
    for (let i = 0; i < m; i++) {
      const src = out.at + i * out.ldc;
      c.set(g.subarray(src, src + n), cOff + i * n);
    }
  }
}
