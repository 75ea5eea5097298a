/**
 * Matmul kernels: the cache-blocked CPU GEMM (also the engine of the CPU
 * convolutions) and the WebGPU plan built on the tiled WGSL GEMM template.
 *
 * The CPU GEMM packs KC x NC blocks of B into 4-column panels and 4-row
 * strips of A, then runs a 4 x 4 register micro-kernel over each pair. The
 * accumulators are JavaScript numbers, so partial sums are not rounded to
 * float32 along K, and in float64 mode (a Float64Array behind the
 * Float32Array type, for gradient checks) nothing is rounded at all: scratch
 * is allocated with the output's own constructor.
 *
 * `gemmProgram` turns any GEMM spec (these and the convolutions') into GPU
 * dispatches: one pass, or a split-K pass into scratch partial sums followed
 * by their reduction when K is long (llvmpipe's loop cap) or the output too
 * small to give the GPU enough workgroups.
 *
 * @module
 */

import {
  gemmLaunch,
  type GemmLoader,
  gemmSource,
  type GemmSpec,
  type GemmTile,
  gemmTile,
  tileKey,
} from "../../gpu/shaders/gemm.ts";
import { splitKGrid, splitKSource } from "../../gpu/shaders/splitk.ts";
import type { GpuPlan, GpuProgram, KernelArgs } from "./types.ts";
import { type MatmulAttrs, matmulDims } from "./matmul.ts";
import { wasmRuntime } from "../wasm/mod.ts";
import { gemmWasm } from "../wasm/gemm.ts";

/** A float array: Float32Array, or Float64Array in float64 mode. */
type Floats = Float32Array | Float64Array;

const MR = 4;
const NR = 4;
const KC = 256;
const NC = 512;

const scratch = new Map<unknown, { ap: Floats; bp: Floats }>();

/** Packing buffers of the same element type as `like`, reused across calls. */
function packBuffers(like: Floats): { ap: Floats; bp: Floats } {
  let s = scratch.get(like.constructor);
  if (!s) {
    const Ctor = like.constructor as Float32ArrayConstructor;
    s = { ap: new Ctor(KC * MR), bp: new Ctor(KC * (NC + NR)) };
    scratch.set(like.constructor, s);
  }
  return s;
}

/**
 * C += op(A) op(B) on the CPU, all row-major and dense: op(A) is m x k (A is
 * stored k x m when `transA`), op(B) is k x n (stored n x k when `transB`),
 * and C is m x n. Offsets locate each matrix inside its array.
 */
export function gemmCpu(
  m: number,
  n: number,
  k: number,
  a: Floats,
  aOff: number,
  transA: boolean,
  b: Floats,
  bOff: number,
  transB: boolean,
  c: Floats,
  cOff: number,
): void {
  if (m === 0 || n === 0 || k === 0) return;
  const { ap, bp } = packBuffers(c);
  // Element (i, p) of op(A) is a[aOff + i * ai + p * ak]; likewise for B.
  const [ai, ak] = transA ? [1, m] : [k, 1];
  const [bk, bj] = transB ? [1, k] : [n, 1];
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = Math.min(NC, n - j0);
    const panels = Math.ceil(nc / NR);
    for (let k0 = 0; k0 < k; k0 += KC) {
      const kc = Math.min(KC, k - k0);
      // B block -> panels of NR columns, each kc x NR, zero-padded.
      for (let q = 0; q < panels; q++) {
        const cols = Math.min(NR, nc - q * NR);
        let o = q * kc * NR;
        for (let p = 0; p < kc; p++) {
          const src = bOff + (k0 + p) * bk + (j0 + q * NR) * bj;
          for (let jj = 0; jj < NR; jj++, o++) {
            bp[o] = jj < cols ? b[src + jj * bj] : 0;
          }
        }
      }
      for (let i0 = 0; i0 < m; i0 += MR) {
        const rows = Math.min(MR, m - i0);
        let o = 0;
        for (let p = 0; p < kc; p++) {
          const src = aOff + i0 * ai + (k0 + p) * ak;
          for (let ii = 0; ii < MR; ii++, o++) {
            ap[o] = ii < rows ? a[src + ii * ai] : 0;
          }
        }
        for (let q = 0; q < panels; q++) {
          micro(
            ap,
            bp,
            q * kc * NR,
            kc,
            c,
            cOff + i0 * n + j0 + q * NR,
            n,
            rows,
            Math.min(NR, nc - q * NR),
          );
        }
      }
    }
  }
}

