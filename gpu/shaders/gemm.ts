/**
 * The tiled GEMM template behind matmul and every convolution. A workgroup
 * computes a BM x BN tile of C = A B (A: M x K, B: K x N, optionally one
 * problem per batch index), staging BK-deep slices of A and B in workgroup
 * memory; each of its ty x tx threads (16 x 16 by default) accumulates a
 * TM x TN micro-tile whose rows and columns are strided by ty and tx, so
 * neighbouring threads read neighbouring tile entries and store neighbouring
 * outputs.
 *
 * How A and B are read and how C is written are WGSL snippets spliced in, so
 * the same template serves plain matmul (transposes, batches, vec4 loads) and
 * implicit-GEMM convolution, whose loaders gather image patches on the fly.
 * A loader defines `prepA(z, i) -> vec4<i32>`, run once per thread and load
 * slot before the K loop (so the per-row or per-column index arithmetic is
 * not repeated for every K step), and `loadA(q, i, k)` returning `f32` (or
 * `vec4<f32>`: four elements adjacent along its contiguous axis). The
 * template bounds-checks every element before calling a loader or the store
 * `storeC(z, i, j, v)`. The loaders of the three convolutions live here too.
 *
 * Mesa's llvmpipe (lavapipe) caps the loop iterations one invocation may
 * run at about 65535 in total, nested loops included, and past that exits
 * loops early without an error. So the generator emits the fixed-trip
 * loops as straight-line code (tile loads, micro-tile, stores), the BK
 * steps over a staged tile in groups of `unroll`, and split-K (`splitK`,
 * `gpu/shaders/splitk.ts`) bounds the K-tile loop so that an invocation
 * stays within `LOOP_BUDGET` trips in all.
 *
 * @module
 */

import { grid2d, paramsBinding } from "./common.ts";

/** Tile sizes of a GEMM kernel. */
export interface GemmTile {
  /** Rows of C per workgroup (ty x TM). */
  bm: number;
  /** Columns of C per workgroup (tx x TN). */
  bn: number;
  /** Reduction depth staged per step. */
  bk: number;
  /**
   * Steps over a staged tile emitted straight-line per trip of the inner
   * loop (a divisor of bk; bk leaves no inner loop).
   */
  unroll: number;
  /** Threads along N (each owns bn / tx columns, strided by tx). */
  tx: number;
  /** Threads along M (each owns bm / ty rows, strided by ty). */
  ty: number;
}

/** How one operand is read. */
export interface GemmLoader {
  /**
   * The axis along which adjacent elements are adjacent in memory: "k", or
   * "mn" (M for A, N for B). Load slots walk it fastest, so neighbouring
   * threads read neighbouring addresses.
   */
  contiguous: "k" | "mn";
  /**
   * Whether `load` returns four elements along `contiguous`. The caller
   * guarantees that extent (K, or M/N) is a multiple of 4 and that the
   * four are aligned in memory.
   */
  vec4: boolean;
  /** WGSL defining `prepX(z: u32, i: u32) -> vec4<i32>` and `loadX`. */
  code: string;
}

/** Everything that varies between GEMM kernels besides the tile. */
export interface GemmSpec {
  /** Input bindings, in order; `vec4` declares `array<vec4<f32>>`. */
  inputs: { name: string; vec4?: boolean }[];
  /** Extra i32 uniform fields (after the `GEMM_FIELDS`). */
  extras: readonly string[];
  /** Loader of A (defines `prepA`, `loadA`). */
  a: GemmLoader;
  /** Loader of B (defines `prepB`, `loadB`). */
  b: GemmLoader;
  /** WGSL defining `storeC(z: u32, i: u32, j: u32, v: f32)` into `out`. */
  store: string;
}

