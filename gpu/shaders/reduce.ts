/**
 * Axis reductions (sum, max, min, argmax, argmin): one workgroup per output
 * element; its threads stride over the reduced elements, then combine in
 * shared memory. Ties in arg reductions go to the lowest index, as PyTorch.
 *
 * @module
 */

import { at, GROUP_INDEX, MAIN_ARGS } from "./common.ts";

/** Reduction kinds. */
export type ReduceMode = "sum" | "max" | "min" | "argmax" | "argmin";

/** Threads per reduction workgroup. */
export const REDUCE_WG = 64;

/** WGSL of a reduction kernel. */
export function reduceSource(mode: ReduceMode): string {
  const arg = mode === "argmax" || mode === "argmin";
  const better = mode === "max" || mode === "argmax" ? ">" : "<";
  const init = mode === "sum"
    ? "0.0"
    : better === ">"
    ? "bitcast<f32>(0xff800000u)"
    : "bitcast<f32>(0x7f800000u)";
  const seq = mode === "sum"
    ? "acc += v;"
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
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<${outType}>;
@group(0) @binding(2) var<uniform> p: P;
const WG: u32 = ${REDUCE_WG}u;
var<workgroup> sv: array<f32, WG>;
var<workgroup> si: array<i32, WG>;

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  let o = ${GROUP_INDEX};
  if (o >= p.n_out) { return; }
  var rem = o;
  var base = 0u;
  for (var d = p.krank; d > 0u; d--) {
    let sz = ${at("p.kshape", "d - 1u")};
    base += (rem % sz) * ${at("p.kst", "d - 1u")};
    rem = rem / sz;
  }
  var acc: f32 = ${init};
  var idx: i32 = -1;
  for (var r = lid; r < p.r_count; r += WG) {
    var rr = r;
    var off = base;
    for (var d = p.rrank; d > 0u; d--) {
      let sz = ${at("p.rshape", "d - 1u")};
      off += (rr % sz) * ${at("p.rst", "d - 1u")};
      rr = rr / sz;
    }
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
