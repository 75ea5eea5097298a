/**
 * The second pass of a split-K GEMM. When `gemmLaunch` cuts K into several
 * chunks, the GEMM kernel writes one raw partial product per chunk,
 * [splits, batch, M, N], into a scratch buffer; this kernel sums the
 * partials of each output element, always in chunk order (deterministic, no
 * atomics), and stores the sum through the spec's own `storeC`, so the
 * output layout (plain matrix, NCHW image, weight) is the one the
 * single-pass kernel would have written.
 *
 * It shares the GEMM kernel's uniform struct, so one uniform block serves
 * both dispatches.
 *
 * @module
 */

import { grid1d, GROUP_INDEX, MAIN_ARGS, paramsBinding } from "./common.ts";
import { type GemmSpec, gemmStruct } from "./gemm.ts";

/** Threads per workgroup of the split-K reduction. */
export const SPLITK_WG = 256;

/**
 * WGSL of the split-K reduction for `spec`: binding 0 holds the partials,
 * binding 1 is the output `storeC` writes, binding 2 the GEMM uniforms. One
 * thread per output element walks the `splits` partials (a short loop:
 * far fewer trips than K tiles).
 */
export function splitKSource(spec: GemmSpec): string {
  return `
${gemmStruct(spec)}
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${paramsBinding(2)}
${spec.store}

@compute @workgroup_size(${SPLITK_WG})
fn main(${MAIN_ARGS}) {
  let e = ${GROUP_INDEX} * ${SPLITK_WG}u + lid;
  let mn = p.m * p.n;
  let total = p.batch * mn;
  if (e >= total) { return; }
  var acc = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    acc += part[s * total + e];
  }
  let r = e % mn;
  storeC(e / mn, r / p.n, r % p.n, acc);
}
`;
}

/** Workgroup grid of the split-K reduction of `count` output elements. */
export function splitKGrid(count: number): [number, number, number] {
  return grid1d(count, SPLITK_WG);
}