/**
 * Picks the tile for an M x N x K problem: 16, 32 or 64 along M and N, and
 * a depth of 32 (16 for short reductions), on 16 x 16 threads. Deeper steps
 * mean fewer barriers, which software adapters (lavapipe) reward most; on
 * lavapipe fewer threads with larger micro-tiles would be faster still, but
 * that adapter serves for testing, so the shape suits hardware GPUs.
 *
 * The BK steps are unrolled by 4, not fully: on lavapipe the fully
 * unrolled kernels ran 1.7-1.9x slower than the plain loop (32->32 conv at
 * 28x28, 512 matmul) and the 64 x 64 ones took 3-4x longer to compile;
 * 4 steps per trip ran within ~5% of the loop (8: ~8% slower) and leave
 * bk / 4 inner trips per K tile, which `maxKTiles` counts. (Mesa unrolls
 * the plain loop itself only for micro-tiles of 1 or 2 outputs; with
 * larger ones a K of 70000 overran its loop cap.) Hardware drivers
 * usually unroll such constant-trip loops themselves.
 */
export function gemmTile(m: number, n: number, k: number): GemmTile {
  const side = (d: number) => (d <= 16 ? 16 : d <= 32 ? 32 : 64);
  const bk = k <= 16 ? 16 : 32;
  return { bm: side(m), bn: side(n), bk, unroll: 4, tx: 16, ty: 16 };
}

/** Cache-key fragment naming a tile. */
export function tileKey(t: GemmTile): string {
  return `${t.bm}x${t.bn}x${t.bk}u${t.unroll}/${t.ty}x${t.tx}`;
}

/** The u32 uniform fields every GEMM kernel starts with, in order. */
export const GEMM_FIELDS = [
  "m",
  "n",
  "k",
  "tiles_n",
  "tiles_m",
  "groups",
  "batch",
  "splits",
  "kchunk",
] as const;

/**
 * Most loop trips (all loops together) one GEMM invocation may run: a
 * quarter of the ~65535 after which llvmpipe silently stops loops.
 */
export const LOOP_BUDGET = 16384;

/**
 * Most K tiles one invocation of `tile` walks: each costs one trip of the
 * K-tile loop and bk / unroll trips of the inner loop, and the kernel has
 * no other loop. With the default tile (bk 32, unroll 4): 1820 K tiles,
 * K up to 58240 in one pass.
 */
export function maxKTiles(tile: GemmTile): number {
  return Math.floor(LOOP_BUDGET / (1 + innerTrips(tile)));
}

/** Trips of the inner (BK-step) loop per K tile; 0 when fully unrolled. */
const innerTrips = (t: GemmTile) => t.unroll >= t.bk ? 0 : t.bk / t.unroll;

/**
 * Workgroups a launch should offer before K is split to make more: enough
 * to fill a hardware GPU of a hundred-odd compute units a few times over.
 */
export const TARGET_GROUPS = 256;

/**
 * Fewest K tiles (of depth BK) a split should own when it is split only for
 * occupancy, so the partial sums written and re-read stay small beside the
 * work of the split itself.
 */
export const MIN_SPLIT_K_TILES = 16;

/**
 * How many K chunks (`splits`) an M x N x K problem over `batch` is cut
 * into, and the chunk length (`kchunk`, a multiple of the tile depth). It
 * splits when one pass would walk more than `maxKTiles` K tiles
 * (llvmpipe's loop cap), and when the M x N tiles give fewer than
 * `TARGET_GROUPS` workgroups while K is long (e.g. a weight gradient
 * [16, 9] over K = 64 x 784 would otherwise be one workgroup).
 */
export function splitK(
  tile: GemmTile,
  m: number,
  n: number,
  k: number,
  batch: number,
): { splits: number; kchunk: number } {
  const kTiles = Math.ceil(k / tile.bk);
  const tiles = Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn) * batch;
  const forLoops = Math.ceil(kTiles / maxKTiles(tile));
  const forGroups = Math.min(
    Math.ceil(TARGET_GROUPS / tiles),
    Math.floor(kTiles / MIN_SPLIT_K_TILES),
  );
  const want = Math.max(1, forLoops, forGroups);
  if (want === 1) return { splits: 1, kchunk: k };
  // Whole tiles per chunk, so the vec4 loaders stay aligned; recount the
  // splits so none is empty.
  const chunkTiles = Math.ceil(kTiles / want);
  return {
    splits: Math.ceil(kTiles / chunkTiles),
    kchunk: chunkTiles * tile.bk,
  };
}