/** C[rows x cols at cOff] += (4 x kc strip) (kc x 4 panel). */
function micro(
  ap: Floats,
  bp: Floats,
  bo: number,
  kc: number,
  c: Floats,
  cOff: number,
  ldc: number,
  rows: number,
  cols: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0, ao = 0; p < kc; p++, ao += 4, bo += 4) {
    const a0 = ap[ao], a1 = ap[ao + 1], a2 = ap[ao + 2], a3 = ap[ao + 3];
    const b0 = bp[bo], b1 = bp[bo + 1], b2 = bp[bo + 2], b3 = bp[bo + 3];
    c00 += a0 * b0, c01 += a0 * b1, c02 += a0 * b2, c03 += a0 * b3;
    c10 += a1 * b0, c11 += a1 * b1, c12 += a1 * b2, c13 += a1 * b3;
    c20 += a2 * b0, c21 += a2 * b1, c22 += a2 * b2, c23 += a2 * b3;
    c30 += a3 * b0, c31 += a3 * b1, c32 += a3 * b2, c33 += a3 * b3;
  }
  if (rows === 4 && cols === 4) {
    let o = cOff;
    c[o] += c00, c[o + 1] += c01, c[o + 2] += c02, c[o + 3] += c03;
    o += ldc;
    c[o] += c10, c[o + 1] += c11, c[o + 2] += c12, c[o + 3] += c13;
    o += ldc;
    c[o] += c20, c[o + 1] += c21, c[o + 2] += c22, c[o + 3] += c23;
    o += ldc;
    c[o] += c30, c[o + 1] += c31, c[o + 2] += c32, c[o + 3] += c33;
    return;
  }
  const acc = [
    [c00, c01, c02, c03],
    [c10, c11, c12, c13],
    [c20, c21, c22, c23],
    [c30, c31, c32, c33],
  ];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) c[cOff + i * ldc + j] += acc[i][j];
  }
}

/** CPU matmul: one blocked GEMM per batch index into the zeroed output. */
export function matmulCpu(
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  args: KernelArgs<MatmulAttrs>,
): void {
  const [sa, sb] = args.inShapes;
  const d = matmulDims(sa, sb, args.attrs);
  const { transA, transB } = args.attrs;
  const rt = a instanceof Float32Array && b instanceof Float32Array &&
      out instanceof Float32Array
    ? wasmRuntime()
    : null;
  for (let z = 0; z < d.batch; z++) {
    (rt ? gemmWasm.bind(null, rt) : gemmCpu)(
      d.m,
      d.n,
      d.k,
      a,
      d.aBatched ? z * d.m * d.k : 0,
      transA,
      b,
      d.bBatched ? z * d.k * d.n : 0,
      transB,
      out,
      z * d.m * d.n,
    );
  }
}

/** A GEMM problem: C [batch, M, N] = A [M, K] B [K, N] per batch index. */
export interface GemmDims {
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** Reduction length. */
  k: number;
  /** Independent problems in one launch. */
  batch: number;
}

/**
 * The dispatches of GEMM `spec` on `tile`: a single pass when `gemmLaunch`
 * keeps K whole, else a program that writes one partial product per K chunk
 * into a scratch buffer and a second kernel summing them into the output.
 * @param key Pipeline key of the GEMM kernel (the tile is appended).
 * @param reduceKey Pipeline key of the reduction; it depends only on the
 *   spec's store and extras, so specs sharing those may share it.
 * @param extras Values of the spec's extra uniform fields.
 */
