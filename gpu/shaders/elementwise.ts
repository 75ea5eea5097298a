/**
 * The one elementwise template: k inputs (broadcast by strides) and one
 * output, with a per-op WGSL expression spliced in. A contiguous variant skips
 * index arithmetic when no input is broadcast.
 *
 * @module
 */

import { at, GROUP_INDEX, MAIN_ARGS, WG_SIZE } from "./common.ts";

/** Largest rank the elementwise template supports. */
export const EW_MAX_RANK = 8;

/** Extra WGSL functions an expression may call. */
export const EW_HELPERS = `
fn powf(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  // WGSL makes a constant infinity or NaN a compile error (Tint enforces
  // it), so both are built at run time from the bits of a.
  let bits = bitcast<u32>(a);
  let odd = floor(b) == b && (i32(b) & 1) == 1;
  if (a == 0.0) {
    if (b > 0.0) { return bitcast<f32>(select(0u, bits, odd)); }
    // +inf, or -inf for -0 raised to an odd negative integer (as Math.pow).
    let sign = select(0u, bits & 0x80000000u, odd);
    return bitcast<f32>(sign | 0x7f800000u);
  }
  if (a < 0.0) {
    if (floor(b) != b) { return bitcast<f32>(bits | 0x7fc00000u); }
    let r = pow(-a, b);
    return select(r, -r, odd);
  }
  return pow(a, b);
}
// Sine and cosine of x = k*pi/2 + r: Cody-Waite reduction (pi/2 split in
// three parts whose products with k stay exact) and Taylor polynomials on
// |r| <= pi/4, accurate to a few ulp. The builtins only promise 2^-11
// absolute error, and Tint on SwiftShader is about that coarse.
fn sin_quadrant(x: f32, shift: u32) -> f32 {
  let k = round(x * 0.63661977);
  let r = ((x - k * 1.5703125) - k * 4.8375129699707031e-4) -
    k * 7.5497899548918822e-8;
  let r2 = r * r;
  let s = r + r * r2 * (-0.16666667 + r2 * (8.3333333e-3 +
    r2 * (-1.9841270e-4 + r2 * 2.7557319e-6)));
  let c = 1.0 + r2 * (-0.5 + r2 * (4.1666667e-2 + r2 * (-1.3888889e-3 +
    r2 * (2.4801587e-5 - r2 * 2.7557319e-7))));
  let q = (bitcast<u32>(i32(k)) + shift) & 3u;
  let v = select(s, c, (q & 1u) == 1u);
  return select(v, -v, q >= 2u);
}
fn sinf(x: f32) -> f32 { return sin_quadrant(x, 0u); }
fn cosf(x: f32) -> f32 { return sin_quadrant(x, 1u); }
fn sigmoidf(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn tanhf(x: f32) -> f32 {
  let y = clamp(x, -15.0, 15.0);
  let e = exp(2.0 * y);
  return (e - 1.0) / (e + 1.0);
}
`;

/**
 * WGSL source of an elementwise kernel.
 * @param inTypes WGSL scalar types of the inputs (`f32` or `i32`), bound as
 *   `a`, `b`, `c` in the expression.
 * @param outType WGSL scalar type of the output.
 * @param expr Expression computing the output; `s0` and `s1` are two f32
 *   scalar attributes.
 * @param contiguous Whether every input has the output's shape.
 */
export function elementwiseSource(
  inTypes: string[],
  outType: string,
  expr: string,
  contiguous: boolean,
): string {
  const k = inTypes.length;
  const names = ["a", "b", "c"];
  const decls = inTypes.map((t, i) =>
    `@group(0) @binding(${i}) var<storage, read> in${i}: array<${t}>;`
  ).join("\n");
  const strides = k > 0 ? `st: array<vec4<u32>, ${2 * k}>,` : "";
  const loads = contiguous
    ? inTypes.map((_, i) => `let ${names[i]} = in${i}[i];`).join("\n  ")
    : `var rem = i;
  ${inTypes.map((_, i) => `var o${i} = 0u;`).join(" ")}
  for (var d = p.rank; d > 0u; d--) {
    let sz = ${at("p.shape", "d - 1u")};
    let c = rem % sz;
    rem = rem / sz;
    ${
      inTypes.map((_, i) => `o${i} += c * ${at("p.st", `d - 1u + ${8 * i}u`)};`)
        .join("\n    ")
    }
  }
  ${inTypes.map((_, i) => `let ${names[i]} = in${i}[o${i}];`).join("\n  ")}`;
  return `${EW_HELPERS}
struct P {
  n: u32,
  rank: u32,
  s0: f32,
  s1: f32,
  shape: array<vec4<u32>, 2>,
  ${strides}
}
${decls}
@group(0) @binding(${k}) var<storage, read_write> out: array<${outType}>;
@group(0) @binding(${k + 1}) var<uniform> p: P;
override WG: u32 = ${WG_SIZE};

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  let i = ${GROUP_INDEX} * WG + lid;
  if (i >= p.n) { return; }
  let s0 = p.s0;
  let s1 = p.s1;
  ${loads}
  out[i] = ${expr};
}
`;
}

/**
 * Uniform block of an elementwise kernel.
 * @param n Number of output elements.
 * @param shape Output shape.
 * @param strides Per-input broadcast strides (already aligned to `shape`).
 * @param s0 First scalar attribute.
 * @param s1 Second scalar attribute.
 * @param inputs Number of inputs (the struct's size depends on it).
 */
export function elementwiseUniforms(
  n: number,
  shape: readonly number[],
  strides: readonly number[][],
  s0 = 0,
  s1 = 0,
  inputs: number = strides.length,
): ArrayBuffer {
  const words = 4 + 8 + 8 * inputs;
  const buf = new ArrayBuffer(words * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u[0] = n;
  u[1] = shape.length;
  f[2] = s0;
  f[3] = s1;
  shape.forEach((d, i) => (u[4 + i] = d));
  strides.forEach((st, j) => st.forEach((s, i) => (u[12 + 8 * j + i] = s)));
  return buf;
}