/** Uniform block, workgroup grid and K split of a GEMM dispatch. */
export interface GemmLaunch {
  /** Uniform block: `GEMM_FIELDS`, then the spec's extras. */
  uniforms: ArrayBuffer;
  /** Workgroup grid (every tile of every batch index and split). */
  workgroups: [number, number, number];
  /**
   * K chunks; above 1 the kernel writes raw partial sums [splits, batch,
   * M, N] to its output binding, which `splitKSource` then reduces.
   */
  splits: number;
}

/**
 * Uniform block, workgroup grid and K split (`splitK`) of a GEMM dispatch.
 * @param extras Values of the spec's extra fields, in order.
 */
export function gemmLaunch(
  tile: GemmTile,
  m: number,
  n: number,
  k: number,
  batch: number,
  extras: readonly number[],
): GemmLaunch {
  const tn = Math.ceil(n / tile.bn);
  const tm = Math.ceil(m / tile.bm);
  const { splits, kchunk } = splitK(tile, m, n, k, batch);
  const groups = tn * tm * batch * splits;
  const ints = [m, n, k, tn, tm, groups, batch, splits, kchunk, ...extras];
  const buf = new ArrayBuffer(Math.ceil(ints.length / 4) * 16);
  new Int32Array(buf).set(ints);
  return { uniforms: buf, workgroups: grid2d(groups), splits };
}

/** WGSL uniform struct `P` of a GEMM kernel with `spec`'s extras. */
export function gemmStruct(spec: GemmSpec): string {
  const fields = [
    ...GEMM_FIELDS.map((f) => `  ${f}: u32,`),
    ...spec.extras.map((e) => `  ${e}: i32,`),
  ];
  return `struct P {
${fields.join("\n")}
}`;
}

/** Per-thread load slots of one operand tile, as WGSL statements. */
function loaderCode(
  x: "A" | "B",
  ld: GemmLoader,
  tile: GemmTile,
): { setup: string; body: string } {
  const T = tile.tx * tile.ty;
  const bi = x === "A" ? tile.bm : tile.bn;
  const bk = tile.bk;
  const w = ld.vec4 ? 4 : 1;
  const ne = (bi * bk) / w;
  const slots = Math.ceil(ne / T);
  const per = ld.contiguous === "k" ? bk / w : bi / w;
  const [i0, lim, s, sh] = x === "A"
    ? ["m0", "p.m", "SA", "As"]
    : ["n0", "p.n", "SB", "Bs"];
  const lx = x.toLowerCase();
  const setup: string[] = [];
  const body: string[] = [];
  for (let l = 0; l < slots; l++) {
    const e = `(lid + ${l * T}u)`;
    const [ii, kk] = ld.contiguous === "k"
      ? [`${e} / ${per}u`, `(${e} % ${per}u) * ${w}u`]
      : [`(${e} % ${per}u) * ${w}u`, `${e} / ${per}u`];
    setup.push(
      `let i${lx}${l} = ${ii};`,
      `let k${lx}${l} = ${kk};`,
      `let q${lx}${l} = prep${x}(z, ${i0} + i${lx}${l});`,
    );
    const writes = ld.vec4
      ? [0, 1, 2, 3].map((c) =>
        ld.contiguous === "k"
          ? `${sh}[(k${lx}${l} + ${c}u) * ${s} + i${lx}${l}] = v[${c}];`
          : `${sh}[k${lx}${l} * ${s} + i${lx}${l} + ${c}u] = v[${c}];`
      ).join("\n        ")
      : `${sh}[k${lx}${l} * ${s} + i${lx}${l}] = v;`;
    const zero = ld.vec4 ? "vec4<f32>(0.0)" : "0.0";
    const slot = `{
        let gi = ${i0} + i${lx}${l};
        let gk = k0 + k${lx}${l};
        var v = ${zero};
        if (gi < ${lim} && gk < p.k) { v = load${x}(q${lx}${l}, gi, gk); }
        ${writes}
      }`;
    // The last slot may be partial when the tile has fewer loads than threads.
    body.push(
      (l + 1) * T > ne ? `if (${e} < ${ne}u) ${slot}` : slot,
    );
  }
  return { setup: setup.join("\n  "), body: body.join("\n      ") };
}

