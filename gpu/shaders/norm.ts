/**
 * WGSL for CNN-F's instance norm, y = x / s with s = sqrt(mean(x²) + eps)
 * over each H x W plane, and its backward. One workgroup per plane: its
 * threads stride over the plane for the sums, combine them in shared
 * memory, then write the plane. The plane is read twice but written once,
 * where the composed form (square, mean, add, sqrt, div and their adjoints)
 * made a dozen passes.
 *
 * @module
 */

import {
  GROUP_INDEX,
  MAIN_ARGS,
  packUniforms,
  paramsBinding,
} from "./common.ts";

/** Threads per instance-norm workgroup (one workgroup per plane). */
export const NORM_WG = 128;

/**
 * Largest plane one workgroup may normalise: each thread loops over its
 * share twice, and Mesa's llvmpipe caps one invocation's loop iterations at
 * 65535 in total.
 */
export const NORM_MAX_PLANE = NORM_WG * 32000;

/**
 * Parameter block of the kernels: planes, plane size, eps, and channels
 * (the bias of the fused variant is indexed by plane % channels).
 */
export function normUniforms(
  planes: number,
  hw: number,
  eps: number,
  channels: number,
): ArrayBuffer {
  return packUniforms([planes, hw, eps, channels], new Set([2]));
}

const HEADER = `
struct P {
  planes: u32,
  hw: u32,
  eps: f32,
  channels: u32,
}
const WG: u32 = ${NORM_WG}u;
`;

/** Tree sum of shared array `a` into a[0], visible to every thread. */
function treeSum(arrays: string[]): string {
  const adds = arrays.map((a) => `${a}[lid] = ${a}[lid] + ${a}[lid + s];`);
  return `workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      ${adds.join("\n      ")}
    }
    workgroupBarrier();
  }`;
}

/**
 * WGSL of the forward kernel: bindings x, out, params; with `biasRelu`,
 * bindings x, bias, out, params and out = max(x / s + bias[c], 0) (CNN-F's
 * InsNorm, Bias, ReLU on a first pass).
 */
export function insNormSource(biasRelu = false): string {
  const ins = biasRelu
    ? `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;`
    : `@group(0) @binding(0) var<storage, read> x: array<f32>;`;
  const k = biasRelu ? 2 : 1;
  const value = biasRelu
    ? "max(x[base + i] * inv + b, 0.0)"
    : "x[base + i] * inv";
  return `${HEADER}
${ins}
@group(0) @binding(${k}) var<storage, read_write> out: array<f32>;
${paramsBinding(k + 1)}
var<workgroup> sq: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  let plane = ${GROUP_INDEX};
  if (plane >= p.planes) { return; }
  let base = plane * p.hw;
  var acc = 0.0;
  for (var i = lid; i < p.hw; i += WG) {
    let v = x[base + i];
    acc += v * v;
  }
  sq[lid] = acc;
  ${treeSum(["sq"])}
  let inv = 1.0 / sqrt(sq[0] / f32(p.hw) + p.eps);
  ${biasRelu ? "let b = bias[plane % p.channels];" : ""}
  for (var i = lid; i < p.hw; i += WG) {
    out[base + i] = ${value};
  }
}
`;
}

/**
 * WGSL of the backward kernel: bindings g, x, out, params. With
 * A = sum(g·x) over the plane and n = H·W, dx = g / s − x·A / (n s³); the
 * factor is formed as (A / n)·inv·inv·inv so no intermediate overflows.
 * With `gated`, bindings g, x, y, out, params, and g counts only where
 * y > 0 (the ReLU of `insNormBiasRelu`, y its output).
 */
export function insNormGradSource(gated = false): string {
  const k = gated ? 3 : 2;
  const gi = gated
    ? "select(0.0, g[base + i], y[base + i] > 0.0)"
    : "g[base + i]";
  return `${HEADER}
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${gated ? "@group(0) @binding(2) var<storage, read> y: array<f32>;" : ""}
@group(0) @binding(${k}) var<storage, read_write> out: array<f32>;
${paramsBinding(k + 1)}
var<workgroup> sq: array<f32, WG>;
var<workgroup> sgx: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  let plane = ${GROUP_INDEX};
  if (plane >= p.planes) { return; }
  let base = plane * p.hw;
  var a = 0.0;
  var b = 0.0;
  for (var i = lid; i < p.hw; i += WG) {
    let v = x[base + i];
    a += v * v;
    b += ${gi} * v;
  }
  sq[lid] = a;
  sgx[lid] = b;
  ${treeSum(["sq", "sgx"])}
  let n = f32(p.hw);
  let inv = 1.0 / sqrt(sq[0] / n + p.eps);
  let k = (sgx[0] / n) * inv * inv * inv;
  for (var i = lid; i < p.hw; i += WG) {
    out[base + i] = ${gi} * inv - x[base + i] * k;
  }
}
`;
}
