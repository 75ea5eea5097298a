/**
 * WGSL for the 2-D pooling kernels: arg-pooling (index of each window's max
 * or min), the gather by those indices, its adjoint (unpooling), and average
 * pooling with its adjoint. Every kernel runs one thread per output element
 * and writes it exactly once, so none needs atomics or a zeroed buffer: the
 * two adjoints are written in gather form, each input-plane position looping
 * over the few windows that contain it.
 *
 * All kernels share one uniform block (`poolUniforms`) holding the sizes, so
 * one pipeline per kernel and mode serves every shape.
 *
 * @module
 */

import {
  GROUP_INDEX,
  MAIN_ARGS,
  packUniforms,
  paramsBinding,
  WG_SIZE,
} from "./common.ts";

/** Sizes of one pooling dispatch: planes of H x W pooled to Ho x Wo. */
export interface PoolGeometry {
  /** Threads to run (elements of the kernel's output). */
  n: number;
  /** Input plane size [H, W]. */
  inSize: readonly [number, number];
  /** Pooled plane size [Ho, Wo]. */
  outSize: readonly [number, number];
  /** Window size [kh, kw]. */
  kernel: readonly [number, number];
  /** Stride [sh, sw]. */
  stride: readonly [number, number];
  /** Padding [ph, pw]. */
  padding: readonly [number, number];
}

/** Packs a pooling geometry into the shared uniform block (48 bytes). */
export function poolUniforms(g: PoolGeometry): ArrayBuffer {
  return packUniforms([
    g.n,
    g.inSize[0],
    g.inSize[1],
    g.outSize[0],
    g.outSize[1],
    g.kernel[0],
    g.kernel[1],
    g.stride[0],
    g.stride[1],
    g.padding[0],
    g.padding[1],
  ]);
}

const HEADER = `
struct P {
  n: u32,
  h: u32,
  w: u32,
  ho: u32,
  wo: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  unused: u32,
}
override WG: u32 = ${WG_SIZE};
`;

function bindings(inputs: string[], outType: string): string {
  const ins = inputs.map((decl, i) =>
    `@group(0) @binding(${i}) var<storage, read> ${decl};`
  );
  const k = inputs.length;
  return `${ins.join("\n")}
@group(0) @binding(${k}) var<storage, read_write> out: array<${outType}>;
${paramsBinding(k + 1)}`;
}

/** Thread prologue: `i` is the element, the kernel returns past `p.n`. */
const PROLOGUE = `let i = ${GROUP_INDEX} * WG + lid;
  if (i >= p.n) { return; }`;

/**
 * Window rows (or columns) of the pooled output that contain input row `r`:
 * `[lo, hi)` clamped to the output. A window o covers rows o*s - pad up to
 * o*s - pad + k - 1.
 */
const COVER = `
fn cover(r: u32, k: u32, s: u32, pad: u32, size: u32) -> vec2<u32> {
  let top = i32(r + pad) - i32(k) + 1;
  var lo = 0u;
  if (top > 0) { lo = (u32(top) + s - 1u) / s; }
  let hi = min((r + pad) / s + 1u, size);
  return vec2<u32>(lo, max(lo, hi));
}
`;

/**
 * Input range `[lo, hi)` covered by window `o` along one axis, and the
 * window's unclipped start (for divisors).
 */
const SPAN = `
fn span(o: u32, k: u32, s: u32, pad: u32, size: u32) -> vec2<u32> {
  let start = i32(o * s) - i32(pad);
  let lo = u32(max(start, 0));
  let hi = u32(min(start + i32(k), i32(size)));
  return vec2<u32>(lo, hi);
}
`;

/**
 * WGSL of arg-pooling: int32 flat index (ih * W + iw) in the input plane of
 * each window's maximum (`max`) or minimum (`min`). Padding is never
 * selected; ties keep the first position in row-major window order.
 */
export function poolArgSource(mode: "max" | "min"): string {
  const better = mode === "max" ? ">" : "<";
  return `${HEADER}
${bindings(["x: array<f32>"], "i32")}
${SPAN}
@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  ${PROLOGUE}
  let hw = p.ho * p.wo;
  let plane = i / hw;
  let o = i % hw;
  let rows = span(o / p.wo, p.kh, p.sh, p.ph, p.h);
  let cols = span(o % p.wo, p.kw, p.sw, p.pw, p.w);
  let base = plane * p.h * p.w;
  var best = x[base + rows.x * p.w + cols.x];
  var arg = rows.x * p.w + cols.x;
  for (var r = rows.x; r < rows.y; r++) {
    for (var c = cols.x; c < cols.y; c++) {
      let q = r * p.w + c;
      let v = x[base + q];
      if (v ${better} best) {
        best = v;
        arg = q;
      }
    }
  }
  out[i] = i32(arg);
}
`;
}