/**
 * WGSL of a GEMM kernel for `spec` with tile `tile`. Workgroup g covers
 * tile (g % tiles_n) along N and (g / tiles_n) % tiles_m along M of batch
 * index zs % batch, over K chunk zs / batch (zs = g / (tiles_n tiles_m)).
 * With one chunk it stores C through `storeC`; with several (split-K) it
 * writes its partial sums raw, [splits, batch, M, N], for `splitKSource`.
 */
export function gemmSource(spec: GemmSpec, tile: GemmTile): string {
  const tm = tile.bm / tile.ty;
  const tn = tile.bn / tile.tx;
  const n = spec.inputs.length;
  const decls = spec.inputs.map((b, i) =>
    `@group(0) @binding(${i}) var<storage, read> ${b.name}: array<${
      b.vec4 ? "vec4<f32>" : "f32"
    }>;`
  ).join("\n");
  const la = loaderCode("A", spec.a, tile);
  const lb = loaderCode("B", spec.b, tile);
  const rows = [...Array(tm).keys()];
  const cols = [...Array(tn).keys()];
  const sa = tile.bm + 1;
  const sb = tile.bn + 1;
  // `unroll` steps over a staged tile; the inner loop repeats them at
  // offset ks (a WGSL constant 0 when fully unrolled).
  const group = [...Array(tile.unroll).keys()].map((kk) =>
    [
      "{",
      ...rows.map((i) =>
        `  let a${i} = As[ty + ${kk * sa + i * tile.ty}u + ks * SA];`
      ),
      ...cols.map((j) =>
        `  let b${j} = Bs[tx + ${kk * sb + j * tile.tx}u + ks * SB];`
      ),
      ...rows.flatMap((i) =>
        cols.map((j) => {
          const c = i * tn + j;
          return `  acc[${c}] = fma(a${i}, b${j}, acc[${c}]);`;
        })
      ),
      "}",
    ].join("\n      ")
  ).join("\n      ");
  if (tile.bk % tile.unroll !== 0) {
    throw new Error(`gemm: unroll ${tile.unroll} must divide bk ${tile.bk}`);
  }
  const steps = innerTrips(tile)
    ? `for (var ks = 0u; ks < BK; ks += ${tile.unroll}u) {
      ${group}
    }`
    : `{
      const ks = 0u;
      ${group}
    }`;
  const stores = (put: (c: number) => string) =>
    rows.flatMap((i) =>
      cols.map((j) =>
        `{
      let gm = m0 + ty + ${i * tile.ty}u;
      let gn = n0 + tx + ${j * tile.tx}u;
      if (gm < p.m && gn < p.n) { ${put(i * tn + j)} }
    }`
      )
    ).join("\n    ");
  return `
${gemmStruct(spec)}
${decls}
@group(0) @binding(${n}) var<storage, read_write> out: array<f32>;
${paramsBinding(n + 1)}

const BM = ${tile.bm}u;
const BN = ${tile.bn}u;
const BK = ${tile.bk}u;
// Tiles are stored [k][m] and [k][n]; the +1 keeps column writes of the
// k-contiguous loaders off a single memory bank.
const SA = ${sa}u;
const SB = ${sb}u;
var<workgroup> As: array<f32, ${sa * tile.bk}>;
var<workgroup> Bs: array<f32, ${sb * tile.bk}>;

${spec.a.code}
${spec.b.code}
${spec.store}

@compute @workgroup_size(${tile.tx * tile.ty})
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.y * nwg.x + wid.x;
  if (g >= p.groups) { return; }
  let rest = g / p.tiles_n;
  let n0 = (g % p.tiles_n) * BN;
  let m0 = (rest % p.tiles_m) * BM;
  let zs = rest / p.tiles_m;
  let z = zs % p.batch;
  let kbeg = (zs / p.batch) * p.kchunk;
  let kend = min(p.k, kbeg + p.kchunk);
  let tx = lid % ${tile.tx}u;
  let ty = lid / ${tile.tx}u;
  ${la.setup}
  ${lb.setup}
  var acc: array<f32, ${tm * tn}>;
  // At most maxKTiles (${maxKTiles(tile)}) trips, split-K sees to it.
  for (var k0 = kbeg; k0 < kend; k0 += BK) {
      ${la.body}
      ${lb.body}
    workgroupBarrier();
    ${steps}
    workgroupBarrier();
  }
  if (p.splits > 1u) {
    ${stores((c) => `out[(zs * p.m + gm) * p.n + gn] = acc[${c}];`)}
  } else {
    ${stores((c) => `storeC(z, gm, gn, acc[${c}]);`)}
  }
}
`;
}

