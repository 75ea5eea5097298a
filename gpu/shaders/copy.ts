/**
 * The strided-copy kernel behind every movement op (permute, expand, slice,
 * pad, concat): it walks a region, reads the source through arbitrary strides
 * and offsets (a padding value outside the source), and writes the
 * destination at an offset.
 *
 * @module
 */

import {
  at,
  GROUP_INDEX,
  MAIN_ARGS,
  paramsBinding,
  WG_SIZE,
} from "./common.ts";

/** Geometry of one strided copy (all arrays have the region's rank). */
export interface CopyGeometry {
  /** Shape of the region walked. */
  region: readonly number[];
  /** Source extent per axis (reads outside give the padding value). */
  srcShape: readonly number[];
  /** Source coordinate = region coordinate + srcOffset (may be negative). */
  srcOffset: readonly number[];
  /** Source strides (0 broadcasts). */
  srcStrides: readonly number[];
  /** Destination coordinate = region coordinate + dstOffset. */
  dstOffset: readonly number[];
  /** Destination strides. */
  dstStrides: readonly number[];
  /** Value written where the source coordinate is out of range. */
  padValue: number;
}

/** WGSL of the strided copy for a scalar type (`f32` or `i32`). */
export function copySource(type: string): string {
  return `
struct P {
  n: u32,
  rank: u32,
  pad: f32,
  unused: u32,
  region: array<vec4<u32>, 2>,
  sshape: array<vec4<u32>, 2>,
  soff: array<vec4<i32>, 2>,
  sst: array<vec4<u32>, 2>,
  doff: array<vec4<u32>, 2>,
  dst: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<storage, read> src: array<${type}>;
@group(0) @binding(1) var<storage, read_write> out: array<${type}>;
${paramsBinding(2)}
override WG: u32 = ${WG_SIZE};

@compute @workgroup_size(WG)
fn main(${MAIN_ARGS}) {
  let i = ${GROUP_INDEX} * WG + lid;
  if (i >= p.n) { return; }
  var rem = i;
  var so = 0u;
  var dof = 0u;
  var valid = true;
  for (var d = p.rank; d > 0u; d--) {
    let k = d - 1u;
    let sz = ${at("p.region", "k")};
    let c = rem % sz;
    rem = rem / sz;
    let s = i32(c) + ${at("p.soff", "k")};
    if (s < 0 || s >= i32(${at("p.sshape", "k")})) {
      valid = false;
    } else {
      so += u32(s) * ${at("p.sst", "k")};
    }
    dof += (c + ${at("p.doff", "k")}) * ${at("p.dst", "k")};
  }
  if (valid) {
    out[dof] = src[so];
  } else {
    out[dof] = ${type}(p.pad);
  }
}
`;
}

/** Uniform block of a strided copy. */
export function copyUniforms(g: CopyGeometry): ArrayBuffer {
  const buf = new ArrayBuffer((4 + 6 * 8) * 4);
  const u = new Uint32Array(buf);
  const i32 = new Int32Array(buf);
  const f = new Float32Array(buf);
  u[0] = g.region.reduce((a, b) => a * b, 1);
  u[1] = g.region.length;
  f[2] = g.padValue;
  const put = (base: number, v: readonly number[], signed = false) =>
    v.forEach((x, i) => (signed ? (i32[base + i] = x) : (u[base + i] = x)));
  put(4, g.region);
  put(12, g.srcShape);
  put(20, g.srcOffset, true);
  put(28, g.srcStrides);
  put(36, g.dstOffset);
  put(44, g.dstStrides);
  return buf;
}

/**
 * Merges each axis into the next inner one where the inner axis is whole
 * (no offset, source extent = region extent) and both strides nest, so a
 * slice or pad along the batch of [N, C, H, W] becomes one long run and a
 * concat one run per outer index. The walk visits the same elements in the
 * same order.
 */