/**
 * WGSL of the pool gather: out[plane, o] = x[plane, idx[plane, o]]. An
 * index outside the plane reads as 0.
 */
export function poolGatherSource(): string {
  return `${HEADER}
${bindings(["x: array<f32>", "idx: array<i32>"], "f32")}

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  ${PROLOGUE}
  let plane = i / (p.ho * p.wo);
  let hw = p.h * p.w;
  let q = idx[i];
  var v = 0.0;
  if (q >= 0 && u32(q) < hw) { v = x[plane * hw + u32(q)]; }
  out[i] = v;
}
`;
}

/**
 * WGSL of unpooling in gather form: each input-plane position p sums the
 * pooled values z[o] whose index idx[o] == p, over the windows o that
 * contain p. It therefore assumes every index lies inside its own window
 * (true for indices from a pooling with the same geometry); others are
 * dropped.
 */
export function unpoolSource(): string {
  return `${HEADER}
${bindings(["z: array<f32>", "idx: array<i32>"], "f32")}
${COVER}
@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  ${PROLOGUE}
  let hw = p.h * p.w;
  let plane = i / hw;
  let q = i % hw;
  let rows = cover(q / p.w, p.kh, p.sh, p.ph, p.ho);
  let cols = cover(q % p.w, p.kw, p.sw, p.pw, p.wo);
  let base = plane * p.ho * p.wo;
  var acc = 0.0;
  for (var r = rows.x; r < rows.y; r++) {
    for (var c = cols.x; c < cols.y; c++) {
      let o = base + r * p.wo + c;
      if (idx[o] == i32(q)) { acc += z[o]; }
    }
  }
  out[i] = acc;
}
`;
}

function divisor(includePad: boolean, rows: string, cols: string): string {
  return includePad
    ? "f32(p.kh * p.kw)"
    : `f32((${rows}.y - ${rows}.x) * (${cols}.y - ${cols}.x))`;
}

/**
 * WGSL of average pooling; the divisor is kh * kw (`includePad`) or the
 * number of non-padded positions in the window.
 */
export function avgPoolSource(includePad: boolean): string {
  return `${HEADER}
${bindings(["x: array<f32>"], "f32")}
${SPAN}
@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  ${PROLOGUE}
  let hw = p.ho * p.wo;
  let plane = i / hw;
  let o = i % hw;
  let rows = span(o / p.wo, p.kh, p.sh, p.ph, p.h);
  let cols = span(o % p.wo, p.kw, p.sw, p.pw, p.w);
  let base = plane * p.h * p.w;
  var acc = 0.0;
  for (var r = rows.x; r < rows.y; r++) {
    for (var c = cols.x; c < cols.y; c++) {
      acc += x[base + r * p.w + c];
    }
  }
  out[i] = acc / ${divisor(includePad, "rows", "cols")};
}
`;
}

/**
 * WGSL of the adjoint of average pooling in gather form: each input
 * position sums g[o] / divisor(o) over the windows o that contain it.
 */
export function avgPoolGradSource(includePad: boolean): string {
  // Only the exclude-padding divisor depends on the window's clipped extent.
  const rowSpan = includePad
    ? ""
    : "\n    let wr = span(r, p.kh, p.sh, p.ph, p.h);";
  const colSpan = includePad
    ? ""
    : "\n      let wc = span(c, p.kw, p.sw, p.pw, p.w);";
  return `${HEADER}
${bindings(["g: array<f32>"], "f32")}
${COVER}${includePad ? "" : SPAN}
@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  ${PROLOGUE}
  let hw = p.h * p.w;
  let plane = i / hw;
  let q = i % hw;
  let rows = cover(q / p.w, p.kh, p.sh, p.ph, p.ho);
  let cols = cover(q % p.w, p.kw, p.sw, p.pw, p.wo);
  let base = plane * p.ho * p.wo;
  var acc = 0.0;
  for (var r = rows.x; r < rows.y; r++) {${rowSpan}
    for (var c = cols.x; c < cols.y; c++) {${colSpan}
      acc += g[base + r * p.wo + c] / ${divisor(includePad, "wr", "wc")};
    }
  }
  out[i] = acc;
}
`;
}