// --- Convolution loaders ----------------------------------------------------
// Names follow conv2d: the "x side" is the image convolved (channels cx,
// size hx x wx), the "y side" its result (cy, hy x wy), whichever of the two
// a kernel reads or writes.

/** Extra uniform fields of the convolution kernels, in order. */
export const CONV_FIELDS = [
  "nb",
  "cx",
  "hx",
  "wx",
  "cy",
  "hy",
  "wy",
  "kh",
  "kw",
  "sh",
  "sw",
  "ph",
  "pw",
  "dh",
  "dw",
] as const;

/** A convolution uniform field: batch, sizes, kernel, stride, padding... */
export type ConvField = (typeof CONV_FIELDS)[number];

/** The three implicit-GEMM convolutions. */
export type ConvKind = "conv2d" | "convTranspose2d" | "conv2dWeightGrad";

/** WGSL returning `x[idx]` where `ok`, else 0, without a branch. */
const gather = (buf: string, idx: string) =>
  `let v = ${buf}[select(0u, u32(${idx}), ok)];
  return select(0.0, v, ok);`;

/** B of conv2d: patches of x, rows (ci, i, j), columns (n, oh, ow). */
const fwdB: GemmLoader = {
  contiguous: "mn",
  vec4: false,
  code: `
fn prepB(z: u32, j: u32) -> vec4<i32> {
  let hw = u32(p.hy * p.wy);
  let r = j % hw;
  return vec4<i32>(i32(j / hw) * p.cx * p.hx * p.wx,
    i32(r / u32(p.wy)) * p.sh - p.ph, i32(r % u32(p.wy)) * p.sw - p.pw, 0);
}
fn loadB(q: vec4<i32>, j: u32, k: u32) -> f32 {
  let khw = u32(p.kh * p.kw);
  let r = k % khw;
  let ih = q.y + i32(r / u32(p.kw)) * p.dh;
  let iw = q.z + i32(r % u32(p.kw)) * p.dw;
  let ok = ih >= 0 && ih < p.hx && iw >= 0 && iw < p.wx;
  ${gather("in_x", "q.x + (i32(k / khw) * p.hx + ih) * p.wx + iw")}
}`,
};

/** B of the transpose: y at the pixel each (co, i, j) tap came from. */
const transB: GemmLoader = {
  contiguous: "mn",
  vec4: false,
  code: `
fn prepB(z: u32, j: u32) -> vec4<i32> {
  let hw = u32(p.hx * p.wx);
  let r = j % hw;
  return vec4<i32>(i32(j / hw) * p.cy * p.hy * p.wy,
    i32(r / u32(p.wx)) + p.ph, i32(r % u32(p.wx)) + p.pw, 0);
}
fn loadB(q: vec4<i32>, j: u32, k: u32) -> f32 {
  let khw = u32(p.kh * p.kw);
  let r = k % khw;
  let th = q.y - i32(r / u32(p.kw)) * p.dh;
  let tw = q.z - i32(r % u32(p.kw)) * p.dw;
  let oh = th / p.sh;
  let ow = tw / p.sw;
  let ok = th >= 0 && tw >= 0 && oh * p.sh == th && ow * p.sw == tw &&
    oh < p.hy && ow < p.wy;
  ${gather("in_y", "q.x + (i32(k / khw) * p.hy + oh) * p.wy + ow")}
}`,
};