export function mergeCopyAxes(g: CopyGeometry): CopyGeometry {
  const r = g.region.length;
  if (r < 2) return g;
  const l = r - 1;
  const region = [g.region[l]], srcShape = [g.srcShape[l]];
  const srcOffset = [g.srcOffset[l]], srcStrides = [g.srcStrides[l]];
  const dstOffset = [g.dstOffset[l]], dstStrides = [g.dstStrides[l]];
  for (let d = l - 1; d >= 0; d--) {
    const k = region.length - 1;
    const len = region[k];
    if (
      srcOffset[k] === 0 && dstOffset[k] === 0 && srcShape[k] === len &&
      g.srcStrides[d] === srcStrides[k] * len &&
      g.dstStrides[d] === dstStrides[k] * len
    ) {
      region[k] = g.region[d] * len;
      srcShape[k] = g.srcShape[d] * len;
      srcOffset[k] = g.srcOffset[d] * len;
      dstOffset[k] = g.dstOffset[d] * len;
    } else {
      region.push(g.region[d]);
      srcShape.push(g.srcShape[d]);
      srcOffset.push(g.srcOffset[d]);
      srcStrides.push(g.srcStrides[d]);
      dstOffset.push(g.dstOffset[d]);
      dstStrides.push(g.dstStrides[d]);
    }
  }
  return {
    region: region.reverse(),
    srcShape: srcShape.reverse(),
    srcOffset: srcOffset.reverse(),
    srcStrides: srcStrides.reverse(),
    dstOffset: dstOffset.reverse(),
    dstStrides: dstStrides.reverse(),
    padValue: g.padValue,
  };
}

/** Shortest contiguous run copied with `set`/`fill` rather than a loop. */
const BLOCK_MIN = 64;

type Block = {
  fill(v: number, start: number, end: number): unknown;
  set(a: ArrayLike<number>, offset: number): void;
};
type Sub = { subarray(a: number, b: number): ArrayLike<number> };

/** CPU version of the same copy (the reference). */
export function copyCpu(
  src: ArrayLike<number>,
  out: { [i: number]: number },
  geometry: CopyGeometry,
): void {
  const g = mergeCopyAxes(geometry);
  const rank = g.region.length;
  const n = g.region.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  if (rank === 0) {
    out[0] = src[0];
    return;
  }
  // Walk all axes but the last with an odometer; the last axis is a tight
  // loop, with the bounds check hoisted out of it (only padding needs it).
  const last = rank - 1;
  const len = g.region[last];
  const sst = g.srcStrides[last];
  const dst = g.dstStrides[last];
  const lo = -g.srcOffset[last];
  const hi = g.srcShape[last] - g.srcOffset[last];
  // Typed arrays with unit strides copy long runs natively (same values).
  const block = sst === 1 && dst === 1 && ArrayBuffer.isView(src) &&
      ArrayBuffer.isView(out)
    ? out as unknown as Block
    : null;
  const sub = src as unknown as Sub;
  const c = new Array<number>(last).fill(0);
  const outer = n / len;
  for (let q = 0; q < outer; q++) {
    let so = 0;
    let dof = 0;
    let valid = true;
    for (let d = 0; d < last; d++) {
      const s = c[d] + g.srcOffset[d];
      if (s < 0 || s >= g.srcShape[d]) valid = false;
      else so += s * g.srcStrides[d];
      dof += (c[d] + g.dstOffset[d]) * g.dstStrides[d];
    }
    dof += g.dstOffset[last] * dst;
    if (block && len >= BLOCK_MIN) {
      const a = valid ? Math.max(0, Math.min(len, lo)) : len;
      const b = valid ? Math.max(a, Math.min(len, hi)) : len;
      if (a > 0) block.fill(g.padValue, dof, dof + a);
      if (b > a) {
        const sp = so + a + g.srcOffset[last];
        block.set(sub.subarray(sp, sp + b - a), dof + a);
      }
      if (len > b) block.fill(g.padValue, dof + b, dof + len);
    } else if (!valid) {
      for (let j = 0; j < len; j++) out[dof + j * dst] = g.padValue;
    } else {
      const a = Math.max(0, Math.min(len, lo));
      const b = Math.max(a, Math.min(len, hi));
      for (let j = 0; j < a; j++) out[dof + j * dst] = g.padValue;
      let sp = so + (a + g.srcOffset[last]) * sst;
      let dp = dof + a * dst;
      for (let j = a; j < b; j++) {
        out[dp] = src[sp];
        sp += sst;
        dp += dst;
      }
      for (let j = b; j < len; j++) out[dof + j * dst] = g.padValue;
    }
    for (let d = last - 1; d >= 0; d--) {
      if (++c[d] < g.region[d]) break;
      c[d] = 0;
    }
  }
}
