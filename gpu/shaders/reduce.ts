/**
 * Axis reductions (sum, max, min, argmax, argmin): one workgroup per output
 * element; its threads stride over the reduced elements, then combine in
 * shared memory. Ties in arg reductions go to the lowest index, as PyTorch.
 *
 * @module
 */

import { at, GROUP_INDEX, MAIN_ARGS, paramsBinding } from "./common.ts";

/** Reduction kinds. */
export type ReduceMode = "sum" | "max" | "min" | "argmax" | "argmin";

/** Threads per reduction workgroup. */
export const REDUCE_WG = 256;

/**
 * Straight-line index decomposition (no loop): Mesa's llvmpipe caps the loop
 * iterations of one invocation at 65535 in total, and a reduction thread may
 * visit tens of thousands of elements.
 */
function unrolled(
  rank: string,
  shape: string,
  st: string,
  rem: string,
  acc: string,
): string {
  const lines: string[] = [];
  for (let k = 7; k >= 0; k--) {
    lines.push(`    if (${k}u < ${rank}) {
      let sz${k} = ${at(shape, `${k}u`)};
      ${acc} += (${rem} % sz${k}) * ${at(st, `${k}u`)};
      ${rem} = ${rem} / sz${k};
    }`);
  }
  return lines.join("\n");
}

/** Most elements one reduction output may combine (256 threads x 65535 loop iterations on llvmpipe). */
export const REDUCE_MAX_COUNT = 256 * 65000;

/** WGSL of a reduction kernel. */
export function reduceSource(mode: ReduceMode): string {
  const arg = mode === "argmax" || mode === "argmin";
  const better = mode === "max" || mode === "argmax" ? ">" : "<";
  // The max/min identity (-inf/+inf) comes from the uniform block: WGSL makes
  // a constant infinity a compile error, and Tint enforces it.
  const init = mode === "sum" ? "0.0" : "p.identity";
  // Kahan-compensated accumulation: a thread may add up tens of thousands
  // of values (a 3M-element gradient norm), where plain f32 sums drift.
  const seq = mode === "sum"
    ? "let y = v - comp; let t = acc + y; comp = (t - acc) - y; acc = t;"
    : `if (v ${better} acc || (idx < 0 && v == v)) { acc = v; idx = i32(r); }`;
  const comb = mode === "sum" ? "sv[lid] = sv[lid] + sv[lid + s];" : `
      let ov = sv[lid + s];
      let oi = si[lid + s];
      let mi = si[lid];
      if (oi >= 0 && (mi < 0 || ov ${better} sv[lid] ||
          (ov == sv[lid] && oi < mi))) {
        sv[lid] = ov;
        si[lid] = oi;
      }`;
  const outType = arg ? "i32" : "f32";
  const result = arg ? "max(si[0], 0)" : "sv[0]";
  return `
struct P {
  n_out: u32,
  krank: u32,
  rrank: u32,
  r_count: u32,
  kshape: array<vec4<u32>, 2>,
  kst: array<vec4<u32>, 2>,
  rshape: array<vec4<u32>, 2>,
  rst: array<vec4<u32>, 2>,
  identity: f32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<${outType}>;
${paramsBinding(2)}
const WG: u32 = ${REDUCE_WG}u;
var<workgroup> sv: array<f32, WG>;
var<workgroup> si: array<i32, WG>;

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  let o = ${GROUP_INDEX};
  if (o >= p.n_out) { return; }
  var rem = o;
  var base = 0u;
${unrolled("p.krank", "p.kshape", "p.kst", "rem", "base")}
  var acc: f32 = ${init};
  var idx: i32 = -1;
  var comp: f32 = 0.0;
  for (var r = lid; r < p.r_count; r += WG) {
    var rr = r;
    var off = base;
${unrolled("p.rrank", "p.rshape", "p.rst", "rr", "off")}
    let v = x[off];
    ${seq}
  }
  sv[lid] = acc;
  si[lid] = idx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {${comb}
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[o] = ${result};
  }
}
`;
}