export function gemmProgram(
  spec: GemmSpec,
  tile: GemmTile,
  dims: GemmDims,
  extras: readonly number[],
  key: string,
  reduceKey: string,
): GpuPlan[] | GpuProgram {
  const { m, n, k, batch } = dims;
  const launch = gemmLaunch(tile, m, n, k, batch, extras);
  const gemm: GpuPlan = {
    kernel: {
      key: `${key}:${tileKey(tile)}`,
      source: () => gemmSource(spec, tile),
    },
    uniforms: launch.uniforms,
    workgroups: launch.workgroups,
  };
  if (launch.splits === 1) return [gemm];
  const count = batch * m * n;
  return {
    scratch: [launch.splits * count],
    plans: [
      { ...gemm, buffers: [...spec.inputs.keys(), { scratch: 0 }] },
      {
        kernel: {
          key: `splitk:${reduceKey}`,
          source: () => splitKSource(spec),
        },
        uniforms: launch.uniforms,
        workgroups: splitKGrid(count),
        buffers: [{ scratch: 0 }, "out"],
      },
    ],
  };
}

/** WGSL loader of a dense operand stored row-major with `rowLen` columns. */
function denseLoader(
  x: "A" | "B",
  buf: string,
  contiguous: "k" | "mn",
  vec4: boolean,
  rowLen: string,
): GemmLoader {
  const bs = x === "A" ? "p.a_bs" : "p.b_bs";
  // Along k, each i (row of A / column of B) starts a stored row; along mn,
  // i is the offset within a stored row and k picks the row.
  const start = contiguous === "k" ? `i32(i * ${rowLen})` : "i32(i)";
  const idx = contiguous === "k" ? "u32(q.x) + k" : `u32(q.x) + k * ${rowLen}`;
  const ret = vec4 ? "vec4<f32>" : "f32";
  return {
    contiguous,
    vec4,
    code: `
fn prep${x}(z: u32, i: u32) -> vec4<i32> {
  return vec4<i32>(i32(z) * ${bs} + ${start}, 0, 0, 0);
}
fn load${x}(q: vec4<i32>, i: u32, k: u32) -> ${ret} {
  return ${buf}[${vec4 ? `(${idx}) / 4u` : idx}];
}`,
  };
}

/**
 * WebGPU matmul: one tiled-GEMM dispatch covering every batch index (plus a
 * reduction when K is split). Operands whose contiguous axis is a multiple
 * of 4 are read as vec4.
 */
export function matmulGpu(
  args: KernelArgs<MatmulAttrs>,
): GpuPlan[] | GpuProgram {
  const d = matmulDims(args.inShapes[0], args.inShapes[1], args.attrs);
  const { transA, transB } = args.attrs;
  // A stored [M, K] is contiguous along k; transposed ([K, M]) along m.
  const aCont = transA ? "mn" : "k";
  const bCont = transB ? "k" : "mn";
  const vecA = (transA ? d.m : d.k) % 4 === 0;
  const vecB = (transB ? d.k : d.n) % 4 === 0;
  const key = `gemm:matmul:${transA ? "t" : "n"}${transB ? "t" : "n"}:${
    vecA ? "v" : "s"
  }${vecB ? "v" : "s"}`;
  const a = denseLoader("A", "in_a", aCont, vecA, transA ? "p.m" : "p.k");
  const b = denseLoader("B", "in_b", bCont, vecB, transB ? "p.k" : "p.n");
  const spec: GemmSpec = {
    inputs: [{ name: "in_a", vec4: vecA }, { name: "in_b", vec4: vecB }],
    extras: ["a_bs", "b_bs"],
    a,
    b,
    store: `
fn storeC(z: u32, i: u32, j: u32, v: f32) {
  out[(z * p.m + i) * p.n + j] = v;
}`,
  };
  return gemmProgram(
    spec,
    gemmTile(d.m, d.n, d.k),
    { m: d.m, n: d.n, k: d.k, batch: d.batch },
    [d.aBatched ? d.m * d.k : 0, d.bBatched ? d.k * d.n : 0],
    key,
    "matmul",
  );
}