/** B of the weight gradient: x under tap (ci, i, j) at pixel (n, oh, ow). */
const wgradB: GemmLoader = {
  contiguous: "k",
  vec4: false,
  code: `
fn prepB(z: u32, j: u32) -> vec4<i32> {
  let khw = u32(p.kh * p.kw);
  let r = j % khw;
  return vec4<i32>(i32(j / khw) * p.hx * p.wx,
    i32(r / u32(p.kw)) * p.dh - p.ph, i32(r % u32(p.kw)) * p.dw - p.pw, 0);
}
fn loadB(q: vec4<i32>, j: u32, k: u32) -> f32 {
  let hw = u32(p.hy * p.wy);
  let r = k % hw;
  let ih = i32(r / u32(p.wy)) * p.sh + q.y;
  let iw = i32(r % u32(p.wy)) * p.sw + q.z;
  let ok = ih >= 0 && ih < p.hx && iw >= 0 && iw < p.wx;
  ${gather("in_x", "i32(k / hw) * p.cx * p.hx * p.wx + q.x + ih * p.wx + iw")}
}`,
};

/** A loader: row i starts at `start`, element k is at `idx` (u32 WGSL). */
function rowLoader(
  buf: string,
  vec4: boolean,
  start: string,
  idx: string,
): GemmLoader {
  return {
    contiguous: "k",
    vec4,
    code: `
fn prepA(z: u32, i: u32) -> vec4<i32> {
  return vec4<i32>(${start}, 0, 0, 0);
}
fn loadA(q: vec4<i32>, i: u32, k: u32) -> ${vec4 ? "vec4<f32>" : "f32"} {
  return ${buf}[${vec4 ? `(${idx}) / 4u` : idx}];
}`,
  };
}

/** Writes C into an NCHW tensor: rows are channels, columns (n, h, w). */
const nchwStore = (c: string, hw: string) => `
fn storeC(z: u32, i: u32, j: u32, v: f32) {
  let hw = u32(${hw});
  out[((j / hw) * u32(${c}) + i) * hw + j % hw] = v;
}`;

/**
 * The GEMM spec of convolution `kind`; `vecA` reads A (the weight of conv2d,
 * gy of the weight gradient) as vec4, for which the caller guarantees that
 * K (resp. hy * wy) is a multiple of 4.
 * - conv2d: A = weight [Co, Ci*kh*kw], B = patches of x, C = y.
 * - convTranspose2d: A = weightᵀ [Ci, Co*kh*kw], B = y gathered, C = x.
 * - conv2dWeightGrad: A = gy [Co, N*Ho*Wo], B = patches of xᵀ, C = weight.
 */
export function convSpec(kind: ConvKind, vecA: boolean): GemmSpec {
  const khw = "u32(p.kh * p.kw)";
  const hw = "u32(p.hy * p.wy)";
  if (kind === "conv2d") {
    return {
      inputs: [{ name: "in_x" }, { name: "in_w", vec4: vecA }],
      extras: CONV_FIELDS,
      a: rowLoader("in_w", vecA, "i32(i * p.k)", "u32(q.x) + k"),
      b: fwdB,
      store: nchwStore("p.cy", "p.hy * p.wy"),
    };
  }
  if (kind === "convTranspose2d") {
    return {
      inputs: [{ name: "in_y" }, { name: "in_w" }],
      extras: CONV_FIELDS,
      a: rowLoader(
        "in_w",
        false,
        "i32(i) * p.kh * p.kw",
        `(k / ${khw}) * u32(p.cx) * ${khw} + u32(q.x) + k % ${khw}`,
      ),
      b: transB,
      store: nchwStore("p.cx", "p.hx * p.wx"),
    };
  }
  return {
    inputs: [{ name: "in_x" }, { name: "in_gy", vec4: vecA }],
    extras: CONV_FIELDS,
    a: rowLoader(
      "in_gy",
      vecA,
      "i32(i) * p.hy * p.wy",
      `(k / ${hw}) * u32(p.cy) * ${hw} + u32(q.x) + k % ${hw}`,
    ),
    b: wgradB,
    store: `
fn storeC(z: u32, i: u32, j: u32, v: f32) {
  out[i * p.n + j] = v;
}`,
  };
}
