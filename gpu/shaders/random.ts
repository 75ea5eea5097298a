/**
 * Counter-based random numbers: element i of a draw hashes (offset + i) under
 * a key derived from the seed, so CPU and GPU produce the same stream and any
 * slice of it can be regenerated without state.
 *
 * @module
 */

import { GROUP_INDEX, MAIN_ARGS, paramsBinding, WG_SIZE } from "./common.ts";

/** WGSL of the hash and the uniform/normal generators. */
export function randomSource(kind: "uniform" | "normal"): string {
  const body = kind === "uniform"
    ? "out[i] = unit(mix(ctr, p.k0));"
    : `let u1 = 1.0 - unit(mix(ctr, p.k0));
  let u2 = unit(mix(ctr, p.k1));
  out[i] = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);`;
  return `
struct P { n: u32, offset: u32, k0: u32, k1: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
${paramsBinding(1)}
override WG: u32 = ${WG_SIZE};

fn fmix(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}
fn mix(ctr: u32, key: u32) -> u32 {
  return fmix(fmix(ctr ^ key) + key);
}
fn unit(h: u32) -> f32 {
  return f32(h >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  let i = ${GROUP_INDEX} * WG + lid;
  if (i >= p.n) { return; }
  let ctr = p.offset + i;
  ${body}
}
`;
}

/** 32-bit finaliser (same as the WGSL `fmix`). */
export function fmix(v: number): number {
  let h = v >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Keyed counter hash (same as the WGSL `mix`). */
export function mixHash(ctr: number, key: number): number {
  return fmix((fmix((ctr ^ key) >>> 0) + key) >>> 0);
}

/** Two stream keys from a seed and the high word of the counter. */
export function streamKeys(seed: number, offset: number): [number, number] {
  const hi = Math.floor(offset / 4294967296) >>> 0;
  const s = seed >>> 0;
  const k0 = fmix((s ^ Math.imul(hi, 0x9e3779b9) ^ 0x243f6a88) >>> 0);
  const k1 = fmix((k0 ^ 0xb7e15162) >>> 0);
  return [k0, k1];
}
